/*
 * control.h: requests from the ceoprof command on the daemon's socket: attach (with
 * the ptrace permission check), detach, status; progress and Done back to the requester.
 */
#ifndef CPD_CONTROL_H
#define CPD_CONTROL_H

#include "ingest/server.h"

/* 1 when F is a control request (the connection becomes a control connection). */
int cpd_control_is_request(const Ceoprof__Wire__Frame *f);
/* Handles one request from C. 0, or -1 when C was closed. */
int cpd_control_request(struct cpd_conn *c, const Ceoprof__Wire__Frame *f);
/* --auto: starts sampling the process of client C, which just said Hello. */
void cpd_control_auto_attach(struct cpd_conn *c);
/* T's progress so far. */
void cpd_control_progress_of(const struct cpd_target *t, struct cpd_progress *p);
/* Sends T's requester a Progress frame. */
void cpd_control_progress(struct cpd_target *t);
/* Tells T's requester, and whoever asked to detach it, that it ended (Done): its files. */
void cpd_control_done(struct cpd_target *t);
/*
 * 0 when user UID (group GID) may profile PID, as ptrace would allow it (root; or the same
 * uid as every uid of the target, the same gid as every gid, and a dumpable target); else
 * -EPERM or -ESRCH, with why in ERR.
 */
int cpd_control_may_profile(uint32_t uid, uint32_t gid, uint32_t pid, char *err,
                            size_t errlen);

#endif

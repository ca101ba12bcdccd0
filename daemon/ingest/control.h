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

/*
 * What pins an attach to the process that was checked: a pidfd opened before the check
 * (-1: none) and the requester whose right to profile it is checked again once its events
 * are open, so that a pid reused, or an exec into a program the requester may not profile,
 * in between is caught.
 */
struct cpd_pin {
  int pidfd;
  uint32_t uid, gid;
};

/* 1 when PIN's process is alive (so PID still names it) and still the requester's to
 * profile; else 0 with why in ERR. */
int cpd_control_pinned(const struct cpd_pin *pin, uint32_t pid, char *err, size_t errlen);

#endif

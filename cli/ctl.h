/* ctl.h: the ceoprof command's connection to ceoprofd: connect, send a request, read answers. */
#ifndef CPC_CTL_H
#define CPC_CTL_H

#include <stddef.h>

#include "frame.h"

struct cpc_ctl {
  int fd;
  char path[108];
  struct cp_frame_reader reader;
};

/*
 * Connects to the daemon's socket (SOCKET_OPT, else the default rule). 0, -ENOENT or
 * -ECONNREFUSED when no daemon serves it, other -errno with the reason in ERR.
 */
int cpc_ctl_connect(struct cpc_ctl *c, const char *socket_opt, char *err, size_t errlen);
int cpc_ctl_send(struct cpc_ctl *c, const cp_frame *f);
/*
 * Waits up to TIMEOUT_MS (-1: forever) for the next frame. 1 with *OUT set, 0 on timeout,
 * -EINTR when a signal arrived, -EPIPE when the daemon closed the connection, else -errno.
 */
int cpc_ctl_recv(struct cpc_ctl *c, cp_frame **out, int timeout_ms);
void cpc_ctl_close(struct cpc_ctl *c);

#endif

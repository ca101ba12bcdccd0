/* ctl.c: a control connection to ceoprofd, as the ceoprof command uses it. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "sockpath.h"

int cpc_ctl_connect(struct cpc_ctl *c, const char *socket_opt, char *err, size_t errlen)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int rc;

  c->fd = -1;
  cp__frame_reader_init(&c->reader, CP_MAX_FRAME);
  if (socket_opt) {
    if (snprintf(c->path, sizeof(c->path), "%s", socket_opt) >= (int)sizeof(c->path)) {
      snprintf(err, errlen, "socket path too long: %s", socket_opt);
      return -ENAMETOOLONG;
    }
  } else if ((rc = cp__socket_path(c->path, sizeof(c->path))) < 0) {
    snprintf(err, errlen, "no socket path: set CEOPROF_SOCKET or XDG_RUNTIME_DIR, or pass --socket");
    return rc;
  }
  memcpy(addr.sun_path, c->path, sizeof(c->path));
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return rc;
  }
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    rc = -errno;
    snprintf(err, errlen, "no ceoprofd on %s (%s); start one with 'ceoprofd' or "
             "'systemctl start ceoprofd'", c->path, strerror(errno));
    close(c->fd);
    c->fd = -1;
    return rc == -ENOENT || rc == -ECONNREFUSED ? rc : rc;
  }
  return 0;
}

int cpc_ctl_send(struct cpc_ctl *c, const cp_frame *f)
{
  uint8_t *buf;
  size_t len, off = 0;
  int rc = cp__frame_encode(f, &buf, &len);

  if (rc < 0)
    return rc;
  while (off < len) {
    ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    off += (size_t)n;
  }
  free(buf);
  return rc;
}

int cpc_ctl_recv(struct cpc_ctl *c, cp_frame **out, int timeout_ms)
{
  for (;;) {
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    uint8_t *space;
    ssize_t n;
    int rc = cp__frame_next(&c->reader, out);

    if (rc != 0)
      return rc < 0 ? rc : 1;
    rc = poll(&p, 1, timeout_ms);
    if (rc < 0)
      return -errno;
    if (rc == 0)
      return 0;
    space = cp__frame_reader_space(&c->reader, 65536);
    if (!space)
      return -ENOMEM;
    n = recv(c->fd, space, 65536, 0);
    if (n < 0)
      return errno == EINTR ? -EINTR : -errno;
    if (n == 0)
      return -EPIPE;
    cp__frame_reader_commit(&c->reader, (size_t)n);
  }
}

void cpc_ctl_close(struct cpc_ctl *c)
{
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  cp__frame_reader_free(&c->reader);
}

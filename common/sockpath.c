/* sockpath.c: where the ceoprof socket lives ($CEOPROF_SOCKET, /run/ceoprof, $XDG_RUNTIME_DIR). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockpath.h"

int cp__socket_path(char *buf, size_t size)
{
  const char *env = getenv("CEOPROF_SOCKET");
  const char *xdg;
  int n;

  if (size > sizeof(((struct sockaddr_un *)0)->sun_path))
    size = sizeof(((struct sockaddr_un *)0)->sun_path);
  if (env && *env)
    n = snprintf(buf, size, "%s", env);
  else if (geteuid() == 0)
    n = snprintf(buf, size, "%s", CP_ROOT_SOCKET);
  else if ((xdg = getenv("XDG_RUNTIME_DIR")) && *xdg)
    n = snprintf(buf, size, "%s/ceoprof.sock", xdg);
  else
    return -ENOENT;
  if (n < 0 || (size_t)n >= size)
    return -ENAMETOOLONG;
  return 0;
}

/* sockpath.h: the one rule, shared by client and daemon, for where the socket lives. */
#ifndef CP_SOCKPATH_H
#define CP_SOCKPATH_H

#include <stddef.h>

#define CP_ROOT_SOCKET_DIR "/run/ceoprof"
#define CP_ROOT_SOCKET CP_ROOT_SOCKET_DIR "/ceoprofd.sock"

/*
 * Writes the socket path into BUF: $CEOPROF_SOCKET, else /run/ceoprof/ceoprofd.sock
 * for root, else $XDG_RUNTIME_DIR/ceoprof.sock. 0, -ENAMETOOLONG (longer than a
 * sockaddr_un allows) or -ENOENT (not root and no XDG_RUNTIME_DIR).
 */
int cp__socket_path(char *buf, size_t size);

#endif

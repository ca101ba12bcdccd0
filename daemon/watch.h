/* watch.h: an epoll registration that carries its own callback, as libuv's uv__io_t does. */
#ifndef CPD_WATCH_H
#define CPD_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct cpd_watch {
  void (*cb)(struct cpd_watch *w, uint32_t events); /* called by the loop when fd is ready */
};

/* The object a watch is embedded in. */
#define cpd_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif

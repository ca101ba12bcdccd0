/* paths.h: naming the files ceoprofd writes, from a prefix or a client's service name. */
#ifndef CPD_PATHS_H
#define CPD_PATHS_H

#include <stddef.h>
#include <stdint.h>

struct cpd_session;

/*
 * PATH gets an output file name: PREFIX + EXT, or DIR/SERVICE-PID + EXT (made unique), with
 * -YYYYmmddTHHMMSS.mmmZ (UTC) before EXT when WINDOW_REAL_NS (CLOCK_REALTIME) is not 0.
 * 0 or -errno.
 */
int cpd_output_path(char *path, size_t size, const char *dir, const char *prefix,
                    const struct cpd_session *s, uint64_t window_real_ns, const char *ext);

#endif

/*
 * push.h: uploading one pprof file to Grafana Pyroscope's /ingest with libcurl: the client
 * both ceoprof push and the daemon's upload queue use.
 */
#ifndef CPD_PUSH_H
#define CPD_PUSH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Uploads the pprof at PATH to URL/ingest as application NAME (with its labels, e.g.
 * "svc{hostname=h}") for [FROM_S, UNTIL_S) in Unix seconds. 0, or -errno with the
 * reason in ERR (-EIO: the server answered with an error, -ECONNREFUSED and friends:
 * it could not be reached).
 */
int cpd_push_file(const char *url, const char *path, const char *name, uint64_t from_s,
                  uint64_t until_s, int hz, char *err, size_t errlen);

/* The Pyroscope application name for SERVICE: "SERVICE{hostname=HOST}", sanitized. */
void cpd_push_name(char *out, size_t size, const char *service);

#endif

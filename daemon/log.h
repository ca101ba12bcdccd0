/* log.h: ceoprofd's one-line diagnostics on stderr. */
#ifndef CPD_LOG_H
#define CPD_LOG_H

extern int cpd_verbose;  /* -v: also print debug lines */

void cpd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cpd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* log.h: ceoprofd's one-line diagnostics on stderr. */
#ifndef CPD_LOG_H
#define CPD_LOG_H

#include <stddef.h>

extern int cpd_verbose;  /* -v: also print debug lines */
extern const char *cpd_log_name;  /* the prefix of each line: "ceoprofd", or "ceoprof" */

/* IN with control characters shown as \n, \t, \r, \xHH (and \ as \\) in OUT of SIZE bytes,
 * cut short when it does not fit. Returns OUT. */
const char *cpd_escape(char *out, size_t size, const char *in);
void cpd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cpd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

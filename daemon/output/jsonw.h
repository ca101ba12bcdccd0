/* jsonw.h: the small pieces of streaming JSON output the trace writer is made of. */
#ifndef CPD_JSONW_H
#define CPD_JSONW_H

#include <stdint.h>
#include <stdio.h>

/* Writes S as a JSON string: escaped, invalid UTF-8 replaced by U+FFFD. */
void cpd_json_str(FILE *f, const char *s);
/* Writes NS nanoseconds as microseconds with three decimals (exact, locale-free). */
void cpd_json_us(FILE *f, uint64_t ns);
/* Writes V in decimal; much cheaper than fprintf for the trace's long arrays of numbers. */
void cpd_json_u64(FILE *f, uint64_t v);
/* The same for a signed V. */
void cpd_json_i64(FILE *f, int64_t v);

#endif

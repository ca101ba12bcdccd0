/*
 * fuzz_json.c: libFuzzer target for the JSON string writer: whatever bytes a client
 * names things with, the output is one valid JSON string (checked with json-c).
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *in = malloc(size + 1), *out = NULL;
  size_t outlen = 0;
  json_object *o;
  FILE *f;

  if (!in)
    return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  f = open_memstream(&out, &outlen);
  if (!f) {
    free(in);
    return 0;
  }
  cpd_json_str(f, in);
  cpd_json_us(f, (uint64_t)size * 1234567u);
  fclose(f);
  /* Cut after the string: it must parse as exactly one JSON string. */
  {
    size_t end = outlen;

    while (end > 0 && out[end - 1] != '"')
      end--;
    out[end] = '\0';
  }
  o = json_tokener_parse(out);
  if (!o || !json_object_is_type(o, json_type_string))
    abort();
  json_object_put(o);
  free(out);
  free(in);
  return 0;
}

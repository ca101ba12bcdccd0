/* report_trace.c: ceoprof report FILE.trace.json: task durations per task name. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "cli.h"

json_object *cpc_trace_read(const char *path, json_object **events)
{
  json_object *root = json_object_from_file(path);

  if (!root || !json_object_object_get_ex(root, "traceEvents", events) ||
      !json_object_is_type(*events, json_type_array)) {
    fprintf(stderr, "ceoprof report: %s is not a Chrome trace JSON file (%s)\n", path,
            root ? "no traceEvents array" : json_util_get_last_err());
    json_object_put(root);
    return NULL;
  }
  return root;
}

/* The ts of each async end ("e", cat task) by its id: where a task that moved ended. */
static json_object *async_ends(json_object *events)
{
  json_object *ends = json_object_new_object(), *v, *id, *ts;
  size_t nev = json_object_array_length(events);

  for (size_t i = 0; ends && i < nev; i++) {
    json_object *e = json_object_array_get_idx(events, i);

    if (json_object_object_get_ex(e, "ph", &v) && strcmp(json_object_get_string(v), "e") == 0 &&
        json_object_object_get_ex(e, "cat", &v) && strcmp(json_object_get_string(v), "task") == 0 &&
        json_object_object_get_ex(e, "id", &id) && json_object_object_get_ex(e, "ts", &ts))
      json_object_object_add(ends, json_object_get_string(id), json_object_get(ts));
  }
  return ends;
}

int cpc_report_trace(const char *path, int top)
{
  json_object *events, *v, *root = cpc_trace_read(path, &events), *ends;
  struct cpc_task_table tt = { 0 };
  size_t nev;
  int rc = 0;

  if (!root)
    return 1;
  ends = async_ends(events);
  nev = json_object_array_length(events);
  for (size_t i = 0; i < nev && rc == 0; i++) {
    json_object *e = json_object_array_get_idx(events, i), *args, *x, *id, *end;
    const char *name, *ph;
    double dur;

    /* A task: a complete slice, or an async one (a task that moved threads) that ends in
     * the "e" of its id. */
    if (!json_object_object_get_ex(e, "ph", &v))
      continue;
    ph = json_object_get_string(v);
    if ((strcmp(ph, "X") != 0 && strcmp(ph, "b") != 0) ||
        !json_object_object_get_ex(e, "cat", &v) || strcmp(json_object_get_string(v), "task") != 0 ||
        !json_object_object_get_ex(e, "name", &v))
      continue;
    name = json_object_get_string(v);
    if (json_object_object_get_ex(e, "args", &args)) {
      if (json_object_object_get_ex(args, "began_on_tid", &x))
        continue;  /* the end marker of a task that moved (older files), not a task */
      if (json_object_object_get_ex(args, "unfinished", &x) && json_object_get_boolean(x))
        tt.unfinished++;
    }
    if (ph[0] == 'b')
      dur = ends && json_object_object_get_ex(e, "id", &id) &&
                    json_object_object_get_ex(ends, json_object_get_string(id), &end) &&
                    json_object_object_get_ex(e, "ts", &x)
                ? json_object_get_double(end) - json_object_get_double(x) : 0;
    else
      dur = json_object_object_get_ex(e, "dur", &x) ? json_object_get_double(x) : 0;
    rc = cpc_task_add(&tt, name, dur);
  }
  if (rc == 0)
    cpc_task_print(&tt, path, top);
  else
    fprintf(stderr, "ceoprof report: out of memory\n");
  cpc_task_free(&tt);
  json_object_put(ends);
  json_object_put(root);
  return rc ? 1 : 0;
}

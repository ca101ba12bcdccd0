/* cli.h: the ceoprof command's subcommands, one file each, and its shared usage text. */
#ifndef CPC_CLI_H
#define CPC_CLI_H

#include <stdio.h>

int cpc_attach(int argc, char **argv);
int cpc_record(int argc, char **argv);
int cpc_detach(int argc, char **argv);
int cpc_status(int argc, char **argv);
int cpc_report(int argc, char **argv);
int cpc_report_trace(const char *path, int top);
/* The same table from a Perfetto trace (PREFIX.pftrace). */
int cpc_report_pftrace(const char *path, int top);

/* Task durations per task name (task_table.c), read from either trace. */
struct cpc_task_stats;
struct cpc_task_table {
  struct cpc_task_stats *st;
  size_t nst, cap;
  size_t unfinished;
};
/* Adds one task NAME (copied) of DUR_US microseconds. 0 or -ENOMEM. */
int cpc_task_add(struct cpc_task_table *t, const char *name, double dur_us);
/* Prints count, total, mean, p50, p95 and max per name, the largest total first. */
void cpc_task_print(struct cpc_task_table *t, const char *path, int top);
void cpc_task_free(struct cpc_task_table *t);
/* The parsed trace at PATH (json_object_put() it) and its traceEvents array in *EVENTS;
 * NULL, with a line on stderr, when it is not a Chrome trace JSON file. */
struct json_object *cpc_trace_read(const char *path, struct json_object **events);
int cpc_report_waits(const char *path, const char *by, int top);
int cpc_push(int argc, char **argv);

/* Prints the usage of subcommand CMD (NULL: all of them) to F. */
void cpc_usage(FILE *f, const char *cmd);

#endif

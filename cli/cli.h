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
/* The parsed trace at PATH (json_object_put() it) and its traceEvents array in *EVENTS;
 * NULL, with a line on stderr, when it is not a Chrome trace JSON file. */
struct json_object *cpc_trace_read(const char *path, struct json_object **events);
int cpc_report_waits(const char *path, const char *by, int top);
int cpc_push(int argc, char **argv);

/* Prints the usage of subcommand CMD (NULL: all of them) to F. */
void cpc_usage(FILE *f, const char *cmd);

#endif

/* status.c: ceoprof status: what the running ceoprofd is doing. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "log.h"

static void print_status(const Ceoprof__Wire__Status *st, const char *path)
{
  printf("ceoprofd %s on %s, up %.0f s; output %s%s%s\n", st->daemon_version, path,
         (double)st->uptime_ms / 1e3, st->output_dir, st->auto_attach ? ", --auto" : "",
         st->window_s ? ", windowed" : "");
  printf("connections %" PRIu64 " (dropped %" PRIu64 "), files written %" PRIu64
         ", write errors %" PRIu64 "\n", st->connections_total, st->connections_dropped,
         st->files_written, st->write_errors);
  if (st->push_queued || st->push_sent || st->push_failed)
    printf("pyroscope: sent %" PRIu64 ", queued %" PRIu64 ", failed %" PRIu64 " (kept on disk)\n",
           st->push_sent, st->push_queued, st->push_failed);
  if (st->push_values_folded)
    printf("pyroscope: %" PRIu64 " label values pushed as \"other\" (%" PRIu64 " labels over "
           "the limit; the files keep them)\n", st->push_values_folded, st->push_labels_folded);
  if (st->memory_limit)
    printf("memory: %.1f MiB held of %.0f MiB (peak %.1f MiB)%s", (double)st->memory_used / 1048576.0,
           (double)st->memory_limit / 1048576.0, (double)st->memory_peak / 1048576.0,
           st->memory_refusals ? "" : "\n");
  if (st->memory_refusals)
    printf("; %" PRIu64 " refusals: clients' data refused and counted (--max-memory-mb)\n",
           st->memory_refusals);
  if (st->trace_left_out)
    printf("traces: %" PRIu64 " events and samples left out past --max-trace-mb (counted in "
           "each trace's metadata)\n", st->trace_left_out);
  printf("\nprofiles (%zu)\n", st->n_targets);
  if (st->n_targets)
    printf("  %8s  %-20s %9s %6s %9s %7s %7s  %s\n", "PID", "SERVICE", "ELAPSED", "HZ", "SAMPLES",
           "LOST", "WINDOWS", "STARTED BY");
  for (size_t i = 0; i < st->n_targets; i++) {
    const Ceoprof__Wire__TargetStatus *t = st->targets[i];
    char svc[256];

    printf("  %8" PRIu32 "  %-20.20s %8.1fs %6" PRIu32 " %9" PRIu64 " %7" PRIu64 " %7" PRIu32
           "  %s\n", t->pid, cpd_escape(svc, sizeof(svc), t->service), (double)t->elapsed_ms / 1e3, t->hz, t->samples, t->lost,
           t->windows, t->auto_attached ? "--auto" : "attach");
    if (t->trace_left_out)
      printf("  %8s  its trace left out %" PRIu64 " events and samples past --max-trace-mb\n",
             "", t->trace_left_out);
  }
  printf("\nclients (%zu)\n", st->n_clients);
  if (st->n_clients)
    printf("  %8s  %-20s %5s %7s %7s %9s %9s %8s\n", "PID", "SERVICE", "CONNS", "THREADS",
           "WORKERS", "EVENTS", "DROPPED", "REJECTED");
  for (size_t i = 0; i < st->n_clients; i++) {
    const Ceoprof__Wire__ClientStatus *c = st->clients[i];
    char svc[256];

    printf("  %8" PRIu32 "  %-20.20s %5" PRIu32 " %7" PRIu32 " %7" PRIu32 " %9" PRIu64
           " %9" PRIu64 " %8" PRIu64 "\n", c->pid, cpd_escape(svc, sizeof(svc), c->service), c->connections, c->threads,
           c->workers, c->events, c->dropped, c->rejected);
  }
}

int cpc_status(int argc, char **argv)
{
  static const struct option opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  Ceoprof__Wire__StatusRequest req = CEOPROF__WIRE__STATUS_REQUEST__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT, *ans = NULL;
  const char *sock = NULL;
  struct cpc_ctl c;
  char err[512];
  int opt, rc;

  optind = 1;
  while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
    if (opt == 's') {
      sock = optarg;
    } else if (opt == 'h') {
      cpc_usage(stdout, "status");
      return 0;
    } else {
      fputs("Try 'ceoprof status --help'.\n", stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ceoprof status: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (cpc_ctl_connect(&c, sock, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof status: %s\n", err);
    cpc_ctl_close(&c);
    return 1;
  }
  f.body_case = CEOPROF__WIRE__FRAME__BODY_STATUS_REQUEST;
  f.status_request = &req;
  rc = cpc_ctl_send(&c, &f);
  if (rc == 0)
    rc = cpc_ctl_recv(&c, &ans, 5000);
  if (rc <= 0) {
    fprintf(stderr, "ceoprof status: no answer from ceoprofd on %s\n", c.path);
    cpc_ctl_close(&c);
    return 1;
  }
  rc = 0;
  if (ans->body_case == CEOPROF__WIRE__FRAME__BODY_STATUS) {
    print_status(ans->status, c.path);
  } else {
    fprintf(stderr, "ceoprof status: %s\n", ans->body_case == CEOPROF__WIRE__FRAME__BODY_ERROR
                                                ? ans->error->message : "unexpected answer");
    rc = 1;
  }
  cp__frame_free(ans);
  cpc_ctl_close(&c);
  return rc;
}

/* main.c: the ceoprof command: subcommand dispatch and the usage text of each subcommand. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;
} cmds[] = {
  { "attach", cpc_attach,
    "ceoprof attach PID [-F HZ] [-D SEC] [-o PREFIX] [-k] [-s SOCKET]\n"
    "  Profile a running process until Ctrl-C, --duration, or its exit; write PREFIX.pb.gz,\n"
    "  PREFIX.offcpu.pb.gz, PREFIX.pftrace and PREFIX.trace.json (default prefix:\n"
    "  ./ceoprof-PID). Asks the\n"
    "  running ceoprofd, or profiles directly when none runs.\n" },
  { "record", cpc_record,
    "ceoprof record [-F HZ] [-D SEC] [-o PREFIX] [-k] -- CMD [ARGS...]\n"
    "  Run CMD profiled from its first instruction (its libceoprof connects to this run)\n"
    "  and exit with CMD's exit status. Default prefix: ./ceoprof-PID.\n" },
  { "report", cpc_report,
    "ceoprof report FILE.pb.gz [--by function|worker|task|thread] [--top N]\n"
    "ceoprof report FILE.pftrace|FILE.trace.json [--top N]\n"
    "ceoprof report FILE.trace.json --waits [--by task|worker] [--top N]\n"
    "  A profile as a table (flat and cumulative share, samples, CPU time), a trace's\n"
    "  task durations per task name (count, total, p50, p95, max), or where the tasks'\n"
    "  time went: on the CPU, blocked, or waiting for a CPU, with switches.\n" },
  { "status", cpc_status,
    "ceoprof status [-s SOCKET]\n"
    "  The running ceoprofd: profiles in progress, clients, counters, drops, pushes.\n" },
  { "detach", cpc_detach,
    "ceoprof detach PID [-s SOCKET]\n"
    "  End the profile of PID now; its files are written.\n" },
  { "push", cpc_push,
    "ceoprof push FILE.pb.gz --url URL --name SERVICE [--from UNIX --until UNIX]\n"
    "             [--tenant ID] [--basic-auth-file FILE] [--token-file FILE] [--ingest]\n"
    "             [--label-limit N]\n"
    "  Upload one pprof file to Grafana Pyroscope through its Push API\n"
    "  (URL/push.v1.PusherService/Push) as process_cpu, or off_cpu for an off-CPU profile;\n"
    "  --ingest: the older URL/ingest. Credentials come from the files given or from\n"
    "  $CEOPROF_PYROSCOPE_BASIC_AUTH (USER:PASSWORD) or $CEOPROF_PYROSCOPE_TOKEN, never from\n"
    "  the command line. String labels with more than N values (32) are pushed with the\n"
    "  most frequent N-1 kept and the rest as \"other\".\n" },
};

static const char options[] =
  "Options of attach and record:\n"
  "  -F, --freq HZ          samples per second (default 99)\n"
  "  -D, --duration SEC     stop after SEC seconds\n"
  "  -o, --output PREFIX    write PREFIX.pb.gz, PREFIX.offcpu.pb.gz, PREFIX.pftrace and\n"
  "                         PREFIX.trace.json\n"
  "  -k, --kernel           kernel stacks too\n"
  "  -g, --call-graph MODE  fp: frame pointers (the default); dwarf[,SIZE]: DWARF CFI over\n"
  "                         SIZE bytes of stack copied per sample (8192), for code built\n"
  "                         without frame pointers\n"
  "      --per-thread       per-thread perf events even where per-CPU ones may be opened\n"
  "      --waits            without BPF, thread states, task waits and off-CPU stacks from\n"
  "                         per-thread events (a cost to the target)\n"
  "      --no-bpf           no BPF programs: waits and off-CPU stacks from per-thread events\n"
  "  -s, --socket PATH      ceoprofd's socket (default: $CEOPROF_SOCKET, else\n"
  "                         /run/ceoprof/ceoprofd.sock as root, else $XDG_RUNTIME_DIR/ceoprof.sock)\n";

static int known(const char *cmd)
{
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
    if (strcmp(cmd, cmds[i].name) == 0)
      return 1;
  return 0;
}

void cpc_usage(FILE *f, const char *cmd)
{
  if (!cmd)
    fputs("Usage: ceoprof COMMAND [OPTION]... (ceoprof help COMMAND for one)\n\n", f);
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
    if (!cmd || strcmp(cmd, cmds[i].name) == 0)
      fputs(cmds[i].usage, f);
  if (!cmd || strcmp(cmd, "attach") == 0 || strcmp(cmd, "record") == 0)
    fprintf(f, "\n%s", options);
  if (!cmd)
    fputs("\nEvery command takes -h, --help; ceoprof --version prints the version. "
          "See ceoprof(1).\n", f);
}

int main(int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if (!cmd) {
    cpc_usage(stderr, NULL);
    return 2;
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    const char *which = argc > 2 && strcmp(cmd, "help") == 0 ? argv[2] : NULL;

    if (which && !known(which)) {
      fprintf(stderr, "ceoprof help: no command '%s'; the commands are attach, record, report, "
                      "status, detach and push\n", which);
      return 2;
    }
    cpc_usage(stdout, which);
    return 0;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("ceoprof %s\n", PACKAGE_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
    if (strcmp(cmd, cmds[i].name) == 0)
      return cmds[i].run(argc - 1, argv + 1);
  fprintf(stderr, "ceoprof: unknown command '%s'; the commands are attach, record, report, "
                  "status, detach and push (ceoprof --help)\n", cmd);
  return 2;
}

/* ceoprofd.c: the daemon's command line: options, defaults, and the run from start to summary. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "opts.h"
#include "push.h"
#include "sockpath.h"
#include "util.h"

static const char usage[] =
  "Usage: ceoprofd [OPTION]...\n"
  "       ceoprofd --pid PID [-F HZ] [--duration SEC] [-o PREFIX] [--call-graph fp|dwarf[,SIZE]] [--kernel]\n"
  "Serve libceoprof clients and the ceoprof command on a Unix socket. Without --pid\n"
  "(service mode) it profiles the processes 'ceoprof attach' asks for, or with --auto\n"
  "every libceoprof client that connects, and writes a Chrome Trace JSON of each\n"
  "client's workers and tasks. With --pid, sample that one process's CPU with\n"
  "perf_event_open until it exits, the duration passes, or SIGINT/SIGTERM, then write\n"
  "PREFIX.pb.gz (pprof), PREFIX.offcpu.pb.gz, PREFIX.pftrace (Perfetto) and\n"
  "PREFIX.trace.json, each sample labelled with its thread, worker and task.\n"
  "\n"
  "  -s, --socket PATH        socket to serve (default: $CEOPROF_SOCKET, else\n"
  "                           /run/ceoprof/ceoprofd.sock as root, else\n"
  "                           $XDG_RUNTIME_DIR/ceoprof.sock)\n"
  "  -d, --output-dir DIR     service mode: where files are written, named\n"
  "                           SERVICE-PID[-TIME].pb.gz / .pftrace / .trace.json\n"
  "                           (default: .)\n"
  "  -a, --auto               service mode: profile every libceoprof client\n"
  "  -w, --window SEC         cut profiles into windows of SEC seconds, one pprof\n"
  "                           and one trace per process per window\n"
  "      --pyroscope URL      push each window's CPU and off-CPU profiles to Grafana\n"
  "                           Pyroscope (its Push API, URL/push.v1.PusherService/Push)\n"
  "      --pyroscope-ingest   push through the older URL/ingest (CPU profiles only)\n"
  "      --pyroscope-tenant ID  the tenant (X-Scope-OrgID) of a multi-tenant Pyroscope\n"
  "      --pyroscope-basic-auth-file FILE  USER:PASSWORD for basic auth (else\n"
  "                           $CEOPROF_PYROSCOPE_BASIC_AUTH)\n"
  "      --pyroscope-token-file FILE  a bearer token (else $CEOPROF_PYROSCOPE_TOKEN)\n"
  "      --pyroscope-label-limit N  values kept per string label in what is pushed, the\n"
  "                           rest pushed as \"other\" (default 32; files keep all)\n"
  "      --push-retries N     attempts after a failed push (default: 4)\n"
  "      --push-backoff MS    first wait before a retry, doubled each time (1000)\n"
  "  -p, --pid PID            profile this process only\n"
  "  -o, --output PREFIX      --pid mode: output prefix (default: ceoprof-PID)\n"
  "  -D, --duration SEC       stop after SEC seconds (default: no limit)\n"
  "  -F, --freq HZ            samples per second (default: 99)\n"
  "  -g, --call-graph MODE    how stacks are unwound: fp (frame pointers, the default)\n"
  "                           or dwarf[,SIZE] (DWARF CFI over SIZE bytes of copied\n"
  "                           stack, default 8192: for code without frame pointers)\n"
  "  -k, --kernel             include kernel stacks\n"
  "      --no-sampling        --pid: collect task events only, no CPU samples\n"
  "      --per-thread         per-thread perf events even where per-CPU ones may be\n"
  "                           opened (the default as root: they add nothing to the\n"
  "                           target's context switches)\n"
  "      --waits              without BPF, thread states, task waits and off-CPU\n"
  "                           stacks from per-thread events (a cost to the target)\n"
  "      --no-bpf             no BPF programs: waits and off-CPU stacks from\n"
  "                           per-thread perf events\n"
  "      --max-trace-mb MB    a trace file's size past which its events are left out\n"
  "                           and counted (default 512: Chrome-based viewers load no\n"
  "                           larger JSON; 0: no limit)\n"
  "      --max-memory-mb MB   what all clients' events and frames may hold together;\n"
  "                           past it new data is refused and counted (default: an\n"
  "                           eighth of the memory, 64 to 2048)\n"
  "      --hello-timeout MS   drop clients silent this long after connecting (5000)\n"
  "  -v, --verbose            log every client connection\n"
  "  -h, --help               show this help\n"
  "  -V, --version            show the version\n";

/* What the command line gives besides the configuration. */
struct args {
  const char *socket;
  const char *basic_auth_file, *token_file;  /* Pyroscope credentials */
};

/* An option that takes a value: 0, or -1 with why on stderr. */
static int set_value(struct cpd_config *cfg, int c, const char *arg, struct args *a)
{
  const char *need = "a value";
  char why[200];
  uint32_t u;

  switch (c) {
  case 's':
    a->socket = arg;
    return 0;
  case 'O':
    if (*arg && strlen(arg) < 256 && !strpbrk(arg, "\r\n")) {
      cfg->pyroscope_tenant = arg;
      return 0;
    }
    need = "--pyroscope-tenant needs a tenant id";
    break;
  case 'U':
    a->basic_auth_file = arg;
    return 0;
  case 'K':
    a->token_file = arg;
    return 0;
  case 'L':
    if (cp_parse_u32(arg, 100000, &u) == 0 && u >= 2) {
      cfg->pyroscope_label_limit = u;
      return 0;
    }
    need = "--pyroscope-label-limit needs a count of at least 2";
    break;
  case 'd':
    cfg->output_dir = arg;
    return 0;
  case 'o':
    cfg->prefix = arg;
    return 0;
  case 'p':
    if (cp_parse_u32(arg, INT32_MAX, &cfg->target_pid) == 0)
      return 0;
    need = "--pid needs a process id";
    break;
  case 'D':
    if (cp_parse_seconds(arg, 0, &cfg->duration_s) == 0)
      return 0;
    need = "--duration needs a positive number of seconds";
    break;
  case 'H':
    if (cp_parse_u32(arg, 3600000, &u) == 0 && (cfg->hello_timeout_ms = (int)u))
      return 0;
    need = "--hello-timeout needs milliseconds";
    break;
  case 'F':
    if (cp_parse_u32(arg, CP_MAX_HZ, &u) == 0 && (cfg->hz = (int)u))
      return 0;
    need = "-F needs a rate in Hz between 1 and 100000";
    break;
  case 'g':
    if (cp_parse_call_graph(arg, &cfg->dwarf_stack, why, sizeof(why)) == 0)
      return 0;
    fprintf(stderr, "ceoprofd: %s\n", why);
    return -1;
  case 'm':
    if (cp_parse_u32(arg, 1u << 22, &u) == 0 && u >= 16) {
      cfg->max_memory_mb = u;
      return 0;
    }
    need = "--max-memory-mb needs a size in MiB, at least 16";
    break;
  case 'M':
    if (strcmp(arg, "0") == 0 || cp_parse_u32(arg, 1u << 22, &u) == 0) {
      cfg->max_trace_mb = strcmp(arg, "0") == 0 ? 0 : u;
      return 0;
    }
    need = "--max-trace-mb needs a size in MiB (0: no limit)";
    break;
  case 'w':
    if (cp_parse_seconds(arg, 0.1, &cfg->window_s) == 0)
      return 0;
    need = "--window needs seconds (at least 0.1)";
    break;
  case 'P':
    if (cp_is_http_url(arg)) {
      cfg->pyroscope_url = arg;
      return 0;
    }
    need = "--pyroscope needs an http:// or https:// URL";
    break;
  case 'R':
    if (strcmp(arg, "0") == 0 || cp_parse_u32(arg, 100, &u) == 0) {
      cfg->push_retries = strcmp(arg, "0") == 0 ? 0 : (int)u;
      return 0;
    }
    need = "--push-retries needs a count from 0 to 100";
    break;
  case 'B':
    if (cp_parse_u32(arg, 600000, &u) == 0 && (cfg->push_backoff_ms = (int)u))
      return 0;
    need = "--push-backoff needs milliseconds";
    break;
  }
  fprintf(stderr, "ceoprofd: %s, not '%s'\n", need, arg);
  return -1;
}

/* Fills CFG from the command line: -1 to go on, else the exit status (help, bad options). */
static int parse_args(int argc, char **argv, struct cpd_config *cfg, struct args *a)
{
  static const struct option opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "output-dir", required_argument, NULL, 'd' },
    { "pid", required_argument, NULL, 'p' },
    { "output", required_argument, NULL, 'o' },
    { "duration", required_argument, NULL, 'D' },
    { "hello-timeout", required_argument, NULL, 'H' },
    { "freq", required_argument, NULL, 'F' },
    { "call-graph", required_argument, NULL, 'g' },
    { "kernel", no_argument, NULL, 'k' },
    { "no-sampling", no_argument, NULL, 'N' },
    { "no-bpf", no_argument, NULL, 'n' },
    { "per-thread", no_argument, NULL, 'T' },
    { "waits", no_argument, NULL, 'W' },
    { "auto", no_argument, NULL, 'a' },
    { "window", required_argument, NULL, 'w' },
    { "max-trace-mb", required_argument, NULL, 'M' },
    { "max-memory-mb", required_argument, NULL, 'm' },
    { "pyroscope", required_argument, NULL, 'P' },
    { "push-retries", required_argument, NULL, 'R' },
    { "push-backoff", required_argument, NULL, 'B' },
    { "pyroscope-tenant", required_argument, NULL, 'O' },
    { "pyroscope-basic-auth-file", required_argument, NULL, 'U' },
    { "pyroscope-token-file", required_argument, NULL, 'K' },
    { "pyroscope-ingest", no_argument, NULL, 'I' },
    { "pyroscope-label-limit", required_argument, NULL, 'L' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long(argc, argv, "s:d:p:o:D:F:g:kaw:vhV", opts, NULL)) != -1) {
    switch (c) {
    case 'k':
      cfg->kernel = 1;
      break;
    case 'n':
      cfg->no_bpf = 1;
      break;
    case 'T':
      cfg->per_thread = 1;
      break;
    case 'I':
      cfg->pyroscope_ingest = 1;
      break;
    case 'W':
      cfg->waits = 1;
      break;
    case 'N':
      cfg->no_sampling = 1;
      break;
    case 'a':
      cfg->auto_attach = 1;
      break;
    case 'v':
      cpd_verbose = 1;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    case 'V':
      printf("ceoprofd %s\n", PACKAGE_VERSION);
      return 0;
    case '?':
      fputs("Try 'ceoprofd --help' for more information.\n", stderr);
      return 2;
    default:
      if (set_value(cfg, c, optarg, a) < 0)
        return 2;
      break;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ceoprofd: unexpected argument '%s'; try 'ceoprofd --help'\n", argv[optind]);
    return 2;
  }
  return -1;
}

int main(int argc, char **argv)
{
  struct args a = { NULL, NULL, NULL };
  char *basic = NULL, *token = NULL;
  struct cpd_config cfg;
  struct cpd_engine *e;
  struct stat st;
  char why[512];
  int rc;

  cpd_config_init(&cfg);
  if ((rc = parse_args(argc, argv, &cfg, &a)) >= 0)
    return rc;
  if ((a.basic_auth_file || a.token_file || cfg.pyroscope_tenant || cfg.pyroscope_ingest) &&
      !cfg.pyroscope_url) {
    fprintf(stderr, "ceoprofd: the --pyroscope-* options go with --pyroscope URL\n");
    return 2;
  }
  if (cfg.pyroscope_url &&
      cpd_push_credentials(a.basic_auth_file, a.token_file, &basic, &token, why, sizeof(why)) < 0) {
    fprintf(stderr, "ceoprofd: %s\n", why);
    return 1;
  }
  cfg.pyroscope_basic_auth = basic;
  cfg.pyroscope_token = token;
  if (a.socket) {
    if (strlen(a.socket) >= sizeof(cfg.socket_path)) {
      fprintf(stderr, "ceoprofd: socket path too long (at most %zu bytes)\n",
              sizeof(cfg.socket_path) - 1);
      return 2;
    }
    snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s", a.socket);
  } else if ((rc = cp__socket_path(cfg.socket_path, sizeof(cfg.socket_path))) < 0) {
    fprintf(stderr, "ceoprofd: no socket path: %s; set CEOPROF_SOCKET or XDG_RUNTIME_DIR, "
                    "or pass --socket\n", rc == -ENOENT ? "not root and no XDG_RUNTIME_DIR" :
                                                        "path too long");
    return 2;
  }
  if (cfg.target_pid && cfg.auto_attach) {
    fprintf(stderr, "ceoprofd: --auto is for service mode; leave out --pid\n");
    return 2;
  }
  if (cfg.target_pid && kill((pid_t)cfg.target_pid, 0) < 0 && errno == ESRCH) {
    fprintf(stderr, "ceoprofd: no process with pid %" PRIu32 "; check the pid with ps\n",
            cfg.target_pid);
    return 1;
  }
  if (cfg.target_pid && cpd_pid_is_kthread(cfg.target_pid)) {
    fprintf(stderr, "ceoprofd: pid %" PRIu32 " is a kernel thread: it has no user code to "
            "profile (perf record -a -g samples the kernel)\n", cfg.target_pid);
    return 1;
  }
  if (cfg.target_pid && cpd_check_prefix(cfg.prefix ? cfg.prefix : "ceoprof-", why,
                                          sizeof(why)) < 0) {
    fprintf(stderr, "ceoprofd: %s\n", why);
    return 1;
  }
  if (!cfg.target_pid && (stat(cfg.output_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
    fprintf(stderr, "ceoprofd: output directory %s does not exist; create it or pass "
                    "--output-dir\n", cfg.output_dir);
    return 1;
  }
  if (cpd_engine_start(&e, &cfg) < 0) {
    free(basic);
    free(token);
    return 1;
  }
  if (cfg.target_pid)
    cpd_log("profiling pid %" PRIu32 " on %s; Ctrl-C to stop", cfg.target_pid, cfg.socket_path);
  else
    cpd_log("serving %s, writing to %s%s", cfg.socket_path, cfg.output_dir,
            cfg.auto_attach ? ", profiling every client" : "");
  cpd_engine_run(e);
  rc = cpd_engine_stop(e) < 0 ? 1 : 0;
  free(basic);
  free(token);
  return rc;
}

/*
 * profile.c: ceoprof attach, record and detach: ask the running ceoprofd, or, when none
 * runs (and always for record), run the daemon's engine in this process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "engine.h"
#include "log.h"
#include "opts.h"
#include "util.h"

static volatile sig_atomic_t interrupted;
static int show_progress;

static void on_sigint(int sig)
{
  interrupted = sig;
}

static void progress_line(double secs, uint64_t samples, uint64_t lost, uint32_t workers,
                          uint64_t tasks)
{
  if (!show_progress)
    return;
  fprintf(stderr, "\r\033[K  %6.1f s   samples %-8" PRIu64 " lost %-6" PRIu64 " workers %-4" PRIu32
          " tasks %" PRIu64 "   (Ctrl-C to stop)", secs, samples, lost, workers, tasks);
}

static void progress_end(void)
{
  if (show_progress)
    fputs("\r\033[K", stderr);
}

/* The in-process engine's run, as the ceoprof command follows it. */
struct run {
  uint64_t last_tick;   /* when the progress line was last drawn */
  pid_t command;        /* record: the command, which gets the signals record gets */
  int signals;          /* SIGINT and SIGTERM received */
  uint64_t stop_at_ms;  /* after a signal: stop then, if the command has not ended */
};

#define SIGNAL_GRACE_MS 2000  /* how long a signalled command may take to end */

static void engine_tick(struct cpd_engine *e, void *arg)
{
  struct run *r = arg;
  uint64_t now = cpd_now_ms();
  struct cpd_progress p;

  if (r->stop_at_ms && now >= r->stop_at_ms) {
    r->stop_at_ms = 0;
    cpd_engine_request_stop(e);
  }
  if (now - r->last_tick < 250 || cpd_engine_progress(e, &p) < 0)
    return;
  r->last_tick = now;
  progress_line(p.elapsed_s, p.samples, p.lost, p.workers, p.tasks);
}

/*
 * As perf record does: a signal sent to record (by kill, timeout, a supervisor) is passed
 * on to its command, and the profile ends when the command does (or after a grace period).
 * One from the terminal reached the command already. A second signal stops at once.
 */
static int engine_signal(int sig, int from_process, void *arg)
{
  struct run *r = arg;

  if (r->command <= 0 || ++r->signals > 1)
    return 0;
  if (from_process)
    kill(r->command, sig);
  r->stop_at_ms = cpd_now_ms() + SIGNAL_GRACE_MS;
  return 1;
}

static void engine_report(void *arg)
{
  (void)arg;
  progress_end();
}

struct popts {
  int hz;
  double duration_s;
  const char *prefix;       /* as given */
  char abs_prefix[PATH_MAX];
  const char *socket;
  int kernel;
  uint32_t dwarf_stack;
  int no_bpf;
  int per_thread;
  int waits;
};

static int parse_popts(int argc, char **argv, const char *cmd, struct popts *o, int allow_cmd)
{
  static const struct option opts[] = {
    { "freq", required_argument, NULL, 'F' },
    { "duration", required_argument, NULL, 'D' },
    { "output", required_argument, NULL, 'o' },
    { "socket", required_argument, NULL, 's' },
    { "kernel", no_argument, NULL, 'k' },
    { "call-graph", required_argument, NULL, 'g' },
    { "no-bpf", no_argument, NULL, 'n' },
    { "per-thread", no_argument, NULL, 'T' },
    { "waits", no_argument, NULL, 'W' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  uint32_t u;
  int c;

  memset(o, 0, sizeof(*o));
  o->hz = 99;
  optind = 1;
  /* record: "+" stops at the first non-option, so the command keeps its own options. */
  while ((c = getopt_long(argc, argv, allow_cmd ? "+F:D:o:s:kg:h" : "F:D:o:s:kg:h", opts,
                          NULL)) != -1) {
    switch (c) {
    case 'F':
      if (cp_parse_u32(optarg, CP_MAX_HZ, &u) < 0) {
        fprintf(stderr, "ceoprof %s: -F needs a rate in Hz between 1 and 100000, not '%s'\n",
                cmd, optarg);
        return -1;
      }
      o->hz = (int)u;
      break;
    case 'D':
      if (cp_parse_seconds(optarg, 0, &o->duration_s) < 0) {
        fprintf(stderr, "ceoprof %s: --duration needs a positive number of seconds, not '%s'\n",
                cmd, optarg);
        return -1;
      }
      break;
    case 'o':
      o->prefix = optarg;
      break;
    case 's':
      o->socket = optarg;
      break;
    case 'k':
      o->kernel = 1;
      break;
    case 'n':
      o->no_bpf = 1;
      break;
    case 'T':
      o->per_thread = 1;
      break;
    case 'W':
      o->waits = 1;
      break;
    case 'g': {
      char why[200];

      if (cp_parse_call_graph(optarg, &o->dwarf_stack, why, sizeof(why)) < 0) {
        fprintf(stderr, "ceoprof %s: %s\n", cmd, why);
        return -1;
      }
      break;
    }
    case 'h':
      cpc_usage(stdout, cmd);
      exit(0);
    default:
      fprintf(stderr, "Try 'ceoprof %s --help'.\n", cmd);
      return -1;
    }
  }
  return optind;
}

/* PREFIX made absolute against the current directory (the daemon has its own). */
static int absolute_prefix(struct popts *o, const char *dflt)
{
  const char *p = o->prefix ? o->prefix : dflt;
  char cwd[PATH_MAX];

  if (p[0] == '/')
    return snprintf(o->abs_prefix, sizeof(o->abs_prefix), "%s", p) < (int)sizeof(o->abs_prefix)
               ? 0 : -ENAMETOOLONG;
  if (!getcwd(cwd, sizeof(cwd)))
    return -errno;
  return snprintf(o->abs_prefix, sizeof(o->abs_prefix), "%s/%s", cwd, p) <
                 (int)sizeof(o->abs_prefix) ? 0 : -ENAMETOOLONG;
}

/* Runs the engine here: the same code as ceoprofd --pid. Returns 0 or 1 (files not written). */
static int run_engine(uint32_t pid, const struct popts *o, const char *socket_path,
                      int enable_on_exec, int (*started)(void *), void *arg)
{
  struct cpd_config cfg;
  struct cpd_engine *e;
  struct run r = { .command = enable_on_exec ? (pid_t)pid : 0 };
  int rc;

  cpd_log_name = "ceoprof";
  cpd_config_init(&cfg);
  snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s", socket_path);
  cfg.target_pid = pid;
  cfg.prefix = o->abs_prefix;
  cfg.hz = o->hz;
  cfg.kernel = o->kernel;
  cfg.dwarf_stack = o->dwarf_stack;
  cfg.no_bpf = o->no_bpf;
  cfg.per_thread = o->per_thread;
  cfg.waits = o->waits;
  cfg.duration_s = o->duration_s;
  cfg.enable_on_exec = enable_on_exec;
  cfg.report = stderr;  /* stdout is the command's */
  cfg.on_tick = engine_tick;
  cfg.on_signal = engine_signal;
  cfg.before_report = engine_report;
  cfg.tick_arg = &r;
  cfg.on_started = started;
  cfg.started_arg = arg;
  if (cpd_engine_start(&e, &cfg) < 0)
    return -1;
  cpd_engine_run(e);
  progress_end();
  rc = cpd_engine_stop(e);
  return rc < 0 ? 1 : 0;
}

/* The end of a profile the daemon made, on stderr as every message of ceoprof's. */
static void print_done(const Ceoprof__Wire__Done *d)
{
  fprintf(stderr, "ceoprof: pid %" PRIu32 ": %" PRIu64 " samples, %" PRIu64 " lost; profile "
          "ended (%s)\n", d->pid, d->samples, d->lost, d->message);
  if (d->summary && *d->summary) {  /* the summary, its files included */
    fputs(d->summary, stderr);
    return;
  }
  for (size_t i = 0; i < d->n_files; i++)
    fprintf(stderr, "  wrote %s\n", d->files[i]);
}

#define FOLLOW_NO_PREFIX 3  /* the daemon writes only into its own directory for us */

/* Waits for Done on C, showing progress; Ctrl-C sends Detach. Returns the exit status. */
static int follow(struct cpc_ctl *c, uint32_t pid, int prefix_optional)
{
  int detach_sent = 0;

  for (;;) {
    cp_frame *f = NULL;
    int rc;

    if (interrupted && !detach_sent) {
      Ceoprof__Wire__DetachRequest d = CEOPROF__WIRE__DETACH_REQUEST__INIT;
      cp_frame req = CEOPROF__WIRE__FRAME__INIT;

      d.pid = pid;
      req.body_case = CEOPROF__WIRE__FRAME__BODY_DETACH;
      req.detach = &d;
      cpc_ctl_send(c, &req);
      detach_sent = 1;
    }
    rc = cpc_ctl_recv(c, &f, 200);
    if (rc == 0 || rc == -EINTR)
      continue;
    if (rc < 0) {
      progress_end();
      fprintf(stderr, "ceoprof: %s\n", rc == -EPIPE
                  ? "ceoprofd closed the connection before the profile ended; see its log"
                  : strerror(-rc));
      return 1;
    }
    switch (f->body_case) {
    case CEOPROF__WIRE__FRAME__BODY_PROGRESS:
      progress_line((double)f->progress->elapsed_ms / 1e3, f->progress->samples,
                    f->progress->lost, f->progress->workers, f->progress->tasks);
      break;
    case CEOPROF__WIRE__FRAME__BODY_DONE:
      progress_end();
      print_done(f->done);
      rc = f->done->error ? 1 : 0;
      if (f->done->error)
        fprintf(stderr, "ceoprof: some files could not be written: %s; see ceoprofd's log\n",
                strerror(-f->done->error));
      cp__frame_free(f);
      return rc;
    case CEOPROF__WIRE__FRAME__BODY_ERROR:
      progress_end();
      if (prefix_optional && f->error->code == -EINVAL && strstr(f->error->message, "--output-dir")) {
        cp__frame_free(f);
        return FOLLOW_NO_PREFIX;
      }
      fprintf(stderr, "ceoprof: %s\n", f->error->message);
      cp__frame_free(f);
      return 1;
    default:
      break;
    }
    cp__frame_free(f);
  }
}

static int send_attach(struct cpc_ctl *c, uint32_t pid, const struct popts *o, const char *prefix)
{
  Ceoprof__Wire__AttachRequest a = CEOPROF__WIRE__ATTACH_REQUEST__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;

  a.pid = pid;
  a.hz = (uint32_t)o->hz;
  a.duration_ms = (uint64_t)(o->duration_s * 1000);
  a.prefix = (char *)prefix;
  a.kernel = o->kernel;
  a.dwarf_stack = o->dwarf_stack;
  a.no_bpf = o->no_bpf;
  a.per_thread = o->per_thread;
  a.waits = o->waits;
  a.progress = 1;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_ATTACH;
  f.attach = &a;
  return cpc_ctl_send(c, &f);
}

static void catch_sigint(void)
{
  struct sigaction sa = { .sa_handler = on_sigint };  /* no SA_RESTART: waits wake up */

  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cpc_attach(int argc, char **argv)
{
  struct popts o;
  struct cpc_ctl c;
  char err[512], dflt[64];
  uint32_t pid;
  int i = parse_popts(argc, argv, "attach", &o, 0), rc;

  if (i < 0)
    return 2;
  if (i != argc - 1 || cp_parse_u32(argv[i], INT32_MAX, &pid) < 0) {
    fprintf(stderr, "ceoprof attach: give one process id, e.g. 'ceoprof attach 1234'\n");
    return 2;
  }
  if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
    fprintf(stderr, "ceoprof attach: no process with pid %" PRIu32 "; check the pid with ps\n", pid);
    return 1;
  }
  if (cpd_pid_is_kthread(pid)) {
    fprintf(stderr, "ceoprof attach: pid %" PRIu32 " is a kernel thread: it has no user code "
            "to profile (perf record -a -g samples the kernel)\n", pid);
    return 1;
  }
  snprintf(dflt, sizeof(dflt), "ceoprof-%" PRIu32, pid);
  if (absolute_prefix(&o, dflt) < 0) {
    fprintf(stderr, "ceoprof attach: output prefix too long\n");
    return 2;
  }
  /* Without -o a daemon of another user writes into its own --output-dir instead. */
  if (o.prefix && cpd_check_prefix(o.abs_prefix, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof attach: %s\n", err);
    return 1;
  }
  show_progress = isatty(STDERR_FILENO);
  rc = cpc_ctl_connect(&c, o.socket, err, sizeof(err));
  if (rc == -ENOENT || rc == -ECONNREFUSED) {
    /* No service: the same engine, here, serving the socket the target's client looks for. */
    cpc_ctl_close(&c);
    if (cpd_check_prefix(o.abs_prefix, err, sizeof(err)) < 0) {
      fprintf(stderr, "ceoprof attach: %s\n", err);
      return 1;
    }
    fprintf(stderr, "ceoprof: no ceoprofd on %s; profiling pid %" PRIu32 " directly\n", c.path,
            pid);
    rc = run_engine(pid, &o, c.path, 0, NULL, NULL);
    return rc < 0 ? 1 : rc;
  }
  if (rc < 0) {
    fprintf(stderr, "ceoprof attach: %s\n", err);
    return 1;
  }
  catch_sigint();
  if (send_attach(&c, pid, &o, o.abs_prefix) < 0) {
    fprintf(stderr, "ceoprof attach: could not talk to ceoprofd on %s\n", c.path);
    cpc_ctl_close(&c);
    return 1;
  }
  rc = follow(&c, pid, o.prefix == NULL);
  if (rc == FOLLOW_NO_PREFIX && send_attach(&c, pid, &o, "") == 0)
    rc = follow(&c, pid, 0);
  cpc_ctl_close(&c);
  return rc == FOLLOW_NO_PREFIX ? 1 : rc;
}

int cpc_detach(int argc, char **argv)
{
  Ceoprof__Wire__DetachRequest d = CEOPROF__WIRE__DETACH_REQUEST__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  struct popts o;
  struct cpc_ctl c;
  char err[512];
  uint32_t pid;
  int i = parse_popts(argc, argv, "detach", &o, 0), rc;

  if (i < 0)
    return 2;
  if (i != argc - 1 || cp_parse_u32(argv[i], INT32_MAX, &pid) < 0) {
    fprintf(stderr, "ceoprof detach: give one process id, e.g. 'ceoprof detach 1234'\n");
    return 2;
  }
  if (cpc_ctl_connect(&c, o.socket, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof detach: %s\n", err);
    cpc_ctl_close(&c);
    return 1;
  }
  d.pid = pid;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_DETACH;
  f.detach = &d;
  rc = cpc_ctl_send(&c, &f) < 0 ? 1 : follow(&c, pid, 0);
  cpc_ctl_close(&c);
  return rc;
}

/* ---- record ---- */

struct child {
  pid_t pid;
  int go_fd;      /* writing a byte lets the child exec */
};

/* Whether CMD can be run as execvp() would find it: 0, or -errno. */
static int runnable(const char *cmd)
{
  const char *path = getenv("PATH");
  char full[PATH_MAX];
  struct stat st;
  int rc = -ENOENT;

  if (strchr(cmd, '/'))
    return stat(cmd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR
           : access(cmd, X_OK) < 0 ? -errno : 0;
  for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");

    if (snprintf(full, sizeof(full), "%.*s/%s", n ? (int)n : 1, n ? p : ".", cmd) <
            (int)sizeof(full) && stat(full, &st) == 0 && !S_ISDIR(st.st_mode)) {
      if (access(full, X_OK) == 0)
        return 0;
      rc = -EACCES;
    }
    p += n + (p[n] == ':');
  }
  return rc;
}

static int release_child(void *arg)
{
  struct child *ch = arg;

  if (write(ch->go_fd, "g", 1) != 1)
    return -errno;
  close(ch->go_fd);
  ch->go_fd = -1;
  return 0;
}

int cpc_record(int argc, char **argv)
{
  struct popts o;
  struct child ch = { -1, -1 };
  char dir[] = "/tmp/ceoprof-record.XXXXXX", sock[PATH_MAX], dflt[64], err[512];
  int go[2], status_pipe[2], i = parse_popts(argc, argv, "record", &o, 1), rc, status = 0;
  int child_errno = 0;

  if (i < 0)
    return 2;
  if (i < argc && strcmp(argv[i], "--") == 0)
    i++;
  if (i >= argc) {
    fprintf(stderr, "ceoprof record: give a command, e.g. 'ceoprof record -- ./server --port 80'\n");
    return 2;
  }
  /* Nothing runs when its profile could not be written or the command is not there. */
  if ((rc = runnable(argv[i])) < 0) {
    fprintf(stderr, "ceoprof record: cannot run %s: %s\n", argv[i], strerror(-rc));
    return 127;
  }
  if (absolute_prefix(&o, "ceoprof-record") < 0 ||
      cpd_check_prefix(o.abs_prefix, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof record: %s\n", o.abs_prefix[0] ? err : "output prefix too long");
    return 1;
  }
  if (!mkdtemp(dir)) {
    fprintf(stderr, "ceoprof record: cannot create a directory in /tmp: %s\n", strerror(errno));
    return 1;
  }
  snprintf(sock, sizeof(sock), "%s/ceoprof.sock", dir);
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0) {
    fprintf(stderr, "ceoprof record: pipe: %s\n", strerror(errno));
    rmdir(dir);
    return 1;
  }
  ch.pid = fork();
  if (ch.pid < 0) {
    fprintf(stderr, "ceoprof record: fork: %s\n", strerror(errno));
    rmdir(dir);
    return 1;
  }
  if (ch.pid == 0) {
    char b;

    close(go[1]);
    close(status_pipe[0]);
    setenv("CEOPROF_SOCKET", sock, 1);
    /* Wait until the perf events are open: they start counting at the exec. */
    if (read(go[0], &b, 1) != 1)
      _exit(127);
    execvp(argv[i], argv + i);
    child_errno = errno;
    if (write(status_pipe[1], &child_errno, sizeof(child_errno)) < 0)
      _exit(127);
    _exit(127);
  }
  close(go[0]);
  close(status_pipe[1]);
  ch.go_fd = go[1];
  snprintf(dflt, sizeof(dflt), "ceoprof-%d", (int)ch.pid);
  if (absolute_prefix(&o, dflt) < 0) {
    fprintf(stderr, "ceoprof record: output prefix too long\n");
    kill(ch.pid, SIGKILL);
    waitpid(ch.pid, NULL, 0);
    rmdir(dir);
    return 2;
  }
  show_progress = isatty(STDERR_FILENO);
  rc = run_engine((uint32_t)ch.pid, &o, sock, 1, release_child, &ch);
  if (ch.go_fd >= 0) {  /* the engine did not start: the child must not run unprofiled */
    kill(ch.pid, SIGKILL);
    close(ch.go_fd);
  }
  if (read(status_pipe[0], &child_errno, sizeof(child_errno)) == sizeof(child_errno))
    fprintf(stderr, "ceoprof record: cannot run %s: %s\n", argv[i], strerror(child_errno));
  close(status_pipe[0]);
  /* A command still running after its profile ended (a second signal, or one it ignores)
   * is asked to end, as perf record does. */
  if (waitpid(ch.pid, &status, WNOHANG) == 0) {
    kill(ch.pid, SIGTERM);
    while (waitpid(ch.pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  rmdir(dir);
  if (rc < 0)
    return 1;
  if (child_errno)
    return 127;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return rc;
}

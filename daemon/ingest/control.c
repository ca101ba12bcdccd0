/* control.c: the ceoprof command's requests: attach, detach, status; progress and Done. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ingest/control.h"
#include "log.h"
#include "opts.h"
#include "output/push_queue.h"
#include "util.h"

int cpd_control_is_request(const Ceoprof__Wire__Frame *f)
{
  return f->body_case == CEOPROF__WIRE__FRAME__BODY_ATTACH ||
         f->body_case == CEOPROF__WIRE__FRAME__BODY_DETACH ||
         f->body_case == CEOPROF__WIRE__FRAME__BODY_STATUS_REQUEST;
}

/* Reads the four ids of a "Uid:" or "Gid:" line of /proc/PID/status. */
static int read_ids(uint32_t pid, const char *key, unsigned ids[4])
{
  char path[64], line[256];
  size_t klen = strlen(key);
  FILE *f;
  int found = 0;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
  f = fopen(path, "re");
  if (!f)
    return -ESRCH;
  while (!found && fgets(line, sizeof(line), f))
    if (strncmp(line, key, klen) == 0)
      found = sscanf(line + klen, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) == 4;
  fclose(f);
  return found ? 0 : -ESRCH;
}

int cpd_control_may_profile(uint32_t uid, uint32_t gid, uint32_t pid, char *err, size_t errlen)
{
  unsigned uids[4], gids[4];
  char path[64];
  struct stat st;

  snprintf(path, sizeof(path), "/proc/%" PRIu32, pid);
  if (stat(path, &st) < 0 || read_ids(pid, "Uid:", uids) < 0 || read_ids(pid, "Gid:", gids) < 0) {
    snprintf(err, errlen, "no process with pid %" PRIu32 "; check the pid with ps", pid);
    return -ESRCH;
  }
  if (cpd_pid_is_kthread(pid)) {
    snprintf(err, errlen, "pid %" PRIu32 " is a kernel thread: it has no user code to "
             "profile (perf record -a -g samples the kernel)", pid);
    return -EINVAL;
  }
  if (uid == 0)
    return 0;
  /* As ptrace: every uid of the target is the caller's, and the target is dumpable
   * (the kernel gives a non-dumpable process's /proc directory to root). */
  for (int i = 0; i < 4; i++)
    if (uids[i] != uid) {
      snprintf(err, errlen, "pid %" PRIu32 " belongs to another user (uid %u); you may profile "
               "only your own processes unless you are root", pid, uids[i]);
      return -EPERM;
    }
  /* ptrace (PTRACE_MODE_READ_REALCREDS) also asks that every group id of the target be the
   * caller's: a process of the user's running with group 0 is not the user's to read. */
  for (int i = 0; i < 4; i++)
    if (gids[i] != gid) {
      snprintf(err, errlen, "pid %" PRIu32 " runs with another group (gid %u, yours is %u); you "
               "may profile only processes with your own user and group unless you are root",
               pid, gids[i], gid);
      return -EPERM;
    }
  if (st.st_uid != uid) {
    snprintf(err, errlen, "pid %" PRIu32 " is not dumpable (setuid, or it called "
             "prctl(PR_SET_DUMPABLE, 0)); only root may profile it", pid);
    return -EPERM;
  }
  return 0;
}

/* Whether an unprivileged user may see kernel addresses here, as the kernel would let them:
 * perf samples kernel code for them (perf_event_paranoid at most 1) and /proc/kallsyms
 * shows them real addresses (kptr_restrict 0). */
static int kernel_addresses_readable(void)
{
  long paranoid = 2, kptr = 1;
  FILE *f;

  if ((f = fopen("/proc/sys/kernel/perf_event_paranoid", "re"))) {
    if (fscanf(f, "%ld", &paranoid) != 1)
      paranoid = 2;
    fclose(f);
  }
  if ((f = fopen("/proc/sys/kernel/kptr_restrict", "re"))) {
    if (fscanf(f, "%ld", &kptr) != 1)
      kptr = 1;
    fclose(f);
  }
  return paranoid <= 1 && kptr == 0;
}

static void refuse(struct cpd_conn *c, int code, const char *msg)
{
  cpd_debug("request from pid %" PRIu32 " refused: %s", c->pid, msg);
  cpd_conn_send_error(c, code, msg);
}

int cpd_control_pinned(const struct cpd_pin *pin, uint32_t pid, char *err, size_t errlen)
{
#ifdef SYS_pidfd_send_signal
  if (pin->pidfd >= 0 && syscall(SYS_pidfd_send_signal, pin->pidfd, 0, NULL, 0) < 0) {
    snprintf(err, errlen, "pid %" PRIu32 " ended while it was being attached to (its pid may "
             "now name another process): nothing was profiled", pid);
    return 0;
  }
#endif
  return cpd_control_may_profile(pin->uid, pin->gid, pid, err, errlen) == 0;
}

static void attach(struct cpd_conn *c, const Ceoprof__Wire__AttachRequest *a)
{
  struct cpd_engine *e = c->engine;
  struct cpd_target_opts o = {
    .hz = a->hz ? (int)a->hz : e->cfg.hz,
    .kernel = a->kernel,
    .dwarf_stack = cp_dwarf_stack_size(a->dwarf_stack),
    .no_bpf = a->no_bpf || e->cfg.no_bpf,
    .per_thread = a->per_thread || e->cfg.per_thread,
    .waits = a->waits || e->cfg.waits,
    .duration_s = (double)a->duration_ms / 1000.0,
    .prefix = a->prefix && *a->prefix ? a->prefix : NULL,
    .owner_uid = c->uid,
  };
  struct cpd_pin pin = { -1, c->uid, c->gid };
  struct cpd_target *t;
  char err[512];

  if (a->pid == 0 || a->hz > 100000) {
    refuse(c, -EINVAL, "attach needs a pid and a rate between 1 and 100000 Hz");
    return;
  }
#ifdef SYS_pidfd_open
  /* Pinned before the check: the process checked is the one sampled (cpd_engine_add_target). */
  pin.pidfd = (int)syscall(SYS_pidfd_open, (pid_t)a->pid, 0);
#endif
  if (cpd_control_may_profile(c->uid, c->gid, a->pid, err, sizeof(err)) < 0) {
    refuse(c, -EPERM, err);
    goto out;
  }
  if (a->kernel && c->uid != 0 && !kernel_addresses_readable()) {
    refuse(c, -EPERM, "kernel frames would show kernel addresses, which this system shows "
           "only to root (kernel.kptr_restrict, kernel.perf_event_paranoid); leave out -k, "
           "or ask root");
    goto out;
  }
  if (cpd_target_find(e, a->pid)) {
    snprintf(err, sizeof(err), "pid %" PRIu32 " is already being profiled; see 'ceoprof status', "
             "or 'ceoprof detach %" PRIu32 "' first", a->pid, a->pid);
    refuse(c, -EBUSY, err);
    goto out;
  }
  if (o.prefix && (o.prefix[0] != '/' || (c->uid != 0 && c->uid != geteuid()))) {
    refuse(c, -EINVAL, o.prefix[0] != '/'
                           ? "the output prefix must be an absolute path"
                           : "this daemon runs as another user and writes only into its "
                             "--output-dir; leave out -o");
    goto out;
  }
  if (o.prefix && cpd_check_prefix(o.prefix, err, sizeof(err)) < 0) {
    refuse(c, -ENOENT, err);
    goto out;
  }
  t = cpd_engine_add_target(e, a->pid, c->uid, &o, &pin, err, sizeof(err));
  if (!t) {
    refuse(c, -EPERM, err);
    goto out;
  }
  t->requester = c;
  t->progress = a->progress;
  cpd_log("profiling pid %" PRIu32 " at %d Hz for uid %" PRIu32, a->pid, t->sampler.hz, c->uid);
  cpd_control_progress(t);  /* the first Progress says it started */
out:
  if (pin.pidfd >= 0)
    close(pin.pidfd);
}

void cpd_control_auto_attach(struct cpd_conn *c)
{
  const struct cpd_config *cfg = &c->engine->cfg;
  struct cpd_target_opts o = { .hz = cfg->hz, .kernel = cfg->kernel,
                               .dwarf_stack = cfg->dwarf_stack, .no_bpf = cfg->no_bpf,
                               .per_thread = cfg->per_thread, .waits = cfg->waits,
                               .owner_uid = c->uid };  /* the client's files are theirs */
  struct cpd_target *t;
  char err[512];

  /* Checked now, at the Hello, not only at connect: the process that connected may have
   * exec'd a setuid program meanwhile, its Hello sent by another holding the socket. */
  if (cpd_control_may_profile(c->uid, c->gid, c->pid, err, sizeof(err)) < 0) {
    cpd_log("--auto: not profiling pid %" PRIu32 " (%s): %s", c->pid, c->session->service, err);
    return;
  }
  t = cpd_engine_add_target(c->engine, c->pid, c->uid, &o, NULL, err, sizeof(err));
  if (!t) {
    cpd_log("--auto: cannot profile pid %" PRIu32 " (%s): %s", c->pid, c->session->service, err);
    return;
  }
  t->auto_attached = 1;
  cpd_debug("--auto: profiling pid %" PRIu32 " (%s)", c->pid, c->session->service);
}

static void detach(struct cpd_conn *c, const Ceoprof__Wire__DetachRequest *d)
{
  struct cpd_target *t = cpd_target_find(c->engine, d->pid);
  char err[160];

  if (!t) {
    snprintf(err, sizeof(err), "pid %" PRIu32 " is not being profiled; see 'ceoprof status'",
             d->pid);
    refuse(c, -ESRCH, err);
    return;
  }
  if (c->uid != 0 && c->uid != t->opts.owner_uid) {
    refuse(c, -EPERM, "that profile was started by another user");
    return;
  }
  /* The detacher hears Done, and so does the one who attached. */
  if (t->requester && t->requester != c)
    t->detacher = c;
  else
    t->requester = c;
  t->end_reason = "detached";
}

void cpd_control_progress_of(const struct cpd_target *t, struct cpd_progress *p)
{
  const struct cpd_session *s = t->session;

  *p = (struct cpd_progress){
    .pid = t->pid,
    .elapsed_s = (double)(cpd_now_ns() - t->start_ns) / 1e9,
    .samples = cpd_target_samples(t),
    .lost = cpd_target_lost(t),
    .threads = t->sampling ? (uint32_t)t->profile.nthreads : 0,
    .tasks = s->tasks_begun,
  };
  for (size_t i = 0; i < s->nthreads; i++)
    p->workers += s->threads[i].worker_name != NULL;
  if (p->threads < s->nthreads)
    p->threads = (uint32_t)s->nthreads;
}

void cpd_control_progress(struct cpd_target *t)
{
  Ceoprof__Wire__Progress p = CEOPROF__WIRE__PROGRESS__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;
  struct cpd_progress pr;

  cpd_control_progress_of(t, &pr);
  p.pid = pr.pid;
  p.elapsed_ms = (uint64_t)(pr.elapsed_s * 1e3);
  p.samples = pr.samples;
  p.lost = pr.lost;
  p.threads = pr.threads;
  p.workers = pr.workers;
  p.tasks = pr.tasks;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_PROGRESS;
  f.progress = &p;
  cpd_conn_send(t->requester, &f);
}

void cpd_control_done(struct cpd_target *t)
{
  Ceoprof__Wire__Done done = CEOPROF__WIRE__DONE__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;

  done.pid = t->pid;
  done.files = t->files;
  done.n_files = t->nfiles;
  done.samples = cpd_target_samples(t);
  done.lost = cpd_target_lost(t);
  done.message = (char *)(t->end_reason ? t->end_reason : "stopped");
  done.error = t->write_error;
  done.summary = t->summary ? t->summary : (char *)"";
  f.body_case = CEOPROF__WIRE__FRAME__BODY_DONE;
  f.done = &done;
  cpd_conn_send(t->requester, &f);
  cpd_conn_send(t->detacher, &f);
}

/* What a status request shows: root sees everything, a user their own profiles and clients. */
static int visible(const struct cpd_conn *c, uint32_t owner)
{
  return c->uid == 0 || c->uid == owner;
}

static void status(struct cpd_conn *c)
{
  struct cpd_engine *e = c->engine;
  Ceoprof__Wire__Status st = CEOPROF__WIRE__STATUS__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;
  Ceoprof__Wire__TargetStatus *ts = NULL, **tsp = NULL;
  Ceoprof__Wire__ClientStatus *cs = NULL, **csp = NULL;
  struct cpd_push_stats ps = { 0 };
  size_t nt = 0, nc = 0;

  for (struct cpd_target *t = e->targets; t; t = t->next)
    nt++;
  for (struct cpd_session *s = e->sessions; s; s = s->next)
    nc += s->had_hello;
  ts = calloc(nt + 1, sizeof(*ts));
  tsp = calloc(nt + 1, sizeof(*tsp));
  cs = calloc(nc + 1, sizeof(*cs));
  csp = calloc(nc + 1, sizeof(*csp));
  if (!ts || !tsp || !cs || !csp) {
    refuse(c, -ENOMEM, "out of memory");
    goto out;
  }
  nt = 0;
  for (struct cpd_target *t = e->targets; t; t = t->next) {
    const struct cpd_session *s = t->session;

    if (!visible(c, t->opts.owner_uid))
      continue;
    ceoprof__wire__target_status__init(&ts[nt]);
    ts[nt].pid = t->pid;
    ts[nt].service = (char *)(s ? s->service : "unknown");
    ts[nt].elapsed_ms = (cpd_now_ns() - t->start_ns) / 1000000u;
    ts[nt].samples = cpd_target_samples(t);
    ts[nt].lost = cpd_target_lost(t);
    ts[nt].hz = t->sampling ? (uint32_t)t->sampler.hz : 0;
    ts[nt].windows = t->windows;
    ts[nt].auto_attached = t->auto_attached;
    ts[nt].trace_left_out = t->trace_open ? t->trace.dropped_events + t->trace.dropped_samples : 0;
    tsp[nt] = &ts[nt];
    nt++;
  }
  nc = 0;
  for (struct cpd_session *s = e->sessions; s; s = s->next) {
    Ceoprof__Wire__ClientStatus *x = &cs[nc];

    if (!s->had_hello || !visible(c, s->uid))
      continue;
    ceoprof__wire__client_status__init(x);
    x->pid = s->pid;
    x->service = s->service;
    x->connections = (uint32_t)s->connections;
    x->events = s->nevents;
    for (uint32_t r = 1; r < CPD_DROP_REASONS; r++)
      if (r != CEOPROF__WIRE__DROP_REASON__DROP_THRESHOLD)
        x->dropped += cpd_session_drops(s, r);
    x->threads = (uint32_t)s->nthreads;
    for (size_t i = 0; i < s->nthreads; i++)
      x->workers += s->threads[i].worker_name != NULL;
    x->rejected = s->rejects.frames + s->rejects.events_bad_name + s->rejects.events_bad_thread +
                  s->rejects.events_bad_kind + s->rejects.strings;
    csp[nc++] = x;
  }
  cpd_push_queue_stats(e->env.push, &ps);
  st.daemon_version = (char *)PACKAGE_VERSION;
  st.uptime_ms = cpd_now_ms() - e->started_ms;
  st.targets = tsp;
  st.n_targets = nt;
  st.clients = csp;
  st.n_clients = nc;
  st.connections_total = e->stats.conns_total;
  st.connections_dropped = e->stats.conns_dropped;
  st.files_written = e->stats.files_written;
  st.write_errors = e->stats.write_errors;
  st.push_queued = ps.queued;
  st.push_sent = ps.sent;
  st.push_failed = ps.failed + ps.dropped;
  st.push_labels_folded = ps.labels_folded;
  st.push_values_folded = ps.values_folded;
  st.trace_left_out = e->stats.trace_left_out;
  st.memory_limit = e->budget.limit;
  st.memory_used = e->budget.used;
  st.memory_peak = e->budget.peak;
  st.memory_refusals = e->budget.refusals;
  st.window_s = (uint32_t)e->cfg.window_s;
  st.output_dir = (char *)(e->cfg.output_dir ? e->cfg.output_dir : "");
  st.auto_attach = e->cfg.auto_attach;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_STATUS;
  f.status = &st;
  cpd_conn_send(c, &f);
out:
  free(ts);
  free(tsp);
  free(cs);
  free(csp);
}

int cpd_control_request(struct cpd_conn *c, const Ceoprof__Wire__Frame *f)
{
  switch (f->body_case) {
  case CEOPROF__WIRE__FRAME__BODY_ATTACH:
    attach(c, f->attach);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_DETACH:
    detach(c, f->detach);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_STATUS_REQUEST:
    status(c);
    return 0;
  default:
    cpd_log("control connection of pid %" PRIu32 ": frame type %d is not a request; closed",
            c->pid, (int)f->body_case);
    c->engine->stats.conns_dropped++;
    cpd_conn_close(c);
    return -1;
  }
}

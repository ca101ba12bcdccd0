#!/usr/bin/env python3
"""bench.py: `make bench`: ceoprof beside perf record and LTTng-UST, measured in one run.

Six sections, each printed as a Markdown table on stdout (progress goes to stderr):
  client    libceoprof ns per event (1 and 2 threads, no daemon / daemon consuming) beside
            LTTng-UST tracepoints recording into a real LTTng session started by the bench
  slowdown  the throughput workload bare, under ceoprofd --pid and under perf record -p
            (frame pointers and dwarf), at 99 and 999 Hz
  daemon    profiler CPU per sample and peak RSS at 10k and 100k samples, 1, 8 and 64 threads
  dwarf     DWARF unwinding: daemon CPU per sample beside perf record --call-graph dwarf
  offcpu    a switch-heavy target bare, under ceoprofd with the perf tracepoint and with the
            BPF helper (when built --with-libbpf), and under perf record -e sched:sched_switch
  output    file sizes against perf.data for one capture, and time from stop to files written
  events    the event path at a task runtime's rate (bench/pool, ~80k tasks/s): throughput
            bare and under ceoprofd --no-sampling, the flusher's and the daemon's CPU per
            event, trace bytes per task, time from the target's end to the files, and the
            daemon's RSS sampled over a long session (with and without sampling)
  runtime   task runtimes (bench/pool): a queue-fed pool of 8 workers with ~15 us tasks and a
            lock-heavy case, bare / ceoprofd (defaults) / perf record -g -p / perf record -g -a,
            alternating in each run; the profile's CPU against the process's user+sys; and
            short-lived threads (churn) under ceoprof record, perf record and perf record -a

Every figure is the median of REPS runs; every comparison (slowdown, ratio) is computed within
one run and then the median is taken. Run from the build directory, as root (perf_event_open
on another process, perf record, lttng-sessiond).
Usage: bench/bench.py [--reps N] [--sections client,slowdown,daemon,dwarf,offcpu,output,events,runtime]
                      [--quick]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

NCPU = os.cpu_count() or 1
OPS = ["task begin+end (per event)", "instant", "counter"]
OP_TITLES = ["task begin/end", "instant", "counter"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="{:.1f}", none="-"):
    return none if v is None else spec.format(v)


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


class Child:
    """A started profiler: its CPU time from wait4(), its peak RSS from VmHWM.

    wait4()'s ru_maxrss is no use here: the kernel carries the forking Python's RSS across
    exec into it. VmHWM is the profiler's own address space's high-water mark, polled every
    20 ms while it runs (a lower bound; ceoprofd prints its own at exit, which is used instead).
    """

    def __init__(self, argv, out_path):
        self.out = open(out_path, "w+")
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT)
        self.exit_s = None
        self.hwm_kib = 0
        self.poller = threading.Thread(target=self.poll, daemon=True)
        self.poller.start()

    def poll(self):
        while self.exit_s is None:
            v = vm_hwm_kib(self.p.pid)
            if v:
                self.hwm_kib = max(self.hwm_kib, v)
            time.sleep(0.02)

    def interrupt(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)

    def wait(self):
        _, status, ru = os.wait4(self.p.pid, 0)
        self.p.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = ru.ru_utime + ru.ru_stime
        self.exit_s = time.monotonic()
        self.poller.join()
        self.out.seek(0)
        self.text = self.out.read()
        self.out.close()
        m = re.search(r"peak RSS (\d+) KiB", self.text)
        self.peak_mib = (int(m.group(1)) if m else self.hwm_kib) / 1024
        return self


def ceoprofd_samples(text):
    m = re.search(r"^  samples (\d+),", text, re.M)
    return int(m.group(1)) if m else None


def ceoprofd_write_ms(text):
    m = re.search(r"files written ([0-9.]+) ms after the stop", text)
    return float(m.group(1)) if m else None


def perf_samples(data):
    r = subprocess.run(["perf", "script", "-F", "tid", "-i", data], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return sum(1 for _ in r.stdout.splitlines())


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="ceoprof-bench.")
        self.n = 0

    def path(self, name):
        self.n += 1
        return os.path.join(self.work, f"{self.n}-{name}")

    # ---- the workload ----
    def start_workload(self, secs, threads):
        out = self.path("throughput.out")
        f = open(out, "w")
        p = subprocess.Popen(["./bench/throughput", str(secs), str(threads)], stdout=f)
        f.close()
        time.sleep(0.05)  # its threads exist before a profiler attaches
        return p, out

    @staticmethod
    def workload_ops(p, out):
        p.wait()
        with open(out) as f:
            m = re.search(r"ops_per_sec (\d+)", f.read())
        return float(m.group(1)) if m else None

    # ---- profilers ----
    def ceoprofd(self, pid, hz, duration=None, prefix=None, dwarf=False, extra=()):
        prefix = prefix or self.path("ceoprof")
        argv = ["./ceoprofd", "--pid", str(pid), "-F", str(hz), "-o", prefix,
                "--socket", self.path("s.sock")] + list(extra)
        if dwarf:
            argv += ["--call-graph", "dwarf"]
        if duration:
            argv += ["--duration", f"{duration:.3f}"]
        c = Child(argv, self.path("ceoprofd.out"))
        c.prefix = prefix
        return c

    def perf(self, pid, hz, mode, duration=None):
        data = self.path("perf.data")
        argv = ["perf", "record", "-q", "-F", str(hz), "-p", str(pid), "-o", data]
        argv += ["-g"] if mode == "fp" else ["--call-graph", "dwarf"]
        if duration:
            argv += ["--", "sleep", f"{duration:.3f}"]  # with -p: records PID while sleep runs
        c = Child(argv, self.path("perf.out"))
        c.data = data
        return c

    # ---- client event cost ----
    def start_lttng(self):
        if not os.path.exists("./bench_lttng"):
            return "LTTng-UST was not found at configure time (apt-get install liblttng-ust-dev " \
                   "lttng-tools, then ./configure)"
        if not shutil.which("lttng-sessiond") or not shutil.which("lttng"):
            return "lttng-tools is not installed (apt-get install lttng-tools)"
        home = os.path.join(self.work, "lttng-home")
        os.makedirs(home, exist_ok=True)
        self.lttng_env = dict(os.environ, LTTNG_HOME=home)
        self.lttng_sessiond = None
        r = subprocess.run(["lttng-sessiond", "--daemonize", "--no-kernel"], env=self.lttng_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0 and "already running" not in r.stdout:
            return f"lttng-sessiond did not start: {r.stdout.strip()}"
        self.lttng_sessiond = r.returncode == 0
        self.lttng_session = f"ceoprof-bench-{os.getpid()}"
        for argv in (["create", self.lttng_session, f"--output={self.work}/lttng-trace"],
                     ["enable-event", "-u", "-s", self.lttng_session, "ceoprof_bench:*"],
                     ["start", self.lttng_session]):
            r = subprocess.run(["lttng"] + argv, env=self.lttng_env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                return f"lttng {' '.join(argv)} failed: {r.stdout.strip()}"
        return None

    def stop_lttng(self):
        r = subprocess.run(["lttng", "stop", self.lttng_session], env=self.lttng_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"(\d+) events? (?:were|was) discarded", r.stdout)
        discarded = int(m.group(1)) if m else 0
        subprocess.run(["lttng", "destroy", self.lttng_session], env=self.lttng_env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.lttng_sessiond:
            subprocess.run(["pkill", "-INT", "-x", "lttng-sessiond"], stderr=subprocess.DEVNULL)
        size = 0
        for root, _, files in os.walk(os.path.join(self.work, "lttng-trace")):
            size += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        return discarded, size

    @staticmethod
    def parse_ops(text):
        vals = {}
        for line in text.splitlines():
            k, _, v = line.partition("\t")
            if k in OPS:
                vals[k] = float(v)
        return [vals.get(k) for k in OPS]

    def client_run(self, argv, env=None):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {r.stderr.strip()}")
        return self.parse_ops(r.stdout)

    def section_client(self):
        reps = self.args.reps
        bursts = "50" if self.args.quick else "200"
        sock = self.path("client.sock")
        env = dict(os.environ, CEOPROF_SOCKET=sock)
        lttng_missing = self.start_lttng()
        if lttng_missing:
            log(f"client: {lttng_missing}")
        res = {}  # (who, threads) -> list of per-run [begin/end, instant, counter]
        ratio = {}  # threads -> per-run ratios
        dpid = subprocess.Popen(["./ceoprofd", "--socket", sock, "--output-dir", self.work],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        try:
            for rep in range(reps):
                for threads in (1, 2):
                    log(f"client: run {rep + 1}/{reps}, {threads} thread(s)")
                    base = ["--threads", str(threads), "--bursts", bursts]
                    nd = self.client_run(["./bench_client"] + base,
                                         env=dict(env, CEOPROF_SOCKET=sock + ".none"))
                    d = self.client_run(["./bench_client"] + base + ["--wait-daemon", "3000"],
                                        env=env)
                    res.setdefault(("none", threads), []).append(nd)
                    res.setdefault(("daemon", threads), []).append(d)
                    if not lttng_missing:
                        lt = self.client_run(["./bench_lttng"] + base, env=self.lttng_env)
                        res.setdefault(("lttng", threads), []).append(lt)
                        ratio.setdefault(threads, []).append(
                            [a / b if a and b else None for a, b in zip(d, lt)])
        finally:
            dpid.send_signal(signal.SIGTERM)
            dpid.wait()
            lttng = (0, 0) if lttng_missing else self.stop_lttng()

        def col(rows, i):
            return median([r[i] for r in rows])

        print(f"### libceoprof vs LTTng-UST: ns per event on the calling thread (median of {reps} runs)")
        print()
        print("| events from | " + " | ".join(OP_TITLES) + " |")
        print("|---|---|---|---|")
        for threads in (1, 2):
            t = f"{threads} thread{'s' if threads > 1 else ''}"
            for who, label in (("none", f"libceoprof, {t}, no daemon"),
                               ("daemon", f"libceoprof, {t}, daemon consuming"),
                               ("lttng", f"LTTng-UST, {t}, session recording")):
                rows = res.get((who, threads))
                if rows:
                    print(f"| {label} | " + " | ".join(fmt(col(rows, i)) for i in range(3)) + " |")
            if threads in ratio:
                print(f"| **ratio libceoprof / LTTng-UST, {t}** | " +
                      " | ".join(fmt(col(ratio[threads], i), "{:.2f}") for i in range(3)) + " |")
        print()
        cells = [col(rows, i) for k, rows in res.items() if k[0] != "lttng" for i in range(3)]
        worst = max((c for c in cells if c is not None), default=None)
        print(f"Target: at most 25 ns per event: {'met' if worst and worst <= 25 else 'NOT met'} "
              f"(slowest median {fmt(worst)} ns).", end=" ")
        if ratio:
            rmax = max(col(ratio[t], i) for t in ratio for i in range(3))
            print(f"At most half of LTTng-UST's cost: {'met' if rmax <= 0.5 else 'NOT met'} "
                  f"(largest ratio {rmax:.2f}).")
            lost = (f"it discarded {lttng[0]} events" if lttng[0] < 2 ** 62 else
                    f"its discarded-event count came out as {lttng[0]}, above 2^63 and so not "
                    f"a count (lttng-tools 2.13 printing a flag bit with it)")
            print(f"LTTng session: per-user buffers, discard mode, 4 x 512 KiB sub-buffers; "
                  f"{lost}; it wrote {lttng[1] / 1e6:.1f} MB of CTF.")
        else:
            print(f"LTTng-UST: not measured: {lttng_missing}.")
        print()

    # ---- target slowdown ----
    def section_slowdown(self):
        reps, secs, threads = self.args.reps, (3 if self.args.quick else 6), NCPU
        configs = [("none", None), ("ceoprofd --pid", "ceoprof"), ("perf record -g -p", "fp"),
                   ("ceoprofd --pid --call-graph dwarf", "ceoprof-dwarf"),
                   ("perf record --call-graph dwarf -p", "dwarf")]
        print(f"### Target slowdown: `bench/throughput` ({threads} threads on {NCPU} CPUs, "
              f"{secs} s steady phase, median of {reps} runs)")
        print()
        print("| rate | profiler | target ops/s | slowdown | profiler CPU per sample | samples |")
        print("|---|---|---|---|---|---|")
        summary = []
        for hz in (99, 999):
            runs = {name: [] for name, _ in configs}
            for rep in range(reps):
                log(f"slowdown: {hz} Hz, run {rep + 1}/{reps}")
                bare = None
                for name, kind in configs:
                    p, out = self.start_workload(secs, threads)
                    prof = None
                    if kind in ("ceoprof", "ceoprof-dwarf"):
                        prof = self.ceoprofd(p.pid, hz, dwarf=kind == "ceoprof-dwarf")
                    elif kind:
                        prof = self.perf(p.pid, hz, kind)
                    ops = self.workload_ops(p, out)
                    cpu_us = samples = None
                    if prof:
                        prof.wait()
                        samples = (ceoprofd_samples(prof.text) if kind.startswith("ceoprof")
                                   else perf_samples(prof.data))
                        cpu_us = 1e6 * prof.cpu / samples if samples else None
                    if kind is None:
                        bare = ops
                    slow = 100 * (bare - ops) / bare if kind and bare and ops else None
                    runs[name].append((ops, slow, cpu_us, samples))
            for name, kind in configs:
                r = runs[name]
                slow = median([x[1] for x in r])
                print(f"| {hz} Hz | {name} | {fmt(median([x[0] for x in r]), '{:.0f}')} | "
                      f"{fmt(slow, '{:.2f}%') if kind else '-'} | "
                      f"{fmt(median([x[2] for x in r]), '{:.1f} µs')} | "
                      f"{fmt(median([x[3] for x in r]), '{:.0f}')} |")
                if kind:
                    summary.append((hz, name, slow))
        print()
        c99 = next(s for h, n, s in summary if h == 99 and n == "ceoprofd --pid")
        p99 = next(s for h, n, s in summary if h == 99 and n == "perf record -g -p")
        print(f"Target at 99 Hz: slowdown at most 0.5%: {'met' if c99 <= 0.5 else 'NOT met'} "
              f"({c99:.2f}%); no more than perf record's in the same runs: "
              f"{'met' if c99 <= p99 else 'NOT met'} ({c99:.2f}% vs {p99:.2f}%). "
              f"The bare runs' own spread is the noise floor: see the notes in RESULTS.md.")
        print()

    # ---- off-CPU profiling cost ----
    def section_offcpu(self):
        reps, secs = self.args.reps, (2 if self.args.quick else 4)
        configs = [("none", None), ("ceoprofd --pid --no-bpf (perf tracepoint)", "perf-tp"),
                   ("ceoprofd --pid (BPF helper)", "bpf"),
                   ("perf record -e sched:sched_switch -g -p", "perf")]
        runs = {name: [] for name, _ in configs}
        bpf_missing = None
        for rep in range(reps):
            log(f"offcpu: run {rep + 1}/{reps}")
            bare = None
            for name, kind in configs:
                if kind == "bpf" and bpf_missing:
                    continue
                out = self.path("switcher.out")
                with open(out, "w") as f:
                    p = subprocess.Popen(["./bench/switcher", str(secs), "1"], stdout=f)
                time.sleep(0.05)
                prof = None
                if kind in ("perf-tp", "bpf"):
                    prof = self.ceoprofd(p.pid, 99, extra=["--no-bpf"] if kind == "perf-tp" else [])
                elif kind == "perf":
                    data = self.path("perf.data")
                    prof = Child(["perf", "record", "-q", "-e", "sched:sched_switch", "-g",
                                  "-p", str(p.pid), "-o", data], self.path("perf.out"))
                    prof.data = data
                p.wait()
                text = open(out).read()
                ops = float(re.search(r"ops_per_sec (\d+)", text).group(1))
                switches = int(re.search(r"switches (\d+)", text).group(1))
                cpu_us = None
                if prof:
                    prof.interrupt()
                    prof.wait()
                    if kind == "bpf" and "off-CPU stacks from the BPF helper" not in prof.text:
                        bpf_missing = prof.text.strip().splitlines()
                        bpf_missing = next((l for l in bpf_missing if "off-CPU" in l),
                                           "the daemon was not built with --with-libbpf")
                        continue
                    cpu_us = 1e6 * prof.cpu / switches if switches else None
                if kind is None:
                    bare = ops
                slow = 100 * (bare - ops) / bare if kind and bare else None
                runs[name].append((ops, slow, cpu_us, switches))
        print(f"### Off-CPU profiling: `bench/switcher` (two threads passing a byte over pipes, "
              f"{secs} s, median of {reps} runs)")
        print()
        print("| profiler | round trips/s | slowdown | profiler CPU per switch | switches |")
        print("|---|---|---|---|---|")
        for name, kind in configs:
            r = runs[name]
            if not r:
                print(f"| {name} | not measured: {bpf_missing} | | | |")
                continue
            print(f"| {name} | {fmt(median([x[0] for x in r]), '{:.0f}')} | "
                  f"{fmt(median([x[1] for x in r]), '{:.1f}%') if kind else '-'} | "
                  f"{fmt(median([x[2] for x in r]), '{:.2f} µs')} | "
                  f"{fmt(median([x[3] for x in r]), '{:.0f}')} |")
        print()
        print("ceoprofd also samples the CPU at 99 Hz and reads context-switch records in both of "
              "its rows; perf records only the tracepoint with its stacks. The BPF helper sends "
              "the daemon one entry per distinct (thread, stack) per window instead of a record "
              "per switch.")
        print()

    # ---- daemon cost ----
    def section_daemon(self):
        reps, hz = self.args.reps, 10000
        sizes = (10000, 100000)
        thread_counts = (1, 8, 64)
        print(f"### Profiler cost: CPU per sample and peak RSS (frame pointers, {hz} Hz, "
              f"median of {reps} runs)")
        print()
        print("| samples | threads | ceoprofd CPU per sample | ceoprofd peak RSS | "
              "perf record -g CPU per sample | perf record -g peak RSS | samples taken "
              "(ceoprofd / perf) |")
        print("|---|---|---|---|---|---|---|")
        worst_us = worst_rss = 0
        med = {}  # (kind, n, threads) -> (cpu seconds, samples)
        for n in sizes:
            for threads in thread_counts:
                duration = n / (hz * min(threads, NCPU))
                rows = {"ceoprof": [], "perf": []}
                for rep in range(reps):
                    log(f"daemon: {n} samples, {threads} threads, run {rep + 1}/{reps}")
                    for kind in rows:
                        p, out = self.start_workload(duration + 1.5, threads)
                        time.sleep(0.3)  # every thread is running before the attach
                        prof = (self.ceoprofd(p.pid, hz, duration) if kind == "ceoprof"
                                else self.perf(p.pid, hz, "fp", duration))
                        prof.wait()
                        p.kill()
                        p.wait()
                        s = (ceoprofd_samples(prof.text) if kind == "ceoprof"
                             else perf_samples(prof.data))
                        rows[kind].append((1e6 * prof.cpu / s if s else None,
                                           prof.peak_mib, s, prof.cpu))
                for kind, r in rows.items():
                    med[(kind, n, threads)] = (median([x[3] for x in r]),
                                               median([x[2] for x in r]))
                c, q = rows["ceoprof"], rows["perf"]
                cus, crss = median([x[0] for x in c]), median([x[1] for x in c])
                worst_us = max(worst_us, cus or 0)
                if n == sizes[-1]:
                    worst_rss = max(worst_rss, crss or 0)
                print(f"| {n // 1000}k | {threads} | {fmt(cus, '{:.2f} µs')} | "
                      f"{fmt(crss, '{:.1f} MiB')} | {fmt(median([x[0] for x in q]), '{:.2f} µs')} | "
                      f"{fmt(median([x[1] for x in q]), '{:.1f} MiB')} | "
                      f"{fmt(median([x[2] for x in c]), '{:.0f}')} / "
                      f"{fmt(median([x[2] for x in q]), '{:.0f}')} |")
        print()
        print("Split into a cost per sample and a cost per session (start-up, attach, writing "
              "the files, exit): marginal = (CPU at 100k - CPU at 10k) / (samples at 100k - "
              "samples at 10k), fixed = CPU at 10k - marginal x samples at 10k.")
        print()
        print("| threads | ceoprofd marginal per sample | ceoprofd fixed per session | "
              "perf record -g marginal per sample | perf record -g fixed per session |")
        print("|---|---|---|---|---|")
        worst_marginal = 0
        for threads in thread_counts:
            cells = []
            for kind in ("ceoprof", "perf"):
                (c1, s1), (c2, s2) = med[(kind, sizes[0], threads)], med[(kind, sizes[1], threads)]
                if None in (c1, c2, s1, s2) or s2 <= s1:
                    cells += ["-", "-"]
                    continue
                m = (c2 - c1) / (s2 - s1)
                if kind == "ceoprof":
                    worst_marginal = max(worst_marginal, m * 1e6)
                cells += [f"{m * 1e6:.2f} µs", f"{(c1 - m * s1) * 1e3:.1f} ms"]
            print(f"| {threads} | " + " | ".join(cells) + " |")
        print()
        print(f"Targets: at most 2 µs CPU per frame-pointer sample: per sample (marginal) "
              f"{'met' if worst_marginal <= 2 else 'NOT met'} (largest {worst_marginal:.2f} µs); "
              f"counting the whole run, start-up included, {'met' if worst_us <= 2 else 'NOT met'}"
              f" (largest {worst_us:.2f} µs, in the 10k-sample runs where the fixed cost is "
              f"spread over few samples). Peak RSS under 64 MiB at 100k samples: "
              f"{'met' if worst_rss < 64 else 'NOT met'} (largest {worst_rss:.1f} MiB). "
              f"30 µs per dwarf sample: in the DWARF section below. CPU is the profiler's whole "
              f"user+system time from wait4(); peak RSS is ceoprofd's own VmHWM at exit and "
              f"perf's VmHWM polled every 20 ms (a lower bound).")
        print()

    # ---- DWARF unwinding ----
    def section_dwarf(self):
        """ceoprofd unwinds each sample as it reads it; perf record only stores the registers
        and stack and perf report unwinds them later: both steps are counted for perf."""
        reps, hz = self.args.reps, 999
        sizes = (2000, 8000)
        print(f"### DWARF unwinding: CPU per sample (`--call-graph dwarf`, 8 KiB of stack per "
              f"sample, {hz} Hz, `bench/throughput` on {NCPU} threads, median of {reps} runs)")
        print()
        print("| samples | ceoprofd CPU per sample | ceoprofd unwinding per stack (own "
              "measure) | frames per stack | perf record CPU per sample | perf report CPU per "
              "sample | samples taken (ceoprofd / perf) |")
        print("|---|---|---|---|---|---|---|")
        med = {}
        for n in sizes:
            duration = n / (hz * NCPU)
            rows = {"ceoprof": [], "perf": []}
            for rep in range(reps):
                log(f"dwarf: {n} samples, run {rep + 1}/{reps}")
                for kind in rows:
                    p, out = self.start_workload(duration + 1.5, NCPU)
                    time.sleep(0.3)
                    prof = (self.ceoprofd(p.pid, hz, duration, dwarf=True) if kind == "ceoprof"
                            else self.perf(p.pid, hz, "dwarf", duration))
                    prof.wait()
                    p.kill()
                    p.wait()
                    if kind == "ceoprof":
                        s = ceoprofd_samples(prof.text)
                        m = re.search(r"DWARF unwinding: (\d+) stacks, ([0-9.]+) frames each, .*?"
                                      r"([0-9.]+) us CPU per stack", prof.text)
                        rows[kind].append((prof.cpu, s, float(m.group(3)) if m else None,
                                           float(m.group(2)) if m else None))
                    else:
                        s = perf_samples(prof.data)
                        rep_ = Child(["perf", "report", "--stdio", "-i", prof.data],
                                     self.path("report.out")).wait()
                        rows[kind].append((prof.cpu, s, rep_.cpu, None))
            for kind, r in rows.items():
                med[(kind, n)] = (median([x[0] for x in r]), median([x[1] for x in r]),
                                  median([x[2] for x in r]), median([x[3] for x in r]))
            c, q = med[("ceoprof", n)], med[("perf", n)]
            print(f"| {n // 1000}k | {fmt(c[0] * 1e6 / c[1] if c[1] else None, '{:.1f} µs')} | "
                  f"{fmt(c[2], '{:.1f} µs')} | {fmt(c[3], '{:.1f}')} | "
                  f"{fmt(q[0] * 1e6 / q[1] if q[1] else None, '{:.1f} µs')} | "
                  f"{fmt(q[2] * 1e6 / q[1] if q[1] else None, '{:.1f} µs')} | "
                  f"{fmt(c[1], '{:.0f}')} / {fmt(q[1], '{:.0f}')} |")
        (c1, s1, _, _), (c2, s2, _, _) = med[("ceoprof", sizes[0])], med[("ceoprof", sizes[1])]
        marginal = (c2 - c1) / (s2 - s1) * 1e6 if s1 and s2 and s2 > s1 else None
        (p1, t1, r1, _), (p2, t2, r2, _) = med[("perf", sizes[0])], med[("perf", sizes[1])]
        pm = ((p2 + r2) - (p1 + r1)) / (t2 - t1) * 1e6 if t1 and t2 and t2 > t1 else None
        print()
        print(f"Target: at most 30 µs of daemon CPU per DWARF sample: "
              f"{'met' if marginal is not None and marginal <= 30 else 'NOT met'} (marginal "
              f"{fmt(marginal, '{:.1f} µs')} per sample, {sizes[0] // 1000}k to "
              f"{sizes[1] // 1000}k samples; perf record + perf report: "
              f"{fmt(pm, '{:.1f} µs')}). The slowdown of the target in DWARF mode is in the "
              f"slowdown table.")
        print()

    # ---- output ----
    def section_output(self):
        reps, hz, threads, n = self.args.reps, 10000, NCPU, 100000
        duration = n / (hz * min(threads, NCPU))
        runs = []
        for rep in range(reps):
            log(f"output: {n} samples, run {rep + 1}/{reps}")
            p, out = self.start_workload(duration + 3, threads)
            time.sleep(0.3)
            c = self.ceoprofd(p.pid, hz)
            q = self.perf(p.pid, hz, "fp")
            time.sleep(duration)
            t0 = time.monotonic()
            c.interrupt()
            q.interrupt()
            c.wait()
            q.wait()
            p.kill()
            p.wait()
            size = lambda f: os.path.getsize(f) if os.path.exists(f) else None
            runs.append(dict(
                samples=ceoprofd_samples(c.text), perf_samples=perf_samples(q.data),
                pprof=size(c.prefix + ".pb.gz"), trace=size(c.prefix + ".trace.json"),
                perfdata=size(q.data), write_ms=ceoprofd_write_ms(c.text),
                c_exit_ms=1000 * (c.exit_s - t0), q_exit_ms=1000 * (q.exit_s - t0)))
            runs[-1]["ratio"] = ((runs[-1]["pprof"] + runs[-1]["trace"]) / runs[-1]["perfdata"]
                                 if runs[-1]["perfdata"] else None)
            runs[-1]["exit_ratio"] = (runs[-1]["c_exit_ms"] / runs[-1]["q_exit_ms"]
                                      if runs[-1]["q_exit_ms"] else None)

        def m(k):
            return median([r[k] for r in runs])

        print(f"### Output: one capture of ~{n // 1000}k samples ({threads} threads, {hz} Hz, "
              f"frame pointers), ceoprofd and perf record -g attached to the same process at "
              f"once, both stopped by SIGINT at the same moment (median of {reps} runs)")
        print()
        print("| | ceoprofd | perf record -g |")
        print("|---|---|---|")
        print(f"| samples | {fmt(m('samples'), '{:.0f}')} | {fmt(m('perf_samples'), '{:.0f}')} |")
        print(f"| files | pprof {fmt(m('pprof'), '{:,.0f}')} B + trace {fmt(m('trace'), '{:,.0f}')} B"
              f" | perf.data {fmt(m('perfdata'), '{:,.0f}')} B |")
        print(f"| size ratio (pprof + trace) / perf.data | {fmt(m('ratio'), '{:.3f}')} | |")
        print(f"| stop to files written (own measure) | {fmt(m('write_ms'), '{:.1f} ms')} | |")
        print(f"| SIGINT to exit | {fmt(m('c_exit_ms'), '{:.0f} ms')} | "
              f"{fmt(m('q_exit_ms'), '{:.0f} ms')} |")
        print()
        w = m("write_ms")
        print(f"Target: stop to files written at most 200 ms at 100k samples: "
              f"{'met' if w is not None and w <= 200 else 'NOT met'} ({fmt(w, '{:.1f}')} ms). "
              f"perf.data holds raw samples that `perf report` must still symbolize; ceoprofd's "
              f"files are symbolized and aggregated (the trace holds every sample's time).")
        print()

    # ---- task runtimes ----
    def pprof_cpu_ms(self, path):
        """The CPU nanoseconds a pprof holds, in ms (tests/check_pprof.py reads it)."""
        check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "check_pprof.py")
        r = subprocess.run([sys.executable, check, path], stdout=subprocess.PIPE, text=True)
        m = re.search(r"totals \[\d+, (\d+)\]", r.stdout)
        return int(m.group(1)) / 1e6 if m else None

    def run_pool(self, argv, profiler, hz=99):
        """Runs bench/pool ARGV under PROFILER (None, "ceoprofd", "perf-p", "perf-a"): the
        workload's figures and the profiler's CPU and, for ceoprofd, the profile's CPU."""
        out = self.path("pool.out")
        sock = self.path("s.sock")
        env = dict(os.environ, CEOPROF_SOCKET=sock)
        with open(out, "w") as f:
            p = subprocess.Popen(["./bench/pool"] + argv, stdout=f, env=env)
        time.sleep(0.05)
        prof = None
        if profiler == "ceoprofd":
            prefix = self.path("rt")
            prof = Child(["./ceoprofd", "--pid", str(p.pid), "-F", str(hz), "-o", prefix,
                          "--socket", sock], self.path("ceoprofd.out"))
            prof.prefix = prefix
        elif profiler in ("perf-p", "perf-a"):
            data = self.path("perf.data")
            target = ["-p", str(p.pid)] if profiler == "perf-p" else ["-a"]
            prof = Child(["perf", "record", "-q", "-g", "-F", str(hz), "-o", data] + target,
                         self.path("perf.out"))
        p.wait()
        res = {}
        if prof:
            prof.interrupt()
            prof.wait()
            res["prof_cpu"] = prof.cpu
            if profiler == "ceoprofd":
                res["profile_ms"] = self.pprof_cpu_ms(prof.prefix + ".pb.gz")
                res["summary"] = prof.text
        with open(out) as f:
            for line in f:
                k, v = line.split()
                res[k] = float(v)
        return res

    def run_events(self, secs, profiler, extra=(), rss_every=None):
        """bench/pool for SECS at full rate, bare (PROFILER False) or under ceoprofd --pid
        with EXTRA options: the workload's figures, the flusher's and the daemon's CPU per
        event, the daemon's RSS every RSS_EVERY s, the time from the target's end to the
        daemon's, and the trace's size."""
        out, sock = self.path("pool.out"), self.path("s.sock")
        env = dict(os.environ, CEOPROF_SOCKET=sock)
        with open(out, "w") as f:
            p = subprocess.Popen(["./bench/pool", "pool", str(secs), "8", "15"], stdout=f, env=env)
        time.sleep(0.05)
        prof, prefix, rss = None, self.path("ev"), []
        if profiler:
            prof = Child(["./ceoprofd", "--pid", str(p.pid), "-o", prefix, "--socket", sock] +
                         list(extra), self.path("cpd.out"))
        t0 = last = time.monotonic()
        while p.poll() is None:
            time.sleep(0.01)
            if prof and rss_every and time.monotonic() - last >= rss_every:
                last = time.monotonic()
                try:
                    with open(f"/proc/{prof.p.pid}/status") as f:
                        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
                    rss.append((time.monotonic() - t0, int(m.group(1))))
                except (OSError, AttributeError):
                    pass
        t_end = time.monotonic()
        res = {"rss": rss}
        with open(out) as f:
            for line in f:
                k, v = line.split()
                res[k] = float(v)
        if res.get("flusher_cpu_s") is not None and res.get("events_recorded"):
            res["flusher_ns"] = 1e9 * res["flusher_cpu_s"] / res["events_recorded"]
        if prof:
            prof.wait()
            res["stop_s"] = prof.exit_s - t_end
            res["peak_mib"] = prof.peak_mib
            m = re.search(r"\((\d+) ns per task event, ([0-9.]+) s of it writing\)", prof.text)
            if m:
                res["daemon_ns"] = float(m.group(1))
            m = (re.search(r"\(pid \d+, (\d+) tasks, (\d+) events", prof.text) or
                 re.search(r"workers \d+, tasks (\d+)", prof.text))
            tasks = int(m.group(1)) if m else 0
            w = re.search(r"\(\d+(?:\.\d+)? (?:ns per task event|us per sample), ([0-9.]+) s of it writing", prof.text)
            if w and tasks:
                res["write_ns_task"] = 1e9 * float(w.group(1)) / tasks
            if os.path.exists(prefix + ".trace.json") and tasks:
                res["trace_b_task"] = os.path.getsize(prefix + ".trace.json") / tasks
            if os.path.exists(prefix + ".pftrace") and tasks:
                res["pf_b_task"] = os.path.getsize(prefix + ".pftrace") / tasks
            res["tasks"] = tasks
            res["text"] = prof.text
        return res

    @staticmethod
    def slope_kib_s(points, after_s):
        pts = [(t, v) for t, v in points if t >= after_s]
        if len(pts) < 3:
            return None
        mt = sum(t for t, _ in pts) / len(pts)
        mv = sum(v for _, v in pts) / len(pts)
        den = sum((t - mt) ** 2 for t, _ in pts)
        return sum((t - mt) * (v - mv) for t, v in pts) / den if den else None

    def section_events(self):
        reps, secs = self.args.reps, (2 if self.args.quick else 5)
        long_s = 15 if self.args.quick else 60
        print(f"### The event path: `bench/pool` (8 workers, ~15 µs tasks, ~80k tasks/s, "
              f"{secs} s), bare and under `ceoprofd --pid --no-sampling` (median of {reps} "
              f"runs, alternating)")
        print()
        runs = {"bare": [], "ceoprofd": []}
        for rep in range(reps):
            log(f"events: run {rep + 1}/{reps}")
            bare = self.run_events(secs, False)
            r = self.run_events(secs, True, ["--no-sampling"])
            r["of_bare"] = 100 * r["ops_per_sec"] / bare["ops_per_sec"]
            runs["bare"].append(bare)
            runs["ceoprofd"].append(r)
        med = lambda name, k: median([x.get(k) for x in runs[name]])
        print("| | tasks/s | of bare | flusher ns/event handled | daemon ns/event (ingest) | "
              "daemon ns/task (trace writing) | JSON bytes/task | .pftrace bytes/task | "
              "files after the target ended |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(f"| bare (libceoprof, no daemon) | {fmt(med('bare', 'ops_per_sec'), '{:.0f}')} | - | "
              f"{fmt(med('bare', 'flusher_ns'), '{:.1f}')} | - | - | - | - | - |")
        print(f"| ceoprofd --no-sampling | {fmt(med('ceoprofd', 'ops_per_sec'), '{:.0f}')} | "
              f"{fmt(med('ceoprofd', 'of_bare'), '{:.1f}%')} | {fmt(med('ceoprofd', 'flusher_ns'), '{:.1f}')} | "
              f"{fmt(med('ceoprofd', 'daemon_ns'), '{:.0f}')} | {fmt(med('ceoprofd', 'write_ns_task'), '{:.0f}')} | "
              f"{fmt(med('ceoprofd', 'trace_b_task'), '{:.0f}')} | {fmt(med('ceoprofd', 'pf_b_task'), '{:.0f}')} | "
              f"{fmt(med('ceoprofd', 'stop_s'), '{:.3f} s')} |")
        print()
        print(f"| a {long_s} s session | tasks | daemon RSS after 5 s | at the end | slope after 5 s | "
              f"peak RSS | files after the target ended |")
        print("|---|---|---|---|---|---|---|")
        longs = {}
        for name, extra in (("--no-sampling", ["--no-sampling"]), ("defaults (99 Hz, BPF)", [])):
            log(f"events: a {long_s} s session, {name}")
            r = self.run_events(long_s, True, extra, rss_every=1.0)
            longs[name] = r
            pts = r["rss"]
            early = next((v for t, v in pts if t >= 5), None)
            slope = self.slope_kib_s(pts, 5)
            print(f"| {name} | {r.get('tasks', 0)} | {fmt(early and early / 1024, '{:.1f} MiB')} | "
                  f"{fmt(pts and pts[-1][1] / 1024, '{:.1f} MiB')} | {fmt(slope, '{:+.1f} KiB/s')} | "
                  f"{fmt(r.get('peak_mib'), '{:.1f} MiB')} | {fmt(r.get('stop_s'), '{:.3f} s')} |")
        print()
        ns = longs["--no-sampling"]
        slope = self.slope_kib_s(ns["rss"], 5)
        print(f"Targets: --no-sampling at least 98.5% of bare: "
              f"{'met' if (med('ceoprofd', 'of_bare') or 0) >= 98.5 else 'NOT met'} "
              f"({fmt(med('ceoprofd', 'of_bare'), '{:.1f}%')}); daemon at most 100 ns per event: "
              f"{'met' if (med('ceoprofd', 'daemon_ns') or 1e9) <= 100 else 'NOT met'}; flusher at "
              f"most 50 ns per event: {'met' if (med('ceoprofd', 'flusher_ns') or 1e9) <= 50 else 'NOT met'}; "
              f"{long_s} s session peak RSS under 64 MiB with a flat slope: "
              f"{'met' if ns.get('peak_mib', 1e9) < 64 and slope is not None and abs(slope) < 64 else 'NOT met'}; "
              f"files within 1 s of the end: {'met' if (ns.get('stop_s') or 1e9) <= 1 else 'NOT met'}.")
        print()

    def section_runtime(self):
        reps, secs = self.args.reps, (2 if self.args.quick else 5)
        loads = [("pool: 8 workers, ~15 µs tasks, a 16-slot mutex+condvar queue",
                  ["pool", str(secs), "8", "15"], "tasks/s"),
                 ("lock-heavy: 16 threads, 8 mutexes, lock/yield/unlock",
                  ["lock", str(secs), "16"], "rounds/s")]
        configs = [("bare", None), ("ceoprofd (defaults)", "ceoprofd"),
                   ("perf record -g -p", "perf-p"), ("perf record -g -a", "perf-a")]
        print(f"### Task runtimes: `bench/pool` at 99 Hz ({NCPU} CPUs, {secs} s measured after "
              f"0.5 s warm-up, median of {reps} runs, profilers alternating within each run)")
        print()
        print("| workload | profiler | throughput | of bare | switches/s | profiler CPU | "
              "profile CPU / process user+sys |")
        print("|---|---|---|---|---|---|---|")
        targets, mode = [], []
        for title, argv, unit in loads:
            runs = {name: [] for name, _ in configs}
            for rep in range(reps):
                log(f"runtime: {argv[0]}, run {rep + 1}/{reps}")
                bare = None
                for name, kind in configs:
                    r = self.run_pool(argv, kind)
                    if kind is None:
                        bare = r.get("ops_per_sec")
                    r["of_bare"] = 100 * r["ops_per_sec"] / bare if bare else None
                    if r.get("profile_ms") is not None and r.get("cpu_s"):
                        r["coverage"] = 100 * r["profile_ms"] / (1000 * r["cpu_s"])
                    runs[name].append(r)
            for name, kind in configs:
                rs = runs[name]
                med = lambda k: median([x.get(k) for x in rs])
                sw = median([x["switches"] / (secs + 0.5) for x in rs])
                print(f"| {argv[0]} | {name} | {fmt(med('ops_per_sec'), '{:.0f}')} {unit} | "
                      f"{fmt(med('of_bare'), '{:.1f}%') if kind else '-'} | {sw:.0f} | "
                      f"{fmt(med('prof_cpu'), '{:.3f} s')} | {fmt(med('coverage'), '{:.1f}%')} |")
                if kind == "ceoprofd":
                    targets.append((argv[0], med("of_bare"), med("coverage")))
                    mode = re.findall(r"^  (per-CPU sampling.*|per-thread events.*|waits .*|BPF .*)$",
                                      rs[-1].get("summary", ""), re.M)
            print(f"| | *{title}* | | | | | |")
        print()
        if mode:
            print("ceoprofd ran in this mode: " + "; ".join(mode) + ".")
            print()
        # Short-lived threads: 300 threads of 3 ms, their CPU in the profile against the truth.
        print("| short threads (300 × 3 ms of CPU, 99 Hz) | in the profile | measured | share |")
        print("|---|---|---|---|")
        churn = {"ceoprof record": [], "perf record (per-thread, inherited)": [],
                 "perf record -a": []}
        for rep in range(reps):
            log(f"runtime: churn, run {rep + 1}/{reps}")
            for name in churn:
                out, prefix = self.path("churn.out"), self.path("churn")
                if name == "ceoprof record":
                    argv = ["./ceoprof", "record", "-F", "99", "-o", prefix, "--"]
                else:
                    argv = ["perf", "record", "-q", "-F", "99", "-o", prefix + ".data"] + \
                           (["-a"] if name.endswith("-a") else []) + ["--"]
                with open(out, "w") as f:
                    subprocess.run(argv + ["./bench/pool", "churn", "300", "3"], stdout=f,
                                   stderr=subprocess.DEVNULL, env=dict(os.environ, CEOPROF_SOCKET=""))
                truth = float(re.search(r"churn_cpu_ms ([\d.]+)", open(out).read()).group(1))
                if name == "ceoprof record":
                    r = subprocess.run(["go", "tool", "pprof", "-top", "-nodefraction=0",
                                        "-tagfocus=thread_name=^churn-", prefix + ".pb.gz"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    m = re.search(r"accounting for ([\d.]+)(ns|us|ms|s)\b", r.stdout)
                    got = float(m.group(1)) * {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)] if m else 0.0
                else:
                    r = subprocess.run(["perf", "script", "-F", "comm,period", "-i", prefix + ".data"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    got = sum(int(l.split()[-1]) for l in r.stdout.splitlines()
                              if l.strip().startswith("churn-")) / 1e6
                churn[name].append((got, truth))
        for name, v in churn.items():
            got, truth = median([x[0] for x in v]), median([x[1] for x in v])
            print(f"| {name} | {got:.1f} ms | {truth:.1f} ms | {100 * got / truth:.0f}% |")
            if name == "ceoprof record":
                churn_share = 100 * got / truth
        print()
        pool = next(t for t in targets if t[0] == "pool")
        lock = next(t for t in targets if t[0] == "lock")
        print(f"Targets: pool at least 98% of bare: {'met' if pool[1] >= 98 else 'NOT met'} "
              f"({pool[1]:.1f}%); lock-heavy at least 95%: {'met' if lock[1] >= 95 else 'NOT met'} "
              f"({lock[1]:.1f}%); profile CPU within 10% of user+sys: pool {pool[2]:.1f}%, "
              f"lock {lock[2]:.1f}%; short threads within 15% of the truth: "
              f"{'met' if abs(churn_share - 100) <= 15 else 'NOT met'} ({churn_share:.0f}%).")
        print()

    def run(self):
        try:
            print(f"## ceoprof benchmarks ({time.strftime('%Y-%m-%d')}, {os.uname().release}, "
                  f"{NCPU} CPUs)")
            print()
            for s in self.args.sections.split(","):
                getattr(self, "section_" + s)()
                sys.stdout.flush()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sections", default="client,slowdown,daemon,dwarf,offcpu,output,events,runtime")
    ap.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    args = ap.parse_args()
    for s in args.sections.split(","):
        if not hasattr(Bench, "section_" + s):
            ap.error(f"unknown section {s!r}")
    if os.geteuid() != 0:
        sys.exit("bench: run as root: it profiles other processes and starts lttng-sessiond")
    for prog in ("./ceoprofd", "./ceoprof", "./bench_client", "./bench/throughput", "./bench/pool"):
        if not os.access(prog, os.X_OK):
            sys.exit(f"bench: {prog} not found: run from the build directory after make "
                     f"(make bench does both)")
    if not shutil.which("perf"):
        sys.exit("bench: perf is not installed (apt-get install linux-perf)")
    Bench(args).run()


if __name__ == "__main__":
    main()

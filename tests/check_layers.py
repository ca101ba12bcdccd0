#!/usr/bin/env python3
"""check_layers.py: the daemon's stages include one another one way only.

Reads every #include "stage/file.h" under daemon/ and fails when the include graph of the
files, or of the stage folders, has a circle. The stages' order is the architecture's:
ingest (loop, connections, sessions) -> target (a sampled process, its windows) ->
output (writers) -> model (profile, timeline, join) -> perf / symbolize (records, symbols).
"""
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else "."
daemon = os.path.join(top, "daemon")
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
files = {}
for root, _, names in os.walk(daemon):
    for n in names:
        if n.endswith((".c", ".h")) and not n.endswith((".skel.h", "vmlinux.h", ".bpf.c")):
            path = os.path.relpath(os.path.join(root, n), daemon)
            files[path] = [i for i in inc.findall(open(os.path.join(root, n)).read())
                           if os.path.exists(os.path.join(daemon, i))]


def stage(path):
    return path.split("/")[0] if "/" in path else "(top)"


def cycle(graph):
    """A circle in GRAPH (dict node -> set of nodes) as a list, or None."""
    state = {}

    def visit(n, trail):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return trail[trail.index(m):] + [m] if m in trail else [n, m]
            if not state.get(m):
                found = visit(m, trail + [m])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if not state.get(n):
            found = visit(n, [n])
            if found:
                return found
    return None


# A file's header and source are one module: foo.c including foo.h is no edge.
modules = {}
for f, incs in files.items():
    m = os.path.splitext(f)[0]
    modules.setdefault(m, set()).update(os.path.splitext(i)[0] for i in incs
                                        if os.path.splitext(i)[0] != m)
stages = {}
for m, deps in modules.items():
    for d in deps:
        if stage(d) != stage(m) and stage(d) != "(top)":
            stages.setdefault(stage(m), set()).add(stage(d))
bad = 0
c = cycle(modules)
if c:
    print("include circle among modules: " + " -> ".join(c))
    bad = 1
c = cycle(stages)
if c:
    print("include circle among stages: " + " -> ".join(c))
    bad = 1
for s in sorted(stages):
    print(f"{s} -> {', '.join(sorted(stages[s]))}")
print(f"{len(modules)} modules in {len(set(map(stage, modules)))} stages: "
      + ("no circle" if not bad else "CIRCLE"))
sys.exit(bad)

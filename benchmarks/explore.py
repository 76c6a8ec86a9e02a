"""Explorer speed and memory on fixed configurations, beside the baseline.

Each run is a fresh process (so peak memory is its own) on one core, and
each configuration runs --repeat times, the fastest counting. Prints,
per configuration: distinct states, depth, seconds, states per second and
peak resident memory; then the speed-up over ``baseline_bfs.py`` measured in
this same run, since machines are noisy and only ratios carry over.

    python benchmarks/explore.py            # every configuration
    python benchmarks/explore.py --quick    # skip the slow ones

Then the search on several workers (``check --workers N``), on Paxos with
``--ballots 4`` (3 acceptors, 2 values, no symmetry: 8,220,065 states): wall
and CPU seconds and the peak memory of all its processes together (the sum
of their proportional set sizes, sampled), for the default engine and 1, 2,
4, 8, 16 workers, as far as the machine has cores; then the speed-ups.

    python benchmarks/explore.py --only parallel [--parallel-ballots 3]
    python benchmarks/explore.py --only serial
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name, what runs in the child (a Python snippet printing one JSON line)
PAXOSCOPE = """
import json, resource, sys, time
from paxoscope.explorer.bfs import check
from paxoscope.specs import load
spec = load({spec!r}, bug={bug!r}, sizes={sizes!r})
r = check(spec, {props!r}, symmetry={symmetry!r}, exact={exact!r})
print(json.dumps(dict(states=r.distinct_states, depth=r.depth, seconds=r.seconds, verdict=r.verdict,
                      peak_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
"""

BASELINE = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
from baseline_bfs import paxos_bfs
t0 = time.perf_counter()
states, depth, generated = paxos_bfs(3, 2, {ballots!r})
print(json.dumps(dict(states=states, depth=depth, seconds=time.perf_counter() - t0, verdict="ok",
                      peak_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
"""


def paxoscope_run(spec="paxos", bug=None, props=None, symmetry=False, exact=False, **sizes):
    return PAXOSCOPE.format(spec=spec, bug=bug, sizes=sizes, props=props, symmetry=symmetry, exact=exact)


CONFIGS = [
    ("paxos ballots 0..0", paxoscope_run(ballots=1), False),
    ("paxos ballots 0..1", paxoscope_run(ballots=2), False),
    ("paxos ballots 0..2, Consistency only", paxoscope_run(ballots=3, props=["Consistency"]), False),
    ("paxos ballots 0..2, default properties", paxoscope_run(ballots=3), False),
    ("paxos ballots 0..2, --exact", paxoscope_run(ballots=3, exact=True), True),
    ("paxos ballots 0..2, --symmetry", paxoscope_run(ballots=3, symmetry=True), False),
    ("paxos 4 acceptors, ballots 0..1", paxoscope_run(acceptors=4, ballots=2), True),
    ("twophase 5 RMs", paxoscope_run(spec="twophase", rms=5), False),
    ("baseline: frozenset BFS, ballots 0..2", BASELINE.format(here=HERE, ballots=3), False),
]


PARALLEL = """
import json, resource, time
from paxoscope.explorer.bfs import check
from paxoscope.explorer.parallel import parallel_check
from paxoscope.specs import load
spec = load("paxos", sizes={{"ballots": {ballots}}})
t0 = time.perf_counter()
r = parallel_check(spec, workers={workers}) if {workers} else check(spec)
wall = time.perf_counter() - t0
cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
          for f in ("ru_utime", "ru_stime"))
print(json.dumps(dict(states=r.distinct_states, depth=r.depth, seconds=wall, cpu=cpu, verdict=r.verdict)))
"""

WORKER_COUNTS = (1, 2, 4, 8, 16)


def run(snippet: str) -> dict:
    # taskset keeps a run on one core where the machine has the tool.
    cmd = [sys.executable, "-c", snippet]
    if os.path.exists("/usr/bin/taskset"):
        cmd = ["/usr/bin/taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tree_pss_kb(root: int) -> int:
    """The proportional set size of ``root`` and every process under it, in KB."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo += [int(child) for child in f.read().split()]
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def run_measured(snippet: str) -> dict:
    """Run ``snippet`` in a fresh process on every core, sampling the memory of its process tree."""
    proc = subprocess.Popen([sys.executable, "-c", snippet], stdout=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_pss_kb(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"a measured run failed (exit {proc.returncode})")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_kb": peak[0]}


# The targets for --ballots 4 on a 2-core machine: 2 workers, all processes together.
TARGET_WALL_S, TARGET_PEAK_MB, TARGET_SPEEDUP = 90, 800, 1.8


def parallel_section(ballots: int) -> None:
    cores = os.cpu_count() or 1
    counts = [w for w in WORKER_COUNTS if w <= cores]
    print(f"paxos --ballots {ballots}, no symmetry, on {cores} cores: the default engine, then --workers N", flush=True)
    print(f"(load average before: {os.getloadavg()[0]:.1f}: other work on the machine slows the wall clock)")
    print(f"{'engine':<12} {'verdict':>8} {'states':>10} {'depth':>5} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    rows = {}
    for workers in (0, *counts):
        name = "default" if workers == 0 else f"{workers} worker{'s' * (workers > 1)}"
        r = rows[workers] = run_measured(PARALLEL.format(ballots=ballots, workers=workers))
        print(
            f"{name:<12} {r['verdict']:>8} {r['states']:>10,} {r['depth']:>5} {r['seconds']:>8.1f} {r['cpu']:>8.1f} "
            f"{r['peak_kb'] / 1024:>8.0f}",
            flush=True,
        )
    print("(peak MB: every process of the run together, proportional set sizes; one run each)")
    print(f"(load average after: {os.getloadavg()[0]:.1f})")
    for workers in counts[1:]:
        print(
            f"speed-up of {workers} workers: {rows[1]['seconds'] / rows[workers]['seconds']:.2f}x over 1 worker, "
            f"{rows[0]['seconds'] / rows[workers]['seconds']:.2f}x over the default engine; "
            f"CPU {rows[workers]['cpu'] / rows[1]['cpu']:.2f}x that of 1 worker"
        )
    if 2 in rows:
        two = rows[2]
        print(
            f"2 workers: {two['seconds']:.0f} s wall (target <= {TARGET_WALL_S}), "
            f"{two['peak_kb'] / 1024:.0f} MB (target <= {TARGET_PEAK_MB}), "
            f"speed-up {rows[1]['seconds'] / two['seconds']:.2f}x (aim {TARGET_SPEEDUP}x)"
        )
    if cores < WORKER_COUNTS[-1]:
        print(f"(more workers than the {cores} cores here are not run: measure them on a bigger host)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the slowest configurations")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the fastest counts (default 3)")
    parser.add_argument("--only", choices=("serial", "parallel"), help="run one section only")
    parser.add_argument(
        "--parallel-ballots", type=int, default=4, metavar="N", help="the --ballots of the parallel section (default 4)"
    )
    args = parser.parse_args()
    if args.only != "parallel":
        serial_section(args)
    if args.only != "serial":
        if args.only is None:
            print()
        parallel_section(args.parallel_ballots)


def serial_section(args: argparse.Namespace) -> None:
    chosen = [(name, snippet) for name, snippet, slow in CONFIGS if not (slow and args.quick)]
    runs: dict[str, list[dict]] = {name: [] for name, _ in chosen}
    # Round-robin, so that a slow spell of a noisy machine hits every configuration alike.
    for round_ in range(args.repeat):
        print(f"round {round_ + 1} of {args.repeat}...", file=sys.stderr, flush=True)
        for name, snippet in chosen:
            runs[name].append(run(snippet))
    rows = {name: min(rs, key=lambda r: r["seconds"]) for name, rs in runs.items()}
    print(
        f"{'configuration':<42} {'verdict':>8} {'states':>9} {'depth':>5} {'seconds':>8} {'states/s':>9} {'peak MB':>8}"
    )
    for name, r in rows.items():
        rate = r["states"] / r["seconds"] if r["seconds"] else 0
        print(
            f"{name:<42} {r['verdict']:>8} {r['states']:>9,} {r['depth']:>5} {r['seconds']:>8.2f} "
            f"{rate:>9,.0f} {r['peak_kb'] / 1024:>8.1f}",
            flush=True,
        )
    base = rows["baseline: frozenset BFS, ballots 0..2"]
    print(f"(fastest of {args.repeat} runs each, one core)")
    print()
    for name in ("paxos ballots 0..2, Consistency only", "paxos ballots 0..2, default properties"):
        ours = rows[name]
        print(
            f"speed-up over the baseline, {name.split(', ')[1]}: {base['seconds'] / ours['seconds']:.1f}x; "
            f"memory {ours['peak_kb'] / 1024:.0f} MB vs {base['peak_kb'] / 1024:.0f} MB"
        )


if __name__ == "__main__":
    main()

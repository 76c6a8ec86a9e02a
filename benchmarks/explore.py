"""Explorer speed and memory on fixed configurations, beside the baseline.

Each run is a fresh process (so peak memory is its own) on one core, and
each configuration runs --repeat times, the fastest counting. Prints,
per configuration: distinct states, depth, seconds, states per second and
peak resident memory; then the speed-up over ``baseline_bfs.py`` measured in
this same run, since machines are noisy and only ratios carry over.

    python benchmarks/explore.py            # every configuration
    python benchmarks/explore.py --quick    # skip the slow ones
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

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


def run(snippet: str) -> dict:
    # taskset keeps a run on one core where the machine has the tool.
    cmd = [sys.executable, "-c", snippet]
    if os.path.exists("/usr/bin/taskset"):
        cmd = ["/usr/bin/taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the slowest configurations")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the fastest counts (default 3)")
    args = parser.parse_args()
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

"""Multi-Paxos on MultiPaxos_MC_small.cfg's configuration, against TLC's figures and a straightforward search.

3 replicas, 1 write, 1 read, ballots 1..2, replica symmetry, deadlock
checked, TypeOK and Linearizability on every state. TLC 2.20 reports
343,796 distinct states, 736,012 states generated, depth 28 (the figures in
the spec's manifest.json), in 26 s of CPU and 1 GB with one worker. Each
run is a fresh process on one core, so that its peak memory is its own;
CPU seconds are quoted beside wall-clock ones, since a shared machine
stretches the latter. The baseline (``baseline_bfs.multipaxos_bfs``) runs
the same spec in the same run: only the ratio carries over to another
machine.

    python benchmarks/multipaxos.py            # the TLC configuration, and the baseline
    python benchmarks/multipaxos.py --all      # also: without symmetry, with 0 reads, with RefinesLog

Every figure is checked against its pin: the script fails if a count moves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TLC = {"states": 343_796, "generated": 736_012, "depth": 28, "cpu_seconds": 26, "peak_mb": 1024}

MEASURE = """
import json, resource, time
t0, c0 = time.perf_counter(), time.process_time()
{body}
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(verdict=verdict, states=states, generated=generated, depth=depth,
                      seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
                      peak_mb=use.ru_maxrss / 1024)))
"""

EXPLORER = """
from paxoscope.explorer.bfs import check
from paxoscope.spec.multipaxos import MultiPaxos
r = check(MultiPaxos(replicas=3, writes=1, reads={reads}), {props!r}, symmetry={symmetry}, deadlock=True)
verdict, states, generated, depth = r.verdict, r.distinct_states, r.states_generated, r.depth
"""

BASELINE = """
import sys
sys.path.insert(0, {here!r})
from baseline_bfs import multipaxos_bfs
states, depth, generated = multipaxos_bfs(3, 1, {reads})
verdict = "ok"
"""


def explorer(reads: int, symmetry: bool, props: list[str] | None = None) -> str:
    return EXPLORER.format(reads=reads, props=props, symmetry=symmetry)


BASELINE_NAME = "baseline: plain BFS, whole states, symmetry"
REFINES = ["TypeOK", "Linearizability", "RefinesLog"]
# name, the run, (distinct states, states generated, depth) pinned, only with --all
CONFIGS = [
    (
        "3 replicas, 1 write, 1 read, symmetry (MultiPaxos_MC_small.cfg)",
        explorer(1, True),
        (343_796, 736_012, 28),
        False,
    ),
    (BASELINE_NAME, BASELINE.format(here=HERE, reads=1), (343_796, 736_012, 28), False),
    ("the same, and RefinesLog on every step", explorer(1, True, REFINES), (343_796, 736_012, 28), True),
    ("3 replicas, 1 write, 0 reads, symmetry", explorer(0, True), (2_628, 4_697, 19), True),
    ("3 replicas, 1 write, 0 reads, no symmetry", explorer(0, False), (15_709, 28_027, 19), True),
    ("3 replicas, 1 write, 1 read, no symmetry", explorer(1, False), (2_062_561, 4_415_485, 28), True),
]


def run(body: str) -> dict:
    cmd = [sys.executable, "-c", MEASURE.format(body=body.strip())]
    if os.path.exists("/usr/bin/taskset"):
        cmd = ["/usr/bin/taskset", "-c", "0", *cmd]  # one core, as TLC's one worker
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also run without symmetry, with 0 reads, with RefinesLog")
    args = parser.parse_args()
    rows = {}
    for name, body, pinned, extra in CONFIGS:
        if extra and not args.all:
            continue
        r = rows[name] = run(body)
        print(
            f"{name}: {r['verdict']}, {r['states']:,} distinct states, {r['generated']:,} generated, "
            f"depth {r['depth']}; {r['cpu_seconds']:.1f} s CPU ({r['seconds']:.1f} s wall), "
            f"{r['states'] / r['cpu_seconds']:,.0f} states/s of CPU, peak {r['peak_mb']:,.0f} MB",
            flush=True,
        )
        assert r["verdict"] == "ok", (name, r)
        assert (r["states"], r["generated"], r["depth"]) == pinned, (name, r)
    ours = next(iter(rows.values()))
    base = rows[BASELINE_NAME]
    print(
        f"TLC 2.20: {TLC['states']:,} distinct states, {TLC['generated']:,} generated, depth {TLC['depth']}, "
        f"{TLC['cpu_seconds']} s CPU, {TLC['peak_mb']:,} MB: the explorer takes "
        f"{ours['cpu_seconds'] / TLC['cpu_seconds']:.2f}x its CPU time "
        f"and {ours['peak_mb'] / TLC['peak_mb']:.2f}x its memory"
    )
    print(
        f"speed-up over the baseline: {base['cpu_seconds'] / ours['cpu_seconds']:.1f}x; "
        f"memory {ours['peak_mb']:.0f} MB vs {base['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()

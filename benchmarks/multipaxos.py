"""Multi-Paxos on MultiPaxos_MC_small.cfg's configuration, against TLC's figures.

3 replicas, 1 write, 1 read, ballots 1..2, replica symmetry, deadlock
checked, TypeOK and Linearizability on every state. TLC 2.20 reports
343,796 distinct states, 736,012 states generated, depth 28 (the figures in
the spec's manifest.json). Prints states, generated, depth, seconds, states
per second and peak resident memory for each configuration, each run in a
fresh process on one core so that its peak memory is its own.

    python benchmarks/multipaxos.py                 # the TLC configuration
    python benchmarks/multipaxos.py --all           # also: without symmetry, and with 0 reads
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

TLC = {"states": 343_796, "generated": 736_012, "depth": 28}

RUN = """
import json, resource, time
from paxoscope.explorer.bfs import check
from paxoscope.spec.multipaxos import MultiPaxos
r = check(MultiPaxos(replicas={replicas}, writes={writes}, reads={reads}), symmetry={symmetry}, deadlock=True)
print(json.dumps(dict(verdict=r.verdict, states=r.distinct_states, generated=r.states_generated, depth=r.depth,
                      seconds=r.seconds, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""

CONFIGS = [
    ("3 replicas, 1 write, 1 read, symmetry (MultiPaxos_MC_small.cfg)", dict(reads=1, symmetry=True), False),
    ("3 replicas, 1 write, 0 reads, symmetry", dict(reads=0, symmetry=True), True),
    ("3 replicas, 1 write, 0 reads, no symmetry", dict(reads=0, symmetry=False), True),
    ("3 replicas, 1 write, 1 read, no symmetry", dict(reads=1, symmetry=False), True),
]


def run(reads: int, symmetry: bool) -> dict:
    cmd = [sys.executable, "-c", RUN.format(replicas=3, writes=1, reads=reads, symmetry=symmetry)]
    if os.path.exists("/usr/bin/taskset"):
        cmd = ["/usr/bin/taskset", "-c", "0", *cmd]  # one core, as TLC's one worker
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also run without symmetry and with 0 reads")
    args = parser.parse_args()
    first = None
    for name, params, extra in CONFIGS:
        if extra and not args.all:
            continue
        r = run(**params)
        first = first or r
        rate = r["states"] / r["seconds"] if r["seconds"] else float("inf")
        print(
            f"{name}: {r['verdict']}, {r['states']:,} distinct states, {r['generated']:,} generated, "
            f"depth {r['depth']}, {r['seconds']:.1f} s ({rate:,.0f} states/s), peak {r['peak_mb']:,.0f} MB",
            flush=True,
        )
    print(
        f"TLC 2.20: {TLC['states']:,} distinct states, {TLC['generated']:,} generated, depth {TLC['depth']}; "
        f"generated differs by {TLC['generated'] - first['generated']:+,}"
    )
    assert first["verdict"] == "ok"
    assert (first["states"], first["depth"]) == (TLC["states"], TLC["depth"]), first


if __name__ == "__main__":
    main()

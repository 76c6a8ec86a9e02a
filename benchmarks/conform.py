"""Conformance at scale: simulator throughput, coverage, and real latency.

Prints:
- schedules per second in the simulator (Hypothesis-generated, with faults,
  every step checked against the spec), over --examples schedules (default
  10,000: the implementation -> spec run the suite runs a few hundred of);
- spec -> implementation coverage, states and transitions realised /
  reachable, with and without symmetry, for ballots 0..1 and 0..2;
- the latency of one decision on a real 3-process cluster on loopback.

    python benchmarks/conform.py [--examples N] [--skip-full-coverage] [--skip-cluster]
"""

from __future__ import annotations

import argparse
import statistics
import time

from paxoscope.impl.conformance import conform, coverage
from paxoscope.impl.sim import SimConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-full-coverage", action="store_true", help="skip ballots 0..2 without symmetry")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()

    config = SimConfig(3, 2, 2)
    t0 = time.perf_counter()
    report = conform(config, examples=args.examples, seed=args.seed)
    seconds = time.perf_counter() - t0
    print(
        f"implementation -> spec, 3 acceptors, 2 values, ballots 0..1: {report.schedules:,} schedules, "
        f"{report.faults:,} faults injected, verdict {report.verdict}, {seconds:.1f} s "
        f"({report.schedules / seconds:,.0f} schedules/s); spec states passed through: {len(report.visited):,}",
        flush=True,
    )
    if report.verdict != "ok":
        print(report.failure)

    for ballots, symmetry in ((2, False), (2, True), (3, True), (3, False)):
        if ballots == 3 and not symmetry and args.skip_full_coverage:
            continue
        t0 = time.perf_counter()
        cov = coverage(SimConfig(3, 2, ballots), symmetry=symmetry)
        print(
            f"spec -> implementation, ballots 0..{ballots - 1}{' (symmetry)' if symmetry else ''}: "
            f"states {cov.states[0]:,} / {cov.states[1]:,}, transitions {cov.transitions[0]:,} / "
            f"{cov.transitions[1]:,}, {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

    if not args.skip_cluster:
        from paxoscope.impl.cluster import decision_latency

        figures = decision_latency(nodes=3)
        print(
            f"one decision on a real 3-process cluster (loopback): median {statistics.median(figures) * 1000:.1f} ms "
            f"over {len(figures)} rounds (min {min(figures) * 1000:.1f}, max {max(figures) * 1000:.1f})"
        )


if __name__ == "__main__":
    main()

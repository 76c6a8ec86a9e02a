"""Conformance at scale: what the default ``paxoscope conform`` costs and
reaches, whether it catches every known-wrong implementation on many seeds,
the coverage walks, and real latency.

Prints:
- the default ``conform`` (the command as a user runs it): seconds, spec
  states the random schedules reached (and how deep), states and transitions
  the walk realised, handler runs it drove besides;
- each built-in ``--bug`` variant against the default ``conform`` on
  --seeds seeds (default 20): how many seeds caught it;
- schedules per second in the simulator over --examples schedules (default
  10,000), and the spec states they reached;
- spec -> implementation coverage, with and without symmetry, for ballots
  0..1 and 0..2;
- the latency of one decision on a real 3-process cluster on loopback.

    python benchmarks/conform.py [--examples N] [--seeds N] [--skip-full-coverage] [--skip-cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time

from paxoscope.impl.conformance import conform, coverage
from paxoscope.impl.paxos import IMPL_BUGS, SimConfig
from paxoscope.impl.paxos.messages import Decided, Propose, request
from paxoscope.impl.supervise import start_cluster, stop_cluster

from paxoscope.cli import main as paxoscope


def run(*args: str) -> tuple[int, str, float]:
    """``paxoscope conform ARGS`` in this process: exit code, output, seconds."""
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = paxoscope(["conform", *args])
    return code, out.getvalue(), time.perf_counter() - t0


def decision_latency(nodes: int = 3, rounds: int = 5) -> list[float]:
    """Seconds from a client's Propose to its Decided, one figure per round.

    A cluster decides once, so each round starts a fresh cluster of real
    processes in a temporary directory, proposes to its first node, and
    stops it. The figure includes opening the peer connections (the first
    messages of a fresh cluster) and the fsyncs of both phases."""
    figures = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="paxoscope-latency-") as tmp:
            cluster = start_cluster(tmp, nodes)
            try:
                first = cluster.nodes[0]
                t0 = time.perf_counter()
                request(first.host, first.port, Propose(f"v{r}"), Decided, timeout=30.0)
                figures.append(time.perf_counter() - t0)
            finally:
                stop_cluster(tmp)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-full-coverage", action="store_true", help="skip ballots 0..2 without symmetry")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()

    code, out, seconds = run("--json")
    doc = json.loads(out)
    walk = doc["coverage_symmetry"]
    print(
        f"default conform: exit {code}, {seconds:.1f} s; random schedules: {doc['schedules']} with "
        f"{doc['faults']} faults, {doc['visited'][0]:,} spec states ({doc['visited'][1]:,} up to symmetry), the "
        f"deepest {doc['visited'][2]} steps; walk (ballots 0..{doc['config']['ballots'] - 1}, symmetry): states "
        f"{walk['states'][0]:,} / {walk['states'][1]:,}, transitions {walk['transitions'][0]:,} / "
        f"{walk['transitions'][1]:,}, {walk['handlers']:,} handler runs besides",
        flush=True,
    )

    for bug in IMPL_BUGS:
        caught, times = 0, []
        for seed in range(args.seeds):
            code, _, seconds = run("--bug", bug, "--seed", str(seed))
            caught += code == 1
            times.append(seconds)
        print(
            f"--bug {bug}: caught by the default conform on {caught} of {args.seeds} seeds "
            f"(median {statistics.median(times):.1f} s, max {max(times):.1f} s)",
            flush=True,
        )

    config = SimConfig(3, 2, 5, proposers=2)
    t0 = time.perf_counter()
    report = conform(config, examples=args.examples, seed=args.seed)
    seconds = time.perf_counter() - t0
    print(
        f"implementation -> spec, 3 acceptors, 2 values, ballots 0..4, 2 proposers: {report.schedules:,} schedules, "
        f"{report.faults:,} faults injected, verdict {report.verdict}, {seconds:.1f} s "
        f"({report.schedules / seconds:,.0f} schedules/s); spec states passed through: {len(report.visited):,} "
        f"({len(report.visited_sym):,} up to symmetry), the deepest {report.depth} steps",
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
            f"{cov.transitions[1]:,}, {cov.handlers:,} handler runs besides, {time.perf_counter() - t0:.1f} s"
            + (f"; FAILURE: {cov.failure.splitlines()[0]}" if cov.failure else ""),
            flush=True,
        )

    if not args.skip_cluster:
        figures = decision_latency(nodes=3)
        print(
            f"one decision on a real 3-process cluster (loopback): median {statistics.median(figures) * 1000:.1f} ms "
            f"over {len(figures)} rounds (min {min(figures) * 1000:.1f}, max {max(figures) * 1000:.1f})"
        )


if __name__ == "__main__":
    main()

"""Random simulation on a configuration too big to explore quickly: Paxos at --ballots 4.

For every bug of the Paxos gallery, from a fixed seed: whether ``check
--simulate`` finds it, after how many behaviours and seconds, and the length
of its trace as found and after ``--shorten`` (with the seconds and states
the shortening took). Twice: with the spec's default properties (the
refinement mappings catch most bugs at their first wrong step) and with
Consistency alone (the bug must go as far as two values chosen). Then the
correct spec: behaviours, steps and distinct states per second, with 1 and 2
workers (the same figures for both, by construction).

    python benchmarks/simulate.py                 # ballots 4, seed 1
    python benchmarks/simulate.py --seed 7 --ballots 3
    python benchmarks/simulate.py --exhaustive    # also time the exhaustive search (at most 120 s a bug)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from paxoscope.explorer.bfs import prepare
from paxoscope.explorer.simulate import SimulateOptions, shorten, simulate

from paxoscope.registry import protocol
from paxoscope.specs import load

LIMIT = 60.0  # seconds a bug may take to be found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, default in {"--ballots": 4, "--seed": 1, "--depth": 100}.items():
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--exhaustive", action="store_true", help="also time check without --simulate")
    args = parser.parse_args()
    bugs = list(protocol("paxos").variants(["spec"]))
    print(f"paxos --ballots {args.ballots}, seed {args.seed}, behaviours of at most {args.depth} states")
    for properties in (None, ["Consistency"]):
        print(f"\nproperties: {'the defaults' if properties is None else ', '.join(properties)}")
        header = f"{'bug':<26} {'found':>5} {'behaviour':>9} {'seconds':>7} {'length':>6} {'shortened':>9} {'in s':>6}"
        print(header + f" {'states':>8}" + (f"  {'exhaustive':>10}" if args.exhaustive else ""))
        for bug in bugs:
            row = _bug_row(bug, properties, args)
            if args.exhaustive:
                row += f"  {_exhaustive(bug, properties, args.ballots)}"
            print(row, flush=True)
    print()
    _throughput(args)


def _bug_row(bug: str, properties: list[str] | None, args: argparse.Namespace) -> str:
    spec = load("paxos", bug=bug, sizes={"ballots": args.ballots})
    options = SimulateOptions(properties=properties, seed=args.seed, depth=args.depth, traces=10**9)
    started = time.perf_counter()
    r = simulate(spec, options)
    found_in = time.perf_counter() - started
    if r.violation is None:
        return f"{bug:<26} {'no':>5} {'':>9} {found_in:>7.2f}"
    started = time.perf_counter()
    short, visited = shorten(spec, prepare(spec, options)[1], options, r.violation)
    shortened_in = time.perf_counter() - started
    found = "yes" if found_in <= LIMIT else "late"
    return (
        f"{bug:<26} {found:>5} {r.behaviour:>9} {found_in:>7.2f} {len(r.violation.trace) - 1:>6} "
        f"{len(short.trace) - 1:>9} {shortened_in:>6.1f} {visited:>8,}"
    )


def _exhaustive(bug: str, properties: list[str] | None, ballots: int) -> str:
    """``check --bug`` in a child process, cut at 120 s."""
    argv = [sys.executable, "-m", "paxoscope.cli", "check", "--bug", bug, "--ballots", str(ballots)]
    for name in properties or ():
        argv += ["--invariant", name]
    started = time.perf_counter()
    try:
        subprocess.run(argv, capture_output=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"})
    except subprocess.TimeoutExpired:
        return f"{'> 120 s':>10}"
    return f"{time.perf_counter() - started:>8.1f} s"


def _throughput(args: argparse.Namespace) -> None:
    spec = load("paxos", sizes={"ballots": args.ballots})
    print(f"correct spec, default properties, 10,000 behaviours (seed {args.seed}):")
    columns = ("workers", "seconds", "behaviours/s", "steps/s", "steps", "distinct", "longest")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (7, 7, 12, 8, 8, 9, 7))))
    for workers in (1, 2):
        r = simulate(spec, seed=args.seed, depth=args.depth, traces=10_000, workers=workers)
        print(
            f"{workers:>7} {r.seconds:>7.2f} {r.traces / r.seconds:>12,.0f} {r.steps / r.seconds:>8,.0f} "
            f"{r.steps:>8,} {r.distinct_states:>9,} {r.depth:>7}",
            flush=True,
        )


if __name__ == "__main__":
    main()

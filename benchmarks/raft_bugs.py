"""The Raft gallery searched breadth-first where each variant goes wrong.

For every variant, the explorer searches Raft's sizes that ``SHOWN`` gives
(spec/raft_bugs.py), and prints the invariant that fails, the
states in its shortest counterexample, the distinct states explored and the
time taken; for a variant with a scenario, the scenario's length beside it
(the shortest can be no longer). The two-server variants take a second or
two; the three-server ones are the state spaces too large for the test
suite, hence ``--max-states`` (default 2,000,000): a search cut there says
so, with how deep it got.

    python benchmarks/raft_bugs.py                          # every variant
    python benchmarks/raft_bugs.py commit-on-minority       # only these
"""

from __future__ import annotations

import argparse
import time

from paxoscope.explorer.bfs import check
from paxoscope.spec.raft_bugs import BUGS, SHOWN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *BUGS], help="variants (default: all)")
    parser.add_argument("--max-states", type=int, default=2_000_000)
    parser.add_argument("--symmetry", action="store_true", help="reduce by symmetry (slower for Raft's few servers)")
    args = parser.parse_args()
    for name in args.names or BUGS:
        shown = SHOWN[name]
        started = time.perf_counter()
        r = check(BUGS[name](**shown.sizes), symmetry=args.symmetry, max_states=args.max_states)
        seconds = time.perf_counter() - started
        sizes = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in shown.sizes.items())
        found = (
            f"{r.violation.property} fails, shortest counterexample {len(r.violation.trace)} states"
            if r.violation
            else f"{r.verdict}: no violation (depth {r.depth})"
        )
        scenario = f"; scenario: {len(shown.scenario) + 1} states" if shown.scenario else ""
        print(
            f"{name:24} {sizes}: {found}{scenario}; {r.distinct_states:,} distinct states, {seconds:.1f} s", flush=True
        )


if __name__ == "__main__":
    main()

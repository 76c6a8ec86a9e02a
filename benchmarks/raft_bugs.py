"""The Raft gallery searched breadth-first where each variant goes wrong.

For every variant, the explorer searches Raft's sizes that ``SHOWN`` gives
(spec/raft_bugs.py), reduced by symmetry (``--no-symmetry``: not), and
prints the invariant that fails, the states in its shortest counterexample,
the distinct states explored and the time taken; for a variant with a
scenario, the scenario's length beside it (the shortest can be no longer).
Where ``SHOWN`` records the shortest's length, the search must find exactly
that many states. The two-server variants take a second or two;
``commit-on-minority`` and ``vote-for-stale-log`` a few minutes each;
``no-consistency-check`` and ``commit-earlier-term`` lie some 10^8 states
deep, hence ``--max-states`` (default 2,000,000): a search cut there says
so, with how deep it got (the shortest counterexample is longer than the
depth searched to the end).

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
    parser.add_argument("--no-symmetry", dest="symmetry", action="store_false", help="search without the reduction")
    args = parser.parse_args()
    for name in args.names or BUGS:
        shown = SHOWN[name]
        started = time.perf_counter()
        r = check(BUGS[name](**shown.sizes), symmetry=args.symmetry, max_states=args.max_states)
        seconds = time.perf_counter() - started
        print(f"{name}: {shown.command(name, symmetry=args.symmetry)}", flush=True)
        if r.violation:
            found = f"{r.violation.property} fails, shortest counterexample {len(r.violation.trace)} states"
        else:
            # A search cut while adding the states of depth d has checked every trace shorter than d.
            found = f"{r.verdict}: no counterexample of up to {r.depth - 1} states"
        scenario = f"; scenario: {len(shown.scenario) + 1} states" if shown.scenario else ""
        print(f"  {found}{scenario}; {r.distinct_states:,} distinct states, {seconds:.1f} s", flush=True)
        if r.violation and shown.shortest is not None:
            assert (r.violation.property, len(r.violation.trace)) == (shown.invariant, shown.shortest), name


if __name__ == "__main__":
    main()

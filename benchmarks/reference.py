"""The readable Paxos against the fast encoding, on one configuration.

Explores every reachable state of ``spec/paxos_reference.py`` and of
``spec/paxos.py`` (the default properties: TypeOK, Consistency and both
refinements), prints each run's states, depth and time, the ratio of their
speeds, and whether the two reachable sets are the same set, by digest
(``paxos_reference.digest`` over the fast states mapped to the reference's
form). The tests compare them on small configurations; this is the one for
the default configuration (185,369 states).

Run: ``python benchmarks/reference.py [ballots]`` (3 by default).
"""

from __future__ import annotations

import sys
import time

from paxoscope.explorer.bfs import check, reachable
from paxoscope.spec.paxos import Paxos
from paxoscope.spec.paxos_reference import PaxosReference, digest, reference_state


def timed_check(spec) -> tuple[float, object]:
    start = time.perf_counter()
    result = check(spec)
    return time.perf_counter() - start, result


def main(ballots: int = 3) -> None:
    rows = []
    for label, cls in (("fast (spec/paxos.py)", Paxos), ("reference (spec/paxos_reference.py)", PaxosReference)):
        seconds, r = timed_check(cls(ballots=ballots))
        rows.append((seconds, r))
        print(
            f"{label:38} {r.verdict:4} {r.distinct_states:>9,} states  depth {r.depth}  "
            f"{seconds:6.2f} s  {r.distinct_states / seconds:>9,.0f} states/s"
        )
    (fast_s, fast), (ref_s, ref) = rows
    print(f"the fast encoding is {ref_s / fast_s:.1f}x the speed of the reference")
    fast_spec = Paxos(ballots=ballots)
    mapped = digest(reference_state(fast_spec, s) for s in reachable(fast_spec))
    own = digest(reachable(PaxosReference(ballots=ballots)))
    same = (fast.distinct_states, fast.depth) == (ref.distinct_states, ref.depth) and mapped == own
    print(f"digest of the reachable set: fast {mapped[:16]}  reference {own[:16]}  {'SAME' if same else 'DIFFERENT'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

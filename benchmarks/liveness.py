"""Liveness under fairness: what each built-in liveness check finds, and what it costs.

For each check: the verdict, the states of the graph, the lasso's prefix and
cycle (a violation) and the CPU seconds of the search and of the search for
a fair cycle together. Every run is in this process, one after the other, so
the CPU seconds are comparable with each other only.

    python benchmarks/liveness.py           # the checks the README and the tour show
    python benchmarks/liveness.py --all     # also Multi-Paxos with 3 replicas
"""

from __future__ import annotations

import argparse
import sys
import time

from paxoscope.explorer.liveness import check
from paxoscope.spec.multipaxos import MultiPaxos
from paxoscope.spec.paxos_proposers import PaxosProposers
from paxoscope.spec.twophase import TwoPhase

CHECKS = [
    ("paxos-proposers (the duel)", lambda: PaxosProposers(), "EventuallyChosen"),
    ("paxos-proposers --stable-leader", lambda: PaxosProposers(stable_leader=True), "EventuallyChosen"),
    ("paxos-proposers --proposers 3", lambda: PaxosProposers(proposers=3), "EventuallyChosen"),
    ("twophase", lambda: TwoPhase(), "EveryRMDecides"),
    ("twophase --coordinator-crash", lambda: TwoPhase(coordinator_crash=True), "EveryRMDecides"),
    ("multipaxos --replicas 2", lambda: MultiPaxos(replicas=2), "EveryCommandAcknowledged"),
]
MORE = [("multipaxos --replicas 3 --reads 0", lambda: MultiPaxos(replicas=3, reads=0), "EveryCommandAcknowledged")]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also the larger configurations")
    args = parser.parse_args(argv)
    print(f"{'check':<36} {'verdict':<10} {'states':>8} {'lasso':>14} {'cpu s':>7}")
    for label, build, name in CHECKS + (MORE if args.all else []):
        started = time.process_time()
        result = check(build(), [name])
        seconds = time.process_time() - started
        v = result.violation
        lasso = "" if v is None else f"{v.loop} + {len(v.trace) - 1 - v.loop}"
        print(f"{label:<36} {result.verdict:<10} {result.distinct_states:>8,} {lasso:>14} {seconds:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

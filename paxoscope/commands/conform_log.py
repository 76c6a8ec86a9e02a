"""``paxoscope conform --protocol multipaxos``: the replicated log against ``spec.multipaxos``.

Hypothesis schedules (with crashes, restarts, loss, duplication, partitions,
timers that start elections, requests to any replica) run the unchanged
replica core in the simulator with every feature on (catch-up, snapshots,
noops, candidates standing again); every handler run must be a sequence of
steps of its replica of the spec extended with those features
(``impl.multipaxos.extended``, ``impl.multipaxos.mapping``), and the report
counts the steps the runs took beyond MultiPaxos.tla. Coverage: the distinct
spec states the runs passed through, and, for a spec small enough to
enumerate (at most ``REACHABLE_LIMIT`` states with ``--max-ballot`` as the
runs use it), how many of MultiPaxos.tla's reachable states that is, and the
walk the other way: the core, with none of the features beyond the TLA+,
driven along every transition of it (``impl.multipaxos.walk.realise``), each
step checked, with the states and transitions it realised.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import deque
from typing import Any

from .. import registry
from ..spec.constants import ConfigError

REACHABLE_LIMIT = 20_000
BEYOND_TLA = ("StandAgain", "FillHole", "Learn")  # the steps the core takes that MultiPaxos.tla has not


def reachable(spec: Any, limit: int = REACHABLE_LIMIT) -> set | None:
    """Every state of ``spec`` reachable from its initial ones; None past ``limit`` states."""
    seen = set(spec.init())
    queue = deque(seen)
    while queue:
        for _act, t in spec.next(queue.popleft()):
            if t not in seen:
                if len(seen) >= limit:
                    return None
                seen.add(t)
                queue.append(t)
    return seen


def run_multipaxos(args: argparse.Namespace, out: Any) -> int:
    from ..impl.conformance import conform, coverage
    from ..impl.multipaxos.config import SimConfig

    if args.bug is not None:
        registry.variant(args.bug, "multipaxos", part="impl")  # the one "unknown bug" message
    if args.reads < 0:
        raise ConfigError(f"--reads must be 0 or more, not {args.reads}")
    bugs = frozenset([args.bug] if args.bug else [])
    max_ballot = args.max_ballot or 2 * args.replicas  # by default each replica may stand twice
    if max_ballot < 2:
        raise ConfigError(f"--max-ballot must be at least 2, not {max_ballot}")
    config = SimConfig(args.replicas, args.writes, args.reads, max_ballot=max_ballot, bugs=bugs)
    if args.replay is not None:
        from .conform import replay

        _ops, outcome = replay(args, config, out, lambda _: "ok: the schedule conforms")
        return 0 if outcome.ok else 1
    report = conform(config, examples=args.examples, seed=args.seed)
    # Coverage counts MultiPaxos.tla's own states, and the walk drives the core with only its steps
    tla = dataclasses.replace(config, faithful=True)
    everything = None if args.no_coverage or report.verdict != "ok" else reachable(tla.protocol.spec_for(tla))
    covered = len(report.visited & everything) if everything is not None else None
    walk = coverage(tla) if everything is not None else None  # the spec -> implementation direction
    if walk is not None and walk.failure:
        out(walk.failure)
        return 1
    flags = f"--protocol multipaxos --replicas {args.replicas} --writes {args.writes} --reads {args.reads}"
    flags += f" --max-ballot {max_ballot}"
    flags += f" --bug {args.bug}" if args.bug else ""
    if args.json:
        doc = {
            "protocol": "multipaxos",
            "config": {
                "replicas": args.replicas,
                "writes": args.writes,
                "reads": args.reads,
                "max_ballot": max_ballot,
                "bug": args.bug,
            },
            "verdict": report.verdict,
            "schedules": report.schedules,
            "faults": report.faults,
            "depth": report.depth,
            "steps_beyond_tla": {name: report.actions[name] for name in BEYOND_TLA},
            "states_visited": len(report.visited),
            "states_visited_up_to_symmetry": len(report.visited_sym),
            "states_reachable": len(everything) if everything is not None else None,
            "states_covered": covered,
            "walk_states": list(walk.states) if walk else None,
            "walk_transitions": list(walk.transitions) if walk else None,
            "failure": report.failure or None,
            "schedule": repr(report.schedule) if report.schedule else None,
        }
        out(json.dumps(doc, indent=2))
        return 0 if report.verdict == "ok" else 1
    out(
        f"conform · multipaxos · {args.replicas} replicas, {args.writes} writes, {args.reads} reads, "
        f"ballots 1..{config.max_ballot}" + (f" · bug {args.bug}" if args.bug else "")
    )
    if report.verdict != "ok":
        out(report.failure)
        out(f"\nreplay: paxoscope conform {flags} --replay '{report.schedule!r}'")
        return 1
    out(
        f"ok: {report.schedules} schedules ({report.faults} faults), every step a step of the spec; "
        f"runs up to {report.depth} spec steps"
    )
    beyond = ", ".join(f"{report.actions[name]} {name}" for name in BEYOND_TLA)
    out(f"steps beyond MultiPaxos.tla (impl/multipaxos/extended.py): {beyond}")
    seen = f"{len(report.visited)} distinct spec states visited ({len(report.visited_sym)} up to symmetry)"
    if everything is not None:
        seen += f"; {covered} of the {len(everything)} reachable ({100 * covered / len(everything):.1f}%)"
    elif not args.no_coverage:
        seen += f"; the reachable states are more than {REACHABLE_LIMIT} (not enumerated)"
    out(seen)
    if walk is not None:
        out(
            f"the walk along every spec transition: {walk.states[0]} of {walk.states[1]} states and "
            f"{walk.transitions[0]} of {walk.transitions[1]} transitions realised by the implementation "
            "(a ballot another replica owns, or one slot of a batch, is out of its reach)"
        )
    return 0

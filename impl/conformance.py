"""Conformance of the implementation to the spec, in both directions.

Implementation -> spec: Hypothesis generates schedules (deliveries in any
order, drops, duplicates, crashes, restarts, timers, client requests); the
simulator runs the unchanged core along each, and ``abstraction.Checker``
checks every handler run against the spec. A failure is shrunk by
Hypothesis to a short schedule and printed so that it can be replayed.

Spec -> implementation: ``coverage`` walks the spec's state graph and, for
every transition, drives the simulator on purpose (delivering exactly the
messages the spec action consumes) so that the implementation makes the same
step. It reports spec states and transitions realised / reachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..explorer.trace import Trace
from ..spec.base import Action
from ..spec.paxos import Msg1b, Paxos, PaxosState
from .abstraction import Checker, Nonconformance, abstract_state, spec_for
from .messages import Accept, Prepare, Promise
from .sim import (
    Crash,
    Deliver,
    Drop,
    Duplicate,
    Fire,
    Op,
    Request,
    Restart,
    Run,
    SimConfig,
    Simulator,
    show_schedule,
)

# -- implementation -> spec --------------------------------------------------


@dataclass
class Outcome:
    """How one schedule ran. When it failed, ``trace`` is the spec-level run
    up to the failing step and ``mark`` says where and why, ready for
    ``trace_table`` or a chart; both are None when it conforms."""

    ok: bool
    report: str = ""
    visited: set[PaxosState] = field(default_factory=set)
    faults: int = 0
    decisions: dict[str, str] = field(default_factory=dict)
    trace: Trace | None = None
    mark: dict[int, str] | None = None
    allowed: tuple = ()  # the spec actions enabled where the run left the spec


def run_schedule(config: SimConfig, ops: Sequence[Op], spec: Paxos | None = None) -> Outcome:
    """Run one schedule, checking every step; never raises for a nonconformance."""
    spec = spec or spec_for(config)
    sim = Simulator(config)
    checker = Checker(spec, sim)
    try:
        sim.run(ops)
    except Nonconformance as exc:
        decisions = dict(sim.decisions)
        return Outcome(False, exc.report, checker.visited, sim.faults, decisions, exc.trace, exc.mark, exc.allowed)
    decided = set(sim.decisions.values())
    if len(decided) > 1:  # implied by the checks above; kept as the plain statement of agreement
        reason = f"nodes decided different values: {sim.decisions}"
        trace = Trace(spec, list(checker.trace.steps))
        return Outcome(False, reason, checker.visited, sim.faults, dict(sim.decisions), trace, {len(trace): reason})
    return Outcome(True, "", checker.visited, sim.faults, dict(sim.decisions))


def schedules(config: SimConfig, max_size: int = 100):
    """A Hypothesis strategy of schedules for ``config``.

    Deliveries dominate, as they do in a real run: a schedule of mostly
    faults makes no progress and so tests little."""
    from hypothesis import strategies as st

    nodes = config.acceptors + config.ballots
    # Wide indices: taken modulo what is in flight, they pick evenly, where
    # small ones (which Hypothesis favours) would always pick the oldest.
    index = st.integers(0, 2**20)
    node = st.integers(0, nodes - 1)
    build = {
        "run": st.builds(Run, st.integers(1, 12)),
        "deliver": st.builds(Deliver, index),
        "request": st.builds(Request, st.integers(0, config.ballots - 1), st.integers(0, config.values - 1)),
        "drop": st.builds(Drop, index),
        "duplicate": st.builds(Duplicate, index),
        "crash": st.builds(Crash, node),
        "restart": st.builds(Restart, node),
        "fire": st.builds(Fire, node),
    }
    # Listed in the order Hypothesis shrinks towards; repeats weight the draw.
    kinds = ["run", "deliver", "request", "run", "deliver", "request", "drop", "duplicate", "crash", "restart", "fire"]
    op = st.sampled_from(kinds).flatmap(build.__getitem__)
    return st.lists(op, max_size=max_size)


@dataclass
class ConformReport:
    verdict: str  # "ok" or "violation"
    schedules: int
    faults: int
    visited: set[PaxosState]
    failure: str = ""
    schedule: list[Op] | None = None


def conform(config: SimConfig, examples: int = 200, seed: int | None = 0, max_size: int = 100) -> ConformReport:
    """Run ``examples`` Hypothesis schedules; the first failure is shrunk."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as seeded

    spec = spec_for(config)
    stats = {"schedules": 0, "faults": 0}
    visited: set[PaxosState] = set()
    failing: dict[str, Any] = {}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(schedules(config, max_size))
    def one(ops: list[Op]) -> None:
        outcome = run_schedule(config, ops, spec)
        stats["schedules"] += 1
        stats["faults"] += outcome.faults
        visited.update(outcome.visited)
        if not outcome.ok:
            failing["ops"], failing["report"] = list(ops), outcome.report
            raise AssertionError(outcome.report)

    test = seeded(seed)(one) if seed is not None else one
    try:
        test()
    except AssertionError:
        ops = failing["ops"]  # the last failure Hypothesis ran is the shrunk one
        return ConformReport("violation", stats["schedules"], stats["faults"], visited, failing["report"], ops)
    return ConformReport("ok", stats["schedules"], stats["faults"], visited)


# -- spec -> implementation ---------------------------------------------------


@dataclass
class Coverage:
    states: tuple[int, int]  # (realised, reachable)
    transitions: tuple[int, int]
    missed: list[str] = field(default_factory=list)  # a few transitions not realised, for the report


def coverage(config: SimConfig, symmetry: bool = False, limit_missed: int = 5) -> Coverage:
    """Walk the spec's state graph breadth-first and drive the implementation
    along every transition of it. Stutters (a step that changes nothing) are
    not transitions. With ``symmetry``, states and transitions are counted up
    to renaming acceptors and values."""
    from ..explorer.bfs import check

    spec = spec_for(config)
    canon = spec.symmetry if symmetry else (lambda s: s)
    start = Simulator(config)
    s0 = abstract_state(spec, start)
    found: dict[Any, PaxosState] = {canon(s0): s0}  # every spec state the walk reached
    sims: dict[Any, Simulator] = {canon(s0): start}  # the next level's states the implementation realised
    realised: set[Any] = {canon(s0)}
    edges: set[tuple[Any, Any]] = set()
    done: set[tuple[Any, Any]] = set()
    missed: list[str] = []
    frontier = [canon(s0)]
    while frontier:
        level, next_sims = [], {}
        for key in frontier:
            s, sim = found[key], sims.get(key)
            for act, t in spec.next(s):
                edge = (key, canon(t))
                if t == s or edge in edges:
                    continue
                edges.add(edge)
                if edge[1] not in found:
                    found[edge[1]] = t
                    level.append(edge[1])
                if sim is None:
                    continue
                twin = sim.clone()
                if realise(spec, twin, s, act) and canon(abstract_state(spec, twin)) == edge[1]:
                    done.add(edge)
                    realised.add(edge[1])
                    if edge[1] in level and edge[1] not in next_sims:
                        next_sims[edge[1]] = twin
                elif len(missed) < limit_missed:
                    missed.append(f"{act} from {spec.variables(s)}")
        frontier, sims = level, next_sims
    explored = check(spec, [], symmetry=symmetry)
    assert explored.distinct_states == len(found), "the walk and the explorer disagree on the state space"
    return Coverage((len(realised), len(found)), (len(done), len(edges)), missed)


def realise(spec: Paxos, sim: Simulator, s: PaxosState, act: Action) -> bool:
    """Make the implementation take spec step ``act`` from ``s`` (mapped from ``sim``)."""
    p = dict(act.params)
    if act.name == "Phase1a":
        sim.step(Request(p["b"], 0))  # the proposer of ballot b starts it
        return True
    if act.name == "Phase1b":
        return sim.deliver_to(p["a"], lambda m: isinstance(m, Prepare) and m.bal == p["b"])
    if act.name == "Phase2b":
        return sim.deliver_to(p["a"], lambda m: isinstance(m, Accept) and m.bal == p["b"] and m.val == p["v"])
    if act.name == "Phase2a":
        b, v = p["b"], p["v"]
        owner = sim.config.proposer_names[b]
        reports = [m for m in spec.messages(s) if isinstance(m, Msg1b) and m.bal == b]
        for q in sorted(spec.k.quorums, key=len):
            answered = [m for m in reports if m.acc in q]
            if len(answered) == len(q) and v in spec.safe_values(answered):
                if all(m.mbal < 0 for m in answered):  # v is free: it must be what the client asked
                    sim.step(Request(b, sim.config.value_names.index(v)))
                return all(
                    sim.deliver_to(owner, lambda m, a=a: isinstance(m, Promise) and m.bal == b and m.acc == a)
                    for a in sorted(q)
                )
        return False
    return False


__all__ = [
    "ConformReport",
    "Coverage",
    "Crash",
    "Deliver",
    "Drop",
    "Duplicate",
    "Fire",
    "Outcome",
    "Request",
    "Restart",
    "conform",
    "coverage",
    "run_schedule",
    "schedules",
    "show_schedule",
]

"""Conformance of an implementation to its spec, in both directions.

The protocol comes with the configuration (``config.protocol``, an
``impl.protocol.RuntimeProtocol``): its spec, its refinement check, and the
hooks of the coverage walk. Paxos's are in ``impl.paxos``.

Implementation -> spec: Hypothesis generates schedules (deliveries in any
order, drops, duplicates, crashes, restarts, timers, client requests); the
simulator runs the unchanged core along each, and the protocol's checker
(Paxos's: ``impl.paxos.mapping.Checker``) checks every handler run against
the spec. A failure is shrunk by Hypothesis to a short schedule and printed
so that it can be replayed. Then the protocol's directed schedules run
(Paxos's restart ladders reboot each proposer from every promise its own
acceptor can hold, a case random schedules seldom reach).

Spec -> implementation: ``coverage`` walks the spec's state graph and, for
every transition, drives the simulator on purpose (the protocol's
``realise``: delivering exactly the messages the spec action consumes) so
that the implementation makes the same step. It reports spec states and
transitions realised / reachable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..explorer.trace import Trace
from ..spec.base import Action
from .protocol import SimSetup
from .sim import (
    Crash,
    Deliver,
    Drop,
    Duplicate,
    Fire,
    Heal,
    Isolate,
    Op,
    Request,
    Restart,
    Run,
    Simulator,
    show_schedule,
)


class Nonconformance(AssertionError):
    """A run of the implementation left the spec; ``report`` shows where.

    ``trace`` is the spec-level run up to the failing step (that step, when
    it changes the state, labelled ``Implementation``) and ``mark`` says at
    which step it failed and why, as ``trace_table`` and the charts take it."""

    def __init__(
        self, report: str, index: int, allowed: tuple[Action, ...], trace: Trace, mark: dict[int, str]
    ) -> None:
        super().__init__(report)
        self.report = report
        self.index = index
        self.allowed = allowed
        self.trace = trace
        self.mark = mark


def left_the_spec(
    spec: Any, steps: list, before: Any, after: Any, describe: str, reason: str, what: str = "left the spec"
) -> Nonconformance:
    """The failure of a run at the handler run ``describe``: the trace so far
    (``steps``), the step it made (labelled ``Implementation`` when it changes
    the state), why, and the spec actions enabled where it failed."""
    from ..explorer.render import trace_table
    from ..explorer.trace import Step
    from ..spec.base import action

    allowed = tuple(dict.fromkeys(a for a, t in spec.next(before) if t != before))
    steps = [*steps]
    if after != before:
        steps.append(Step(action("Implementation"), after))
    trace, mark = Trace(spec, steps), {len(steps): f"{describe}: {reason}"}
    picture = trace_table(trace, mark)
    shown = ", ".join(map(str, allowed)) or "none"
    report = (
        f"the implementation {what} at step {len(steps)}, when {describe}\n\n{picture}\n\n"
        f"  the spec allowed here: {shown}"
    )
    return Nonconformance(report, len(steps), allowed, trace, mark)


# -- implementation -> spec --------------------------------------------------


@dataclass
class Outcome:
    """How one schedule ran. When it failed, ``trace`` is the spec-level run
    up to the failing step and ``mark`` says where and why, ready for
    ``trace_table`` or a chart; both are None when it conforms."""

    ok: bool
    report: str = ""
    visited: set = field(default_factory=set)
    faults: int = 0
    decisions: dict[str, str] = field(default_factory=dict)
    trace: Trace | None = None
    mark: dict[int, str] | None = None
    allowed: tuple = ()  # the spec actions enabled where the run left the spec
    depth: int = 0  # spec steps the run took (stutters left out)
    actions: Counter = field(default_factory=Counter)  # the spec steps the run took, by action name


HEAL = 200  # deliveries after a schedule's operations, at most


def run_schedule(config: SimSetup, ops: Sequence[Op], spec: Any = None) -> Outcome:
    """Run one schedule, checking every step; never raises for a nonconformance.

    After its operations the network heals: partitions end, and every message still in flight is
    delivered (and those they cause, up to ``HEAL`` deliveries), so that every
    schedule plays out what its faults set up, and goes deep."""
    spec = spec or config.protocol.spec_for(config)
    sim = Simulator(config)
    checker = config.protocol.checker(spec, sim)
    try:
        sim.run(ops)
        sim.step(Heal())
        sim.step(Run(min(HEAL, len(sim.flight) * HEAL)))
    except Nonconformance as exc:
        decisions = dict(sim.decisions)
        return Outcome(False, exc.report, checker.visited, sim.faults, decisions, exc.trace, exc.mark, exc.allowed)
    decided = set(sim.decisions.values())
    if len(decided) > 1:  # implied by the checks above; kept as the plain statement of agreement
        reason = f"nodes decided different values: {sim.decisions}"
        trace = Trace(spec, list(checker.trace.steps))
        return Outcome(False, reason, checker.visited, sim.faults, dict(sim.decisions), trace, {len(trace): reason})
    steps = checker.trace.steps[1:]
    taken = Counter(step.action.name for step in steps)
    return Outcome(True, "", checker.visited, sim.faults, dict(sim.decisions), depth=len(steps), actions=taken)


# The fault kinds a schedule may enable, each with the operations it brings (a configuration may name
# others among those ``schedules`` builds, as ``fault_kinds``).
MIN_OPS = 8  # Hypothesis averages about min_size + 5 operations: enough to go deep
FAULT_KINDS = ("loss", "duplication", "crashes", "timers", "competition")


def schedules(config: SimSetup, max_size: int = 100):
    """A Hypothesis strategy of schedules for ``config``.

    Swarm testing (Groce et al., ISSTA 2012): each schedule first picks the
    fault kinds it enables (message loss, duplication, crashes with restarts,
    timers, requests to several proposers; partitions, for a configuration
    whose ``fault_kinds`` name them), then draws its operations from
    those alone. A schedule with every kind at once spreads thin (about one
    fault each); one with two kinds gets deep into what they do together.
    Deliveries dominate, as they do in a real run: a schedule of mostly
    faults makes no progress and so tests little."""
    from hypothesis import strategies as st

    nodes, clients = len(config.node_names), len(config.client_names)
    # Wide indices: taken modulo what is in flight, they pick evenly, where
    # small ones (which Hypothesis favours) would always pick the oldest.
    index = st.integers(0, 2**20)
    node = st.integers(0, nodes - 1)
    value = st.integers(0, len(config.request_values) - 1)
    build = {
        "run": st.builds(Run, st.integers(1, 12)),
        "deliver": st.builds(Deliver, index),
        "request": st.builds(Request, st.just(0), value),
        "loss": st.builds(Drop, index),
        "duplication": st.builds(Duplicate, index),
        # a crash, a restart, or both at once (a reboot: the node comes back with only its store)
        "crashes": st.one_of(
            st.builds(Crash, node), st.builds(Restart, node), node.map(lambda n: [Crash(n), Restart(n)])
        ),
        "timers": st.builds(Fire, st.sampled_from([config.node_names.index(n) for n in config.timer_names])),
        "competition": st.builds(Request, st.integers(0, clients - 1), value),
        # a node cut off from the others, or the partitions healed
        "partitions": st.one_of(st.builds(Isolate, node), st.just(Heal())),
    }
    fault_kinds = getattr(config, "fault_kinds", FAULT_KINDS)

    def ops(enabled: frozenset[str]):
        # Listed in the order Hypothesis shrinks towards; repeats weight the draw.
        kinds = ["run", "deliver", "request", "run", "deliver"] + [k for k in fault_kinds if k in enabled] * 2
        drawn = st.lists(st.sampled_from(kinds).flatmap(build.__getitem__), min_size=MIN_OPS, max_size=max_size)
        return drawn.map(lambda ops: [o for op in ops for o in (op if isinstance(op, list) else [op])])

    enabled = st.frozensets(st.sampled_from(fault_kinds))
    always = frozenset(getattr(config, "always_enabled", ()))  # the kinds a protocol's runs need in every schedule
    return (enabled.map(always.union) if always else enabled).flatmap(ops)


@dataclass
class ConformReport:
    verdict: str  # "ok" or "violation"
    schedules: int
    faults: int
    visited: set
    failure: str = ""
    schedule: list[Op] | None = None
    visited_sym: set = field(default_factory=set)  # the same states, up to symmetry
    depth: int = 0  # the most spec steps one run took
    actions: Counter = field(default_factory=Counter)  # the spec steps the runs took, by action name


def conform(config: SimSetup, examples: int = 200, seed: int | None = 0, max_size: int = 100) -> ConformReport:
    """Run ``examples`` Hypothesis schedules; the first failure is shrunk.
    When they all conform, the protocol's directed schedules run (and the
    first that fails is pruned); the figures of the report count the random
    schedules alone."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as seeded

    spec = config.protocol.spec_for(config)
    stats = {"schedules": 0, "faults": 0, "depth": 0}
    visited: set = set()
    actions: Counter = Counter()
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
        stats["depth"] = max(stats["depth"], outcome.depth)
        actions.update(outcome.actions)
        if not outcome.ok:
            failing["ops"], failing["report"] = list(ops), outcome.report
            raise AssertionError(outcome.report)

    test = seeded(seed)(one) if seed is not None else one
    with same_generation_everywhere():
        try:
            test()
        except AssertionError:
            pass  # failing["ops"] is the last failure Hypothesis ran: the shrunk one
    if "ops" not in failing:  # the random schedules conform: the directed ones, each run and checked alike
        directed = config.protocol.directed_schedules(config)
        failing["ops"] = next((ops for ops in directed if not run_schedule(config, ops, spec).ok), None)
    if failing["ops"] is not None:
        ops = _pruned(config, failing["ops"], spec)
        verdict, failure = "violation", run_schedule(config, ops, spec).report
    else:
        ops, verdict, failure = None, "ok", ""
    sym = set(map(spec.symmetry, visited)) if spec.symmetry else set(visited)  # a spec may have no symmetry
    depth = stats["depth"]
    return ConformReport(verdict, stats["schedules"], stats["faults"], visited, failure, ops, sym, depth, actions)


def _pruned(config: SimSetup, ops: list[Op], spec: Any) -> list[Op]:
    """``ops`` without the operations the failure does not need. Schedules have
    at least ``MIN_OPS`` operations, so Hypothesis pads a short failing one
    with operations that do nothing; they would only clutter the replay."""
    i = 0
    while i < len(ops):
        shorter = ops[:i] + ops[i + 1 :]
        if not run_schedule(config, shorter, spec).ok:
            ops = shorter
        else:
            i += 1
    return ops


@contextmanager
def same_generation_everywhere():
    """Make Hypothesis draw the same schedules for a seed wherever paxoscope
    is installed. Hypothesis mixes into its draws integer and string constants
    mined from the source of "local" modules: those loaded from outside
    site-packages. An editable install is local and a regular one is not, so
    the same --seed generated different schedules, and could reach a different
    verdict. With no local constants, the draws depend on the seed alone."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without that module mines nothing
        yield
        return
    mine = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if mine is None or cache is None or not hasattr(providers, "Constants"):  # pragma: no cover - nothing mined
        yield
        return
    # no local constants, and a fresh cache of the pools built from them
    providers._get_local_constants, providers.CONSTANTS_CACHE = providers.Constants, type(cache)(cache.max_size)
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = mine, cache


# -- spec -> implementation ---------------------------------------------------


@dataclass
class Coverage:
    states: tuple[int, int]  # (realised, reachable)
    transitions: tuple[int, int]
    missed: list[str] = field(default_factory=list)  # a few transitions not realised, for the report
    handlers: int = 0  # handler runs the walk drove and checked, beyond realising transitions
    failure: str = ""  # the first step that broke the spec or an obligation, as Nonconformance reports it
    trace: Trace | None = None
    mark: dict[int, str] | None = None
    allowed: tuple = ()


def coverage(config: SimSetup, symmetry: bool = False, limit_missed: int = 5) -> Coverage:
    """Walk the spec's state graph breadth-first and drive the implementation
    along every transition of it. Stutters (a step that changes nothing) are
    not transitions. With ``symmetry``, states and transitions are counted up
    to renaming acceptors and values.

    Every handler run of the walk is checked as a random run's is (the spec's
    step, the implementation's obligations); and at each state it realises,
    the walk also drives the handlers that no spec transition needs (the
    protocol's ``drive_other_handlers``: for Paxos, every learner receives
    every vote in flight, every proposer's timer fires and every refusal and
    rejection is delivered, and every node restarts from its store and
    proposes again). The first failure stops the walk and is returned in
    ``failure``."""
    from ..explorer.bfs import check

    protocol = config.protocol
    spec = protocol.spec_for(config)
    canon = spec.symmetry if symmetry and spec.symmetry else (lambda s: s)
    start = Simulator(config)
    root = protocol.checker(spec, start)
    s0 = root.trace.steps[-1].state
    found: dict[Any, Any] = {canon(s0): s0}  # every spec state the walk reached
    sims: dict[Any, Simulator] = {canon(s0): start}  # the next level's states the implementation realised
    realised: set[Any] = {canon(s0)}
    edges: set[tuple[Any, Any]] = set()
    done: set[tuple[Any, Any]] = set()
    missed: list[str] = []
    frontier = [canon(s0)]
    handlers = 0
    restarted: set = set()
    try:
        while frontier:
            level, in_level, next_sims = [], set(), {}
            for key in frontier:
                sim = sims.get(key)
                s = sim.observer.trace.steps[-1].state if sim is not None else found[key]
                if sim is not None:
                    handlers += protocol.drive_other_handlers(sim, restarted)
                for t, act in root.next_states(s).items():
                    edge = (key, canon(t))
                    if t == s or edge in edges:
                        continue
                    edges.add(edge)
                    if edge[1] not in found:
                        found[edge[1]] = t
                        level.append(edge[1])
                        in_level.add(edge[1])
                    if sim is None:
                        continue
                    twin = fork(sim)
                    if protocol.realise(spec, twin, s, act) and canon(twin.observer.trace.steps[-1].state) == edge[1]:
                        done.add(edge)
                        realised.add(edge[1])
                        if edge[1] in in_level and edge[1] not in next_sims:
                            next_sims[edge[1]] = twin
                    elif len(missed) < limit_missed:
                        missed.append(f"{act} from {spec.variables(s)}")
            frontier, sims = level, next_sims
    except Nonconformance as exc:
        return Coverage(
            (len(realised), len(found)), (len(done), len(edges)), missed, handlers, exc.report, exc.trace, exc.mark,
            exc.allowed,
        )  # fmt: skip
    explored = check(spec, [], symmetry=symmetry)
    assert explored.distinct_states == len(found), "the walk and the explorer disagree on the state space"
    return Coverage((len(realised), len(found)), (len(done), len(edges)), missed, handlers)


def fork(sim: Simulator) -> Simulator:
    """A clone of ``sim`` observed by a fork of its checker."""
    twin = sim.clone()
    sim.observer.fork(twin)
    return twin


__all__ = [
    "Nonconformance",
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

"""The refinement mapping from the implementation to the spec, and the check
that every step of a run is a step of the spec.

The mapping, as DESIGN.md fixes it:

- the spec's ``msgs`` is every protocol message any node has sent (the copies
  to each destination are one message, as in Paxos.tla), except ``Rejected``:
  a hint to a proposer that the spec has no name for, so a step that only
  sends one is a stutter;
- an acceptor's maxBal, maxVBal and maxVal are what its *durable* store
  holds: what a crash cannot take away.

After every handler run, the mapped state must equal the previous one (a
stutter) or be a successor under one spec action; every value a learner
decides must be chosen in the mapped state. The first step that is neither
stops the run with a ``Nonconformance`` that carries the trace in the
explorer's picture, the trace itself with the failing step marked (for a
chart), and the actions the spec allowed there.
"""

from __future__ import annotations

from ..explorer.render import trace_table
from ..explorer.trace import Step, Trace
from ..spec.base import Action, action
from ..spec.paxos import Msg1a, Msg1b, Msg2a, Msg2b, Paxos, PaxosState
from .messages import Accept, Accepted, Message, Prepare, Promise
from .sim import HandlerRun, SimConfig, Simulator


def spec_for(config: SimConfig) -> Paxos:
    return Paxos(acceptors=config.acceptors, values=config.values, ballots=config.ballots)


# The messages the spec's ``msgs`` holds; the others (``Rejected``) are outside the mapping.
SPEC_MESSAGES = (Prepare, Promise, Accept, Accepted)


def spec_message(m: Message):
    """The spec's name for a protocol message: a renaming, field for field."""
    if isinstance(m, Prepare):
        return Msg1a(m.bal)
    if isinstance(m, Promise):
        return Msg1b(m.acc, m.bal, m.mbal, m.mval)
    if isinstance(m, Accept):
        return Msg2a(m.bal, m.val)
    if isinstance(m, Accepted):
        return Msg2b(m.acc, m.bal, m.val)
    raise TypeError(f"{m!r} is not a protocol message")


def abstract_state(spec: Paxos, sim: Simulator) -> PaxosState:
    """The spec state a simulator stands for."""
    stores = [sim.disk[a] for a in spec.k.acceptors]
    return spec.state(
        max_bal=[s.max_bal for s in stores],
        max_vbal=[s.max_vbal for s in stores],
        max_val=[s.max_val for s in stores],
        msgs={spec_message(m) for m in sim.sent if isinstance(m, SPEC_MESSAGES)},
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


class Checker:
    """Observes a simulator and checks each handler run against the spec.

    ``trace`` keeps the spec-level behaviour so far (stutters left out), each
    step labelled with the spec action it matched; ``visited`` every spec
    state the run passed through (for coverage)."""

    def __init__(self, spec: Paxos, sim: Simulator):
        self.spec = spec
        self.acceptors = spec.k.acceptors
        start = abstract_state(spec, sim)
        self.msgs = start.msgs  # kept up to date from each run's sends: abstract_state, incrementally
        self.trace = Trace(spec, [Step(None, start)])
        self.visited: set[PaxosState] = {start}
        sim.observer = self

    def __call__(self, sim: Simulator, run: HandlerRun) -> None:
        before = self.trace.steps[-1].state
        try:
            for _dst, m in run.effects.send:
                if isinstance(m, SPEC_MESSAGES):
                    self.msgs |= self.spec.table.bit[spec_message(m)]
        except KeyError as exc:  # a message the spec cannot even express
            self._fail(before, before, run, f"it sends what the spec cannot express: {exc}")
        stores = [sim.disk[a] for a in self.acceptors]
        acc = self.spec.codec.encode(
            [s.max_bal for s in stores], [s.max_vbal for s in stores], [s.max_val for s in stores]
        )
        after = PaxosState(acc, self.msgs)
        if after != before:
            matched = next((a for a, t in self.spec.next(before) if t == after), None)
            if matched is None:
                self._fail(before, after, run, "no action of the spec makes this step")
            self.trace.steps.append(Step(matched, after))
            self.visited.add(after)
        if run.effects.decide is not None and run.effects.decide not in self.spec.chosen(after.msgs):
            self._fail(before, after, run, f"{run.node} decides {run.effects.decide}, which is not chosen")

    def _fail(self, before: PaxosState, after: PaxosState, run: HandlerRun, reason: str) -> None:
        allowed = tuple(dict.fromkeys(a for a, t in self.spec.next(before) if t != before))
        steps = [*self.trace.steps]
        if after != before:
            steps.append(Step(action("Implementation"), after))
        trace, mark = Trace(self.spec, steps), {len(steps): f"{run.describe}: {reason}"}
        picture = trace_table(trace, mark)
        shown = ", ".join(map(str, allowed)) or "none"
        report = (
            f"the implementation left the spec at step {len(steps)}, when {run.describe}\n\n{picture}\n\n"
            f"  the spec allowed here: {shown}"
        )
        raise Nonconformance(report, len(steps), allowed, trace, mark)

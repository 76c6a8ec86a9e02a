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
decides must be chosen in the mapped state. The refinement also rests on
obligations the spec leaves to the implementation (``Obligations``): a
proposer runs only ballots it owns, each above the last, so that "one 2a per
ballot" holds; what a node keeps in memory is what its store holds; and the
protocol makes progress where it can (a quorum of promises is followed by a
2a, a quorum of votes by a decision, a refusal by a rejection, a rejection or
a timeout by the least higher ballot the proposer owns). The first step that is neither
stops the run with a ``Nonconformance`` that carries the trace in the
explorer's picture, the trace itself with the failing step marked (for a
chart), and the actions the spec allowed there.
"""

from __future__ import annotations

import copy

from ...explorer.trace import Step, Trace
from ...spec.base import Action
from ...spec.paxos import Msg1a, Msg1b, Msg2a, Msg2b, Paxos, PaxosState
from ..conformance import left_the_spec
from ..protocol import ClientRequest, Receive, Timeout
from ..sim import HandlerRun, Restarted, Simulator
from .config import SimConfig
from .messages import Accept, Accepted, Message, Prepare, Promise, Rejected


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


class Checker:
    """Observes a simulator and checks each handler run against the spec.

    ``trace`` keeps the spec-level behaviour so far (stutters left out), each
    step labelled with the spec action it matched; ``visited`` every spec
    state the run passed through (for coverage)."""

    def __init__(self, spec: Paxos, sim: Simulator, successors: dict | None = None):
        self.spec = spec
        self.acceptors = spec.k.acceptors
        start = abstract_state(spec, sim)
        self.msgs = start.msgs  # kept up to date from each run's sends: abstract_state, incrementally
        self.trace = Trace(spec, [Step(None, start)])
        self.visited: set[PaxosState] = {start}
        self.obligations = Obligations(sim.config)
        self.successors = {} if successors is None else successors  # state -> {successor: action}, a cache
        self.runs = 0  # handler runs checked
        sim.observer = self

    def fork(self, twin: Simulator) -> Checker:
        """A checker for ``twin``, a clone of the simulator this one observes,
        that goes on from here (the coverage walk forks one per transition)."""
        other = copy.copy(self)
        other.trace = Trace(self.spec, list(self.trace.steps))
        other.visited = set()
        other.obligations = self.obligations.copy()
        twin.observer = other
        return other

    def next_states(self, state: PaxosState) -> dict[PaxosState, Action]:
        """Every successor of ``state`` under the spec, with an action that makes it."""
        found = self.successors.get(state)
        if found is None:
            found = {}
            for act, t in self.spec.next(state):
                found.setdefault(t, act)
            self.successors[state] = found
        return found

    def __call__(self, sim: Simulator, run: HandlerRun) -> None:
        self.runs += 1
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
            matched = self.next_states(before).get(after)
            if matched is None:
                self._fail(before, after, run, "no action of the spec makes this step")
            self.trace.steps.append(Step(matched, after))
            self.visited.add(after)
        if run.effects.decide is not None and run.effects.decide not in self.spec.chosen(after.msgs):
            self._fail(before, after, run, f"{run.node} decides {run.effects.decide}, which is not chosen")
        broken = self.obligations.check(sim, run)
        if broken is not None:
            self._fail(before, after, run, broken, "broke an obligation of the implementation")

    def _fail(
        self, before: PaxosState, after: PaxosState, run: HandlerRun, reason: str, what: str = "left the spec"
    ) -> None:
        raise left_the_spec(self.spec, self.trace.steps, before, after, run.describe, reason, what)


def least_owned_above(config: SimConfig, proposer: str, floor: int) -> int:
    """The least ballot above ``floor`` that ``proposer`` owns (proposer i of P owns i, i+P, ...)."""
    owners = config.proposer_names
    return floor + 1 + (owners.index(proposer) - floor - 1) % len(owners)


class Obligations:
    """What the implementation owes beyond the spec's steps, checked after each
    handler run. The spec has one 2a per ballot because each ballot has one
    owner that proposes once in it; the mapping reads the acceptors' stores, so
    memory must agree with them; and the protocol must take the steps that
    make progress. Each node's record starts afresh when it restarts, as the
    node's own memory does."""

    def __init__(self, config: SimConfig):
        self.config = config
        acc = config.acceptor_names
        self.quorums = [frozenset(q) for q in _subsets(acc) if 2 * len(q) > len(acc)]
        self.ballot: dict[str, int] = {}  # the ballot each proposer runs (the last 1a it sent)
        self.promises: dict[str, dict[str, Promise]] = {}  # promises for that ballot
        self.proposed: set[str] = set()  # proposers that sent their 2a in that ballot
        self.asked: dict[str, str] = {}  # the latest value a client asked each proposer for
        self.votes: dict[str, set[tuple[str, int, str]]] = {}  # the 2b each learner received
        self.decided: dict[str, str] = {}  # what each learner decided

    def copy(self) -> Obligations:
        twin = copy.copy(self)
        twin.ballot, twin.asked = dict(self.ballot), dict(self.asked)
        twin.promises = {n: dict(p) for n, p in self.promises.items()}
        twin.votes = {n: set(v) for n, v in self.votes.items()}
        twin.proposed, twin.decided = set(self.proposed), dict(self.decided)
        return twin

    def check(self, sim: Simulator, run: HandlerRun) -> str | None:
        """Why ``run`` breaks an obligation, or None."""
        n = run.node
        if isinstance(run.event, Restarted):
            self._forget(n)
        stored = sim.pending.get(n, sim.disk.get(n))
        memory = sim.nodes[n].acceptor.state if sim.nodes[n].acceptor is not None else None
        if memory != stored:
            return f"{n} holds {memory} in memory but its store holds {stored}"
        for check in (self._ballots, self._proposal, self._acceptor, self._learner):
            broken = check(sim, run)
            if broken is not None:
                return broken
        return None

    def _forget(self, n: str) -> None:
        self.ballot.pop(n, None)
        self.promises.pop(n, None)
        self.proposed.discard(n)
        self.asked.pop(n, None)
        self.votes.pop(n, None)
        self.decided.pop(n, None)

    def _sent(self, run: HandlerRun, kind: type) -> list[tuple[str, Message]]:
        return [(d, m) for d, m in run.effects.send if isinstance(m, kind)]

    def _ballots(self, sim: Simulator, run: HandlerRun) -> str | None:
        """A proposer starts only ballots it owns, each above the last, to every
        acceptor with its timer armed; and it starts one exactly when it should:
        a client's first request, a timeout, or a rejection above its ballot."""
        n, event, acceptors = run.node, run.event, set(self.config.acceptor_names)
        prepares = self._sent(run, Prepare)
        owner = n in self.config.proposer_names
        if prepares and not owner:
            return f"{n} sends a 1a but proposes nothing"
        ballots = {m.bal for _, m in prepares}
        if len(ballots) > 1 or (prepares and sorted(d for d, _ in prepares) != sorted(acceptors)):
            return f"{n} starts a ballot other than by one 1a to each acceptor: {prepares}"
        if bool(prepares) != run.effects.timer:  # re-armed on other events, it would never fire under traffic
            what = "starts a ballot without arming" if prepares else "arms, without starting a ballot,"
            return f"{n} {what} its retry timer"
        if not owner:
            return None
        if isinstance(event, ClientRequest):
            self.asked[n] = event.value
        expected = self._expected_ballot(sim, run)
        started = next(iter(ballots), None)
        if started is not None and started != expected:
            why = "it does not own it" if least_owned_above(self.config, n, started - 1) != started else ""
            why = why or f"the least ballot it owns above what it knows is {expected}"
            return f"{n} starts ballot {started}, but {why}"
        if started is None and expected is not None and expected < self.config.ballots:
            return f"{n} should start ballot {expected} here and does not"
        if started is not None:
            self.ballot[n], self.promises[n] = started, {}
            self.proposed.discard(n)
        return None

    def _expected_ballot(self, sim: Simulator, run: HandlerRun) -> int | None:
        """The ballot the proposer must start on this event, or None (none to start)."""
        n, event = run.node, run.event
        if n in self.decided or n not in self.asked:
            return None
        current = self.ballot.get(n)
        own = sim.disk[n].max_bal if n in sim.disk else -1
        if isinstance(event, ClientRequest):
            return None if current is not None else least_owned_above(self.config, n, own)
        if isinstance(event, Timeout):
            return least_owned_above(self.config, n, max(own, -1 if current is None else current))
        if isinstance(event, Receive) and isinstance(event.msg, Rejected):
            m = event.msg
            if current is not None and m.bal == current and m.max_bal > current:
                return least_owned_above(self.config, n, m.max_bal)
        return None

    def _proposal(self, sim: Simulator, run: HandlerRun) -> str | None:
        """A proposer sends one 2a in its ballot, to every acceptor, as soon as a
        quorum promised it; with the client's value when none reports a vote."""
        n, event = run.node, run.event
        accepts = self._sent(run, Accept)
        if isinstance(event, Receive) and isinstance(event.msg, Promise) and event.msg.bal == self.ballot.get(n):
            self.promises.setdefault(n, {})[event.msg.acc] = event.msg
        if not accepts:
            if self._quorum_promised(n) and n not in self.proposed:
                return f"{n} has a quorum of promises for ballot {self.ballot[n]} and sends no 2a"
            return None
        if n in self.proposed or not self._quorum_promised(n):
            return f"{n} sends a 2a without a new quorum of promises for its ballot"
        values = {(m.bal, m.val) for _, m in accepts}
        if len(values) > 1 or sorted(d for d, _ in accepts) != sorted(self.config.acceptor_names):
            return f"{n} proposes other than by one 2a to each acceptor: {accepts}"
        bal, val = next(iter(values))
        if bal != self.ballot[n]:
            return f"{n} proposes in ballot {bal}, not in the ballot {self.ballot[n]} it runs"
        free = all(p.mbal < 0 for p in self.promises[n].values())
        if free and val != self.asked.get(n):
            return f"{n} proposes {val} in a free ballot, not {self.asked.get(n)}, the value a client asked for"
        self.proposed.add(n)
        return None

    def _quorum_promised(self, n: str) -> bool:
        if n not in self.ballot:
            return False
        return any(q <= self.promises.get(n, {}).keys() for q in self.quorums)

    def _acceptor(self, sim: Simulator, run: HandlerRun) -> str | None:
        """An acceptor answers a 1a or 2a it takes to the sender (a vote to every
        learner), and one it refuses with a rejection that says its promise."""
        n, event, before = run.node, run.event, run.before
        rejections = self._sent(run, Rejected)
        msg = event.msg if isinstance(event, Receive) else None
        if before is None or not isinstance(msg, Prepare | Accept):
            return f"{n} sends a rejection, but it refused nothing" if rejections else None
        refused = msg.bal <= before.max_bal if isinstance(msg, Prepare) else msg.bal < before.max_bal
        if "accept-lower-ballot" in self.config.bugs and isinstance(msg, Accept):
            refused = False  # the bug this variant shows; the spec's step check catches it
        if refused:
            expected = [(event.src, Rejected(n, msg.bal, before.max_bal))]
            if run.effects.send != expected:
                return f"{n} refuses ballot {msg.bal} and answers {run.effects.send}, not {expected}"
            return None
        if rejections:
            return f"{n} rejects ballot {msg.bal}, which it may take"
        if isinstance(msg, Prepare):
            promises = self._sent(run, Promise)
            if [d for d, _ in promises] != [event.src] or len(run.effects.send) != 1:
                return f"{n} answers a 1a with {run.effects.send}, not one promise to {event.src}"
        else:
            votes = self._sent(run, Accepted)
            if sorted(d for d, _ in votes) != sorted(self.config.node_names) or len(run.effects.send) != len(votes):
                return f"{n} votes with {run.effects.send}, not one 2b to each learner"
        return None

    def _learner(self, sim: Simulator, run: HandlerRun) -> str | None:
        """A learner decides once, exactly when the votes it received show a
        quorum for one value in one ballot."""
        n, event = run.node, run.event
        decide = run.effects.decide
        if isinstance(event, Receive) and isinstance(event.msg, Accepted):
            m = event.msg
            self.votes.setdefault(n, set()).add((m.acc, m.bal, m.val))
        elif decide is not None:
            return f"{n} decides {decide} on an event that is not a vote"
        shown = self._chosen_by(self.votes.get(n, set()))
        if sim.nodes[n].decided != (decide if decide is not None else self.decided.get(n)):
            return f"{n} says it decided {sim.nodes[n].decided!r}, but it decided {self.decided.get(n, decide)!r}"
        if n in self.decided:
            return f"{n} decides again" if decide is not None else None
        if decide is None and shown:
            return f"{n} received a quorum of votes for {sorted(shown)[0]} in one ballot and decides nothing"
        if decide is not None and decide not in shown:
            return f"{n} decides {decide} without a quorum of votes for it in one ballot"
        if decide is not None:
            self.decided[n] = decide
        return None

    def _chosen_by(self, votes: set[tuple[str, int, str]]) -> set[str]:
        by_ballot: dict[tuple[int, str], set[str]] = {}
        for acc, bal, val in votes:
            by_ballot.setdefault((bal, val), set()).add(acc)
        return {val for (_, val), accs in by_ballot.items() if any(q <= accs for q in self.quorums)}


def _subsets(items: tuple[str, ...]):
    from itertools import chain, combinations

    return chain.from_iterable(combinations(items, k) for k in range(len(items) + 1))

"""Single-decree Paxos with its proposers as processes that retry forever: the
model in which FLP's livelock can be seen, and the stable leader that escapes it.

Paxos.tla bounds its ballots, so each of its behaviours ends, and under
fairness its highest ballot always wins: no bounded model can show two
proposers preempting each other *forever*. Here ballots are unbounded. A
proposer that hears of a higher ballot starts one above every ballot there is.
Paxos compares ballots and never counts them, so the state keeps only their
order: it is finite, and two states that differ only in how far the numbers
have climbed are one. That is what makes the duel a cycle.

Only the order of a ballot against the proposers' current ballots matters,
in fact: an acceptor's old promise is compared with nothing else. So the
state keeps each proposer's ballot by its rank, and each acceptor's by where
it lies among them (``p1``: p1's current ballot; ``below p1``: an older
one, below p1's and above the others; ``below all``: below them all, or none).

Every proposer proposes the same value: which value wins is a question of
safety, and ``paxos`` answers it; whether one wins is this spec's question.
Actions (each a process's step; a message is delivered in the step that acts
on it, and one delivered too late is one never delivered):

- ``StartBallot(p)``: an idle or preempted proposer starts a ballot above all;
- ``Promise(a, p)``: acceptor ``a`` promises ``p``'s ballot (above its own);
  with a quorum of promises, ``p`` asks for votes at once;
- ``Accept(a, p)``: ``a`` votes in ``p``'s ballot unless it promised higher;
  a quorum of votes in one ballot chooses the value.

Fairness: every process keeps taking its steps and every message is
delivered (weak fairness on each action, for each acceptor and proposer).
``EventuallyChosen`` still fails: FLP (Fischer, Lynch and Paterson, 1985)
says no deterministic protocol can guarantee that consensus terminates in an
asynchronous system with one faulty process, and here the failure needs no
fault at all. With ``stable_leader``, from some moment on (``Stabilize``,
itself fair) only p1 may start ballots: the "eventually one leader" that real
systems obtain from timeouts (Chandra and Toueg's Omega), and then a value is
always chosen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from .base import Action, Arrow, Chart, Frame, Spec, action, eventually, except_at, weak
from .constants import ConfigError

#: A ballot by its place: proposer i's current ballot of rank r is 2r+1; a
#: ballot no proposer holds any more, with k current ballots below it, is 2k.
NONE = 0


class Acceptor(NamedTuple):
    promised: int  # the highest ballot promised or voted in, by its place
    voted: bool  # voted in that ballot


class Proposer(NamedTuple):
    ballot: int  # by its place (NONE: idle)
    phase: str  # "idle", "1" (gathering promises) or "2" (gathering votes)
    heard: int  # promises (phase 1) or votes (phase 2) received


class ProposersState(NamedTuple):
    acceptors: tuple[Acceptor, ...]
    proposers: tuple[Proposer, ...]
    chosen: bool
    stable: bool  # from now on only the leader, p1, starts ballots


IDLE = Proposer(NONE, "idle", 0)


def _count(name: str, n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"--{name} must be a whole number of at least 1, not {n!r}")
    return n


class PaxosProposers(Spec):
    name = "paxos-proposers"
    actions = ("StartBallot", "Promise", "Accept")
    default_properties = ("ChosenStaysChosen",)

    def __init__(self, acceptors: int = 3, proposers: int = 2, stable_leader: bool = False):
        self.acceptor_names = tuple(f"a{i + 1}" for i in range(_count("acceptors", acceptors)))
        self.proposer_names = tuple(f"p{i + 1}" for i in range(_count("proposers", proposers)))
        self.quorum = len(self.acceptor_names) // 2 + 1
        self.stable_leader = stable_leader
        # Every process keeps taking its steps; every message is delivered.
        fair = [weak("StartBallot", "p"), weak("Promise", "a", "p"), weak("Accept", "a", "p")]
        if stable_leader:
            self.actions = (*PaxosProposers.actions, "Stabilize")
            fair.append(weak("Stabilize"))
        self.fairness = tuple(fair)

    def init(self) -> Iterator[ProposersState]:
        acceptors = (Acceptor(NONE, False),) * len(self.acceptor_names)
        yield ProposersState(acceptors, (IDLE,) * len(self.proposer_names), False, False)

    def next(self, s: ProposersState) -> Iterator[tuple[Action, ProposersState]]:
        highest = max(a.promised for a in s.acceptors)
        for i, (p, name) in enumerate(zip(s.proposers, self.proposer_names)):
            if (p.phase == "idle" or highest > p.ballot) and (i == 0 or not s.stable):
                yield action("StartBallot", p=name), self.start_ballot(s, i)
            for j, a in enumerate(s.acceptors):
                if p.phase == "1" and p.ballot > a.promised:
                    yield action("Promise", a=self.acceptor_names[j], p=name), self.promise(s, j, i)
                if p.phase == "2" and p.ballot >= a.promised and not (a.voted and a.promised == p.ballot):
                    yield action("Accept", a=self.acceptor_names[j], p=name), self.accept(s, j, i)
        if self.stable_leader and not s.stable:
            yield action("Stabilize"), s._replace(stable=True)

    def start_ballot(self, s: ProposersState, i: int) -> ProposersState:
        top = max([*(p.ballot for p in s.proposers), *(a.promised for a in s.acceptors)])
        started = Proposer(top + 2 - top % 2, "1", 0)  # above every ballot there is
        return _placed(s._replace(proposers=except_at(s.proposers, i, started)))

    def promise(self, s: ProposersState, j: int, i: int) -> ProposersState:
        p = s.proposers[i]
        acceptors = except_at(s.acceptors, j, Acceptor(p.ballot, False))
        p = p._replace(heard=p.heard + 1) if p.heard + 1 < self.quorum else p._replace(phase="2", heard=0)
        return s._replace(acceptors=acceptors, proposers=except_at(s.proposers, i, p))

    def accept(self, s: ProposersState, j: int, i: int) -> ProposersState:
        p = s.proposers[i]._replace(heard=s.proposers[i].heard + 1)
        acceptors = except_at(s.acceptors, j, Acceptor(p.ballot, True))
        chosen = s.chosen or p.heard >= self.quorum
        return s._replace(acceptors=acceptors, proposers=except_at(s.proposers, i, p), chosen=chosen)

    @property
    def action_properties(self):
        return {"ChosenStaysChosen": lambda s, _a, t: t.chosen or not s.chosen}

    @property
    def liveness(self):
        return {"EventuallyChosen": eventually(lambda s: s.chosen)}

    @property
    def config(self) -> dict[str, Any]:
        config = {"acceptors": len(self.acceptor_names), "proposers": len(self.proposer_names)}
        return {**config, "stable_leader": "p1"} if self.stable_leader else config

    def variables(self, s: ProposersState) -> dict[str, Any]:
        owners = {p.ballot: name for name, p in zip(self.proposer_names, s.proposers) if p.phase != "idle"}
        shown = {
            "ballots": " < ".join(owners[b] for b in sorted(owners)) or "none",
            "promised": {
                a: _place(x.promised, owners) + " (voted)" * x.voted for a, x in zip(self.acceptor_names, s.acceptors)
            },
            "proposer": {name: _proposer(p) for name, p in zip(self.proposer_names, s.proposers)},
            "chosen": s.chosen,
        }
        return {**shown, "stable": s.stable} if self.stable_leader else shown

    def chart(self, steps: Sequence[tuple[Action | None, ProposersState]]) -> Chart:
        """A lane per proposer and per acceptor: a new ballot is a prepare to every
        acceptor, a promise and a vote go from the acceptor to the proposer."""
        frames = []
        for act, state in steps:
            view = self.variables(state)
            beside = {**view["proposer"], **view["promised"]}
            notes = {"ballots": view["ballots"], "chosen": view["chosen"]}
            frames.append(Frame({lane: {lane: text} for lane, text in beside.items()}, notes, self._arrows(act)))
        return Chart((*self.proposer_names, *self.acceptor_names), tuple(frames), ("prepare", "promise", "vote"))

    def _arrows(self, act: Action | None) -> tuple[Arrow, ...]:
        if act is None or act.name not in ("StartBallot", "Promise", "Accept"):
            return ()
        if act.name == "StartBallot":
            return (Arrow("prepare", act.param("p"), self.acceptor_names, "prepare a higher ballot"),)
        kind = "promise" if act.name == "Promise" else "vote"
        return (Arrow(kind, act.param("a"), (act.param("p"),), kind),)


def _placed(s: ProposersState) -> ProposersState:
    """``s`` with every ballot by its place (see NONE): only how ballots compare
    with the proposers' current ones decides what can happen next."""
    current = sorted({p.ballot for p in s.proposers if p.phase != "idle"})
    rank = {b: 2 * r + 1 for r, b in enumerate(current)}

    def place(b: int) -> int:
        return rank.get(b) or 2 * sum(c < b for c in current)

    acceptors = tuple(Acceptor(place(a.promised), a.voted and a.promised in rank) for a in s.acceptors)
    proposers = tuple(p._replace(ballot=place(p.ballot)) if p.phase != "idle" else p for p in s.proposers)
    return s._replace(acceptors=acceptors, proposers=proposers)


def _place(b: int, owners: dict[int, str]) -> str:
    """An acceptor's ballot in words: a proposer's current one, or where an old one lies."""
    if b in owners:
        return owners[b]
    above = [owners[c] for c in sorted(owners) if c > b]
    return f"below {above[0]}" if above and len(above) < len(owners) else "below all"


def _proposer(p: Proposer) -> str:
    if p.phase == "idle":
        return "idle"
    return f"phase {p.phase}, {p.heard} {'promise' if p.phase == '1' else 'vote'}{'s' * (p.heard != 1)}"

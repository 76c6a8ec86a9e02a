"""Single-decree Paxos to read: Lamport's Paxos.tla, line for line.

This is the spec to learn Paxos from. ``spec/paxos.py`` is the same
protocol encoded for speed (a state in two ints, effects as table lookups);
``paxoscope check`` runs that one, and the tests check that both reach
exactly the same states (``reference_state`` maps one onto the other, and
``digest`` fingerprints a reachable set). The bug gallery (``spec/bugs.py``)
changes a line or two of this file.

Constants: acceptors a1..aN, values v1..vV, ballots 0..B-1 and a family of
quorums (every majority by default).

Variables, as in Paxos.tla (the per-acceptor ones are functions of the
acceptor, held as tuples in the order a1..aN, so ``maxBal[i]`` is a(i+1)'s):

- ``max_bal[a]``  the highest ballot acceptor a has promised or voted in (-1: none);
- ``max_vbal[a]`` the ballot of a's last vote (-1: none);
- ``max_val[a]``  the value of that vote (None: none);
- ``msgs``        the set of every message ever sent. It only grows: loss,
  delay, duplication and reordering are all "a message in msgs may or may
  not be acted on".

Each action is a guard (when it may happen) and an effect (the next state),
one ``(Action, successor)`` pair per choice of its parameters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from functools import cache, cached_property
from itertools import permutations
from typing import Any, NamedTuple

from .base import Action, Spec, except_at
from .base import action as new_action
from .constants import Constants
from .paxos import Message, Msg1a, Msg1b, Msg2a, Msg2b, Paxos, PaxosState
from .voting import VotingState

action = cache(new_action)  # Phase1b(a=a1, b=0) and the like: each built once, then reused


class State(NamedTuple):
    """Paxos.tla's four variables (the first three indexed by acceptor position, see the module doc)."""

    max_bal: tuple[int, ...]
    max_vbal: tuple[int, ...]
    max_val: tuple[str | None, ...]
    msgs: frozenset[Message]


Step = tuple[Action, State]


def send(s: State, m: Message) -> State:
    r"""Send(m) == msgs' = msgs \cup {m}  (sending a message again changes nothing: the same state)"""
    return s if m in s.msgs else State(s.max_bal, s.max_vbal, s.max_val, s.msgs | {m})


def sent(s: State, kind: type) -> list:
    """The 1a or 2a messages in msgs, in order (so that every run takes its steps in the same order)."""
    return sorted(m for m in s.msgs if type(m) is kind)


class PaxosReference(Spec):
    """Paxos.tla: Init, Next (its four actions), and the properties the explorer checks."""

    name = "paxos"
    actions = ("Phase1a", "Phase1b", "Phase2a", "Phase2b")
    default_properties = Paxos.default_properties  # TypeOK, Consistency and both refinements

    def __init__(self, acceptors: int = 3, values: int = 2, ballots: int = 3, quorums=None):
        self.k = Constants.make(acceptors, values, ballots, quorums)
        self.acceptors = tuple(enumerate(self.k.acceptors))  # (i, a): maxBal[i] is acceptor a's

    def init(self) -> Iterator[State]:
        none = (-1,) * len(self.k.acceptors)
        yield State(max_bal=none, max_vbal=none, max_val=(None,) * len(none), msgs=frozenset())

    def next(self, s: State) -> list[Step]:
        return [*self.phase1a(s), *self.phase1b(s), *self.phase2a(s), *self.phase2b(s)]

    # ------------------------------------------------------------------
    # The four actions
    # ------------------------------------------------------------------

    def phase1a(self, s: State) -> list[Step]:
        """Phase1a(b): the proposer of ballot b asks for promises. No guard.

        Phase1a(b) == Send([type |-> "1a", bal |-> b])"""
        return [(action("Phase1a", b=b), send(s, Msg1a(b))) for b in self.k.ballots]

    def phase1b(self, s: State) -> list[Step]:
        r"""Phase1b(a): acceptor a answers a 1a(b) with b above its maxBal.

        Phase1b(a) == \E m \in msgs : /\ m.type = "1a" /\ m.bal > maxBal[a]
                                    /\ (the effect: ``promise``)"""
        one_a = sent(s, Msg1a)
        return [
            (action("Phase1b", a=a, b=m.bal), self.promise(s, i, m.bal))
            for i, a in self.acceptors
            for m in one_a
            if m.bal > s.max_bal[i]
        ]

    def promise(self, s: State, i: int, b: int) -> State:
        """Phase1b's effect: maxBal[a] := b; send 1b(a, b, maxVBal[a], maxVal[a])."""
        report = Msg1b(self.k.acceptors[i], b, s.max_vbal[i], s.max_val[i])
        return send(s._replace(max_bal=except_at(s.max_bal, i, b)), report)

    def phase2a(self, s: State) -> list[Step]:
        r"""Phase2a(b, v): the proposer of ballot b proposes v.

        Phase2a(b, v) == /\ ~ \E m \in msgs : m.type = "2a" /\ m.bal = b
                         /\ \E Q \in Quorum : (every a in Q sent a 1b(b), and v is safe by their Q1b)
                         /\ Send([type |-> "2a", bal |-> b, val |-> v])"""
        return [
            (action("Phase2a", b=b, v=v), send(s, Msg2a(b, v)))
            for b in self.k.ballots
            if not any(Msg2a(b, w) in s.msgs for w in self.k.values)  # one proposal per ballot
            for v in self.proposable(s, b)
        ]

    def phase2b(self, s: State) -> list[Step]:
        r"""Phase2b(a): acceptor a votes for a 2a(b, v) with b at least its maxBal.

        Phase2b(a) == \E m \in msgs : /\ m.type = "2a" /\ m.bal >= maxBal[a]
                                    /\ (the effect: ``vote``)"""
        two_a = sent(s, Msg2a)
        return [
            (action("Phase2b", a=a, b=m.bal, v=m.val), self.vote(s, i, m))
            for i, a in self.acceptors
            for m in two_a
            if m.bal >= s.max_bal[i]
        ]

    def vote(self, s: State, i: int, m: Msg2a) -> State:
        """Phase2b's effect: maxBal[a] := maxVBal[a] := b, maxVal[a] := v; send 2b(a, b, v)."""
        return State(
            max_bal=except_at(s.max_bal, i, m.bal),
            max_vbal=except_at(s.max_vbal, i, m.bal),
            max_val=except_at(s.max_val, i, m.val),
            msgs=s.msgs | {Msg2b(self.k.acceptors[i], m.bal, m.val)},
        )

    # ------------------------------------------------------------------
    # Definitions the actions use
    # ------------------------------------------------------------------

    def proposable(self, s: State, b: int) -> list[str]:
        """The values v with some quorum Q whose every member sent a 1b(b), v being safe by their reports."""
        return sorted({v for q1b in self.quorum_reports(s, b) for v in self.safe_values(q1b)})

    def quorum_reports(self, s: State, b: int) -> Iterator[list[Msg1b]]:
        """Q1b for every quorum Q whose every member has sent a 1b(b): their 1b(b) messages."""
        one_b = [m for m in s.msgs if type(m) is Msg1b and m.bal == b]
        answered = {m.acc for m in one_b}
        for q in self.k.quorums:
            if q <= answered:
                yield [m for m in one_b if m.acc in q]

    def safe_values(self, q1b: list[Msg1b]) -> tuple[str, ...]:
        """The values a proposer may propose on a quorum's 1b reports: any value
        if none of them reports a vote, else the value of a vote with the highest ballot."""
        q1bv = [m for m in q1b if m.mbal >= 0]
        if not q1bv:
            return self.k.values
        return tuple(sorted({m.mval for m in q1bv if m.mbal == max(mm.mbal for mm in q1bv)}))

    def votes(self, msgs: frozenset[Message]) -> frozenset[tuple[str, int, str]]:
        """(a, b, v) for every 2b(a, b, v) sent: Voting's votes."""
        return frozenset((m.acc, m.bal, m.val) for m in msgs if type(m) is Msg2b)

    def chosen(self, msgs: frozenset[Message]) -> frozenset[str]:
        """The values some quorum voted for in one ballot (2b with the same b, v from each member)."""
        votes = self.votes(msgs)
        return frozenset(v for _, b, v in votes if any(all((a, b, v) in votes for a in q) for q in self.k.quorums))

    # ------------------------------------------------------------------
    # Properties
    # ------------------------------------------------------------------

    @cached_property
    def invariants(self):
        from . import paxos_invariants as inv

        return {"TypeOK": self.type_ok, "Consistency": self.consistency} | inv.conjuncts(self)

    def type_ok(self, s: State) -> bool:
        r"""TypeOK: every variable holds a value of its type, and msgs \subseteq Message."""
        bal, val = {-1, *self.k.ballots}, {None, *self.k.values}
        return set(s.max_bal) <= bal and set(s.max_vbal) <= bal and set(s.max_val) <= val and s.msgs <= self.message

    @cached_property
    def message(self) -> frozenset[Message]:
        """Message: every message of the configuration. A 1b reports a vote below its
        own ballot, with a value exactly when it has one (the only 1b Paxos sends)."""
        k = self.k
        return frozenset(
            [Msg1a(b) for b in k.ballots]
            + [Msg1b(a, b, -1, None) for a in k.acceptors for b in k.ballots]
            + [Msg1b(a, b, mbal, v) for a in k.acceptors for b in k.ballots for mbal in range(b) for v in k.values]
            + [Msg2a(b, v) for b in k.ballots for v in k.values]
            + [Msg2b(a, b, v) for a in k.acceptors for b in k.ballots for v in k.values]
        )

    def consistency(self, s: State) -> bool:
        """At most one value is chosen."""
        return len(self.chosen(s.msgs)) <= 1

    @cached_property
    def action_properties(self):
        return {"MaxBalNeverDecreases": lambda s, _a, t: all(x <= y for x, y in zip(s.max_bal, t.max_bal))}

    @cached_property
    def sometimes(self):
        return {
            "ValueChosen": lambda s: bool(self.chosen(s.msgs)),
            "ChosenAfterBallot0": lambda s: any(b > 0 and v in self.chosen(s.msgs) for _a, b, v in self.votes(s.msgs)),
            "ProposalAdoptsReportedVote": self.adopts_reported_vote,
        }

    def adopts_reported_vote(self, s: State) -> bool:
        """Some 2a re-proposes a value reported by a 1b with a vote (Phase2a's constraint actually bit)."""
        reported = {(m.bal, m.mval) for m in s.msgs if type(m) is Msg1b and m.mbal >= 0}
        return any((m.bal, m.val) in reported for m in sent(s, Msg2a))

    # ------------------------------------------------------------------
    # Refinement: Paxos implements Voting implements Consensus
    # ------------------------------------------------------------------

    # Declared as the fast encoding declares them: Voting over the same constants,
    # Paxos -> Voting by to_voting, then Voting -> Consensus by Voting's own mapping.
    voting = Paxos.voting
    refinements = Paxos.refinements
    to_consensus = Paxos.to_consensus

    def to_voting(self, s: State) -> VotingState:
        """maxBal is Voting's maxBal; Voting's votes are the 2b messages sent."""
        return VotingState(s.max_bal, self.voting.intern(self.votes(s.msgs)))

    # ------------------------------------------------------------------
    # Symmetry and reading, building and rendering states
    # ------------------------------------------------------------------

    @cached_property
    def symmetry(self):
        """A canonical form under renaming acceptors and values (nothing in Paxos names one):
        for each renaming of the values, the messages that name no acceptor, and each
        acceptor's variables and own messages, sorted so that the acceptors' names drop
        out; the least of these over the value renamings."""
        values = self.k.values
        renamings = [dict(zip(values, other)) | {None: ""} for other in permutations(values)]
        return lambda s: min(self.canonical_under(s, val) for val in renamings)

    def canonical_under(self, s: State, val: dict[str | None, str]) -> tuple:
        """The canonical form of ``s`` with value v called val[v] (None: "")."""
        shared = sorted(m._replace(val=val[m.val]) if type(m) is Msg2a else m for m in s.msgs if not hasattr(m, "acc"))
        own: dict[str, list[tuple]] = {a: [] for a in self.k.acceptors}
        for m in s.msgs:
            if type(m) is Msg1b:
                own[m.acc].append((1, m.bal, m.mbal, val[m.mval]))
            elif type(m) is Msg2b:
                own[m.acc].append((2, m.bal, val[m.val]))
        mine = [(s.max_bal[i], s.max_vbal[i], val[s.max_val[i]], tuple(sorted(own[a]))) for i, a in self.acceptors]
        return tuple(shared), tuple(sorted(mine))

    def acceptor_vars(self, s: State) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str | None, ...]]:
        """(maxBal, maxVBal, maxVal), each a tuple indexed by acceptor position."""
        return s.max_bal, s.max_vbal, s.max_val

    def messages(self, s: State) -> list[Message]:
        return sorted(s.msgs, key=repr)

    def state(self, max_bal, max_vbal, max_val, msgs) -> State:
        """A state from per-acceptor sequences and an iterable of messages."""
        return State(tuple(max_bal), tuple(max_vbal), tuple(max_val), frozenset(msgs))

    @property
    def config(self) -> dict[str, Any]:
        return self.k.describe()

    def config_text(self) -> str:
        return self.k.in_words()

    chart = Paxos.chart  # the same picture: a lane per proposer, per acceptor and for the learners

    def variables(self, s: State) -> dict[str, Any]:
        acc = self.k.acceptors
        return {
            "maxBal": dict(zip(acc, s.max_bal)),
            "maxVBal": dict(zip(acc, s.max_vbal)),
            "maxVal": dict(zip(acc, s.max_val)),
            "msgs": s.msgs,
        }


# ----------------------------------------------------------------------
# The fast encoding against this one
# ----------------------------------------------------------------------


def reference_state(fast: Paxos, s: PaxosState) -> State:
    """The state of the reference spec that a state of the fast encoding stands for."""
    return State(*fast.acceptor_vars(s), frozenset(Msg1b(*m) if isinstance(m, Msg1b) else m for m in fast.messages(s)))


def encoding(s: State) -> str:
    """A canonical text of a state: the same on every run and in every process (no hash involved)."""
    return repr((s.max_bal, s.max_vbal, s.max_val, sorted(map(repr, s.msgs))))


def digest(states: Iterable[State]) -> str:
    """A digest of a set of reference states that depends on nothing but the set."""
    h = hashlib.sha256()
    for line in sorted(set(map(encoding, states))):
        h.update(line.encode() + b"\n")
    return h.hexdigest()

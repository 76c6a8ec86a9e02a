"""The bug gallery: known-wrong variants of Paxos, each one small change.

Every variant is a subclass of the readable spec (``spec/paxos_reference.py``)
that overrides one small piece; the line that differs is marked ``# BUG``. Each looks harmless and each lets two
different values be chosen. The explorer finds the shortest way there; the
tests pin how short it is, so the gallery keeps proving that the checker
catches what it claims to catch.

``BUGS`` maps each variant's name to its class; ``paxoscope bugs`` lists them,
with the stories that ``spec/gallery.toml`` tells (why each looks harmless,
how it goes wrong, and its fix).
"""

from __future__ import annotations

from itertools import combinations

from .base import except_at
from .gallery import Variant, gallery
from .paxos import Msg1b, Msg2a
from .paxos_reference import PaxosReference, State, Step, action, send, sent


class Bug(Variant, PaxosReference):
    """A known-wrong Paxos (see ``Variant`` for its story's fields)."""

    protocol = "paxos"


class NonIntersectingQuorums(Bug):
    name = "non-intersecting-quorums"

    def __init__(self, acceptors: int = 3, values: int = 2, ballots: int = 3, quorums=None):
        names = [f"a{i + 1}" for i in range(acceptors)]
        size = max(1, acceptors // 2)  # BUG: a majority is acceptors // 2 + 1
        small = quorums if quorums is not None else [set(q) for q in combinations(names, size)]
        super().__init__(acceptors, values, ballots, small)


class IgnoreReportedValues(Bug):
    name = "ignore-reported-values"

    def safe_values(self, q1b: list[Msg1b]) -> tuple[str, ...]:
        return self.k.values  # BUG: the reports are not looked at


class AnyReportedValue(Bug):
    name = "any-reported-value"

    def safe_values(self, q1b: list[Msg1b]) -> tuple[str, ...]:
        q1bv = [m for m in q1b if m.mbal >= 0]
        if not q1bv:
            return self.k.values
        return tuple(sorted({m.mval for m in q1bv}))  # BUG: not only those with the highest mbal


class PromiseNotKept(Bug):
    name = "promise-not-kept"

    def promise(self, s: State, i: int, b: int) -> State:
        report = Msg1b(self.k.acceptors[i], b, s.max_vbal[i], s.max_val[i])
        return send(s, report)  # BUG: maxBal[a] is not raised


class AcceptBelowPromise(Bug):
    name = "accept-below-promise"

    def phase2b(self, s: State) -> list[Step]:
        two_a = sent(s, Msg2a)
        return [
            (action("Phase2b", a=a, b=m.bal, v=m.val), self.vote(s, i, m))
            for i, a in self.acceptors
            for m in two_a
            # BUG: no check of b against maxBal[a]
        ]


class TwoProposalsPerBallot(Bug):
    name = "two-proposals-per-ballot"

    def phase2a(self, s: State) -> list[Step]:
        return [
            (action("Phase2a", b=b, v=v), send(s, Msg2a(b, v)))
            for b in self.k.ballots
            # BUG: no check that ballot b has no 2a yet
            for v in self.proposable(s, b)
        ]


class AmnesiaRestart(Bug):
    name = "amnesia-restart"

    actions = (*PaxosReference.actions, "Restart")

    def next(self, s: State) -> list[Step]:
        return super().next(s) + self.restart(s)

    def restart(self, s: State) -> list[Step]:
        """Restart(a): acceptor a comes back with its initial variables."""
        return [(action("Restart", a=a), self.forget(s, i)) for i, a in self.acceptors]  # BUG: its state is lost

    def forget(self, s: State, i: int) -> State:
        """maxBal[a], maxVBal[a] and maxVal[a] back to their initial values; msgs keeps what was sent."""
        none = {"max_bal": -1, "max_vbal": -1, "max_val": None}
        return s._replace(**{name: except_at(getattr(s, name), i, x) for name, x in none.items()})


BUGS: dict[str, type[Bug]] = gallery(Bug)

"""The bug gallery: known-wrong variants of Paxos, each one small change.

Every variant is a subclass of the readable spec (``spec/paxos_reference.py``)
that overrides one small piece; the line that differs is marked ``# BUG``. Each looks harmless and each lets two
different values be chosen. The explorer finds the shortest way there; the
tests pin how short it is, so the gallery keeps proving that the checker
catches what it claims to catch.

``BUGS`` maps each variant's name to its class; ``paxoscope bugs`` lists them.
"""

from __future__ import annotations

from itertools import combinations

from .base import except_at
from .gallery import Variant, gallery
from .paxos import Msg1b, Msg2a
from .paxos_reference import PaxosReference, State, Step, action, send, sent


class Bug(Variant, PaxosReference):
    """A known-wrong Paxos (see ``Variant`` for its story's fields)."""


class NonIntersectingQuorums(Bug):
    name = "non-intersecting-quorums"
    summary = "Quorums are too small to intersect (any ⌊n/2⌋ acceptors, at least one)."
    explanation = (
        "Smaller quorums mean faster progress and more tolerated failures, so why insist on a majority? "
        "Because the whole argument of Paxos rests on any two quorums sharing an acceptor: the proposer of "
        "a higher ballot hears, from that shared acceptor, about any value a lower ballot may have chosen. "
        "With quorums that need not meet, ballot 0 gets v1 chosen by one group while ballot 1 asks a "
        "disjoint group, hears of no vote, and gets v2 chosen too."
    )
    fix = "Make every quorum a majority (or any family in which every two quorums intersect)."

    def __init__(self, acceptors: int = 3, values: int = 2, ballots: int = 3, quorums=None):
        names = [f"a{i + 1}" for i in range(acceptors)]
        size = max(1, acceptors // 2)  # BUG: a majority is acceptors // 2 + 1
        small = quorums if quorums is not None else [set(q) for q in combinations(names, size)]
        super().__init__(acceptors, values, ballots, small)


class IgnoreReportedValues(Bug):
    name = "ignore-reported-values"
    summary = "Phase2a proposes any value, ignoring the votes reported in 1b messages."
    explanation = (
        "The proposer waited for a quorum of promises, so no lower ballot can still collect votes from "
        "that quorum; surely it may now propose what it likes? No: a lower ballot may already have "
        "chosen a value, and the promises carry the only news of it. Ballot 0 chooses v1; ballot 1 "
        "gathers promises that report the vote for v1, proposes v2 anyway, and gets v2 chosen."
    )
    fix = "If any 1b in the quorum reports a vote, propose the value of the one with the highest ballot."

    def safe_values(self, q1b: list[Msg1b]) -> tuple[str, ...]:
        return self.k.values  # BUG: the reports are not looked at


class AnyReportedValue(Bug):
    name = "any-reported-value"
    summary = "Phase2a takes the value of any reported vote, not the one with the highest ballot."
    explanation = (
        "Every reported value was voted for by someone, so each looks as good as another. But an old "
        "vote may belong to a ballot that was abandoned, while a newer ballot went on to choose another "
        "value. Only the highest reported vote is guaranteed to carry the value that may have been "
        "chosen; picking an older one can choose a second value."
    )
    fix = "Among the 1b reports with a vote, take the value of the one with the highest mbal."

    def safe_values(self, q1b: list[Msg1b]) -> tuple[str, ...]:
        q1bv = [m for m in q1b if m.mbal >= 0]
        if not q1bv:
            return self.k.values
        return tuple(sorted({m.mval for m in q1bv}))  # BUG: not only those with the highest mbal


class PromiseNotKept(Bug):
    name = "promise-not-kept"
    summary = "Phase1b sends the promise but does not raise maxBal."
    explanation = (
        "The 1b message is sent, so the proposer has its promise; remembering it as well seems like "
        "bookkeeping. But maxBal is what stops the acceptor from voting in a lower ballot later. "
        "Without it, an acceptor promises ballot 1, reports no vote, and then votes in ballot 0 anyway: "
        "ballot 1's proposer, believing no value can be chosen in ballot 0, proposes another one."
    )
    fix = "In Phase1b, set maxBal[a] := b before sending the 1b."

    def promise(self, s: State, i: int, b: int) -> State:
        report = Msg1b(self.k.acceptors[i], b, s.max_vbal[i], s.max_val[i])
        return send(s, report)  # BUG: maxBal[a] is not raised


class AcceptBelowPromise(Bug):
    name = "accept-below-promise"
    summary = "Phase2b votes for a 2a whatever its ballot, even below the acceptor's maxBal."
    explanation = (
        "A 2a comes from a proposer that did its homework in phase 1, so accepting it looks safe. "
        "But the acceptor has since promised a higher ballot, whose proposer counted on that promise to "
        "conclude that nothing more could be chosen below it. Voting in the old ballot breaks the "
        "promise, and the old ballot's value can be chosen beside the new one."
    )
    fix = "In Phase2b, vote only if b >= maxBal[a]."

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
    summary = "Phase2a may send a second 2a, with another value, in a ballot that has one."
    explanation = (
        "Each 2a on its own respects the quorum's reports, so a second one looks as safe as the first. "
        "But Paxos's argument assumes one value per ballot: acceptors that vote in the same ballot must "
        "vote for the same value. With two proposals in ballot 0 and nothing reported yet, one quorum "
        "can vote v1 and another v2, and both are chosen."
    )
    fix = "In Phase2a, send 2a(b, v) only if no 2a with ballot b was sent before."

    def phase2a(self, s: State) -> list[Step]:
        return [
            (action("Phase2a", b=b, v=v), send(s, Msg2a(b, v)))
            for b in self.k.ballots
            # BUG: no check that ballot b has no 2a yet
            for v in self.proposable(s, b)
        ]


class AmnesiaRestart(Bug):
    name = "amnesia-restart"
    summary = "An acceptor may restart and forget maxBal, maxVBal and maxVal (no durable storage)."
    explanation = (
        "Crashes happen and a restarted acceptor behaves like a new one, which looks harmless: it "
        "just rejoins. But its promises and votes were part of what other proposers relied on. After "
        "a restart it reports no vote and accepts a lower ballot again, so a value chosen with its vote "
        "can be overridden. This is why acceptors must write their state durably before answering."
    )
    fix = "Keep maxBal, maxVBal and maxVal on stable storage and restore them on restart."

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

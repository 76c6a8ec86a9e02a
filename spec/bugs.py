"""The bug gallery: known-wrong variants of Paxos, each one small change.

Every variant is a subclass of ``Paxos`` that overrides one piece; the line
that differs is marked ``# BUG``. Each looks harmless and each lets two
different values be chosen. The explorer finds the shortest way there; the
tests pin how short it is, so the gallery keeps proving that the checker
catches what it claims to catch.

``BUGS`` maps each variant's name to its class; ``paxoscope bugs`` lists them.
"""

from __future__ import annotations

from itertools import combinations

from .base import action
from .paxos import Msg1b, Paxos, PaxosState, State, Step


class Bug(Paxos):
    """A known-wrong Paxos. ``summary``: one line; ``explanation``: why it
    looks harmless and how it goes wrong; ``fix``: the one-line fix."""

    summary = ""
    explanation = ""
    fix = ""

    @property
    def config(self):
        return {**super().config, "bug": self.name}


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

    def safe_values(self, reports: list[Msg1b]) -> tuple[str, ...]:
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

    def safe_values(self, reports: list[Msg1b]) -> tuple[str, ...]:
        votes = [m for m in reports if m.mbal >= 0]
        if not votes:
            return self.k.values
        return tuple(sorted({m.mval for m in votes}))  # BUG: not only those with the highest mbal


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

    def phase1b(self, s: PaxosState) -> list[Step]:
        steps = []
        max_bal, max_vbal, max_val = self.acceptor_vars(s)
        for a in self.acceptor_ids:
            for b in self.k.ballots:
                if s.msgs & self.bit_1a[b] and b > max_bal[a]:
                    report = self.bit_1b[a][b, max_vbal[a], max_val[a]]
                    act = self.act_1b[a][b]
                    steps.append((act, State(s.acc, s.msgs | report)))  # BUG: maxBal[a] is not raised
        return steps


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

    def phase2b(self, s: PaxosState) -> list[Step]:
        steps = []
        for a in self.acceptor_ids:
            for b, v in self.proposals(s.msgs):  # BUG: no check of b against maxBal[a]
                act, keep, voted, sent = self.vote[a][b, v]
                steps.append((act, State(s.acc & keep | voted, s.msgs | sent)))
        return steps


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

    def phase2a(self, s: PaxosState) -> list[Step]:
        steps = []
        for b in self.k.ballots:  # BUG: no check that ballot b has no 2a yet
            for v in self.proposable(s.msgs, b):
                steps.append((self.act_2a[b, v], self.send(s, self.bit_2a[b, v])))
        return steps


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

    actions = (*Paxos.actions, "Restart")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.act_restart = [action("Restart", a=a) for a in self.k.acceptors]
        self.forget = [self.codec.write(i, max_bal=-1, max_vbal=-1, max_val=None) for i in self.acceptor_ids]

    def next(self, s: PaxosState) -> list[Step]:
        return super().next(s) + self.restart(s)

    def restart(self, s: PaxosState) -> list[Step]:
        """Restart(a): acceptor a comes back with its initial variables."""
        steps = []
        for a in self.acceptor_ids:
            keep, initial = self.forget[a]
            steps.append((self.act_restart[a], State(s.acc & keep | initial, s.msgs)))  # BUG: state lost
        return steps


BUGS: dict[str, type[Bug]] = {
    cls.name: cls
    for cls in (
        NonIntersectingQuorums,
        IgnoreReportedValues,
        AnyReportedValue,
        PromiseNotKept,
        AcceptBelowPromise,
        TwoProposalsPerBallot,
        AmnesiaRestart,
    )
}

"""The inductive invariant of Paxos, one named conjunct per function.

Consistency (at most one value chosen) is not inductive on its own: a state
can satisfy it and still be one step from disaster. The conjunction below is
inductive: it holds initially and every action preserves it, and it implies
Consistency. The Z3 proofs use the same conjuncts by name and meaning; the
explorer checks them on every reachable state of small configurations.

Lamport's ``Inv`` in Paxos.tla is close to this; the conjuncts that make the
difference are Msg2bHas2a (every vote answers a proposal), Msg1bHidesNoVote
(a 1b report hides no vote between its mbal and its bal) and Msg2aSafe (every
proposal is safe at its ballot).

Notation: VotedFor(a, b, v) means 2b(a, b, v) was sent; WontVoteIn(a, b)
means a promised above b and did not vote in b; SafeAt(b, v) means for every
c < b some quorum each VotedFor(a, c, v) or WontVoteIn(a, c).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import State

if TYPE_CHECKING:
    from .paxos import Paxos, PaxosState


class _View:
    """A state's messages sorted by type, built once per check."""

    def __init__(self, spec: Paxos, s: PaxosState):
        from .paxos import Msg1b, Msg2a, Msg2b

        self.k = spec.k
        self.pos = {a: i for i, a in enumerate(spec.k.acceptors)}
        self.bal, self.vbal, self.val = spec.acceptor_vars(s)
        msgs = spec.messages(s)
        self.one_b = [m for m in msgs if isinstance(m, Msg1b)]
        self.two_a = {(m.bal, m.val) for m in msgs if isinstance(m, Msg2a)}
        self.votes = {(m.acc, m.bal, m.val) for m in msgs if isinstance(m, Msg2b)}
        self.voted_in = {(a, b) for a, b, _ in self.votes}

    def max_bal(self, a: str) -> int:
        return self.bal[self.pos[a]]

    def wont_vote_in(self, a: str, b: int) -> bool:
        return self.max_bal(a) > b and (a, b) not in self.voted_in

    def safe_at(self, b: int, v: str) -> bool:
        return all(
            any(all((a, c, v) in self.votes or self.wont_vote_in(a, c) for a in q) for q in self.k.quorums)
            for c in range(b)
        )


def acc_none_iff_no_vote(w: _View) -> bool:
    """maxVal[a] = None exactly when maxVBal[a] = -1."""
    return all((val is None) == (vbal == -1) for vbal, val in zip(w.vbal, w.val))


def acc_vbal_at_most_bal(w: _View) -> bool:
    """maxVBal[a] <= maxBal[a]: an acceptor's last vote is at most its promise."""
    return all(vbal <= bal for vbal, bal in zip(w.vbal, w.bal))


def acc_last_vote_sent(w: _View) -> bool:
    """If maxVBal[a] >= 0 then 2b(a, maxVBal[a], maxVal[a]) was sent."""
    return all((a, vbal, val) in w.votes for a, vbal, val in zip(w.k.acceptors, w.vbal, w.val) if vbal >= 0)


def acc_no_vote_above_vbal(w: _View) -> bool:
    """No acceptor has voted in a ballot above its maxVBal."""
    return all(b <= w.vbal[w.pos[a]] for a, b, _ in w.votes)


def msg_1b_below_promise(w: _View) -> bool:
    """A 1b(a, b, ...) means a promised b: b <= maxBal[a]."""
    return all(m.bal <= w.max_bal(m.acc) for m in w.one_b)


def msg_1b_reports_vote(w: _View) -> bool:
    """A 1b reports a real vote (2b(a, mbal, mval) sent), or none (mbal = -1, mval = None)."""
    return all((m.mval is None) if m.mbal == -1 else (m.acc, m.mbal, m.mval) in w.votes for m in w.one_b)


def msg_1b_hides_no_vote(w: _View) -> bool:
    """A 1b(a, b, mbal, _) hides no vote of a in a ballot strictly between mbal and b."""
    return all((m.acc, c) not in w.voted_in for m in w.one_b for c in range(m.mbal + 1, m.bal))


def msg_2a_unique(w: _View) -> bool:
    """At most one 2a per ballot."""
    return len(w.two_a) == len({b for b, _ in w.two_a})


def msg_2a_safe(w: _View) -> bool:
    """Every 2a(b, v) is safe: SafeAt(b, v)."""
    return all(w.safe_at(b, v) for b, v in w.two_a)


def msg_2b_has_2a(w: _View) -> bool:
    """Every 2b(a, b, v) answers a 2a(b, v)."""
    return all((b, v) in w.two_a for _, b, v in w.votes)


def msg_2b_at_most_vbal(w: _View) -> bool:
    """A 2b(a, b, v) means a voted in b: b <= maxVBal[a]."""
    return all(b <= w.vbal[w.pos[a]] for a, b, _ in w.votes)


def msg_2b_below_promise(w: _View) -> bool:
    """A 2b(a, b, v) is at most a's promise: b <= maxBal[a] (implied by the two
    conjuncts above; the proof states it for acceptors it knows less of)."""
    return all(b <= w.max_bal(a) for a, b, _ in w.votes)


CONJUNCTS: dict[str, Callable[[_View], bool]] = {
    "AccNoneIffNoVote": acc_none_iff_no_vote,
    "AccVBalAtMostBal": acc_vbal_at_most_bal,
    "AccLastVoteSent": acc_last_vote_sent,
    "AccNoVoteAboveVBal": acc_no_vote_above_vbal,
    "Msg1bBelowPromise": msg_1b_below_promise,
    "Msg1bReportsVote": msg_1b_reports_vote,
    "Msg1bHidesNoVote": msg_1b_hides_no_vote,
    "Msg2aUnique": msg_2a_unique,
    "Msg2aSafe": msg_2a_safe,
    "Msg2bHas2a": msg_2b_has_2a,
    "Msg2bAtMostVBal": msg_2b_at_most_vbal,
    "Msg2bBelowPromise": msg_2b_below_promise,
}


def conjuncts(spec: Paxos) -> dict[str, Callable[[State], bool]]:
    """The conjuncts as invariants of ``spec``, plus ``Inv``, their conjunction."""
    out: dict[str, Callable[[State], bool]] = {
        name: (lambda s, f=f: f(_View(spec, s))) for name, f in CONJUNCTS.items()
    }

    def inv(s: State) -> bool:
        w = _View(spec, s)
        return all(f(w) for f in CONJUNCTS.values())

    out["Inv"] = inv
    return out

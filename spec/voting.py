"""Voting, Lamport's abstraction of Paxos without messages (Voting.tla).

Acceptors vote in numbered ballots; ``max_bal[a]`` is the ballot below
which acceptor a will no longer vote. A value is chosen when a quorum votes
for it in one ballot. The heart of Paxos is ``safe_at``: a vote for v in
ballot b is allowed only if no other value has been or can still be chosen
in any lower ballot. Paxos implements this with messages; the refinement
check makes sure it does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import NamedTuple

from .base import Action, Refinement, Spec, action, except_at
from .consensus import Consensus
from .constants import Constants

Vote = tuple[str, int, str]  # (acceptor, ballot, value)


class VotingState(NamedTuple):
    max_bal: tuple[int, ...]
    votes: frozenset[Vote]


class Voting(Spec):
    name = "voting"
    actions = ("IncreaseMaxBal", "VoteFor")
    default_properties = ("TypeOK", "Consistency", "RefinesConsensus")

    def __init__(
        self, acceptors: int = 3, values: int = 2, ballots: int = 3, quorums=None, *, constants: Constants | None = None
    ):
        self.k = constants or Constants.make(acceptors, values, ballots, quorums)
        self.pos = {a: i for i, a in enumerate(self.k.acceptors)}
        self._interned: dict[frozenset[Vote], frozenset[Vote]] = {}
        self._chosen_memo: dict[frozenset[Vote], frozenset[str]] = {}
        self._interned_chosen: dict[frozenset[str], frozenset[str]] = {}
        acc, bals, vals = self.k.acceptors, self.k.ballots, self.k.values
        self._increase = {(a, b): action("IncreaseMaxBal", a=a, b=b) for a in acc for b in bals}
        self._vote = {(a, b, v): action("VoteFor", a=a, b=b, v=v) for a in acc for b in bals for v in vals}

    def init(self) -> Iterator[VotingState]:
        yield VotingState((-1,) * len(self.k.acceptors), frozenset())

    def next(self, s: VotingState) -> Iterator[tuple[Action, VotingState]]:
        yield from self.increase_max_bal(s)
        yield from self.vote_for(s)

    def increase_max_bal(self, s: VotingState):
        """IncreaseMaxBal(a, b): a promises never to vote below b."""
        for i, a in enumerate(self.k.acceptors):
            for b in self.k.ballots:
                if b > s.max_bal[i]:
                    yield self._increase[a, b], VotingState(except_at(s.max_bal, i, b), s.votes)

    def vote_for(self, s: VotingState):
        """VoteFor(a, b, v): a votes for v in b if it has not promised above b,
        has not voted in b, nobody voted otherwise in b, and v is safe at b."""
        voted = {(a, b) for a, b, _ in s.votes}
        safe = self.safe_values(s, voted)
        for b in self.k.ballots:
            values_in_b = {v for _, vb, v in s.votes if vb == b}
            for v in safe[b]:
                if not values_in_b <= {v}:
                    continue
                for i, a in enumerate(self.k.acceptors):
                    if s.max_bal[i] <= b and (a, b) not in voted:
                        votes = self.intern(s.votes | {(a, b, v)})
                        yield self._vote[a, b, v], VotingState(except_at(s.max_bal, i, b), votes)

    def safe_at(self, s: VotingState, b: int, v: str) -> bool:
        """SafeAt(b, v): no value other than v is or can still be chosen in a
        ballot below b: for every c < b some quorum each voted v in c or
        cannot vote in c any more (promised above c and did not vote in c)."""
        voted = {(a, c) for a, c, _ in s.votes}
        return all(self._quorum_settles(s, voted, c, v) for c in range(b))

    def safe_values(self, s: VotingState, voted: set[tuple[str, int]]) -> list[tuple[str, ...]]:
        """For every ballot b, the values v with SafeAt(b, v), computed going
        up the ballots: SafeAt(b + 1, v) is SafeAt(b, v) and ballot b settled for v."""
        out, safe = [], self.k.values
        for c in self.k.ballots:
            out.append(safe)
            safe = tuple(v for v in safe if self._quorum_settles(s, voted, c, v))
        return out

    def _quorum_settles(self, s: VotingState, voted: set[tuple[str, int]], c: int, v: str) -> bool:
        """Some quorum each voted v in ballot c or cannot vote in c any more."""
        settled = {
            a
            for i, a in enumerate(self.k.acceptors)
            if (a, c, v) in s.votes or (s.max_bal[i] > c and (a, c) not in voted)
        }
        return any(q <= settled for q in self.k.quorums)

    def intern(self, votes: frozenset[Vote]) -> frozenset[Vote]:
        """One object per set of votes: equal states then compare by identity,
        which keeps refinement checks against this spec cheap."""
        return self._interned.setdefault(votes, votes)

    def chosen_in(self, votes: frozenset[Vote]) -> frozenset[str]:
        """Values a whole quorum voted for in one ballot."""
        return frozenset(
            v
            for b in self.k.ballots
            for v in self.k.values
            if any(all((a, b, v) in votes for a in q) for q in self.k.quorums)
        )

    @cached_property
    def invariants(self):
        bal = frozenset((-1, *self.k.ballots))
        return {
            "TypeOK": lambda s: (
                all(x in bal for x in s.max_bal)
                and all(a in self.pos and b in self.k.ballots and v in self.k.values for a, b, v in s.votes)
            ),
            "Consistency": lambda s: len(self.chosen_in(s.votes)) <= 1,
            "OneValuePerBallot": lambda s: len({(b, v) for _, b, v in s.votes}) == len({b for _, b, _ in s.votes}),
        }

    @cached_property
    def sometimes(self):
        return {"ValueChosen": lambda s: bool(self.chosen_in(s.votes))}

    @cached_property
    def consensus(self) -> Consensus:
        return Consensus(self.k.values)

    @cached_property
    def refinements(self):
        return (Refinement(self.consensus, self.to_consensus),)

    def to_consensus(self, s: VotingState) -> frozenset[str]:
        """Consensus's chosen is the set of values chosen by the votes."""
        # Memoized per set of votes (interned, see intern()), and each set of
        # values interned, so an unchanged image is the same object.
        try:
            return self._chosen_memo[s.votes]
        except KeyError:
            chosen = self.chosen_in(s.votes)
            found = self._chosen_memo[s.votes] = self._interned_chosen.setdefault(chosen, chosen)
            return found

    @property
    def config(self):
        return self.k.describe()

    def config_text(self) -> str:
        return self.k.in_words()

    def variables(self, s: VotingState):
        return {
            "maxBal": dict(zip(self.k.acceptors, s.max_bal)),
            "votes": {a: frozenset((b, v) for va, b, v in s.votes if va == a) for a in self.k.acceptors},
        }

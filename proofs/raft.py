"""Raft's election safety as a voting model with no bound on sizes, and its inductive invariant.

Election safety (at most one leader per term) rests on Raft's elections
alone: a server votes at most once in a term, and a leader won a quorum of
votes in its term. This model keeps exactly that of ``spec/raft.py``, so the
proof holds for every number of servers and terms:

- sorts ``Server``, ``Term`` (totally ordered; its bottom ``0`` is below
  every term) and ``Quorum`` (any two share a server), all uninterpreted;
- ``voted(n, t, c)``: server n granted its vote in term t to candidate c
  (votedFor[n] = c while currentTerm[n] = t; the vote itself, as a history:
  raft.tla's RequestVoteResponse with mvoteGranted, or voterLog);
- ``leader(c, t)``: c won the election of term t (raft.tla's ``elections``).

Actions: ``Vote(n, t, c)`` (HandleRequestVoteRequest granting the vote: n
has voted for no one in t) and ``BecomeLeader(c, t, q)`` (every member of
quorum q voted for c in t). The log, messages and restarts play no part in
this property: a restart keeps currentTerm and votedFor, so it changes no
vote.

The gallery of ``spec/raft_bugs.py`` is mirrored where it breaks elections:
``own-vote-counted-twice`` counts the candidate's vote without recording it,
``term-not-persisted`` lets a restarted server vote again in a term it voted
in. The other variants break properties of logs, which this model of
elections does not have (``NO_PROOF``).
"""

from __future__ import annotations

from typing import Any

from ..spec.gallery import gallery
from . import logic as L
from .finite import ModelTwin
from .logic import and_, eq, exists, forall, implies, ne, not_, variables
from .model import ActionDef, Insert, ProofModel, View, ballot_order, model_of_variant, quorums_intersect

N = L.Sort("Server")
T = L.Sort("Term")
Q = L.Sort("Quorum")
ZERO = L.Const("zero", T, label="0")  # below every term

member = L.Rel("member", (N, Q))
voted = L.Rel("voted", (N, T, N))
leader = L.Rel("leader", (N, T))

EXPLANATIONS: dict[str, str] = {
    "VoteOnce": "A server grants its vote to at most one candidate in a term.",
    "LeaderHasQuorum": "A leader of term t won the votes of a whole quorum in t.",
}


class RaftElectionModel(ProofModel):
    """Raft's elections; variants override one piece."""

    name = "raft"
    sorts = (N, T, Q)
    ordered = T
    constants = (ZERO,)
    state = (voted, leader)
    messages = (voted, leader)
    fixed = (member,)
    safety_name = "ElectionSafety"
    explanations = EXPLANATIONS
    definitions: dict[str, str] = {}
    safety_text = "at most one leader is elected in a term"
    variant_text = "two leaders can be elected in one term"
    sizes_text = "servers and terms"
    signature_text = (
        "Sorts: Server, Term (totally ordered by ≤, with 0 below every term), Quorum (member(n, q); any two\n"
        "quorums share a server). voted(n, t, c) means server n granted its vote in term t to c; leader(c, t)\n"
        "that c won the election of term t."
    )
    # Universes searched for counterexamples: (servers, terms without 0, quorums), smallest first.
    cti_sizes = [
        {N: n, T: t + 1, Q: q}
        for n, t, q in sorted(((n, t, q) for n in (1, 2, 3) for t in (1, 2) for q in (1, 2, 3)), key=sum)
    ]
    max_explore = {N: 3, T: 3}

    def elements(self, sort: L.Sort, count: int) -> list[Any]:
        """Servers s1.., terms 0.., quorums q1.."""
        if sort is T:
            return list(range(count))
        return [f"{'s' if sort is N else 'q'}{i + 1}" for i in range(count)]

    def twin(self) -> ModelTwin:
        return ModelTwin(self)

    def axioms(self) -> dict[str, L.Formula]:
        return {**ballot_order(ZERO), **quorums_intersect(member)}

    def init_view(self) -> View:
        """No vote granted, no leader."""
        return View({"voted": lambda n, t, c: L.FALSE, "leader": lambda c, t: L.FALSE})

    def actions(self) -> list[ActionDef]:
        return [self.vote(), self.become_leader()]

    def vote(self) -> ActionDef:
        n, c = variables("n c", N)
        (t,) = variables("t", T)
        return ActionDef("Vote", (n, t, c), self.may_vote(n, t), (Insert(voted, (n, t, c)),), ("n", "t", "c"))

    def may_vote(self, n: L.Var, t: L.Var) -> L.Formula:
        """n has granted no vote in t (votedFor[n] is Nil)."""
        (d,) = variables("d", N)
        return and_(ne(t, ZERO), forall([d], not_(voted(n, t, d))))

    def become_leader(self) -> ActionDef:
        (c,) = variables("c", N)
        (t,) = variables("t", T)
        (q,) = variables("q", Q)
        return ActionDef("BecomeLeader", (c, t, q), self.won(c, t, q), (Insert(leader, (c, t)),), ("c", "t"))

    def won(self, c: L.Var, t: L.Var, q: L.Var) -> L.Formula:
        """BecomeLeader's guard: quorum q voted for c in t."""
        return quorum_voted(self.pre_view(), c, t, q)

    def safety(self, S: View) -> L.Formula:
        c, d = variables("c d", N)
        (t,) = variables("t", T)
        return forall([c, d, t], implies(and_(S.leader(c, t), S.leader(d, t)), eq(c, d)))

    def invariant(self, S: View) -> dict[str, L.Formula]:
        n, c, d = variables("n c d", N)
        (t,) = variables("t", T)
        (q,) = variables("q", Q)
        return {
            "VoteOnce": forall([n, t, c, d], implies(and_(S.voted(n, t, c), S.voted(n, t, d)), eq(c, d))),
            "LeaderHasQuorum": forall([c, t], implies(S.leader(c, t), exists([q], quorum_voted(S, c, t, q)))),
        }


class OwnVoteCountedTwice(RaftElectionModel):
    bug = "own-vote-counted-twice"

    def won(self, c: L.Var, t: L.Var, q: L.Var) -> L.Formula:
        (n,) = variables("n", N)
        return forall([n], implies(and_(member(n, q), ne(n, c)), voted(n, t, c)))  # BUG: its own vote, unrecorded


class TermNotPersisted(RaftElectionModel):
    bug = "term-not-persisted"

    def may_vote(self, n: L.Var, t: L.Var) -> L.Formula:
        return ne(t, ZERO)  # BUG: a restarted server forgets the vote it granted in t


def quorum_voted(S: View, c: L.Term, t: L.Term, q: L.Term) -> L.Formula:
    """Every member of quorum q voted for c in t."""
    (n,) = variables("n", N)
    return forall([n], implies(member(n, q), S.voted(n, t, c)))


BUG_MODELS: dict[str, type[RaftElectionModel]] = gallery(RaftElectionModel, key="bug")

_LOGS = "it breaks a property of the logs ({}), and this model of elections has no logs"
NO_PROOF: dict[str, str] = {
    "commit-earlier-term": _LOGS.format("state machine safety"),
    "vote-for-stale-log": _LOGS.format("leader completeness"),
    "no-consistency-check": _LOGS.format("log matching"),
    "commit-on-minority": _LOGS.format("leader completeness"),
}


def model_for(bug: str | None = None) -> RaftElectionModel:
    """The election model of Raft, or of the named gallery variant."""
    return model_of_variant(RaftElectionModel, BUG_MODELS, NO_PROOF, bug)

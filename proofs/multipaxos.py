"""Multi-Paxos as a multi-instance voting model with no bound on sizes, and its inductive invariant.

``spec/multipaxos.py`` (MultiPaxos-SMR) carries program counters, client
requests, leader-local logs and commit indices: encoded directly, Z3 would
reason about all of it to learn that one slot never holds two commands. This
model keeps what agreement rests on, per slot as Paxos has it, with one
Prepare covering every slot:

- sorts ``Replica``, ``Ballot`` (totally ordered, bottom ``0``: no ballot),
  ``Slot``, ``Cmd`` (with ``nil``) and ``Quorum`` (any two share a replica),
  all uninterpreted: the proof holds for every number of replicas, ballots
  and slots;
- ``maxBal(r, b)``: the highest ballot replica r knows (balMaxKnown);
  ``vote(r, s, b, c)``: r's last vote in slot s (insts[s].voted), a
  function of (r, s);
- ``report(r, b, s, m, c)``: r's PrepareReply for ballot b reports its vote
  (m, c) in slot s (one reply reports every slot: it is sent by ``Extend``);
- ``accept(b, s, c)``: an Accept of c in slot s at ballot b was sent;
  ``accepted(r, b, s, c)``: r's AcceptReply to it (the spec's AcceptReply
  names no command; the mapping gives it the command of the Accept of
  (b, s) it answers, which is one: ProposalUnique);
- ``committed(s, c)``: a replica committed c in slot s;
- the clients' history (``observed``): ``requested(c)`` and ``acked(c)``,
  a Req and an Ack of c were seen, and real time, ``before(c, d)``: c was
  acknowledged before d was requested (fixed when d is requested); with the
  configuration's ``below(s, t)`` (the order of the log, a strict total
  order) and ``read(c)`` (c is a read).

Actions: ``Promise(r, b)`` (BecomeLeader and HandlePrepare: raise maxBal,
report every vote), ``Propose(b, s, c)`` (one Accept; the leader's
HandlePrepareReplies sends one per unfinished slot, TakeNewRequest one for
a new command), ``Vote(r, b, s, c)`` (HandleAccept, and the leader's own vote
in TakeNewRequest), ``Commit(s, c)`` (HandleAcceptReplies and
HandleCommitNotice), ``Request(c)`` (TakeNewRequest taking a command no
leader took before: every command acknowledged so far comes before it) and
``Ack(s, c)`` (HandleAcceptReplies: a leader that committed every slot up to
s answers c, the command of slot s, with the log below s). Every step of the
executable spec is a sequence of these steps or a stutter under the mapping ``structure_of_spec``: the
cross-check (``prove multipaxos --crosscheck``) checks it on every step of a
small configuration, and that the invariant holds on every state.

Safety (``Agreement``): no two different commands are chosen (accepted by
a quorum at one ballot) for one slot, nor committed in one slot. Reads are
not stale: the conjunct ``ReadSeesEarlierWrites`` says that a read
acknowledged after a write was acknowledged sits in a committed slot above
the write's, so its answer (the log below its slot) holds the write; it rests
on ``ProposalAfterEarlierAcks`` (a command is proposed above every slot
committed when it was requested, or where it can never be chosen) and
``AckedFromLog`` (answers come from a committed prefix of the log).

The gallery of ``spec/multipaxos_bugs.py`` is mirrored at the end, one
override per variant, each breaking a named obligation; ``silent-acceptor``
(a deadlock) breaks no safety property and has no proof variant (see
``NO_PROOF``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ..spec.gallery import gallery
from . import logic as L
from .finite import ModelTwin
from .logic import and_, eq, exists, forall, implies, le, lt, ne, not_, or_, variables
from .model import (
    ActionDef,
    Assign,
    Extend,
    Insert,
    ProofModel,
    View,
    ballot_order,
    model_of_variant,
    quorums_intersect,
)

R = L.Sort("Replica")
B = L.Sort("Ballot")
S = L.Sort("Slot")
C = L.Sort("Cmd")
Q = L.Sort("Quorum")

NONE = L.Const("none", B, label="0")  # below every ballot: no vote, no promise
NIL = L.Const("nil", C, label="nil")

member = L.Rel("member", (R, Q))
maxBal = L.Rel("maxBal", (R, B))
vote = L.Rel("vote", (R, S, B, C))
report = L.Rel("report", (R, B, S, B, C))
accept = L.Rel("accept", (B, S, C))
accepted = L.Rel("accepted", (R, B, S, C))
committed = L.Rel("committed", (S, C))
# The clients' history: requested(c) and acked(c) (the Req and the Ack were seen), and real time:
# before(c, d), "c was acknowledged before d was requested", fixed when d is requested.
requested = L.Rel("requested", (C,))
acked = L.Rel("acked", (C,))
before = L.Rel("before", (C, C))
# The configuration: the log's order of slots (below(s, t): s comes before t) and which commands are reads.
below = L.Rel("below", (S, S))
read = L.Rel("read", (C,))

STATE = (maxBal, vote, report, accept, accepted, committed, requested, acked, before)


#: One sentence per conjunct, for ``paxoscope prove multipaxos --explain``.
EXPLANATIONS: dict[str, str] = {
    "TypeOK": "maxBal gives each replica at most one ballot, vote each (replica, slot) at most one vote, a "
    "PrepareReply reports at most one vote per slot, below its own ballot, nothing is sent at ballot 0, and no "
    "client requests nil.",
    "VoteAtMostBal": "A replica never votes above the highest ballot it knows.",
    "NoVoteIsNil": "A replica that has not voted in a slot holds no command there.",
    "LastVoteSent": "A replica's last vote in a slot was sent: it replied to that Accept.",
    "NoVoteAboveLast": "A replica's last vote in a slot is its highest there.",
    "ReportBelowPromise": "A PrepareReply for b is a promise the replica keeps: b ≤ maxBal[r].",
    "ReportIsVote": "A PrepareReply reports, for each slot, no vote or a vote really cast.",
    "ReportHidesNoVote": "A PrepareReply for b reporting (m, _) in a slot hides no vote there between m and b.",
    "ProposalUnique": "At most one command is proposed for a slot in each ballot.",
    "ProposalSafe": "Every proposal is safe: for each Accept of c in s at b and each ballot d < b, some quorum's "
    "members each voted for c in s at d or never will (SafeAt(b, s, c)).",
    "AcceptedHasProposal": "Every AcceptReply answers an Accept of its command.",
    "AcceptedBelowPromise": "An AcceptReply at b is at most the replica's maxBal.",
    "CommittedIsChosen": "A command is committed in a slot only once a quorum accepted it there at one ballot.",
    "CommittedOnce": "At most one command is committed in a slot (what the answers read is one log).",
    "AckedWasRequested": "A client is answered only for a command it requested.",
    "ProposalRequested": "Only requested commands are proposed.",
    "BeforeIsRealTime": "before(c, d) means c was acknowledged, d requested afterwards: c is not d.",
    "AckedFromLog": "A command is answered only once it is committed in a slot and every slot below that one is "
    "committed too (a leader commits and applies its log in order).",
    "ProposalAfterEarlierAcks": "A command requested after c was acknowledged is proposed only above a slot holding "
    "c, or in a slot where another command is already committed (it can never be chosen there).",
    "ReadSeesEarlierWrites": "A read acknowledged after a write was acknowledged sits in a committed slot above that "
    "write's: its answer, the log below its slot, holds the write (no stale read).",
}

DEFINITIONS: dict[str, str] = {
    "WontVoteIn(r, d, s)": "r knows a ballot above d and did not vote in s at d: it never will.",
    "SafeAt(b, s, c)": "for every ballot d < b, some quorum's members each voted for c in s at d or WontVoteIn: "
    "no command other than c was or can be chosen in s below b.",
    "chosen in s at b by q": "c was proposed in s at b and every member of quorum q accepted it.",
    "PrefixCommitted(s)": "every slot below s is committed.",
}


class MultiPaxosModel(ProofModel):
    """The multi-instance voting model of Multi-Paxos; variants override one piece."""

    name = "multipaxos"
    sorts = (R, B, S, C, Q)
    ordered = B
    constants = (NONE, NIL)
    state = STATE
    functions = (maxBal, vote)
    messages = (report, accept, accepted, committed, requested, acked, before)
    fixed = (member, below, read)
    function_keys = {"vote": 2}
    safety_name = "Agreement"
    explanations = EXPLANATIONS
    definitions = DEFINITIONS
    safety_text = "no slot has two different commands chosen or committed"
    variant_text = "two commands can be committed in one slot"
    sizes_text = "replicas, ballots and slots"
    signature_text = (
        "Sorts: Replica, Ballot (totally ordered by ≤, with 0 below every ballot), Slot, Cmd (with nil),\n"
        "Quorum (member(r, q); any two quorums share a replica). The variables are relations:\n"
        "maxBal(r, b) means balMaxKnown[r] = b, vote(r, s, b, c) that r's last vote in slot s is (b, c);\n"
        "report(r, b, s, m, c) that r's PrepareReply for b reports vote (m, c) in slot s; accept(b, s, c),\n"
        "accepted(r, b, s, c) (an AcceptReply to that Accept) and committed(s, c) mean that happened.\n"
        "Slots are ordered by below(s, t), and read(c) tells the reads among the commands. The clients'\n"
        "history: requested(c) and acked(c) (Req and Ack seen), before(c, d) (c acknowledged before d requested)."
    )
    # Universes searched for counterexamples: (replicas, ballots, commands, quorums) without the ballot 0
    # and the command nil, smallest first, with one slot (enough for a per-slot bug), then a few with two
    # (a replica's maxBal is shared by its slots).
    cti_sizes = [
        {R: r, B: b + 1, S: k, C: c + 1, Q: q}
        for k, bound in ((1, 3), (2, 2))
        for r, b, c, q in sorted(
            itertools.product(range(1, bound + 1), range(1, bound + 1), range(1, 3), range(1, bound + 1)),
            key=lambda x: (sum(x), x),
        )
    ]
    # The explorer decides a counterexample's reachability up to these sizes (with the constants).
    max_explore = {R: 3, B: 3, S: 2, C: 3}

    def elements(self, sort: L.Sort, count: int) -> list[Any]:
        """Replicas s1.., ballots 0.., slots 1.., commands nil, c1.., quorums q1.."""
        if sort is B:
            return list(range(count))
        if sort is S:
            return list(range(1, count + 1))
        if sort is C:
            return ["nil", *(f"c{i}" for i in range(1, count))]
        return [f"{'s' if sort is R else 'q'}{i + 1}" for i in range(count)]

    def twin(self) -> ModelTwin:
        return _Twin(self)

    # -- constants -------------------------------------------------------

    def axioms(self) -> dict[str, L.Formula]:
        return {**ballot_order(NONE), **quorums_intersect(member), **slot_order()}

    # -- Init ------------------------------------------------------------

    def init_view(self) -> View:
        """balMaxKnown = 0 and every vote (0, nil) everywhere; nothing sent or committed."""
        return View(
            {
                "maxBal": lambda r, b: eq(b, NONE),
                "vote": lambda r, s, b, c: and_(eq(b, NONE), eq(c, NIL)),
                "report": lambda r, b, s, m, c: L.FALSE,
                "accept": lambda b, s, c: L.FALSE,
                "accepted": lambda r, b, s, c: L.FALSE,
                "committed": lambda s, c: L.FALSE,
                "requested": lambda c: L.FALSE,
                "acked": lambda c: L.FALSE,
                "before": lambda c, d: L.FALSE,
            }
        )

    # -- Next ------------------------------------------------------------

    def actions(self) -> list[ActionDef]:
        return [self.promise(), self.propose(), self.vote(), self.commit(), self.request(), self.ack()]

    def promise(self) -> ActionDef:
        """Promise(r, b): b above maxBal[r]; maxBal[r] := b and r reports its vote in every slot."""
        (r,) = variables("r", R)
        b, n = variables("b n", B)

        def rows(S: View, r2: L.Term, b2: L.Term, s: L.Term, m: L.Term, c: L.Term) -> L.Formula:
            return and_(eq(r2, r), eq(b2, b), S.vote(r, s, m, c))

        guard = and_(maxBal(r, n), lt(n, b))
        updates = (Assign(maxBal, r, b), Extend(report, rows, self.pre_view()))
        return ActionDef("Promise", (r, b, n), guard, updates, ("r", "b"))

    def propose(self) -> ActionDef:
        """Propose(b, s, c): c was requested; no Accept for (b, s) yet; every member of a quorum q
        reported slot s for ballot b; and c is free (none of them reports a vote
        there) or the command of a reported vote with the highest ballot."""
        (b,) = variables("b", B)
        (s,) = variables("s", S)
        (c,) = variables("c", C)
        (q,) = variables("q", Q)
        (r,) = variables("r", R)
        guard = and_(
            ne(b, NONE),
            requested(c),
            self.fresh(b, s),
            self.quorum_reported(b, s, q),
            self.proposal_value(r, b, s, q, c),
        )
        params = (b, s, q, r, c) if r in _free(guard) else (b, s, q, c)
        return ActionDef("Propose", params, guard, (Insert(accept, (b, s, c)),), ("b", "s", "c"))

    def fresh(self, b: L.Var, s: L.Var) -> L.Formula:
        """No Accept for slot s at ballot b was sent."""
        (w,) = variables("w", C)
        return forall([w], not_(accept(b, s, w)))

    def quorum_reported(self, b: L.Term, s: L.Term, q: L.Term, S: View | None = None) -> L.Formula:
        S = S or self.pre_view()
        (r,) = variables("r", R)
        (m,) = variables("m", B)
        (u,) = variables("u", C)
        return forall([r], implies(member(r, q), exists([m, u], S.report(r, b, s, m, u))))

    def proposal_value(self, r: L.Var, b: L.Var, s: L.Var, q: L.Var, c: L.Var) -> L.Formula:
        """c is safe on q's reports for slot s: none reports a vote, or c is the
        command of one with the highest ballot (r is a witness some variants use)."""
        a, a2 = variables("a a2", R)
        m, m2 = variables("m m2", B)
        u, u2 = variables("u u2", C)
        no_vote = forall([a, m, u], implies(and_(member(a, q), report(a, b, s, m, u)), eq(m, NONE)))
        highest = exists(
            [a, m],
            and_(
                member(a, q),
                report(a, b, s, m, c),
                ne(m, NONE),
                forall([a2, m2, u2], implies(and_(member(a2, q), report(a2, b, s, m2, u2)), le(m2, m))),
            ),
        )
        return or_(no_vote, highest)

    def vote(self) -> ActionDef:
        """Vote(r, b, s, c): for an Accept of c in s at b with b ≥ maxBal[r]:
        maxBal[r] := b, r's vote in s := (b, c), and r sends its AcceptReply."""
        (r,) = variables("r", R)
        b, n = variables("b n", B)
        (s,) = variables("s", S)
        (c,) = variables("c", C)
        guard = and_(accept(b, s, c), self.vote_allowed(r, b, n))
        updates = (Assign(maxBal, r, b), Assign(vote, (r, s), (b, c)), Insert(accepted, (r, b, s, c)))
        params = (b, s, c, r, n) if n in _free(guard) else (b, s, c, r)
        return ActionDef("Vote", params, guard, updates, ("r", "b", "s", "c"))

    def vote_allowed(self, r: L.Var, b: L.Var, n: L.Var) -> L.Formula:
        """b ≥ maxBal[r] (n is maxBal[r])."""
        return and_(maxBal(r, n), le(n, b))

    def commit(self) -> ActionDef:
        """Commit(s, c): c is chosen in s at some ballot b (an Accept of it, and a
        quorum q's AcceptReplies); it is committed."""
        (b,) = variables("b", B)
        (s,) = variables("s", S)
        (c,) = variables("c", C)
        (q,) = variables("q", Q)
        guard = and_(accept(b, s, c), self.replies_enough(b, s, c, q))
        params = (s, c, b, q) if q in _free(guard) else (s, c, b)
        return ActionDef("Commit", params, guard, (Insert(committed, (s, c)),), ("s", "c"))

    def replies_enough(self, b: L.Var, s: L.Var, c: L.Var, q: L.Var) -> L.Formula:
        """Every member of quorum q sent an AcceptReply for (b, s)."""
        (r,) = variables("r", R)
        return forall([r], implies(member(r, q), accepted(r, b, s, c)))

    def request(self) -> ActionDef:
        """Request(c): a client's command c is seen for the first time (a leader takes it,
        TakeNewRequest); every command acknowledged so far comes before it in real time."""
        (c,) = variables("c", C)
        guard = and_(ne(c, NIL), not_(requested(c)))
        updates = (Insert(requested, (c,)), Extend(before, self.acked_before(c, L.TRUE), self.pre_view()))
        return ActionDef("Request", (c,), guard, updates, ("c",))

    def acked_before(self, d: L.Var, fresh: L.Formula) -> Callable[..., L.Formula]:
        """The rows before(c, d) that requesting d adds, if ``fresh``: every c acknowledged so far."""

        def rows(S: View, c2: L.Term, d2: L.Term) -> L.Formula:
            return and_(eq(d2, d), fresh, S.acked(c2))

        return rows

    def ack(self) -> ActionDef:
        """Ack(s, c): a leader that committed c in slot s, and every slot below, answers
        its client (HandleAcceptReplies): the answer is the log below s."""
        (s,) = variables("s", S)
        (c,) = variables("c", C)
        guard = and_(committed(s, c), self.prefix_committed(self.pre_view(), s))
        return ActionDef("Ack", (s, c), guard, (Insert(acked, (c,)),), ("s", "c"))

    def prefix_committed(self, S: View, s: L.Term) -> L.Formula:
        """PrefixCommitted(s): every slot below s is committed."""
        (u,) = variables("u", S_)
        (x,) = variables("x", C)
        return forall([u], implies(below(u, s), exists([x], S.committed(u, x))))

    # -- Properties ------------------------------------------------------

    def chosen_at(self, S: View, s: L.Term, c: L.Term, b: L.Term, q: L.Term) -> L.Formula:
        """Every member of quorum q accepted c in slot s at ballot b."""
        (r,) = variables("r", R)
        return forall([r], implies(member(r, q), S.accepted(r, b, s, c)))

    def safety(self, S: View) -> L.Formula:
        return and_(*self.safety_parts(S).values())

    def safety_parts(self, S: View) -> dict[str, L.Formula]:
        """Agreement, per slot: at most one command is chosen, and at most one
        committed. Of two chosen, the first one's ballot is at most the
        second's: no loss of generality (≤ is total)."""
        (s,) = variables("s", S_)
        c, d = variables("c d", C)
        b, e = variables("b e", B)
        q, p = variables("q p", Q)
        chosen = forall(
            [s, c, d, b, e, q, p],
            implies(and_(le(b, e), self.chosen_at(S, s, c, b, q), self.chosen_at(S, s, d, e, p)), eq(c, d)),
        )
        commits = forall([s, c, d], implies(and_(S.committed(s, c), S.committed(s, d)), eq(c, d)))
        return {"ChosenAgreement": chosen, "CommittedAgreement": commits}

    def invariant(self, S: View) -> dict[str, L.Formula]:
        r = variables("r", R)[0]
        b, d, m, n = variables("b d m n", B)
        (s,) = variables("s", S_)
        c, u, w = variables("c u w", C)
        (q,) = variables("q", Q)
        return {
            "TypeOK": self.type_ok(S),
            "VoteAtMostBal": forall([r, s, m, u, n], implies(and_(S.vote(r, s, m, u), S.maxBal(r, n)), le(m, n))),
            "NoVoteIsNil": forall([r, s, u], implies(S.vote(r, s, NONE, u), eq(u, NIL))),
            "LastVoteSent": forall(
                [r, s, m, u], implies(and_(S.vote(r, s, m, u), ne(m, NONE)), S.accepted(r, m, s, u))
            ),
            "NoVoteAboveLast": forall(
                [r, b, s, c, m, u], implies(and_(S.accepted(r, b, s, c), S.vote(r, s, m, u)), le(b, m))
            ),
            "ReportBelowPromise": forall(
                [r, b, s, m, u, n], implies(and_(S.report(r, b, s, m, u), S.maxBal(r, n)), le(b, n))
            ),
            "ReportIsVote": forall(
                [r, b, s, m, u],
                implies(
                    S.report(r, b, s, m, u),
                    or_(and_(eq(m, NONE), eq(u, NIL)), and_(ne(m, NONE), S.accepted(r, m, s, u))),
                ),
            ),
            "ReportHidesNoVote": forall(
                [r, b, s, m, u, d, c],
                implies(and_(S.report(r, b, s, m, u), lt(m, d), lt(d, b)), not_(S.accepted(r, d, s, c))),
            ),
            "ProposalUnique": forall([b, s, c, w], implies(and_(S.accept(b, s, c), S.accept(b, s, w)), eq(c, w))),
            "ProposalSafe": forall([b, s, c], implies(S.accept(b, s, c), self.safe_at(S, b, s, c))),
            "AcceptedHasProposal": forall([r, b, s, c], implies(S.accepted(r, b, s, c), S.accept(b, s, c))),
            "AcceptedBelowPromise": forall(
                [r, b, s, c, n], implies(and_(S.accepted(r, b, s, c), S.maxBal(r, n)), le(b, n))
            ),
            "CommittedIsChosen": forall(
                [s, c], implies(S.committed(s, c), exists([b, q], self.chosen_at(S, s, c, b, q)))
            ),
            **self.history(S),
        }

    def history(self, S: View) -> dict[str, L.Formula]:
        """The clients' history: what was requested and answered, in which real-time order, and where in the log."""
        (b,) = variables("b", B)
        s, t = variables("s t", S_)
        c, d, x = variables("c d x", C)
        above_c = exists([t], and_(below(t, s), S.committed(t, c)))
        return {
            "CommittedOnce": forall([s, c, d], implies(and_(S.committed(s, c), S.committed(s, d)), eq(c, d))),
            "AckedWasRequested": forall([c], implies(S.acked(c), S.requested(c))),
            "ProposalRequested": forall([b, s, c], implies(S.accept(b, s, c), S.requested(c))),
            "BeforeIsRealTime": forall([c, d], implies(S.before(c, d), and_(S.acked(c), S.requested(d), ne(c, d)))),
            "ReadSeesEarlierWrites": forall(
                [c, d],
                implies(
                    and_(read(d), not_(read(c)), S.before(c, d), S.acked(d)),
                    exists([s], and_(S.committed(s, d), above_c)),
                ),
            ),
            "AckedFromLog": forall(
                [c], implies(S.acked(c), exists([t], and_(S.committed(t, c), self.prefix_committed(S, t))))
            ),
            "ProposalAfterEarlierAcks": forall(
                [b, s, c, d],
                implies(
                    and_(S.accept(b, s, d), S.before(c, d)),
                    or_(above_c, exists([x], and_(ne(x, d), S.committed(s, x)))),
                ),
            ),
        }

    def type_ok(self, S: View) -> L.Formula:
        """maxBal and vote give at most one value per key, a report at most one
        vote per slot, below its ballot; nothing is sent at ballot 0."""
        r = variables("r", R)[0]
        b, m, n, m2 = variables("b m n m2", B)
        (s,) = variables("s", S_)
        c, u, u2 = variables("c u u2", C)
        return and_(
            forall([r, m, n], implies(and_(S.maxBal(r, m), S.maxBal(r, n)), eq(m, n))),
            forall(
                [r, s, m, u, m2, u2],
                implies(and_(S.vote(r, s, m, u), S.vote(r, s, m2, u2)), and_(eq(m, m2), eq(u, u2))),
            ),
            forall(
                [r, b, s, m, u, m2, u2],
                implies(and_(S.report(r, b, s, m, u), S.report(r, b, s, m2, u2)), and_(eq(m, m2), eq(u, u2))),
            ),
            forall([r, b, s, m, u], implies(S.report(r, b, s, m, u), and_(ne(b, NONE), lt(m, b)))),
            forall([b, s, c], implies(S.accept(b, s, c), ne(b, NONE))),
            forall([r, b, s, c], implies(S.accepted(r, b, s, c), ne(b, NONE))),
            forall([c], implies(S.requested(c), ne(c, NIL))),
        )

    def safe_at(self, S: View, b: L.Term, s: L.Term, c: L.Term) -> L.Formula:
        """SafeAt(b, s, c): for every ballot d < b, some quorum's members each
        voted for c in slot s at d or will never vote in s at d."""
        (d,) = variables("d", B)
        (q,) = variables("q", Q)
        (r,) = variables("r", R)
        each = forall([r], implies(member(r, q), or_(S.accepted(r, d, s, c), self.wont_vote_in(S, r, d, s))))
        return forall([d], implies(and_(ne(d, NONE), lt(d, b)), exists([q], each)))

    def wont_vote_in(self, S: View, r: L.Term, d: L.Term, s: L.Term) -> L.Formula:
        """WontVoteIn(r, d, s): maxBal[r] > d and r did not vote in s at d."""
        (n,) = variables("n", B)
        (w,) = variables("w", C)
        return and_(forall([n], implies(S.maxBal(r, n), lt(d, n))), forall([w], not_(S.accepted(r, d, s, w))))

    def preferences(self, pre: View) -> list[L.Formula]:
        (b,) = variables("b", B)
        (s,) = variables("s", S_)
        (c,) = variables("c", C)
        (q,) = variables("q", Q)
        # every Accept had a quorum's reports
        return [forall([b, s, c], implies(pre.accept(b, s, c), exists([q], self.quorum_reported(b, s, q, pre))))]


S_ = S  # the Slot sort, where ``S`` names a view


class _Twin(ModelTwin):
    """The model as its own executable spec, its counterexamples shown in their least renaming
    of replicas and commands (Z3 may return either of two mirror images)."""

    def canonical(self, st: L.Structure, env: dict) -> tuple[L.Structure, dict]:
        from .concrete import canonical

        return canonical(st, env, sorts=(R, C), keep=("nil",))


def slot_order() -> dict[str, L.Formula]:
    """The axioms of a strict total order ``below`` on slots (a log's order)."""
    s, t, u = variables("s t u", S)
    return {
        "below is irreflexive": forall([s], not_(below(s, s))),
        "below is transitive": forall([s, t, u], implies(and_(below(s, t), below(t, u)), below(s, u))),
        "below is total": forall([s, t], or_(eq(s, t), below(s, t), below(t, s))),
    }


def _free(f: L.Formula) -> frozenset:
    from .logic import free_vars

    return free_vars(f)


# ---------------------------------------------------------------------------
# The executable spec, mapped into the model
# ---------------------------------------------------------------------------


def empty_structure(spec: Any) -> L.Structure:
    """The domains of ``spec``'s configuration (a MultiPaxos), with only
    ``member`` filled in: the quorums are the majorities."""
    replicas = list(spec.replicas)
    quorums = [frozenset(x) for x in itertools.combinations(replicas, spec.majority_num)]
    domains: dict[Any, list[Any]] = {
        R: replicas,
        B: [0, *spec.ballots],
        S: list(spec.slots),
        C: ["nil", *spec.commands],
        Q: quorums,
    }
    fixed = {
        member.name: {(r, q) for q in quorums for r in q},
        below.name: {(s, t) for s in spec.slots for t in spec.slots if s < t},
        read.name: {(c,) for c in spec.reads},
    }
    return L.Structure(domains, {"none": 0, "nil": "nil"}, fixed)


def structure_of_spec(spec: Any, s: Any, base: L.Structure) -> L.Structure:
    """State ``s`` of the executable Multi-Paxos as a structure of the model.

    A slot is committed at a replica once its commitUpTo reached it: the
    instance's status is no record of it, since an Accept at a higher ballot
    turns a Committed instance back to Accepting (with the same command, when
    the protocol is right)."""
    rels: dict[str, set[tuple]] = {name: set() for name in (r.name for r in STATE)}
    rels.update((r.name, base.relations[r.name]) for r in MultiPaxosModel.fixed)
    for r, n in zip(spec.replicas, s.node):
        rels["maxBal"].add((r, n.bal_max_known))
        for slot, inst in zip(spec.slots, n.insts):
            rels["vote"].add((r, slot, inst.voted.bal, inst.voted.cmd))
            if slot <= n.commit_up_to:
                rels["committed"].add((slot, inst.cmd))
    for m in s.msgs:
        if m.type == "PrepareReply":
            rels["report"].update((m.src, m.bal, slot, v.bal, v.cmd) for slot, v in zip(spec.slots, m.votes))
        elif m.type == "Accept":
            rels["accept"].add((m.bal, m.slot, m.cmd))
    accepts: dict[tuple[int, int], list[str]] = {}
    for b, slot, c in rels["accept"]:
        accepts.setdefault((b, slot), []).append(c)
    for m in s.msgs:
        if m.type == "AcceptReply":
            rels["accepted"].update((m.src, m.bal, m.slot, c) for c in accepts.get((m.bal, m.slot), ()))
    rels.update(history_of(s.observed))
    return L.Structure(base.domains, base.constants, rels)


def history_of(observed: Any) -> dict[str, set[tuple]]:
    """requested, acked and before of the clients' history ``observed`` (Req and Ack events, in order):
    c comes before d when c's first Ack precedes d's first Req."""
    first: dict[tuple[str, str], int] = {}
    for pos, e in enumerate(observed):
        first.setdefault((e.type, e.cmd), pos)
    reqs = {c: pos for (kind, c), pos in first.items() if kind == "Req"}
    acks = {c: pos for (kind, c), pos in first.items() if kind == "Ack"}
    return {
        "requested": {(c,) for c in reqs},
        "acked": {(c,) for c in acks},
        "before": {(c, d) for c, i in acks.items() for d, j in reqs.items() if i < j},
    }


# ---------------------------------------------------------------------------
# The gallery (spec/multipaxos_bugs.py), one override each
# ---------------------------------------------------------------------------


class CommitOnTooFewReplies(MultiPaxosModel):
    bug = "commit-on-too-few-replies"

    def replies_enough(self, b: L.Var, s: L.Var, c: L.Var, q: L.Var) -> L.Formula:
        (r,) = variables("r", R)
        # BUG: one fewer than a majority need not meet every quorum: a single reply stands for it
        return exists([r], accepted(r, b, s, c))


class IgnorePrepareVotes(MultiPaxosModel):
    bug = "ignore-prepare-votes"

    def proposal_value(self, r: L.Var, b: L.Var, s: L.Var, q: L.Var, c: L.Var) -> L.Formula:
        m, m2 = variables("m m2", B)
        (u,) = variables("u", C)
        # BUG: only the leader r's own report is read
        own = and_(report(r, b, s, m, c), ne(m, NONE))
        none = forall([m2, u], implies(report(r, b, s, m2, u), eq(m2, NONE)))
        return and_(member(r, q), or_(exists([m], own), none))


class AcceptBelowPromise(MultiPaxosModel):
    bug = "accept-below-promise"

    def vote_allowed(self, r: L.Var, b: L.Var, n: L.Var) -> L.Formula:
        return L.TRUE  # BUG: no check of b against maxBal[r]


class StaleLeaderRead(MultiPaxosModel):
    bug = "stale-leader-read"

    def actions(self) -> list[ActionDef]:
        return [*super().actions(), self.local_read()]

    def local_read(self) -> ActionDef:
        """LocalRead(c): a leader answers the read c from its own state, at once (TakeNewRequest)."""
        (c,) = variables("c", C)
        guard = and_(ne(c, NIL), read(c), not_(acked(c)))
        # BUG: answered without a slot in the log, whatever was committed since the leader last heard
        fresh = not_(requested(c))
        updates = (
            Insert(requested, (c,)),
            Extend(before, self.acked_before(c, fresh), self.pre_view()),
            Insert(acked, (c,)),
        )
        return ActionDef("LocalRead", (c,), guard, updates, ("c",))


BUG_MODELS: dict[str, type[MultiPaxosModel]] = gallery(MultiPaxosModel, key="bug")

#: Gallery variants with no proof variant, and why.
NO_PROOF: dict[str, str] = {
    "silent-acceptor": "a replica that never replies to an Accept only stops progress (a deadlock, a liveness "
    "failure): every safety obligation still holds, so there is nothing for a proof of safety to refute",
}


def model_for(bug: str | None = None) -> MultiPaxosModel:
    """The model of Multi-Paxos, or of the named gallery variant."""
    return model_of_variant(MultiPaxosModel, BUG_MODELS, NO_PROOF, bug)


def twin_spec(model: MultiPaxosModel, sizes: dict[str, int]) -> Any:
    """The executable Multi-Paxos (or the gallery's variant of ``model``) of the given sizes."""
    from ..spec.multipaxos import MultiPaxos

    cls = MultiPaxos
    if model.bug is not None:
        from ..spec.constants import ConfigError

        try:
            from ..spec.multipaxos_bugs import BUGS
        except ImportError:
            raise ConfigError("the executable Multi-Paxos gallery (spec/multipaxos_bugs.py) is not installed") from None
        cls = BUGS[model.bug]
    return cls(**sizes)


def crosscheck_spec(model: MultiPaxosModel, sizes: dict[str, int], progress: Any = None) -> Any:
    """``prove multipaxos --crosscheck``: every reachable state of the executable spec of ``sizes``
    maps into the model and satisfies its invariant, and every step is a run of model steps."""
    from .crosscheck import crosscheck_abstraction

    executable = twin_spec(model, sizes)
    return crosscheck_abstraction(model, executable, empty_structure(executable), structure_of_spec, progress=progress)

"""Paxos.tla as a first-order model with no bound on sizes, and its inductive invariant.

The same protocol as ``spec/paxos.py``, written in the logic of
``proofs/logic.py`` so that Z3 can reason about every number of acceptors,
ballots and values at once:

- sorts ``Acceptor``, ``Ballot``, ``Value``, ``Quorum``, all uninterpreted;
- ballots are totally ordered (``≤``, axiomatized) with a bottom element
  ``-1`` (Paxos.tla's -1: no ballot); values have an element ``None`` (no
  value). Real ballots and values are the others;
- quorums are a sort with a membership relation ``member(a, q)`` and the
  axiom that any two quorums share an acceptor;
- the variables are relations: ``maxBal(a, b)`` is the graph of Paxos.tla's
  function maxBal (so are ``maxVBal`` and ``maxVal``), and ``msgs`` is four
  relations, one per message type.

Why relations and not Z3 functions for maxBal: a function symbol
``maxBal : Acceptor → Ballot`` closes the cycle ballot → quorum (SafeAt) →
acceptor (quorum intersection) → ballot (maxBal), and Z3's instantiation then
runs away and answers unknown. As a relation, maxBal only appears under
universal quantifiers in the invariant (``∀n. maxBal(a, n) ⇒ c < n``).

For the same reason the invariant does not say that every acceptor *has* a
maxBal (``∀a ∃n. maxBal(a, n)`` is that function again): TypeOK only says
each has at most one. The proof therefore covers structures where an
acceptor lacks some of its variables, besides every state of the spec (where
none does), which is sound: it proves more. Such an acceptor cannot act
(Phase1b and Phase2b read its maxBal), and one conjunct, Msg2bBelowPromise,
states what AccNoVoteAboveVBal and AccVBalAtMostBal together imply for an
acceptor that has all three. Measured: with totality stated, Consistency
comes back unknown; without, every query is answered in milliseconds.

A post-state is not a second set of relation symbols: it is the pre-state's
relations with the action's update substituted (``maxBal′(x, y)`` is
``if x = a then y = b else maxBal(x, y)``). That leaves Z3 nothing to
instantiate for the frame, and the cross-check applies the very same
updates to concrete states.

The bug gallery of ``spec/bugs.py`` is mirrored at the end: each variant is
a subclass that overrides the one piece its executable twin overrides.
"""

from __future__ import annotations

from typing import Any

from ..spec.gallery import gallery
from .logic import (
    FALSE,
    TRUE,
    Const,
    Formula,
    Rel,
    Sort,
    Term,
    Var,
    and_,
    eq,
    exists,
    forall,
    free_vars,
    iff,
    implies,
    ite,
    le,
    lt,
    ne,
    not_,
    or_,
    variables,
)
from .model import ActionDef, Assign, Insert, ProofModel, Update, View, ballot_order, post_view, quorums_intersect

__all__ = ["ActionDef", "Assign", "Insert", "Update", "View", "post_view", "PaxosModel", "model_for", "BUG_MODELS"]

A = Sort("Acceptor")
B = Sort("Ballot")
V = Sort("Value")
Q = Sort("Quorum")
SORTS = (A, B, V, Q)

NONE = Const("none", B, label="-1")  # below every ballot: "has not promised / voted"
NIL = Const("nil", V, label="None")  # no value
CONSTANTS = (NONE, NIL)

member = Rel("member", (A, Q))
maxBal = Rel("maxBal", (A, B))
maxVBal = Rel("maxVBal", (A, B))
maxVal = Rel("maxVal", (A, V))
msg1a = Rel("msg1a", (B,))
msg1b = Rel("msg1b", (A, B, B, V))  # 1b(acc, bal, mbal, mval)
msg2a = Rel("msg2a", (B, V))
msg2b = Rel("msg2b", (A, B, V))  # 2b(acc, bal, val)

#: The variables of Paxos.tla, as relations. maxBal, maxVBal and maxVal are
#: graphs of functions of the acceptor (TypeOK says so).
STATE = (maxBal, maxVBal, maxVal, msg1a, msg1b, msg2a, msg2b)
FUNCTIONS = (maxBal, maxVBal, maxVal)
MESSAGES = (msg1a, msg1b, msg2a, msg2b)


def pre_view() -> View:
    return View({r.name: r for r in STATE})


class PaxosModel(ProofModel):
    """Paxos.tla for Z3. Subclasses (the bug gallery) override one piece."""

    name = "paxos"
    sorts = SORTS
    ordered = B
    constants = CONSTANTS
    state = STATE
    functions = FUNCTIONS
    messages = MESSAGES
    fixed = (member,)
    safety_name = "Consistency"
    safety_text = "at most one value is chosen"
    variant_text = "two values can be chosen"
    sizes_text = "acceptors, ballots and values"
    signature_text = (
        "Sorts: Acceptor, Ballot (totally ordered by ≤, with -1 below every ballot), Value (with None),\n"
        "Quorum (member(a, q); any two quorums share an acceptor). The variables are relations:\n"
        "maxBal(a, b) means maxBal[a] = b (so for maxVBal, maxVal), msg1a(b), msg1b(a, b, mbal, mval),\n"
        "msg2a(b, v) and msg2b(a, b, v) mean that message was sent."
    )

    def twin(self) -> Any:
        from .concrete import PaxosTwin

        return PaxosTwin(self)

    # -- constants -------------------------------------------------------

    def axioms(self) -> dict[str, Formula]:
        q, r = variables("q r", Q)
        (a,) = variables("a", A)
        return {**ballot_order(NONE), **self.quorum_axioms(a, q, r)}

    def quorum_axioms(self, a: Var, q: Var, r: Var) -> dict[str, Formula]:
        return quorums_intersect(member)

    # -- Init ------------------------------------------------------------

    def init_view(self) -> View:
        """maxBal = maxVBal = [a ↦ -1], maxVal = [a ↦ None], msgs = {}."""
        return View(
            {
                "maxBal": lambda a, b: eq(b, NONE),
                "maxVBal": lambda a, b: eq(b, NONE),
                "maxVal": lambda a, v: eq(v, NIL),
                "msg1a": lambda b: FALSE,
                "msg1b": lambda a, b, m, v: FALSE,
                "msg2a": lambda b, v: FALSE,
                "msg2b": lambda a, b, v: FALSE,
            }
        )

    # -- Next ------------------------------------------------------------

    def actions(self) -> list[ActionDef]:
        return [self.phase1a(), self.phase1b(), self.phase2a(), self.phase2b()]

    def phase1a(self) -> ActionDef:
        """Phase1a(b): send 1a(b)."""
        (b,) = variables("b", B)
        return ActionDef("Phase1a", (b,), ne(b, NONE), (Insert(msg1a, (b,)),), ("b",))

    def phase1b(self) -> ActionDef:
        """Phase1b(a): for a 1a(b) with b > maxBal[a], set maxBal[a] := b and
        send 1b(a, b, maxVBal[a], maxVal[a]). The witnesses n, m, u are
        a's maxBal, maxVBal and maxVal."""
        (a,) = variables("a", A)
        b, n, m = variables("b n m", B)
        (u,) = variables("u", V)
        guard = and_(msg1a(b), maxBal(a, n), lt(n, b), maxVBal(a, m), maxVal(a, u))
        updates = self.phase1b_updates(a, b, m, u)
        return ActionDef("Phase1b", (a, b, n, m, u), guard, updates, ("a", "b"))

    def phase1b_updates(self, a: Var, b: Var, m: Var, u: Var) -> tuple[Update, ...]:
        return (Assign(maxBal, a, b), Insert(msg1b, (a, b, m, u)))

    def phase2a(self) -> ActionDef:
        """Phase2a(b, v): no 2a for b yet; every member of a quorum q sent a
        1b for b; and v is free (none of their 1b reports a vote) or is the
        value of a reported vote with the highest ballot among them."""
        (b,) = variables("b", B)
        (v,) = variables("v", V)
        (q,) = variables("q", Q)
        guard = and_(
            ne(b, NONE),
            ne(v, NIL),
            self.phase2a_fresh(b),
            self.quorum_promised(b, q),
            self.phase2a_value(b, q, v),
        )
        # q before v: the cross-check's enumerator tests each conjunct as
        # soon as its parameters are bound, and the value comes last.
        return ActionDef("Phase2a", (b, q, v), guard, (Insert(msg2a, (b, v)),), ("b", "v"))

    def phase2a_fresh(self, b: Var) -> Formula:
        """No 2a with ballot b was sent."""
        (w,) = variables("w", V)
        return forall([w], not_(msg2a(b, w)))

    def quorum_promised(self, b: Var, q: Var) -> Formula:
        """Every member of q sent a 1b for ballot b."""
        return self.quorum_promised_in(self.pre_view(), b, q)

    def quorum_promised_in(self, S: View, b: Term, q: Term) -> Formula:
        (a,) = variables("a", A)
        (m,) = variables("m", B)
        (u,) = variables("u", V)
        return forall([a], implies(member(a, q), exists([m, u], S.msg1b(a, b, m, u))))

    def phase2a_value(self, b: Var, q: Var, v: Var) -> Formula:
        """v is safe on q's 1b reports: none reports a vote, or v is the value
        of one with the highest mbal."""
        a, a2 = variables("a a2", A)
        m, m2 = variables("m m2", B)
        u, u2 = variables("u u2", V)
        no_vote = forall([a, m, u], implies(and_(member(a, q), msg1b(a, b, m, u)), eq(m, NONE)))
        highest = exists(
            [a, m],
            and_(
                member(a, q),
                msg1b(a, b, m, v),
                ne(m, NONE),
                forall([a2, m2, u2], implies(and_(member(a2, q), msg1b(a2, b, m2, u2)), le(m2, m))),
            ),
        )
        return or_(no_vote, highest)

    def phase2b(self) -> ActionDef:
        """Phase2b(a): for a 2a(b, v) with b ≥ maxBal[a], set maxBal[a] :=
        maxVBal[a] := b and maxVal[a] := v, and send 2b(a, b, v). The
        witness n is a's maxBal."""
        (a,) = variables("a", A)
        b, n = variables("b n", B)
        (v,) = variables("v", V)
        guard = and_(msg2a(b, v), self.phase2b_promise_ok(a, b, n))
        updates = (Assign(maxBal, a, b), Assign(maxVBal, a, b), Assign(maxVal, a, v), Insert(msg2b, (a, b, v)))
        params = (b, v, a, n) if n in free_vars(guard) else (b, v, a)
        return ActionDef("Phase2b", params, guard, updates, ("a", "b", "v"))

    def phase2b_promise_ok(self, a: Var, b: Var, n: Var) -> Formula:
        """b ≥ maxBal[a] (n is maxBal[a])."""
        return and_(maxBal(a, n), le(n, b))

    # -- Properties ------------------------------------------------------

    def safety(self, S: View) -> Formula:
        return self.consistency(S)

    def consistency(self, S: View) -> Formula:
        """Consistency: at most one value is chosen, where v is chosen when
        every member of some quorum sent 2b(_, b, v) for one ballot b.

        Stated for two chosen values with the first one's ballot at most the
        second's: no loss of generality (≤ is total), and Z3 is spared the
        mirror image of every case (measured: half the work of this query)."""
        v, w = variables("v w", V)
        b, c = variables("b c", B)
        q, r = variables("q r", Q)
        return forall(
            [v, w, b, c, q, r],
            implies(and_(le(b, c), self.chosen_at(S, v, b, q), self.chosen_at(S, w, c, r)), eq(v, w)),
        )

    def chosen_value(self, S: View, v: Term) -> Formula:
        """v is chosen: some quorum all voted for v in one ballot. Consistency
        says this of at most one v; the cross-check compares the set of such v
        with the spec's chosen set on every reachable state."""
        (b,) = variables("b", B)
        (q,) = variables("q", Q)
        return exists([b, q], self.chosen_at(S, v, b, q))

    def chosen_at(self, S: View, v: Term, b: Term, q: Term) -> Formula:
        """Every member of quorum q voted for v in ballot b."""
        (a,) = variables("a", A)
        return forall([a], implies(member(a, q), S.msg2b(a, b, v)))

    def invariant(self, S: View) -> dict[str, Formula]:
        """The inductive invariant, conjunct by conjunct, named and meant as in
        ``spec/paxos_invariants.py`` (plus TypeOK, as ``spec/paxos.py`` has it)."""
        a, a2 = variables("a a2", A)
        b, c, m, n = variables("b c m n", B)
        u, v, w = variables("u v w", V)
        return {
            "TypeOK": self.type_ok(S),
            "AccNoneIffNoVote": forall(
                [a, m, v], implies(and_(S.maxVBal(a, m), S.maxVal(a, v)), iff(eq(v, NIL), eq(m, NONE)))
            ),
            "AccVBalAtMostBal": forall([a, m, n], implies(and_(S.maxVBal(a, m), S.maxBal(a, n)), le(m, n))),
            "AccLastVoteSent": forall(
                [a, m, v], implies(and_(S.maxVBal(a, m), S.maxVal(a, v), ne(m, NONE)), S.msg2b(a, m, v))
            ),
            "AccNoVoteAboveVBal": forall([a, b, v, m], implies(and_(S.msg2b(a, b, v), S.maxVBal(a, m)), le(b, m))),
            "Msg1bBelowPromise": forall([a, b, m, u, n], implies(and_(S.msg1b(a, b, m, u), S.maxBal(a, n)), le(b, n))),
            "Msg1bReportsVote": forall(
                [a, b, m, u],
                implies(S.msg1b(a, b, m, u), ite(eq(m, NONE), eq(u, NIL), S.msg2b(a, m, u))),
            ),
            "Msg1bHidesNoVote": forall(
                [a, b, m, u, c, w],
                implies(and_(S.msg1b(a, b, m, u), lt(m, c), lt(c, b)), not_(S.msg2b(a, c, w))),
            ),
            "Msg2aUnique": forall([b, v, w], implies(and_(S.msg2a(b, v), S.msg2a(b, w)), eq(v, w))),
            "Msg2aSafe": forall([b, v], implies(S.msg2a(b, v), self.safe_at(S, b, v))),
            "Msg2bHas2a": forall([a, b, v], implies(S.msg2b(a, b, v), S.msg2a(b, v))),
            "Msg2bAtMostVBal": forall([a, b, v, m], implies(and_(S.msg2b(a, b, v), S.maxVBal(a, m)), le(b, m))),
            "Msg2bBelowPromise": forall([a, b, v, n], implies(and_(S.msg2b(a, b, v), S.maxBal(a, n)), le(b, n))),
        }

    def type_ok(self, S: View) -> Formula:
        """Each of maxBal, maxVBal, maxVal gives an acceptor at most one value
        (see the module doc for why not "exactly one"), and every message is
        well formed: real ballots and values, and a 1b reports a vote below
        its ballot, with a value exactly when it reports one (the messages
        ``spec/paxos.py`` can represent). The spec's TypeOK, in the terms of
        this encoding."""
        (a,) = variables("a", A)
        b, m, n = variables("b m n", B)
        u, v, w = variables("u v w", V)
        parts = []
        for name, sort in (("maxBal", B), ("maxVBal", B), ("maxVal", V)):
            R = getattr(S, name)
            x, y = (m, n) if sort is B else (v, w)
            parts.append(forall([a, x, y], implies(and_(R(a, x), R(a, y)), eq(x, y))))
        parts.append(forall([b], implies(S.msg1a(b), ne(b, NONE))))
        parts.append(
            forall(
                [a, b, m, u],
                implies(S.msg1b(a, b, m, u), and_(ne(b, NONE), lt(m, b), iff(eq(m, NONE), eq(u, NIL)))),
            )
        )
        parts.append(forall([b, v], implies(S.msg2a(b, v), and_(ne(b, NONE), ne(v, NIL)))))
        parts.append(forall([a, b, v], implies(S.msg2b(a, b, v), and_(ne(b, NONE), ne(v, NIL)))))
        return and_(*parts)

    def quorum_templates(self, S: View) -> list[Formula]:
        """Proposals (a relation over ballots and values) are safe."""
        (b,) = variables("b", B)
        (v,) = variables("v", V)
        return [
            forall([b, v], implies(getattr(S, r.name)(b, v), self.safe_at(S, b, v))) for r in STATE if r.sorts == (B, V)
        ]

    def preferences(self, pre: View) -> list[Formula]:
        (a,) = variables("a", A)
        b, m, n = variables("b m n", B)
        u, v = variables("u v", V)
        (q,) = variables("q", Q)
        return [
            # every 1b answers a 1a
            forall([a, b, m, u], implies(pre.msg1b(a, b, m, u), pre.msg1a(b))),
            # every 2a had a quorum of 1b
            forall([b, v], implies(pre.msg2a(b, v), exists([q], self.quorum_promised_in(pre, b, q)))),
            # an acceptor's maxBal was set by a 1b or a 2b it sent
            forall(
                [a, n],
                implies(
                    and_(pre.maxBal(a, n), ne(n, NONE)),
                    or_(exists([m, u], pre.msg1b(a, n, m, u)), exists([v], pre.msg2b(a, n, v))),
                ),
            ),
        ]

    def safe_at(self, S: View, b: Term, v: Term) -> Formula:
        """SafeAt(b, v): for every ballot c < b, some quorum's members each
        voted for v in c or will never vote in c (WontVoteIn)."""
        (c,) = variables("c", B)
        (q,) = variables("q", Q)
        (a,) = variables("a", A)
        each = forall([a], implies(member(a, q), or_(S.msg2b(a, c, v), self.wont_vote_in(S, a, c))))
        return forall([c], implies(and_(ne(c, NONE), lt(c, b)), exists([q], each)))

    def wont_vote_in(self, S: View, a: Term, c: Term) -> Formula:
        """WontVoteIn(a, c): maxBal[a] > c and a did not vote in c. Written
        "every maxBal of a is above c" (a universal, not an existential) so
        that the invariant hands Z3 no function from acceptors to ballots."""
        (n,) = variables("n", B)
        (w,) = variables("w", V)
        return and_(forall([n], implies(S.maxBal(a, n), lt(c, n))), forall([w], not_(S.msg2b(a, c, w))))


#: One sentence per conjunct, for ``paxoscope prove --explain``.
EXPLANATIONS: dict[str, str] = {
    "TypeOK": "maxBal, maxVBal and maxVal give each acceptor at most one value, and every message is well formed: "
    "it names a real ballot (and a real value), and a 1b reports a vote below its own ballot, with a value "
    "exactly when it reports a vote.",
    "AccNoneIffNoVote": "An acceptor has a last value exactly when it has voted: maxVal[a] = None iff maxVBal[a] = -1.",
    "AccVBalAtMostBal": "An acceptor never votes above its promise: maxVBal[a] ≤ maxBal[a].",
    "AccLastVoteSent": "An acceptor's last vote was sent: if maxVBal[a] ≥ 0 then 2b(a, maxVBal[a], maxVal[a]) "
    "is in msgs.",
    "AccNoVoteAboveVBal": "maxVBal[a] is an acceptor's highest vote: it never voted in a higher ballot.",
    "Msg1bBelowPromise": "A 1b(a, b, ...) is a promise a keeps: b ≤ maxBal[a].",
    "Msg1bReportsVote": "A 1b reports either no vote (mbal = -1, mval = None) or a vote that was really cast "
    "(2b(a, mbal, mval) was sent).",
    "Msg1bHidesNoVote": "A 1b(a, b, mbal, _) hides nothing: a cast no vote in a ballot strictly between mbal and b.",
    "Msg2aUnique": "At most one value is proposed in each ballot.",
    "Msg2aSafe": "Every proposal is safe: for each 2a(b, v) and each ballot c < b, some quorum's members each voted "
    "for v in c or will never vote in c (SafeAt(b, v)).",
    "Msg2bHas2a": "Every vote answers a proposal: 2b(a, b, v) implies 2a(b, v).",
    "Msg2bAtMostVBal": "A vote 2b(a, b, v) is at most a's last vote ballot: b ≤ maxVBal[a].",
    "Msg2bBelowPromise": "A vote 2b(a, b, v) is at most a's promise: b ≤ maxBal[a]. (Msg2bAtMostVBal and "
    "AccVBalAtMostBal imply it of an acceptor that has a maxVBal; the proof also covers acceptors that lack one, "
    "so it is stated.)",
}

#: What the definitions inside the conjuncts mean.
DEFINITIONS: dict[str, str] = {
    "WontVoteIn(a, c)": "a has promised a ballot above c and did not vote in c: it never will.",
    "SafeAt(b, v)": "for every ballot c < b, some quorum's members each voted for v in c or WontVoteIn c: "
    "no value other than v was or can be chosen in a ballot below b.",
    "chosen at b by q": "every member of quorum q voted for the value in ballot b.",
}


# The conjuncts' sentences are the model's (defined after it, for reading order).
PaxosModel.explanations, PaxosModel.definitions = EXPLANATIONS, DEFINITIONS


# ---------------------------------------------------------------------------
# The bug gallery (spec/bugs.py), one override each
# ---------------------------------------------------------------------------


class NonIntersectingQuorums(PaxosModel):
    bug = "non-intersecting-quorums"

    def quorum_axioms(self, a: Var, q: Var, r: Var) -> dict[str, Formula]:
        # BUG: two quorums need not share an acceptor (a quorum still has a member)
        return {"every quorum has a member": forall([q], exists([a], member(a, q)))}


class IgnoreReportedValues(PaxosModel):
    bug = "ignore-reported-values"

    def phase2a_value(self, b: Var, q: Var, v: Var) -> Formula:
        return TRUE  # BUG: the reports are not looked at


class AnyReportedValue(PaxosModel):
    bug = "any-reported-value"

    def phase2a_value(self, b: Var, q: Var, v: Var) -> Formula:
        (a,) = variables("a", A)
        (m,) = variables("m", B)
        (u,) = variables("u", V)
        no_vote = forall([a, m, u], implies(and_(member(a, q), msg1b(a, b, m, u)), eq(m, NONE)))
        reported = exists([a, m], and_(member(a, q), msg1b(a, b, m, v), ne(m, NONE)))  # BUG: not the highest
        return or_(no_vote, reported)


class PromiseNotKept(PaxosModel):
    bug = "promise-not-kept"

    def phase1b_updates(self, a: Var, b: Var, m: Var, u: Var) -> tuple[Update, ...]:
        return (Insert(msg1b, (a, b, m, u)),)  # BUG: maxBal[a] is not raised


class AcceptBelowPromise(PaxosModel):
    bug = "accept-below-promise"

    def phase2b_promise_ok(self, a: Var, b: Var, n: Var) -> Formula:
        return TRUE  # BUG: no check of b against maxBal[a]


class TwoProposalsPerBallot(PaxosModel):
    bug = "two-proposals-per-ballot"

    def phase2a_fresh(self, b: Var) -> Formula:
        return TRUE  # BUG: no check that ballot b has no 2a yet


class AmnesiaRestart(PaxosModel):
    bug = "amnesia-restart"

    def actions(self) -> list[ActionDef]:
        return [*super().actions(), self.restart()]

    def restart(self) -> ActionDef:
        """Restart(a): a comes back with its initial variables."""
        (a,) = variables("a", A)
        updates = (Assign(maxBal, a, NONE), Assign(maxVBal, a, NONE), Assign(maxVal, a, NIL))  # BUG: state lost
        return ActionDef("Restart", (a,), TRUE, updates, ("a",))


BUG_MODELS: dict[str, type[PaxosModel]] = gallery(PaxosModel, key="bug")


def model_for(bug: str | None = None) -> PaxosModel:
    """The model of Paxos, or of the named variant of the bug gallery."""
    if bug is None:
        return PaxosModel()
    if bug not in BUG_MODELS:
        from ..spec.constants import ConfigError

        raise ConfigError(f"unknown bug {bug!r}; the gallery has: {', '.join(BUG_MODELS)}")
    return BUG_MODELS[bug]()


# With --crosscheck, Z3 itself also evaluates the proof's terms on every
# Z3_EVERY-th state (about a tenth of a second each).
Z3_EVERY = 1000


def crosscheck_spec(model: PaxosModel, sizes: dict[str, int], progress: Any = None) -> Any:
    """``prove --crosscheck``: the model against the executable spec of ``sizes``, state by state."""
    from .crosscheck import crosscheck

    return crosscheck(model, **sizes, z3_every=Z3_EVERY, progress=progress)

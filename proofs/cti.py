"""Counterexamples to induction: from a failed query to a concrete, small, explained step.

When an obligation fails (or Z3 gives up on it), the query is run again in
small finite universes: 1 to 3 acceptors, 1 to 3 ballots, 1 or 2 values and
1 to 3 quorums, smallest first, with every quantifier expanded over the
universe (a quantifier-free problem) and every variable required to be a
total function (so the model is a state the executable spec can hold). The
first model found is polished: it is made to look like a state Paxos can
reach where it can be (every 1b answers a 1a, ...), then stripped of every
message whose absence keeps it a counterexample. It is read back into a state
of the executable spec for that configuration and checked with the Python
evaluator: the pre-state satisfies the invariant, the step is the action's,
the post-state breaks the conjunct. Finally the explorer searches the
configuration from Init to tell a real bug (the pre-state is reachable) from
an invariant that is too weak (it is not), and in the second case looks for
a reachable step that fails the same obligation all the same.

This module is only imported when something fails.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import z3

from ..spec.base import Action, action
from ..spec.paxos import Paxos, PaxosState
from . import logic as L
from .concrete import NotAState, apply_updates, empty_structure, materialize, spec_class, state_of, structure_of
from .paxos import FUNCTIONS, MESSAGES, NIL, NONE, A, B, Q, V, member

if TYPE_CHECKING:
    from ..explorer.trace import Trace
    from .obligations import Obligation, Prover
    from .smt import Translator

# Universe sizes tried, as (acceptors, ballots, values, quorums) not counting
# the ballot -1 and the value None, smallest first.
SIZES = sorted(
    itertools.product(range(1, 4), range(1, 4), range(1, 3), range(1, 4)),
    key=lambda s: (sum(s), s),
)
# Per universe: the problems are quantifier-free and small, decided in
# milliseconds; this only guards against a pathological one.
SEARCH_TIMEOUT_MS = 20_000
# The explorer decides reachability for configurations up to this size.
MAX_EXPLORE = {"acceptors": 3, "ballots": 3, "values": 2}
MAX_STATES = 400_000


class _Label:
    """The first row of a counterexample's trace table is not Init: say what it is."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclass
class Counterexample:
    """A concrete counterexample: for a consecution obligation, a step
    ``pre`` --``action``--> ``post`` of ``spec`` (the executable spec, in the
    counterexample's configuration) where ``pre`` satisfies the invariant and
    ``post`` breaks the conjunct ``broken``; for initiation, an initial state
    that breaks it; for safety, a state that satisfies the invariant and
    breaks Consistency."""

    obligation: str
    broken: str
    spec: Paxos
    pre: PaxosState
    action: Action | None = None
    post: PaxosState | None = None  # None: the post-state is no state of the spec (see note)
    note: str = ""
    reachable: bool | None = None  # None: not decided (see reach_note)
    reach_note: str = ""
    path: Trace | None = None  # when reachable: a shortest run from Init to ``pre``
    real: Trace | None = None  # when not: a run on which the same obligation fails, if one exists

    def trace(self) -> Trace:
        """The counterexample as a trace: the pre-state and the failing step."""
        from ..explorer.trace import Step, Trace

        if self.obligation == "initiation":
            return Trace(self.spec, [Step(None, self.pre)])  # the trace table calls it Init
        steps = [Step(_Label("a state satisfying Inv"), self.pre)]
        if self.action is not None and self.post is not None:
            steps.append(Step(self.action, self.post))
        return Trace(self.spec, steps)

    def full_trace(self) -> Trace:
        """Init ... pre-state, then the failing step: a behaviour of the spec (when reachable)."""
        from ..explorer.trace import Step, Trace

        if self.path is None:
            raise ValueError("the pre-state was not found reachable")
        steps = list(self.path.steps)
        if self.action is not None and self.post is not None:
            steps.append(Step(self.action, self.post))
        return Trace(self.spec, steps)


def find_counterexample(prover: Prover, ob: Obligation) -> Counterexample | None:
    """A small concrete counterexample to ``ob``, or None if no universe up to SIZES has one."""
    for sizes in SIZES:
        found = _search(prover, ob, sizes)
        if found is not None:
            return found
    return None


def _preferences(pre) -> list[L.Formula]:
    """True of every reachable state, not needed by the invariant: asked of a
    counterexample's pre-state where possible, so that it looks like a state
    Paxos can reach (and the explorer may find it)."""
    a, a2 = L.variables("a a2", A)
    b, m, n = L.variables("b m n", B)
    u, v = L.variables("u v", V)
    (q,) = L.variables("q", Q)
    return [
        # every 1b answers a 1a
        L.forall([a, b, m, u], L.implies(pre.msg1b(a, b, m, u), pre.msg1a(b))),
        # every 2a had a quorum of 1b
        L.forall(
            [b, v],
            L.implies(
                pre.msg2a(b, v),
                L.exists([q], L.forall([a2], L.implies(member(a2, q), L.exists([m, u], pre.msg1b(a2, b, m, u))))),
            ),
        ),
        # an acceptor's maxBal was set by a 1b or a 2b it sent
        L.forall(
            [a, n],
            L.implies(
                L.and_(pre.maxBal(a, n), L.ne(n, NONE)),
                L.or_(L.exists([m, u], pre.msg1b(a, n, m, u)), L.exists([v], pre.msg2b(a, n, v))),
            ),
        ),
    ]


def _search(prover: Prover, ob: Obligation, sizes: tuple[int, int, int, int]) -> Counterexample | None:
    params = ob.action.params if ob.action is not None else ()
    found = solve_small(prover.tr, prover.pre, [*ob.hypotheses, L.not_(ob.goal)], params, sizes)
    if found is None:
        return None
    s, model, universe, g = found
    if ob.kind != "initiation":
        model = _polish(s, model, [g(f) for f in _preferences(prover.pre)], universe, prover.tr)
    return _read(prover, ob, model, universe)


def solve_small(
    tr: Translator, pre: Any, formulas: list[L.Formula], params: tuple[L.Var, ...], sizes: tuple[int, int, int, int]
) -> tuple[z3.Solver, z3.ModelRef, dict, Any] | None:
    """A model of ``formulas`` (with the variables of ``pre`` total functions)
    in a universe of the given sizes (acceptors, ballots, values, quorums; the
    ballot -1 and the value None come on top), or None.

    Every quantifier is expanded over the universe: a quantifier-free problem
    Z3 decides quickly. The elements are interchangeable, so -1 and None may
    be the first ballot and value and the order of ballots that of the
    elements, with no loss. Returns the solver (for more questions), the
    model, the universe (constants by sort) and the grounding function."""
    n_a, n_b, n_v, n_q = sizes
    counts = {A: n_a, B: n_b + 1, V: n_v + 1, Q: n_q}
    universe = {s: [L.Const(f"{s.name[0].lower()}{i}!e", s) for i in range(k)] for s, k in counts.items()}
    rank = {c: i for consts in universe.values() for i, c in enumerate(consts)}
    env: dict[L.Term, L.Term] = {NONE: universe[B][0], NIL: universe[V][0]}

    def g(f: L.Formula) -> L.Formula:
        return L.ground(f, universe, env, rank)

    hard = [g(f) for f in formulas]
    # Total functions: the pre-state must be a state of the executable spec.
    for rel in FUNCTIONS:
        (a,) = L.variables("a", A)
        (y,) = L.variables("y", rel.sorts[1])
        hard.append(g(L.forall([a], L.exists([y], getattr(pre, rel.name)(a, y)))))
    # The action's parameters are elements too; the order is fixed.
    for p in params:
        hard.append(L.or_(*(L.Eq(p, c) for c in universe[p.sort])))
    bs = universe[B]
    hard += [L.Le(x, y) if rank[x] <= rank[y] else L.Not(L.Le(x, y)) for x in bs for y in bs]
    hard += [L.Not(L.Eq(x, y)) for consts in universe.values() for x, y in itertools.combinations(consts, 2)]
    if any(f is L.FALSE for f in hard):
        return None
    s = z3.SimpleSolver()
    s.set("timeout", SEARCH_TIMEOUT_MS)
    s.add(*tr.batch(hard))
    if s.check() != z3.sat:
        return None
    return s, s.model(), universe, g


def _polish(s: z3.Solver, model: z3.ModelRef, preferences: list[L.Formula], universe, tr) -> z3.ModelRef:
    """Keep each preference the counterexample can meet, then drop every
    message whose absence keeps it a counterexample."""

    def attempt(extra: z3.BoolRef) -> bool:
        nonlocal model
        s.push()
        s.add(extra)
        ok = s.check() == z3.sat
        if ok:
            model = s.model()
        s.pop()
        if ok:
            s.add(extra)
        return ok

    for z in tr.batch(preferences):
        attempt(z)
    for rel in reversed(MESSAGES):
        for args in itertools.product(*(universe[x] for x in rel.sorts)):
            atom = tr.rel(rel)(*(tr.term(c) for c in args))
            if z3.is_true(model.eval(atom, model_completion=True)):
                attempt(z3.Not(atom))
    return model


def read_model(
    tr: Translator, model: z3.ModelRef, universe: dict, params: tuple[L.Var, ...] = ()
) -> tuple[L.Structure, dict[L.Var, Any]]:
    """The model as a structure of Python values (acceptors a1.., ballots -1,
    0.., values None, v1.., quorums as frozensets of acceptors), and the
    parameters' values."""

    def holds(f: z3.BoolRef) -> bool:
        return z3.is_true(model.eval(f, model_completion=True))

    acceptors = {c: f"a{i + 1}" for i, c in enumerate(universe[A])}
    python: dict[L.Sort, dict[L.Term, Any]] = {
        A: acceptors,
        B: {c: i - 1 for i, c in enumerate(universe[B])},
        V: {c: (f"v{i}" if i else None) for i, c in enumerate(universe[V])},
        Q: {
            q: frozenset(acceptors[a] for a in universe[A] if holds(tr.rel(member)(tr.term(a), tr.term(q))))
            for q in universe[Q]
        },
    }
    rels = {member.name: {(a, q) for q in python[Q].values() for a in q}}
    for rel in (*FUNCTIONS, *MESSAGES):
        rels[rel.name] = {
            tuple(python[x][c] for x, c in zip(rel.sorts, args))
            for args in itertools.product(*(universe[x] for x in rel.sorts))
            if holds(tr.rel(rel)(*(tr.term(c) for c in args)))
        }
    domains = {sort: list(dict.fromkeys(values.values())) for sort, values in python.items()}
    st = L.Structure(domains, {"none": -1, "nil": None}, rels)
    env = {p: next(python[p.sort][c] for c in universe[p.sort] if holds(tr.term(p) == tr.term(c))) for p in params}
    return st, env


def _read(prover: Prover, ob: Obligation, model: z3.ModelRef, universe) -> Counterexample | None:
    """The model as states of the executable spec, in the model's configuration."""
    params = ob.action.params if ob.action is not None else ()
    st, env = canonical(*read_model(prover.tr, model, universe, params))
    quorums = sorted(st.domains[Q], key=lambda q: (len(q), sorted(q)))
    spec = spec_class(prover.model)(
        acceptors=len(universe[A]),
        values=len(universe[V]) - 1,
        ballots=len(universe[B]) - 1,
        quorums=[sorted(q) for q in quorums],
    )
    base = empty_structure(spec)
    if ob.kind == "initiation":
        st = materialize(prover.model.init_view(), base)
    else:
        st = L.Structure(base.domains, base.constants, {**st.relations, member.name: base.relations[member.name]})
    return _explain(prover, ob, spec, st, env)


def canonical(st: L.Structure, env: dict[L.Var, Any]) -> tuple[L.Structure, dict[L.Var, Any]]:
    """The same counterexample with acceptors and values renamed to the least
    form: acceptors and values are interchangeable, and Z3 may return either
    of two mirror-image models, so a reader sees the same one every time."""
    acceptors = [a for a in st.domains[A]]
    values = [v for v in st.domains[V] if v is not None]

    def key(rename: dict) -> tuple:
        return (
            sorted((name, sorted(map(repr, _renamed(tuples, rename)))) for name, tuples in st.relations.items()),
            sorted((p.name, repr(_renamed(x, rename))) for p, x in env.items()),
        )

    renames = [
        {**dict(zip(acceptors, pa)), **dict(zip(values, pv))}
        for pa in itertools.permutations(acceptors)
        for pv in itertools.permutations(values)
    ]
    best = min(renames, key=key)
    domains = {sort: [_renamed(x, best) for x in xs] for sort, xs in st.domains.items()}
    domains[A], domains[V] = acceptors, st.domains[V]  # the same names, in the same order
    relations = {name: _renamed(tuples, best) for name, tuples in st.relations.items()}
    return L.Structure(domains, st.constants, relations), {p: _renamed(x, best) for p, x in env.items()}


def _renamed(x: Any, rename: dict) -> Any:
    if isinstance(x, (set, frozenset)):
        return type(x)(_renamed(y, rename) for y in x)
    if isinstance(x, tuple):
        return tuple(_renamed(y, rename) for y in x)
    return rename.get(x, x) if isinstance(x, str) else x


def _explain(prover: Prover, ob: Obligation, spec: Paxos, pre: L.Structure, env: dict) -> Counterexample | None:
    try:
        pre_state = state_of(spec, pre)
    except NotAState:
        return None
    inv = {n: L.compile_formula(f, (), name=n) for n, f in prover.inv.items()}
    # Read the model with the Python evaluator too: it must agree with Z3.
    agrees = True
    if ob.kind == "initiation":
        broken = next((n for n, f in inv.items() if not f(pre)), None)
        agrees = broken is not None
        cex = Counterexample(ob.name, broken or "Inv", spec, pre_state)
    else:
        agrees = all(f(pre) for f in inv.values())
        if ob.kind == "safety":
            agrees = agrees and not L.compile_formula(ob.goal, (), name=ob.name)(pre)
            cex = Counterexample(ob.name, "Consistency", spec, pre_state)
        else:
            act = ob.action
            post = apply_updates(pre, act.updates, env)
            shown = sorted((p for p in act.params if p.name in act.shown), key=lambda p: act.shown.index(p.name))
            label = action(act.name, **{p.name: env[p] for p in shown})
            note = ""
            try:
                post_state = state_of(spec, post)
            except NotAState as exc:
                post_state, note = None, f"the post-state is not a state of the spec: {exc}"
            cex = Counterexample(ob.name, ob.conjunct, spec, pre_state, label, post_state, note)
            guard = L.compile_formula(act.guard, act.params, name=act.name)
            agrees = agrees and guard(pre, *(env[p] for p in act.params))
            agrees = agrees and not inv[ob.conjunct](post)
    if not agrees:
        cex.note = (cex.note + "; " if cex.note else "") + "the Python evaluator disagrees with Z3's model here"
    _reachability(prover, ob, cex)
    return cex


class _Target:
    """``spec`` with only the given properties: the explorer then stops at the
    first state (or step) that breaks one, with a shortest trace to it."""

    refinements: tuple = ()
    sometimes: dict = {}
    default_properties = None
    symmetry = None
    constraint = None

    def __init__(self, spec: Paxos, invariants: dict | None = None, steps: dict | None = None):
        self._spec = spec
        self.invariants = invariants or {}
        self.action_properties = steps or {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spec, name)


def _explore(spec: Paxos, invariants: dict | None = None, steps: dict | None = None):
    from ..explorer.bfs import check

    target = _Target(spec, invariants, steps)
    return check(target, [*(invariants or {}), *(steps or {})], max_states=MAX_STATES)


def _reachability(prover: Prover, ob: Obligation, cex: Counterexample) -> None:
    """Is the pre-state reachable? If not, does the obligation fail on some
    reachable step of the same configuration all the same?"""
    from ..explorer.trace import Step, Trace

    k = cex.spec.k
    sizes = {"acceptors": len(k.acceptors), "ballots": len(k.ballots), "values": len(k.values)}
    if any(sizes[x] > MAX_EXPLORE[x] for x in sizes):
        cex.reach_note = "the configuration is too large to explore"
        return
    if ob.kind == "initiation":
        cex.reachable = True
        cex.path = Trace(cex.spec, [Step(None, cex.pre)])
        return
    target = cex.pre
    r = _explore(cex.spec, {"NotTheCounterexample": lambda s: s != target})
    if r.verdict == "violation":
        cex.reachable = True
        cex.path = Trace(cex.spec, list(r.violation.trace.steps))
        cex.reach_note = f"found after exploring {r.distinct_states:,} states"
        return
    if r.verdict != "ok":
        cex.reach_note = f"not found in the first {r.distinct_states:,} states"
        return
    cex.reachable = False
    cex.reach_note = f"all {r.distinct_states:,} reachable states explored"
    # The same obligation may still fail from a reachable state: then the
    # protocol is wrong, whatever the invariant.
    spec = cex.spec
    base = empty_structure(spec)
    inv = [L.compile_formula(f, (), name=n) for n, f in prover.inv.items()]

    def holds(s: PaxosState) -> bool:
        st = structure_of(spec, s, base)
        return all(f(st) for f in inv)

    if ob.kind == "safety":
        consistency = L.compile_formula(ob.goal, (), name="Consistency")
        r = _explore(spec, {"Obligation": lambda s: not (holds(s) and not consistency(structure_of(spec, s, base)))})
    else:
        name = ob.action.name
        conjunct = L.compile_formula(prover.inv[ob.conjunct], (), name=ob.conjunct)

        def step_ok(s: PaxosState, a: Action, t: PaxosState) -> bool:
            return a.name != name or conjunct(structure_of(spec, t, base)) or not holds(s)

        r = _explore(spec, steps={"Obligation": step_ok})
    if r.verdict == "violation":
        cex.real = Trace(spec, list(r.violation.trace.steps))

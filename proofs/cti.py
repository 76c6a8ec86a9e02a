"""Counterexamples to induction: from a failed query to a concrete, small, explained step.

When an obligation fails (or Z3 gives up on it), the query is run again in
small finite universes (the model's twin lists them: for Paxos, 1 to 3
acceptors, 1 to 3 ballots, 1 or 2 values and 1 to 3 quorums), smallest
first, with every quantifier expanded over the universe (a quantifier-free
problem) and every function variable required to be total (so the model is a
state the executable spec can hold). The first model found is polished: it
is made to look like a state the protocol can reach where it can be (the
model's ``preferences``: for Paxos, every 1b answers a 1a, ...), then
stripped of every message whose absence keeps it a counterexample. It is
read back into a state of the twin's executable spec for that configuration
and checked with the Python evaluator: the pre-state satisfies the invariant, the step is the action's,
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
from . import logic as L
from .finite import NotAState, apply_updates, materialize

if TYPE_CHECKING:
    from ..explorer.trace import Trace
    from .model import ProofModel
    from .obligations import Obligation, Prover
    from .smt import Translator

# Per universe: the problems are quantifier-free and small, decided in
# milliseconds; this only guards against a pathological one.
SEARCH_TIMEOUT_MS = 20_000
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
    spec: Any
    pre: Any
    action: Action | None = None
    post: Any = None  # None: the post-state is no state of the spec (see note)
    note: str = ""
    reachable: bool | None = None  # None: not decided (see reach_note)
    reach_note: str = ""
    path: Trace | None = None  # when reachable: a shortest run from Init to ``pre``
    real: Trace | None = None  # when not: a run on which the same obligation fails, if one exists
    where: str = ""  # the configuration, in words

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
    """A small concrete counterexample to ``ob``, or None if no universe of the twin's has one."""
    for sizes in prover.twin.sizes:
        found = _search(prover, ob, sizes)
        if found is not None:
            return found
    return None


def _search(prover: Prover, ob: Obligation, sizes: dict[L.Sort, int]) -> Counterexample | None:
    params = ob.action.params if ob.action is not None else ()
    model = prover.model
    found = solve_small(prover.tr, model, prover.pre, [*ob.hypotheses, L.not_(ob.goal)], params, sizes)
    if found is None:
        return None
    s, z, universe, g = found
    if ob.kind != "initiation":
        z = _polish(s, z, [g(f) for f in model.preferences(prover.pre)], universe, prover.tr, model)
    return _read(prover, ob, z, universe)


def solve_small(
    tr: Translator,
    model: ProofModel,
    pre: Any,
    formulas: list[L.Formula],
    params: tuple[L.Var, ...],
    sizes: dict[L.Sort, int],
) -> tuple[z3.Solver, z3.ModelRef, dict, Any] | None:
    """A model of ``formulas`` (with the function variables of ``pre`` total)
    in a universe with ``sizes[sort]`` elements of each sort, the model's
    constants first (the ballot -1 and the value None of Paxos, say), or None.

    Every quantifier is expanded over the universe: a quantifier-free problem
    Z3 decides quickly. The elements are interchangeable, so the constants
    may be the first elements and the order of the ordered sort that of the
    elements, with no loss. Returns the solver (for more questions), the
    model, the universe (constants by sort) and the grounding function."""
    universe = {s: [L.Const(f"{s.name[0].lower()}{i}!e", s) for i in range(k)] for s, k in sizes.items()}
    rank = {c: i for consts in universe.values() for i, c in enumerate(consts)}
    env: dict[L.Term, L.Term] = {}
    for sort in universe:
        for i, c in enumerate(k for k in model.constants if k.sort is sort):
            env[c] = universe[sort][i]

    def g(f: L.Formula) -> L.Formula:
        return L.ground(f, universe, env, rank)

    hard = [g(f) for f in formulas]
    # Total functions: the pre-state must be a state of the executable spec.
    for rel in model.functions:
        k = model.key_arity(rel)
        keys = [L.Var(f"k{i}", s) for i, s in enumerate(rel.sorts[:k])]
        ys = [L.Var(f"y{i}", s) for i, s in enumerate(rel.sorts[k:])]
        hard.append(g(L.forall(keys, L.exists(ys, getattr(pre, rel.name)(*keys, *ys)))))
    # The action's parameters are elements too; the order is fixed.
    for p in params:
        hard.append(L.or_(*(L.Eq(p, c) for c in universe[p.sort])))
    bs = universe[model.ordered]
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


def _polish(
    s: z3.Solver, model: z3.ModelRef, preferences: list[L.Formula], universe, tr, proof_model: ProofModel
) -> z3.ModelRef:
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
    for rel in reversed(proof_model.messages):
        for args in itertools.product(*(universe[x] for x in rel.sorts)):
            atom = tr.rel(rel)(*(tr.term(c) for c in args))
            if z3.is_true(model.eval(atom, model_completion=True)):
                attempt(z3.Not(atom))
    return model


def read_model(
    tr: Translator, model: z3.ModelRef, universe: dict, twin: Any, params: tuple[L.Var, ...] = ()
) -> tuple[L.Structure, dict[L.Var, Any]]:
    """The model as a structure of Python values (the twin names the
    elements: for Paxos, acceptors a1.., ballots -1, 0.., values None, v1..,
    quorums as frozensets of acceptors), and the parameters' values."""

    def holds(f: z3.BoolRef) -> bool:
        return z3.is_true(model.eval(f, model_completion=True))

    def holds_rel(rel: L.Rel, args: tuple) -> bool:
        return holds(tr.rel(rel)(*(tr.term(c) for c in args)))

    proof_model = twin.model
    python = twin.name_elements(universe, holds_rel)
    rels = {}
    for rel in (*proof_model.fixed, *proof_model.state):
        rels[rel.name] = {
            tuple(python[x][c] for x, c in zip(rel.sorts, args))
            for args in itertools.product(*(universe[x] for x in rel.sorts))
            if holds_rel(rel, args)
        }
    domains = {sort: list(dict.fromkeys(values.values())) for sort, values in python.items()}
    constants = {}
    for sort in universe:
        for i, c in enumerate(k for k in proof_model.constants if k.sort is sort):
            constants[c.name] = python[sort][universe[sort][i]]
    st = L.Structure(domains, constants, rels)
    env = {p: next(python[p.sort][c] for c in universe[p.sort] if holds(tr.term(p) == tr.term(c))) for p in params}
    return st, env


def _read(prover: Prover, ob: Obligation, model: z3.ModelRef, universe) -> Counterexample | None:
    """The model as states of the executable spec, in the model's configuration."""
    twin = prover.twin
    params = ob.action.params if ob.action is not None else ()
    st, env = twin.canonical(*read_model(prover.tr, model, universe, twin, params))
    spec = twin.spec_for(st)
    base = twin.empty_structure(spec)
    if ob.kind == "initiation":
        st = materialize(prover.model, prover.model.init_view(), base)
    else:
        fixed = {r.name: base.relations[r.name] for r in prover.model.fixed}
        st = L.Structure(base.domains, base.constants, {**st.relations, **fixed})
    return _explain(prover, ob, spec, st, env)


def _explain(prover: Prover, ob: Obligation, spec: Any, pre: L.Structure, env: dict) -> Counterexample | None:
    twin = prover.twin
    try:
        pre_state = twin.state_of(spec, pre)
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
            cex = Counterexample(ob.name, ob.conjunct or prover.model.safety_name, spec, pre_state)
        else:
            act = ob.action
            post = apply_updates(pre, act.updates, env)
            shown = sorted((p for p in act.params if p.name in act.shown), key=lambda p: act.shown.index(p.name))
            label = action(act.name, **{p.name: env[p] for p in shown})
            note = ""
            try:
                post_state = twin.state_of(spec, post)
            except NotAState as exc:
                post_state, note = None, f"the post-state is not a state of the spec: {exc}"
            cex = Counterexample(ob.name, ob.conjunct, spec, pre_state, label, post_state, note)
            guard = L.compile_formula(act.guard, act.params, name=act.name)
            agrees = agrees and guard(pre, *(env[p] for p in act.params))
            agrees = agrees and not inv[ob.conjunct](post)
    cex.where = twin.describe(spec.config)
    if not agrees:
        cex.note = (cex.note + "; " if cex.note else "") + "the Python evaluator disagrees with Z3's model here"
    _reachability(prover, ob, cex)
    return cex


def _explore(spec: Any, invariants: dict | None = None, steps: dict | None = None):
    """Search ``spec`` for the first state (or step) that breaks one of the given
    properties, none of the spec's own: a shortest trace to it."""
    from ..explorer.bfs import CheckOptions, check

    options = CheckOptions(
        properties=(), invariants=invariants or {}, action_properties=steps or {}, max_states=MAX_STATES
    )
    return check(spec, options)


def _reachability(prover: Prover, ob: Obligation, cex: Counterexample) -> None:
    """Is the pre-state reachable? If not, does the obligation fail on some
    reachable step of the same configuration all the same?"""
    from ..explorer.trace import Step, Trace

    twin = prover.twin
    if twin.too_large(cex.spec):
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
    base = twin.empty_structure(spec)
    inv = [L.compile_formula(f, (), name=n) for n, f in prover.inv.items()]

    def holds(s: Any) -> bool:
        st = twin.structure_of(spec, s, base)
        return all(f(st) for f in inv)

    if ob.kind == "safety":
        safety = L.compile_formula(ob.goal, (), name=prover.model.safety_name)
        r = _explore(spec, {"Obligation": lambda s: not (holds(s) and not safety(twin.structure_of(spec, s, base)))})
    else:
        name = ob.action.name
        conjunct = L.compile_formula(prover.inv[ob.conjunct], (), name=ob.conjunct)

        def step_ok(s: Any, a: Action, t: Any) -> bool:
            return a.name != name or conjunct(twin.structure_of(spec, t, base)) or not holds(s)

        r = _explore(spec, steps={"Obligation": step_ok})
    if r.verdict == "violation":
        cex.real = Trace(spec, list(r.violation.trace.steps))

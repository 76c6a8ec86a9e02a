"""Invariant inference (Houdini): mine candidate conjuncts, keep the largest inductive subset.

1. **Templates.** Every clause ``∀x̄. R(x̄) ∧ R′(ȳ) ⇒ L`` where R is a
   variable of Paxos (a relation), R′ is absent or a second variable that
   shares R's first argument (the same acceptor, say), and L is a literal
   over their variables (an equality, an order between ballots, a comparison
   with -1 or None, a relation atom) or one of two kinds of pairs: a
   comparison with -1 or None or a relation atom on a common variable
   (``m = -1 ∨ 2b(a, m, u)``), two orders between ballots (``c ≤ m ∨ b ≤
   c``). Plus one template with a quorum in it, "the proposals of a relation
   over ballots and values are safe" (SafeAt), which no clause can express.
   Clauses true of every state (tautologies) are left out.
2. **Filter.** Drop every candidate false in some reachable state of a small
   configuration (the executable spec's states, read by the compiled
   formulas of ``proofs/logic.py``).
3. **Houdini.** While some action takes a state satisfying every candidate
   to one that breaks some, drop those it breaks. The steps come from small
   finite universes (``cti.solve_small``), which are fast.
4. **Unbounded check.** The survivors as one invariant, through Z3 with no
   bound on sizes: one query per action for the whole conjunction, and if
   that does not settle it, obligation by obligation, dropping what fails,
   until everything left is proven.

The result is inductive for every size (Z3 proved it); ``houdini`` reports
whether it also implies Consistency, and how long each stage took.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from ..explorer.bfs import reachable
from ..spec.paxos import Paxos
from . import logic as L
from .concrete import PaxosTwin, empty_structure, structure_of
from .cti import read_model, solve_small
from .finite import apply_updates
from .obligations import prove
from .paxos import NIL, NONE, SORTS, STATE, A, B, PaxosModel, Q, V, View, post_view, pre_view
from .smt import Translator

# Variable names by sort, in the order templates take them.
_NAMES = {A: "a a2", B: "b c d e", V: "v w u", Q: "q"}


@dataclass
class HoudiniReport:
    templates: int
    after_filter: int
    inductive: list[str]
    proves_consistency: bool
    seconds: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    dropped_unbounded: list[str] = field(default_factory=list)


def _fresh(sorts: tuple[L.Sort, ...], used: dict[L.Sort, int]) -> list[L.Var]:
    out = []
    for s in sorts:
        names = _NAMES[s].split()
        i = used.get(s, 0)
        used[s] = i + 1
        out.append(L.Var(names[i] if i < len(names) else f"{names[0]}{i}", s))
    return out


def _raw(model: PaxosModel, S: View) -> list[L.Formula]:
    """Every template instance over the state ``S``, in a fixed order."""
    out: list[L.Formula] = []
    for r1 in STATE:
        for r2 in (None, *STATE):
            used: dict[L.Sort, int] = {}
            xs = _fresh(r1.sorts, used)
            atoms = [getattr(S, r1.name)(*xs)]
            vs = list(xs)
            if r2 is not None:
                # The second atom shares the first one's first variable.
                if r2.sorts[0] is not r1.sorts[0] or (r2 is r1 and len(r1.sorts) > 2):
                    continue
                ys = [xs[0], *_fresh(r2.sorts[1:], used)]
                atoms.append(getattr(S, r2.name)(*ys))
                vs += ys[1:]
            guard = L.and_(*atoms)
            single, none_lits, order_lits, atom_lits = _literals(vs, S)
            consequents = [*single]
            # Two-literal clauses of two useful shapes: a comparison with -1
            # or None or a relation atom (m = -1 ∨ 2b(a, m, u)), and two
            # orders between ballots (c ≤ m ∨ b ≤ c).
            consequents += [L.or_(x, y) for (x, xv), (y, yv) in itertools.product(none_lits, atom_lits) if xv & yv]
            consequents += [L.or_(x, y) for x, y in itertools.combinations(order_lits, 2)]
            # (Always one formula per template, whatever the state: the
            # positions in this list name the templates over every state.)
            out += [L.forall(vs, L.implies(guard, lit)) for lit in consequents]
    # The quorum template: proposals (a relation over ballots and values) are safe.
    (b,) = L.variables("b", B)
    (v,) = L.variables("v", V)
    for r in STATE:
        if r.sorts == (B, V):
            out.append(L.forall([b, v], L.implies(getattr(S, r.name)(b, v), model.safe_at(S, b, v))))
    return out


def _tautology(f: L.Formula) -> bool:
    """``∀x̄. g1 ∧ .. ⇒ L``, true whatever the state: L (or one of its
    disjuncts) is a guard atom, or L is ``x ≤ y ∨ y ≤ x``."""
    if not isinstance(f, L.Forall) or not isinstance(f.body, L.Implies):
        return False
    guard, lit = f.body.left, f.body.right
    atoms = guard.args if isinstance(guard, L.And) else (guard,)
    disjuncts = lit.args if isinstance(lit, L.Or) else (lit,)

    def in_guard(d: L.Formula) -> bool:
        return isinstance(d, L.App) and any(isinstance(g, L.App) and g.rel is d.rel and g.args == d.args for g in atoms)

    if any(in_guard(d) for d in disjuncts):
        return True
    if len(disjuncts) == 2 and all(isinstance(d, L.Le) for d in disjuncts):
        x, y = disjuncts
        return x.left is y.right and x.right is y.left
    return False


def templates(model: PaxosModel) -> dict[str, int]:
    """Candidate conjuncts: their text (over the pre-state) -> their place in ``_raw``."""
    out: dict[str, int] = {}
    for i, f in enumerate(_raw(model, pre_view())):
        if f is not L.TRUE and f is not L.FALSE and not _tautology(f):
            out.setdefault(L.show(f), i)
    return out


def _literals(vs: list[L.Var], S: View) -> tuple[list, ...]:
    """Literals over ``vs``: all of them; comparisons with -1 and None and
    relation atoms, each with the variables it mentions (which do not depend
    on ``S``: a post-state may fold an atom away); non-strict orders between
    ballots."""
    by_sort: dict[L.Sort, list[L.Var]] = {}
    for x in vs:
        by_sort.setdefault(x.sort, []).append(x)
    single: list[L.Formula] = []
    order: list[L.Formula] = []
    for x, y in itertools.combinations(vs, 2):
        if x.sort is not y.sort or x.sort is Q:
            continue
        single += [L.eq(x, y), L.ne(x, y)]
        if x.sort is B:
            order += [L.le(x, y), L.le(y, x)]
            single += [L.le(x, y), L.le(y, x), L.lt(x, y), L.lt(y, x)]
    nones: list[tuple[L.Formula, set[L.Var]]] = []
    for x in by_sort.get(B, []):
        nones += [(L.eq(x, NONE), {x}), (L.ne(x, NONE), {x})]
    for x in by_sort.get(V, []):
        nones += [(L.eq(x, NIL), {x}), (L.ne(x, NIL), {x})]
    atoms: list[tuple[L.Formula, set[L.Var]]] = []
    for r in STATE:
        if len(r.sorts) <= 3:
            for args in itertools.product(*(by_sort.get(s, []) for s in r.sorts)):
                atoms.append((getattr(S, r.name)(*args), set(args)))
    return single + [f for f, _ in nones] + [f for f, _ in atoms], nones, order, atoms


class _Mined(PaxosModel):
    """Paxos with a given invariant: TypeOK plus the chosen templates."""

    def __init__(self, chosen: dict[str, int]):
        self.chosen = chosen

    def invariant(self, S: View) -> dict[str, L.Formula]:
        raw = _raw(self, S)
        return {"TypeOK": self.type_ok(S), **{n: raw[i] for n, i in self.chosen.items()}}


class _OnlySafety(_Mined):
    """A mined model whose consecution is already proven: only initiation and
    the safety obligation are discharged again."""

    def actions(self) -> list:
        return []


def _inductive_at_once(model: _Mined, timeout: float = 10.0) -> bool:
    """Inv ∧ A ⇒ Inv′ for every action A, Inv as one conjunction, and Init ⇒ Inv."""
    import z3

    from .smt import solve

    tr = Translator(SORTS, B)
    pre = pre_view()
    inv = list(model.invariant(pre).values())
    base = [*tr.batch(list(model.axioms().values())), *tr.batch(inv)]
    init = L.and_(*model.invariant(model.init_view()).values())
    if solve([*tr.batch(list(model.axioms().values())), z3.Not(tr(init))], timeout).result != "unsat":
        return False
    for act in model.actions():
        post = L.and_(*model.invariant(post_view(pre, act.updates)).values())
        if solve([*base, tr(act.guard), z3.Not(tr(post))], timeout).result != "unsat":
            return False
    return True


def houdini(
    sizes: tuple[int, int, int] = (3, 2, 2),
    universes: tuple[tuple[int, int, int, int], ...] = ((2, 2, 2, 2), (3, 2, 2, 3)),
    max_states: int = 20_000,
) -> HoudiniReport:
    """Mine, filter on the reachable states of ``sizes`` (acceptors, values,
    ballots), and keep the largest inductive subset; see the module doc."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    model = PaxosModel()
    pre = pre_view()
    index = templates(model)
    raw_pre = _raw(model, pre)
    seconds["templates"] = time.perf_counter() - start

    # 2. Filter on reachable states: most candidates die on the first few.
    t = time.perf_counter()
    spec = Paxos(*sizes)
    base = empty_structure(spec)
    structures = [structure_of(spec, s, base) for s in reachable(spec, max_states)]
    compiled = {n: L.compile_formula(raw_pre[i], (), name="candidate") for n, i in index.items()}
    alive = {n: i for n, i in index.items() if all(compiled[n](st) for st in structures)}
    n_filtered = len(alive)
    seconds["filter"] = time.perf_counter() - t

    # 3. Houdini on steps found in small universes.
    t = time.perf_counter()
    tr = Translator(SORTS, B)
    twin = PaxosTwin(model)
    hypotheses = [*model.axioms().values(), model.type_ok(pre)]
    rounds = 0
    changed = True
    while changed and alive:
        changed = False
        rounds += 1
        for act in model.actions():
            raw_post = _raw(model, post_view(pre, act.updates))
            for size in universes:
                while alive:
                    goal = L.and_(*(raw_post[i] for i in alive.values()))
                    now = [raw_pre[i] for i in alive.values()]
                    counts = dict(zip((A, B, V, Q), (size[0], size[1] + 1, size[2] + 1, size[3])))
                    formulas = [*hypotheses, *now, act.guard, L.not_(goal)]
                    found = solve_small(tr, model, pre, formulas, act.params, counts)
                    if found is None:
                        break
                    st, env = read_model(tr, found[1], found[2], twin, act.params)
                    after = apply_updates(st, act.updates, env)
                    broken = [n for n in alive if not compiled[n](after)]
                    if not broken:  # the evaluator and Z3 disagree: stop rather than loop
                        raise RuntimeError(f"Houdini: no candidate breaks in the model of {act.name}")
                    for n in broken:
                        del alive[n]
                    changed = True
    seconds["houdini"] = time.perf_counter() - t

    # 4. The survivors through the real, unbounded obligations: first the
    # whole conjunction per action (six queries), then, only if that fails,
    # obligation by obligation, dropping what fails there.
    t = time.perf_counter()
    dropped: list[str] = []
    mined = _Mined(dict(alive))
    if _inductive_at_once(mined):
        report = prove(_OnlySafety(mined.chosen), timeout=10.0, counterexamples=False)
    else:
        while True:
            report = prove(_Mined(dict(alive)), timeout=2.0, counterexamples=False)
            bad = {o.conjunct for o in report.outcomes if o.kind == "consecution" and o.result != "proven"}
            bad.discard("TypeOK")
            if not bad:
                break
            for n in bad:
                alive.pop(n, None)
                dropped.append(n)
    safety = next(o for o in report.outcomes if o.name == "safety")
    seconds["prove"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    return HoudiniReport(
        templates=len(index),
        after_filter=n_filtered,
        inductive=list(alive),
        proves_consistency=safety.result == "proven",
        seconds=seconds,
        rounds=rounds,
        dropped_unbounded=dropped,
    )

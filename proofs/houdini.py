"""Invariant inference (Houdini): mine candidate conjuncts, keep the largest inductive subset.

Works on any proof model (Paxos by default); the model's executable twin
gives the reachable states of the filter and the small universes.

1. **Templates.** Every clause ``∀x̄. R(x̄) ∧ R′(ȳ) ⇒ L`` where R is a
   variable of the model (a relation), R′ is absent or a second variable that
   shares R's first argument (the same acceptor, say), and L is a literal
   over their variables (an equality, an order between ballots, a comparison
   with -1 or None, a relation atom) or one of two kinds of pairs: a
   comparison with -1 or None or a relation atom on a common variable
   (``m = -1 ∨ 2b(a, m, u)``), two orders between ballots (``c ≤ m ∨ b ≤
   c``). Plus the model's templates with a quorum in them (for Paxos, "the
   proposals of a relation over ballots and values are safe", SafeAt),
   which no clause can express.
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
whether it also implies the model's safety property, and how long each
stage took.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from ..explorer.bfs import reachable
from . import logic as L
from .cti import read_model, solve_small
from .finite import apply_updates
from .model import ProofModel, View, post_view
from .obligations import prove
from .smt import Translator

# Variables per sort: the ordered sort (ballots) needs the most.
_ORDERED_NAMES, _OTHER_NAMES = 4, 3


@dataclass
class HoudiniReport:
    templates: int
    after_filter: int
    inductive: list[str]
    proves_consistency: bool
    seconds: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    dropped_unbounded: list[str] = field(default_factory=list)


def _names(model: ProofModel, sort: L.Sort) -> list[str]:
    """Variable names of a sort, in the order templates take them (Paxos's: a a2, b c d e, v w u, q)."""
    if sort is model.ordered:
        return "b c d e".split()
    initial = sort.name[0].lower()
    if sort in (r.sorts[-1] for r in model.fixed):
        return [initial]
    if any(c.sort is sort for c in model.constants):
        return {"v": "v w u"}.get(initial, f"{initial} {initial}2 {initial}3").split()
    return [initial, f"{initial}2"]


def _fresh(model: ProofModel, sorts: tuple[L.Sort, ...], used: dict[L.Sort, int]) -> list[L.Var]:
    out = []
    for s in sorts:
        names = _names(model, s)
        i = used.get(s, 0)
        used[s] = i + 1
        out.append(L.Var(names[i] if i < len(names) else f"{names[0]}{i}", s))
    return out


def _raw(model: ProofModel, S: View) -> list[L.Formula]:
    """Every template instance over the state ``S``, in a fixed order."""
    out: list[L.Formula] = []
    for r1 in model.state:
        for r2 in (None, *model.state):
            used: dict[L.Sort, int] = {}
            xs = _fresh(model, r1.sorts, used)
            atoms = [getattr(S, r1.name)(*xs)]
            vs = list(xs)
            if r2 is not None:
                # The second atom shares the first one's first variable.
                if r2.sorts[0] is not r1.sorts[0] or (r2 is r1 and len(r1.sorts) > 2):
                    continue
                ys = [xs[0], *_fresh(model, r2.sorts[1:], used)]
                atoms.append(getattr(S, r2.name)(*ys))
                vs += ys[1:]
            guard = L.and_(*atoms)
            single, none_lits, order_lits, atom_lits = _literals(model, vs, S)
            consequents = [*single]
            # Two-literal clauses of two useful shapes: a comparison with -1
            # or None or a relation atom (m = -1 ∨ 2b(a, m, u)), and two
            # orders between ballots (c ≤ m ∨ b ≤ c).
            consequents += [L.or_(x, y) for (x, xv), (y, yv) in itertools.product(none_lits, atom_lits) if xv & yv]
            consequents += [L.or_(x, y) for x, y in itertools.combinations(order_lits, 2)]
            # (Always one formula per template, whatever the state: the
            # positions in this list name the templates over every state.)
            out += [L.forall(vs, L.implies(guard, lit)) for lit in consequents]
    return out + model.quorum_templates(S)


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


def templates(model: ProofModel) -> dict[str, int]:
    """Candidate conjuncts: their text (over the pre-state) -> their place in ``_raw``."""
    out: dict[str, int] = {}
    for i, f in enumerate(_raw(model, model.pre_view())):
        if f is not L.TRUE and f is not L.FALSE and not _tautology(f):
            out.setdefault(L.show(f), i)
    return out


def _literals(model: ProofModel, vs: list[L.Var], S: View) -> tuple[list, ...]:
    """Literals over ``vs``: all of them; comparisons with -1 and None and
    relation atoms, each with the variables it mentions (which do not depend
    on ``S``: a post-state may fold an atom away); non-strict orders between
    ballots."""
    by_sort: dict[L.Sort, list[L.Var]] = {}
    for x in vs:
        by_sort.setdefault(x.sort, []).append(x)
    single: list[L.Formula] = []
    order: list[L.Formula] = []
    sets = {r.sorts[-1] for r in model.fixed}  # quorums: compared through membership only
    for x, y in itertools.combinations(vs, 2):
        if x.sort is not y.sort or x.sort in sets:
            continue
        single += [L.eq(x, y), L.ne(x, y)]
        if x.sort is model.ordered:
            order += [L.le(x, y), L.le(y, x)]
            single += [L.le(x, y), L.le(y, x), L.lt(x, y), L.lt(y, x)]
    nones: list[tuple[L.Formula, set[L.Var]]] = []
    for c in model.constants:
        for x in by_sort.get(c.sort, []):
            nones += [(L.eq(x, c), {x}), (L.ne(x, c), {x})]
    atoms: list[tuple[L.Formula, set[L.Var]]] = []
    for r in model.state:
        if len(r.sorts) <= 3:
            for args in itertools.product(*(by_sort.get(s, []) for s in r.sorts)):
                atoms.append((getattr(S, r.name)(*args), set(args)))
    return single + [f for f, _ in nones] + [f for f, _ in atoms], nones, order, atoms


def _mined(model: ProofModel, chosen: dict[str, int], safety_only: bool = False) -> ProofModel:
    """``model`` with a given invariant: TypeOK plus the chosen templates. With
    ``safety_only`` (consecution already proven) it has no actions: only
    initiation and the safety obligations are discharged again."""

    class Mined(type(model)):
        def invariant(self, S: View) -> dict[str, L.Formula]:
            raw = _raw(self, S)
            return {"TypeOK": self.type_ok(S), **{n: raw[i] for n, i in chosen.items()}}

        def actions(self) -> list:
            return [] if safety_only else super().actions()

    return Mined()


def _inductive_at_once(model: ProofModel, timeout: float = 10.0) -> bool:
    """Inv ∧ A ⇒ Inv′ for every action A, Inv as one conjunction, and Init ⇒ Inv."""
    import z3

    from .smt import solve

    tr = Translator(model.sorts, model.ordered)
    pre = model.pre_view()
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
    model: ProofModel | None = None,
    structures: list[L.Structure] | None = None,
    universes: list[dict[L.Sort, int]] | None = None,
    max_states: int = 20_000,
) -> HoudiniReport:
    """Mine, filter on ``structures`` (reachable states of a small
    configuration: by default Paxos's with 3 acceptors, 2 values and ballots
    0..1, the first ``max_states``), keep the largest inductive subset
    through steps in ``universes`` (element counts by sort, constants
    included), then prove it for every size; see the module doc."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    if model is None:
        from .paxos import A, B, PaxosModel, Q, V

        model = PaxosModel()
        universes = universes or [{A: 2, B: 3, V: 3, Q: 2}, {A: 3, B: 3, V: 3, Q: 3}]
    pre = model.pre_view()
    index = templates(model)
    raw_pre = _raw(model, pre)
    seconds["templates"] = time.perf_counter() - start

    # 2. Filter on reachable states: most candidates die on the first few.
    t = time.perf_counter()
    twin = model.twin()
    if structures is None:
        from ..spec.paxos import Paxos

        spec = Paxos(3, 2, 2)
        base = twin.empty_structure(spec)
        structures = [twin.structure_of(spec, s, base) for s in reachable(spec, max_states)]
    compiled = {n: L.compile_formula(raw_pre[i], (), name="candidate") for n, i in index.items()}
    alive = {n: i for n, i in index.items() if all(compiled[n](st) for st in structures)}
    n_filtered = len(alive)
    seconds["filter"] = time.perf_counter() - t

    # 3. Houdini on steps found in small universes.
    t = time.perf_counter()
    tr = Translator(model.sorts, model.ordered)
    hypotheses = [*model.axioms().values(), model.type_ok(pre)]
    rounds = 0
    changed = True
    while changed and alive:
        changed = False
        rounds += 1
        for act in model.actions():
            raw_post = _raw(model, post_view(pre, act.updates))
            for counts in universes or twin.sizes[:2]:
                while alive:
                    goal = L.and_(*(raw_post[i] for i in alive.values()))
                    now = [raw_pre[i] for i in alive.values()]
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
    if _inductive_at_once(_mined(model, dict(alive))):
        report = prove(_mined(model, dict(alive), safety_only=True), timeout=10.0, counterexamples=False)
    else:
        while True:
            report = prove(_mined(model, dict(alive)), timeout=2.0, counterexamples=False)
            bad = {o.conjunct for o in report.outcomes if o.kind == "consecution" and o.result != "proven"}
            bad.discard("TypeOK")
            if not bad:
                break
            for n in bad:
                alive.pop(n, None)
                dropped.append(n)
    safety = [o for o in report.outcomes if o.kind == "safety"]
    seconds["prove"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    return HoudiniReport(
        templates=len(index),
        after_filter=n_filtered,
        inductive=list(alive),
        proves_consistency=all(o.result == "proven" for o in safety),
        seconds=seconds,
        rounds=rounds,
        dropped_unbounded=dropped,
    )

"""A proof model on finite universes: its states as structures, its actions as steps.

- ``apply_updates`` performs an action's effect on a structure exactly as
  the model states it, and ``materialize`` computes the relations a view
  (Init, say) defines; the cross-check and the counterexamples to induction
  stand on them;
- ``Twin`` is what the engines need of the executable side of a model: the
  universes to search for counterexamples, the configuration a structure
  belongs to, states to structures and back;
- ``FiniteModel`` runs a model itself as an executable spec over a finite
  universe (any ``explorer`` engine can search it), and ``ModelTwin`` is the
  twin of a model whose protocol has no executable spec state for state (a
  model that abstracts its spec, as Multi-Paxos's does).

Nothing here imports z3.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ..spec.base import Action, Arrow, Chart, Frame, Spec, action
from .logic import Sort, Structure, Var, compile_enumerator, compile_formula, variables
from .model import Assign, Extend, Insert, Update, View

if TYPE_CHECKING:
    from .model import ProofModel


class NotAState(ValueError):
    """A structure that no state of the executable spec represents."""


def apply_updates(st: Structure, updates: tuple[Update, ...], env: dict[Var, Any]) -> Structure:
    """The structure after an action with parameters ``env``: each Insert adds
    a tuple, each Assign replaces a function's value at a key, each Extend
    adds the rows its formula selects in ``st``."""
    rels = dict(st.relations)
    for u in updates:
        name = u.rel.name
        if isinstance(u, Assign):
            key = tuple(_value(t, env, st) for t in u.keys)
            value = tuple(_value(t, env, st) for t in u.values)
            k = len(key)
            rels[name] = {t for t in rels[name] if t[:k] != key} | {key + value}
        elif isinstance(u, Insert):
            rels[name] = rels[name] | {tuple(_value(t, env, st) for t in u.args)}
        else:
            rels[name] = rels[name] | _rows(u, st, env)
    return Structure(st.domains, st.constants, rels)


def _value(t: Any, env: dict[Var, Any], st: Structure) -> Any:
    if t in env:
        return env[t]
    return st.constants[t.name]


_ROWS: dict[tuple, Any] = {}


def _rows(u: Extend, st: Structure, env: dict[Var, Any]) -> set[tuple]:
    params = tuple(env)
    key = (id(u), params)
    f = _ROWS.get(key)
    if f is None:
        xs = [variables(f"x{i}", s)[0] for i, s in enumerate(u.rel.sorts)]
        # Kept beside its compiled form: the id stays unique while the entry lives.
        f = _ROWS[key] = (u, compile_formula(u.rows(u.symbols, *xs), (*params, *xs), name=f"{u.rel.name} rows"))
    values = [env[p] for p in params]
    return {t for t in _product(st, u.rel.sorts) if f[1](st, *values, *t)}


def materialize(model: ProofModel, view: View, base: Structure) -> Structure:
    """The relations a view of ``model`` defines (Init, say), computed over ``base``'s domains."""
    rels = {r.name: base.relations[r.name] for r in model.fixed}
    for rel in model.state:
        xs = [variables(f"x{i}", s)[0] for i, s in enumerate(rel.sorts)]
        f = compile_formula(getattr(view, rel.name)(*xs), xs, name=f"{rel.name} of a view")
        rels[rel.name] = {t for t in _product(base, rel.sorts) if f(base, *t)}
    return Structure(base.domains, base.constants, rels)


def _product(st: Structure, sorts) -> list[tuple]:
    return list(itertools.product(*(st.domains[s] for s in sorts)))


class Twin:
    """The executable side of a proof model, as the engines use it. Element
    counts include the model's constants (the first elements of their sort)."""

    #: Universes searched for a counterexample, smallest first: element counts by sort.
    sizes: list[dict[Sort, int]] = []

    def __init__(self, model: ProofModel):
        self.model = model

    def elements(self, sort: Sort, count: int) -> list[Any]:
        """Python values for ``count`` elements of ``sort``."""
        return [f"{sort.name[0].lower()}{i + 1}" for i in range(count)]

    def name_elements(self, universe: dict[Sort, list], holds: Any) -> dict[Sort, dict[Any, Any]]:
        """The Python value of each element of a universe (``holds(rel, args)``
        reads a fixed relation in the counterexample, for a quorum named by its
        members, say)."""
        return {s: dict(zip(elems, self.elements(s, len(elems)))) for s, elems in universe.items()}

    def spec_for(self, st: Structure) -> Spec:
        raise NotImplementedError

    def empty_structure(self, spec: Spec) -> Structure:
        raise NotImplementedError

    def structure_of(self, spec: Spec, s: Any, base: Structure | None = None) -> Structure:
        raise NotImplementedError

    def state_of(self, spec: Spec, st: Structure) -> Any:
        raise NotImplementedError

    def canonical(self, st: Structure, env: dict[Var, Any]) -> tuple[Structure, dict[Var, Any]]:
        """The least of a counterexample's renamings (elements of a sort are interchangeable)."""
        return st, env

    def too_large(self, spec: Spec) -> bool:
        """Whether ``spec``'s configuration is too large for the explorer to decide reachability."""
        return False

    def describe(self, config: dict[str, Any]) -> str:
        """A configuration, in words."""
        return ", ".join(f"{k} {v}" for k, v in config.items())


class FiniteModel(Spec):
    """``model`` over the finite universe of ``base`` (its domains, constants
    and fixed relations) as an executable spec: a state is one frozenset of
    tuples per variable, the actions are the model's, the invariants its
    conjuncts and its safety property."""

    def __init__(self, model: ProofModel, base: Structure):
        self.model, self.base = model, base
        self.name = model.name if model.bug is None else f"{model.name} --bug {model.bug}"
        self._actions = []
        for act in model.actions():
            enum = compile_enumerator(act.params, act.guard, name=f"{act.name} guard")
            self._actions.append((act, enum))
        self.actions = tuple(a.name for a, _ in self._actions)
        pre = model.pre_view()
        formulas = {**model.invariant(pre), **model.safety_parts(pre)}
        self._invariants = {n: compile_formula(f, (), name=n) for n, f in formulas.items()}

    def structure(self, s: tuple) -> Structure:
        rels = {r.name: self.base.relations[r.name] for r in self.model.fixed}
        rels.update({r.name: set(x) for r, x in zip(self.model.state, s)})
        return Structure(self.base.domains, self.base.constants, rels)

    def freeze(self, st: Structure) -> tuple:
        return tuple(frozenset(st.relations[r.name]) for r in self.model.state)

    def init(self):
        yield self.freeze(materialize(self.model, self.model.init_view(), self.base))

    def next(self, s: tuple):
        st = self.structure(s)
        for act, enum in self._actions:
            for values in enum(st):
                env = dict(zip(act.params, values))
                yield self.label(act, env), self.freeze(apply_updates(st, act.updates, env))

    @staticmethod
    def label(act: Any, env: dict[Var, Any]) -> Action:
        shown = sorted((p for p in act.params if p.name in act.shown), key=lambda p: act.shown.index(p.name))
        return action(act.name, **{p.name: env[p] for p in shown})

    @property
    def invariants(self):
        return {n: self._on_state(f) for n, f in self._invariants.items()}

    def _on_state(self, f: Any) -> Any:
        return lambda s: f(self.structure(s))

    def variables(self, s: tuple) -> dict[str, Any]:
        return {r.name: tuple(sorted(x, key=repr)) for r, x in zip(self.model.state, s)}

    @property
    def config(self) -> dict[str, Any]:
        return {sort.name: len(xs) for sort, xs in self.base.domains.items()}

    def chart(self, steps) -> Chart:
        """A lane per element of the model's first sort (a replica, an
        acceptor) with its functions beside it (maxBal, votes); each message
        that names one as its first argument is an arrow from its lane, the
        others (proposals, commits) are notes under the step."""
        lane_sort = self.model.sorts[0]
        lanes = tuple(map(str, self.base.domains[lane_sort]))
        own = [r for r in self.model.messages if r.sorts[0] is lane_sort]
        frames, previous = [], None
        for _, s in steps:
            rels = dict(zip((r.name for r in self.model.state), s))
            beside = {
                lane: {r.name: _rows_of(rels[r.name], x) for r in self.model.functions}
                for lane, x in zip(lanes, self.base.domains[lane_sort])
            }
            notes = {r.name: _sorted(rels[r.name]) for r in self.model.messages if r not in own}
            arrows = []
            for r in own:
                for t in _sorted(rels[r.name] - (previous[r.name] if previous else frozenset())):
                    lane = str(t[0])
                    arrows.append(Arrow(r.name, lane, (lane,), f"{r.name}({', '.join(map(str, t[1:]))})"))
            frames.append(Frame(beside, notes, tuple(arrows)))
            previous = rels
        return Chart(lanes, tuple(frames), kinds=tuple(r.name for r in own))


def _sorted(rows: frozenset) -> tuple:
    return tuple(sorted(rows, key=repr))


def _rows_of(rows: frozenset, key: Any) -> Any:
    """A function's value at ``key`` (the rest of its one row), or its rows there."""
    mine = [t[1:] for t in _sorted(rows) if t[0] == key]
    return mine[0][0] if len(mine) == 1 and len(mine[0]) == 1 else tuple(mine)


class ModelTwin(Twin):
    """The twin of a model that is its own executable spec (``FiniteModel``)."""

    #: Element counts per sort for the counterexample search; a model sets them.
    def __init__(self, model: ProofModel):
        super().__init__(model)
        self.sizes = getattr(model, "cti_sizes", [])

    def elements(self, sort: Sort, count: int) -> list[Any]:
        named = getattr(self.model, "elements", None)
        return named(sort, count) if named else super().elements(sort, count)

    def spec_for(self, st: Structure) -> FiniteModel:
        return FiniteModel(self.model, st)

    def empty_structure(self, spec: FiniteModel) -> Structure:
        return spec.structure(tuple(frozenset() for _ in self.model.state))

    def structure_of(self, spec: FiniteModel, s: tuple, base: Structure | None = None) -> Structure:
        return spec.structure(s)

    def state_of(self, spec: FiniteModel, st: Structure) -> tuple:
        return spec.freeze(st)

    def too_large(self, spec: FiniteModel) -> bool:
        limits = getattr(self.model, "max_explore", {})
        return any(len(spec.base.domains[s]) > n for s, n in limits.items())

    def describe(self, config: dict[str, Any]) -> str:
        return ", ".join(f"{v} {k}{'s' * (v != 1)}" for k, v in config.items())

"""What a proof model is: a protocol as sorts, relations, actions and an inductive invariant.

The engines of ``proofs`` (``obligations``, ``cti``, ``crosscheck``,
``houdini``, ``z3eval``) work on any ``ProofModel``; ``proofs/paxos.py`` and
``proofs/multipaxos.py`` are two. A model gives:

- its signature: ``sorts`` (uninterpreted), the ``ordered`` sort (ballots,
  whose ``≤`` its axioms make a total order), ``constants``, the state
  variables ``state`` (relations; ``functions`` among them are graphs of
  functions, ``messages`` only grow) and ``fixed`` relations of the
  configuration (quorum membership, say);
- ``axioms()``, ``init_view()``, ``actions()``, ``invariant(S)`` (named
  conjuncts) and ``safety(S)`` (the property the invariant must imply,
  called ``safety_name``);
- ``twin()``: how its finite structures become states of an executable spec
  (to chart counterexamples and check their reachability).

A state as seen by a formula is a ``View``: one callable per variable. A
post-state is the pre-state's view with an action's updates substituted, so
Z3 has no frame to instantiate and the cross-check applies the very same
updates to concrete states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .logic import Const, Formula, Le, Rel, Sort, Term, Var, and_, eq, exists, forall, implies, ite, or_, variables


class View:
    """A state as seen by a formula: one callable per variable, each
    returning the formula "this tuple is in the relation". The pre-state's
    callables are the relation symbols; a post-state's substitute updates."""

    def __init__(self, defs: dict[str, Callable[..., Formula]]):
        self.defs = defs
        for name, f in defs.items():
            setattr(self, name, f)


@dataclass(frozen=True)
class Insert:
    """``rel := rel ∪ {args}`` (send a message)."""

    rel: Rel
    args: tuple[Term, ...]


@dataclass(frozen=True)
class Assign:
    """``rel[key] := value``, where ``rel`` is the graph of a function. A
    function of several arguments (or with several results) takes tuples."""

    rel: Rel
    key: Term | tuple[Term, ...]
    value: Term | tuple[Term, ...]

    @property
    def keys(self) -> tuple[Term, ...]:
        return self.key if isinstance(self.key, tuple) else (self.key,)

    @property
    def values(self) -> tuple[Term, ...]:
        return self.value if isinstance(self.value, tuple) else (self.value,)


@dataclass(frozen=True)
class Extend:
    """``rel := rel ∪ {x̄ | rows(pre, x̄)}``: send many messages at once (a
    reply that reports a vote for every slot). ``rows(view, *x)`` is read
    over the state the action starts from; ``symbols`` is the model's
    pre-state view, over which the rows of a concrete state are computed."""

    rel: Rel
    rows: Callable[..., Formula]
    symbols: View


Update = Insert | Assign | Extend


def post_view(view: View, updates: tuple[Update, ...]) -> View:
    """The state after ``updates``, as formulas over ``view``."""
    defs = dict(view.defs)
    for u in updates:
        old = defs[u.rel.name]
        if isinstance(u, Insert):
            defs[u.rel.name] = lambda *x, old=old, u=u: or_(old(*x), and_(*(eq(s, t) for s, t in zip(x, u.args))))
        elif isinstance(u, Extend):
            defs[u.rel.name] = lambda *x, old=old, u=u: or_(old(*x), u.rows(view, *x))
        else:
            defs[u.rel.name] = _assigned(old, u)
    return View(defs)


def _assigned(old: Callable[..., Formula], u: Assign) -> Callable[..., Formula]:
    k = len(u.keys)

    def new(*x: Term) -> Formula:
        at_key = and_(*(eq(s, t) for s, t in zip(x[:k], u.keys)))
        return ite(at_key, and_(*(eq(s, t) for s, t in zip(x[k:], u.values))), old(*x))

    return new


@dataclass(frozen=True)
class ActionDef:
    """One action: ``∃params. guard`` enables it; ``updates`` are its effect
    (everything else is unchanged). ``shown`` names the parameters that the
    executable spec's Action prints (``Phase2a(b=1, v=v2)``); the others are
    witnesses (the quorum, the acceptor's current maxBal, ...)."""

    name: str
    params: tuple[Var, ...]
    guard: Formula
    updates: tuple[Update, ...]
    shown: tuple[str, ...]


class ProofModel:
    """A protocol for Z3; see the module doc. Subclasses fill in the signature
    and the protocol; a gallery variant overrides one piece of its model."""

    name = "model"
    bug: str | None = None
    sorts: tuple[Sort, ...] = ()
    ordered: Sort
    constants: tuple[Const, ...] = ()
    state: tuple[Rel, ...] = ()
    functions: tuple[Rel, ...] = ()
    messages: tuple[Rel, ...] = ()
    fixed: tuple[Rel, ...] = ()
    #: How many leading arguments of each function (by name) are its key; 1 unless said.
    function_keys: dict[str, int] = {}
    safety_name = "Safety"
    #: What the safety property says, in words (for reports and --explain).
    safety_text = ""
    #: What a gallery variant lets happen (a proof of one means the model misses its bug).
    variant_text = ""
    #: What every number of is covered ("acceptors, ballots and values").
    sizes_text = ""
    #: One sentence per conjunct, and what the definitions inside them mean.
    explanations: dict[str, str] = {}
    definitions: dict[str, str] = {}
    #: The signature, in words, for --explain.
    signature_text = ""

    def key_arity(self, rel: Rel) -> int:
        return self.function_keys.get(rel.name, 1)

    def pre_view(self) -> View:
        return View({r.name: r for r in self.state})

    def axioms(self) -> dict[str, Formula]:
        raise NotImplementedError

    def init_view(self) -> View:
        raise NotImplementedError

    def actions(self) -> list[ActionDef]:
        raise NotImplementedError

    def invariant(self, S: View) -> dict[str, Formula]:
        raise NotImplementedError

    def safety(self, S: View) -> Formula:
        raise NotImplementedError

    def safety_parts(self, S: View) -> dict[str, Formula]:
        """The safety property as named parts, each its own obligation
        (``safety/NAME``; one part: the obligation ``safety``)."""
        return {self.safety_name: self.safety(S)}

    def quorum_templates(self, S: View) -> list[Formula]:
        """Candidate conjuncts with a quorum in them, which no clause of
        Houdini's templates can express (Paxos's SafeAt of the proposals)."""
        return []

    def preferences(self, pre: View) -> list[Formula]:
        """True of every reachable state, not needed by the invariant: asked
        of a counterexample's pre-state where possible, so that it looks like
        a state the protocol can reach."""
        return []

    def twin(self) -> Any:
        """The executable side of the model (see ``proofs.finite.Twin``)."""
        from .finite import ModelTwin

        return ModelTwin(self)


def model_of_variant(base: type, models: dict[str, type], no_proof: dict[str, str], bug: str | None) -> ProofModel:
    """The model ``base`` (bug None), or its gallery variant ``bug`` among ``models``; a
    variant in ``no_proof`` is refused with the reason it has no model."""
    if bug is None:
        return base()
    if bug not in models:
        from ..spec.constants import ConfigError

        if bug in no_proof:
            raise ConfigError(f"{bug} has no proof variant: {no_proof[bug]}")
        raise ConfigError(f"unknown bug {bug!r}; the gallery's proof variants are: {', '.join(models)}")
    return models[bug]()


def ballot_order(bottom: Const) -> dict[str, Formula]:
    """The axioms of a total order on ``bottom``'s sort, with ``bottom`` below every element."""
    x, y, z = variables("x y z", bottom.sort)
    return {
        "≤ is reflexive": forall([x], Le(x, x)),
        "≤ is antisymmetric": forall([x, y], implies(and_(Le(x, y), Le(y, x)), eq(x, y))),
        "≤ is transitive": forall([x, y, z], implies(and_(Le(x, y), Le(y, z)), Le(x, z))),
        "≤ is total": forall([x, y], or_(Le(x, y), Le(y, x))),
        f"{bottom.label} is below every ballot": forall([x], Le(bottom, x)),
    }


def quorums_intersect(member: Rel) -> dict[str, Formula]:
    """Any two quorums (the second sort of ``member``) share a member (its first sort)."""
    (a,) = variables("a", member.sorts[0])
    q, r = variables("q r", member.sorts[1])
    return {"any two quorums intersect": forall([q, r], exists([a], and_(member(a, q), member(a, r))))}

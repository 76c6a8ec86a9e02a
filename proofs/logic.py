"""A small many-sorted first-order logic: the one source of the proof model.

The Paxos model in ``proofs/paxos.py`` is written once, in these terms, and
read three ways:

- ``proofs/smt.py`` translates a formula to Z3 (uninterpreted sorts, no bound
  on sizes) for the proof obligations;
- ``compile_formula`` turns it into a Python function over a finite
  ``Structure`` (a concrete state), so the cross-check can evaluate the very
  formulas Z3 is given on every reachable state of the executable spec;
- ``show`` prints it in readable mathematical notation (``--explain``);
- ``ground`` expands its quantifiers over a finite universe, for the search
  of small counterexamples (``proofs/cti.py``).

Nothing here imports z3: the cross-check and ``--explain`` do not need it.

Formulas are trees of small immutable nodes compared by identity. The smart
constructors (``and_``, ``or_``, ``eq``, ...) simplify what is syntactically
trivial (``x = x``, ``True ∧ f``), which matters when a post-state is
substituted into an invariant: most of the substitution folds away.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sort:
    name: str

    def __str__(self) -> str:
        return self.name


class Term:
    """A variable or a constant of some sort."""

    __slots__ = ("name", "sort", "label")

    def __init__(self, name: str, sort: Sort, label: str | None = None):
        self.name = name
        self.sort = sort
        self.label = label or name  # how ``show`` writes it

    def __repr__(self) -> str:
        return self.name


class Var(Term):
    """A variable: bound by a quantifier, or free (an action's parameter)."""

    __slots__ = ()


class Const(Term):
    """A constant of the signature (``none``, the ballot below every ballot)."""

    __slots__ = ()


class Rel:
    """A relation symbol; calling it builds an atom."""

    __slots__ = ("name", "sorts")

    def __init__(self, name: str, sorts: Sequence[Sort]):
        self.name = name
        self.sorts = tuple(sorts)

    def __call__(self, *args: Term) -> Formula:
        if len(args) != len(self.sorts):
            raise TypeError(f"{self.name} takes {len(self.sorts)} arguments, not {len(args)}")
        for arg, sort in zip(args, self.sorts):
            if arg.sort != sort:
                raise TypeError(f"{self.name}: {arg.name} is a {arg.sort}, not a {sort}")
        return App(self, args)

    def __repr__(self) -> str:
        return self.name


class Formula:
    __slots__ = ()


class _Bool(Formula):
    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = value

    def __repr__(self) -> str:
        return str(self.value)


TRUE = _Bool(True)
FALSE = _Bool(False)


class App(Formula):
    __slots__ = ("rel", "args")

    def __init__(self, rel: Rel, args: tuple[Term, ...]):
        self.rel = rel
        self.args = args


class Eq(Formula):
    __slots__ = ("left", "right")

    def __init__(self, left: Term, right: Term):
        if left.sort != right.sort:
            raise TypeError(f"{left.name} = {right.name}: sorts {left.sort} and {right.sort} differ")
        self.left = left
        self.right = right


class Le(Formula):
    """``left ≤ right`` in the order of the ordered sort (ballots)."""

    __slots__ = ("left", "right")

    def __init__(self, left: Term, right: Term):
        self.left = left
        self.right = right


class Not(Formula):
    __slots__ = ("arg",)

    def __init__(self, arg: Formula):
        self.arg = arg


class And(Formula):
    __slots__ = ("args",)

    def __init__(self, args: tuple[Formula, ...]):
        self.args = args


class Or(Formula):
    __slots__ = ("args",)

    def __init__(self, args: tuple[Formula, ...]):
        self.args = args


class Implies(Formula):
    __slots__ = ("left", "right")

    def __init__(self, left: Formula, right: Formula):
        self.left = left
        self.right = right


class Iff(Formula):
    __slots__ = ("left", "right")

    def __init__(self, left: Formula, right: Formula):
        self.left = left
        self.right = right


class Ite(Formula):
    __slots__ = ("cond", "then", "other")

    def __init__(self, cond: Formula, then: Formula, other: Formula):
        self.cond = cond
        self.then = then
        self.other = other


class Quant(Formula):
    __slots__ = ("vars", "body")
    symbol = ""

    def __init__(self, variables: tuple[Var, ...], body: Formula):
        self.vars = variables
        self.body = body


class Forall(Quant):
    __slots__ = ()
    symbol = "∀"


class Exists(Quant):
    __slots__ = ()
    symbol = "∃"


# ---------------------------------------------------------------------------
# Smart constructors: build formulas with the trivial cases folded away
# ---------------------------------------------------------------------------


def and_(*args: Formula) -> Formula:
    out: list[Formula] = []
    for f in args:
        if f is FALSE:
            return FALSE
        if f is TRUE:
            continue
        if isinstance(f, And):
            out.extend(f.args)
        else:
            out.append(f)
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else And(tuple(out))


def or_(*args: Formula) -> Formula:
    out: list[Formula] = []
    for f in args:
        if f is TRUE:
            return TRUE
        if f is FALSE:
            continue
        if isinstance(f, Or):
            out.extend(f.args)
        else:
            out.append(f)
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else Or(tuple(out))


def not_(f: Formula) -> Formula:
    if f is TRUE:
        return FALSE
    if f is FALSE:
        return TRUE
    if isinstance(f, Not):
        return f.arg
    return Not(f)


def implies(left: Formula, right: Formula) -> Formula:
    if left is TRUE or right is FALSE:
        return not_(left) if right is FALSE else right
    if left is FALSE or right is TRUE:
        return TRUE
    return Implies(left, right)


def iff(left: Formula, right: Formula) -> Formula:
    if left is TRUE:
        return right
    if right is TRUE:
        return left
    if left is FALSE:
        return not_(right)
    if right is FALSE:
        return not_(left)
    return Iff(left, right)


def ite(cond: Formula, then: Formula, other: Formula) -> Formula:
    if cond is TRUE:
        return then
    if cond is FALSE:
        return other
    if then is other:
        return then
    return Ite(cond, then, other)


def eq(left: Term, right: Term) -> Formula:
    return TRUE if left is right else Eq(left, right)


def ne(left: Term, right: Term) -> Formula:
    return not_(eq(left, right))


def le(left: Term, right: Term) -> Formula:
    return TRUE if left is right else Le(left, right)


def lt(left: Term, right: Term) -> Formula:
    """``left < right``: not ``right ≤ left`` (the order is total)."""
    return FALSE if left is right else Not(Le(right, left))


def forall(variables: Sequence[Var], body: Formula) -> Formula:
    used = _used(variables, body)
    if not used or body is TRUE or body is FALSE:
        return body
    return Forall(used, body)


def exists(variables: Sequence[Var], body: Formula) -> Formula:
    used = _used(variables, body)
    if not used or body is TRUE or body is FALSE:
        return body
    return Exists(used, body)


def _used(variables: Sequence[Var], body: Formula) -> tuple[Var, ...]:
    free = free_vars(body)
    return tuple(v for v in variables if v in free)


def variables(names: str, sort: Sort) -> list[Var]:
    """``variables("a b c", A)``: fresh variables of one sort."""
    return [Var(name, sort) for name in names.split()]


# ---------------------------------------------------------------------------
# Traversals
# ---------------------------------------------------------------------------


def children(f: Formula) -> tuple[Formula, ...]:
    if isinstance(f, (And, Or)):
        return f.args
    if isinstance(f, Not):
        return (f.arg,)
    if isinstance(f, (Implies, Iff)):
        return (f.left, f.right)
    if isinstance(f, Ite):
        return (f.cond, f.then, f.other)
    if isinstance(f, Quant):
        return (f.body,)
    return ()


def free_vars(f: Formula) -> frozenset[Var]:
    if isinstance(f, App):
        return frozenset(t for t in f.args if isinstance(t, Var))
    if isinstance(f, (Eq, Le)):
        return frozenset(t for t in (f.left, f.right) if isinstance(t, Var))
    if isinstance(f, Quant):
        return free_vars(f.body) - frozenset(f.vars)
    out: frozenset[Var] = frozenset()
    for g in children(f):
        out |= free_vars(g)
    return out


# ---------------------------------------------------------------------------
# Grounding over a finite universe
# ---------------------------------------------------------------------------


def ground(
    f: Formula,
    universe: dict[Sort, Sequence[Term]],
    env: dict[Term, Term],
    rank: dict[Term, int],
) -> Formula:
    """``f`` with every quantifier expanded over ``universe`` (the elements of
    each sort, as constants): ∀ becomes a conjunction, ∃ a disjunction.
    ``env`` maps terms to elements (the signature's constants, say), and
    ``rank`` orders the elements of the ordered sort, so that ``=`` and ``≤``
    between elements fold to true or false. What remains mentions only
    relation atoms and the free variables."""

    def term(t: Term) -> Term:
        return env.get(t, t)

    if isinstance(f, _Bool):
        return f
    if isinstance(f, App):
        return App(f.rel, tuple(term(t) for t in f.args))
    if isinstance(f, Eq):
        left, right = term(f.left), term(f.right)
        if left is right:
            return TRUE
        if left in rank and right in rank:
            return FALSE  # distinct elements
        return Eq(left, right)
    if isinstance(f, Le):
        left, right = term(f.left), term(f.right)
        if left in rank and right in rank:
            return TRUE if rank[left] <= rank[right] else FALSE
        return Le(left, right)
    if isinstance(f, Not):
        return not_(ground(f.arg, universe, env, rank))
    if isinstance(f, And):
        return and_(*(ground(g, universe, env, rank) for g in f.args))
    if isinstance(f, Or):
        return or_(*(ground(g, universe, env, rank) for g in f.args))
    if isinstance(f, Implies):
        return implies(ground(f.left, universe, env, rank), ground(f.right, universe, env, rank))
    if isinstance(f, Iff):
        return iff(ground(f.left, universe, env, rank), ground(f.right, universe, env, rank))
    if isinstance(f, Ite):
        return ite(*(ground(g, universe, env, rank) for g in (f.cond, f.then, f.other)))
    if isinstance(f, Quant):
        universal = isinstance(f, Forall)
        stop = FALSE if universal else TRUE
        parts = []
        for combo in itertools.product(*(universe[v.sort] for v in f.vars)):
            part = ground(f.body, universe, {**env, **dict(zip(f.vars, combo))}, rank)
            if part is stop:
                return stop
            parts.append(part)
        return and_(*parts) if universal else or_(*parts)
    raise TypeError(f"not a formula: {f!r}")


# ---------------------------------------------------------------------------
# Finite structures and the evaluator
# ---------------------------------------------------------------------------


@dataclass
class Structure:
    """A finite interpretation: a list of elements per sort, the value of each
    constant, and each relation as a set of tuples. The ordered sort's
    elements are ints (the order is Python's), so ``Le`` is ``<=``."""

    domains: dict[Sort, list[Any]]
    constants: dict[str, Any]
    relations: dict[str, set[tuple]] = field(default_factory=dict)


class _Emitter:
    """Turns formulas into Python source over a Structure's locals."""

    def __init__(self) -> None:
        self.names: dict[Var, str] = {}
        self.rels: set[str] = set()
        self.consts: set[str] = set()
        self.sorts: set[Sort] = set()

    def term(self, t: Term) -> str:
        if isinstance(t, Const):
            self.consts.add(t.name)
            return f"C_{t.name}"
        name = self.names.get(t)
        if name is None:
            name = self.names[t] = f"x{len(self.names)}_{t.name}"
        return name

    def expr(self, f: Formula) -> str:
        if f is TRUE:
            return "True"
        if f is FALSE:
            return "False"
        if isinstance(f, App):
            self.rels.add(f.rel.name)
            args = ", ".join(self.term(t) for t in f.args)
            return f"(({args},) in R_{f.rel.name})"
        if isinstance(f, Eq):
            return f"({self.term(f.left)} == {self.term(f.right)})"
        if isinstance(f, Le):
            return f"({self.term(f.left)} <= {self.term(f.right)})"
        if isinstance(f, Not):
            return f"(not {self.expr(f.arg)})"
        if isinstance(f, And):
            return "(" + " and ".join(self.expr(g) for g in f.args) + ")"
        if isinstance(f, Or):
            return "(" + " or ".join(self.expr(g) for g in f.args) + ")"
        if isinstance(f, Implies):
            return f"((not {self.expr(f.left)}) or {self.expr(f.right)})"
        if isinstance(f, Iff):
            return f"({self.expr(f.left)} == {self.expr(f.right)})"
        if isinstance(f, Ite):
            return f"({self.expr(f.then)} if {self.expr(f.cond)} else {self.expr(f.other)})"
        if isinstance(f, Quant):
            return self.quant(f)
        raise TypeError(f"not a formula: {f!r}")

    def quant(self, f: Quant) -> str:
        # ∀x̄. (R(x̄, ..) ∧ g ∧ ..) → body loops over R's tuples rather than
        # over every combination of the domains (the invariant's conjuncts are
        # all guarded by a message, and a state has few messages), and tests
        # each other guard as soon as its variables are bound.
        universal = isinstance(f, Forall)
        guards, body = _split(f.body, universal)
        clauses = self.clauses(f.vars, guards)
        return f"{'all' if universal else 'any'}({self.expr(body)} {clauses})"

    def clauses(self, bound: Sequence[Var], guards: list[Formula]) -> str:
        """Generator clauses binding ``bound`` and testing ``guards``: a
        variable is bound by the tuples of a guarding atom that mentions it,
        else by its domain (first the variable of the guard closest to being
        testable); each guard is tested as soon as its variables are bound."""
        todo = list(bound)
        left = list(guards)
        out: list[str] = []

        def unbound(g: Formula) -> set[Var]:
            return set(free_vars(g)) & set(todo)

        def flush() -> None:
            for g in list(left):
                if not unbound(g):
                    out.append(f"if {self.expr(g)}")
                    left.remove(g)

        flush()
        while todo:
            atom = next((g for g in left if isinstance(g, App) and any(t in todo for t in g.args)), None)
            if atom is not None:
                clause, binds, checks = self._from_atom(atom, todo)
                left.remove(atom)
                out.append(clause)
                out += [f"if {c}" for c in checks]
                todo = [v for v in todo if v not in binds]
            else:

                def score(v: Var) -> int:
                    return min((len(unbound(g)) for g in left if v in unbound(g)), default=len(bound) + 1)

                v = min(todo, key=score)
                todo.remove(v)
                self.sorts.add(v.sort)
                out.append(f"for {self.term(v)} in D_{v.sort.name}")
            flush()
        return " ".join(out)

    def _from_atom(self, g: App, todo: list[Var]) -> tuple[str, list[Var], list[str]]:
        self.rels.add(g.rel.name)
        binds: list[Var] = []
        pattern: list[str] = []
        checks: list[str] = []
        for i, t in enumerate(g.args):
            if t in todo and t not in binds:
                binds.append(t)
                pattern.append(self.term(t))
            else:
                tmp = f"_t{id(g)}_{i}"
                pattern.append(tmp)
                checks.append(f"{tmp} == {self.term(t)}")
        return f"for ({', '.join(pattern)},) in R_{g.rel.name}", binds, checks

    def prelude(self) -> str:
        lines = [f"    D_{s.name} = S.domains[_sorts[{s.name!r}]]" for s in sorted(self.sorts, key=str)]
        lines += [f"    R_{r} = S.relations[{r!r}]" for r in sorted(self.rels)]
        lines += [f"    C_{c} = S.constants[{c!r}]" for c in sorted(self.consts)]
        return "\n".join(lines)


def _split(body: Formula, universal: bool) -> tuple[list[Formula], Formula]:
    """(guards, rest): ``g1 ∧ .. → rest`` under ∀, ``g1 ∧ .. ∧ rest`` under ∃."""
    if universal:
        if isinstance(body, Implies):
            left = body.left
            return (list(left.args) if isinstance(left, And) else [left]), body.right
        return [], body
    if isinstance(body, And):
        return list(body.args[:-1]), body.args[-1]
    return [], body


def _compile(source: str, sorts: set[Sort], name: str) -> Callable:
    namespace: dict[str, Any] = {"_sorts": {s.name: s for s in sorts}}
    exec(compile(source, f"<paxoscope.proofs {name}>", "exec"), namespace)
    return namespace["_f"]


def compile_formula(f: Formula, params: Sequence[Var] = (), name: str = "formula") -> Callable[..., bool]:
    """``f`` as a Python function ``(structure, *params) -> bool``."""
    em = _Emitter()
    args = [em.term(v) for v in params]
    body = em.expr(f)
    missing = free_vars(f) - set(params)
    if missing:
        raise ValueError(f"{name}: free variables {sorted(v.name for v in missing)} are not parameters")
    em.sorts.update(v.sort for v in params)
    source = f"def _f(S, {', '.join(args)}):\n{em.prelude()}\n    return {body}\n"
    return _compile(source, em.sorts, name)


def compile_enumerator(
    params: Sequence[Var], guard: Formula, name: str = "enumerator"
) -> Callable[[Structure], Iterator[tuple]]:
    """A function ``structure -> iterator of parameter tuples`` satisfying
    ``guard``: every witness of ``∃params. guard``. Each conjunct of the guard
    is tested as soon as its variables are bound, so that disabled actions are
    cut early."""
    em = _Emitter()
    conjuncts = list(guard.args) if isinstance(guard, And) else [guard]
    missing = free_vars(guard) - set(params)
    if missing:
        raise ValueError(f"{name}: free variables {sorted(v.name for v in missing)} are not parameters")
    lines: list[str] = []
    bound: set[Var] = set()
    indent = "    "
    pending = list(conjuncts)

    def flush() -> None:
        nonlocal indent
        ready = [g for g in pending if free_vars(g) <= bound]
        for g in ready:
            pending.remove(g)
            lines.append(f"{indent}if {em.expr(g)}:")
            indent += "    "

    flush()
    todo = list(params)
    while todo:
        # Bind from a message atom if one mentions an unbound parameter.
        atom = next((g for g in pending if isinstance(g, App) and any(t in todo for t in g.args)), None)
        if atom is not None:
            clause, binds, checks = em._from_atom(atom, todo)
            pending.remove(atom)
            lines.append(f"{indent}{clause}:")
            indent += "    "
            for c in checks:
                lines.append(f"{indent}if {c}:")
                indent += "    "
            todo = [v for v in todo if v not in binds]
            bound.update(binds)
        else:
            v = todo.pop(0)
            em.sorts.add(v.sort)
            lines.append(f"{indent}for {em.term(v)} in D_{v.sort.name}:")
            indent += "    "
            bound.add(v)
        flush()
    lines.append(f"{indent}yield ({', '.join(em.term(v) for v in params)},)")
    source = f"def _f(S):\n{em.prelude()}\n" + "\n".join(lines) + "\n"
    return _compile(source, em.sorts, name)


# ---------------------------------------------------------------------------
# Readable notation
# ---------------------------------------------------------------------------

_PRECEDENCE = {Iff: 1, Implies: 2, Or: 3, And: 4, Not: 5}


def show(f: Formula, outer: int = 0) -> str:
    """``f`` in mathematical notation, with as few parentheses as are needed."""
    if f is TRUE:
        return "true"
    if f is FALSE:
        return "false"
    if isinstance(f, App):
        return f"{f.rel.name}({', '.join(t.label for t in f.args)})"
    if isinstance(f, Eq):
        return f"{f.left.label} = {f.right.label}"
    if isinstance(f, Le):
        return f"{f.left.label} ≤ {f.right.label}"
    if isinstance(f, Not):
        g = f.arg
        if isinstance(g, Eq):
            return f"{g.left.label} ≠ {g.right.label}"
        if isinstance(g, Le):
            return f"{g.right.label} < {g.left.label}"
        return "¬" + show(g, 5)
    if isinstance(f, Quant):
        text = f"{f.symbol}{', '.join(v.label for v in f.vars)}. {show(f.body, 0)}"
        return f"({text})" if outer > 0 else text
    if isinstance(f, Ite):
        text = f"if {show(f.cond, 1)} then {show(f.then, 1)} else {show(f.other, 1)}"
        return f"({text})" if outer > 0 else text
    prec = _PRECEDENCE[type(f)]
    if isinstance(f, And):
        text = " ∧ ".join(show(g, prec + 1) for g in f.args)
    elif isinstance(f, Or):
        text = " ∨ ".join(show(g, prec + 1) for g in f.args)
    elif isinstance(f, Implies):
        text = f"{show(f.left, prec + 1)} ⇒ {show(f.right, prec)}"
    else:
        text = f"{show(f.left, prec + 1)} ⇔ {show(f.right, prec + 1)}"
    return f"({text})" if prec < outer or (prec == outer and outer > 0) else text

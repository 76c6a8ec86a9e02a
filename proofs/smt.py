"""Formulas of ``proofs.logic`` in Z3, and one solver run per query.

Sorts become uninterpreted Z3 sorts; relations become Boolean functions (the
graph of maxBal, say, not a function symbol: see ``proofs/paxos.py`` for why);
the ordered sort's ``≤`` is an uninterpreted relation whose axioms (a total
order) are part of the model's axioms. Free variables (an action's
parameters) become constants, which is how an existential hypothesis is
Skolemized.

Formulas go to Z3 as SMT-LIB text, parsed in batches (see ``Translator``);
both the text and the parsed term are memoized, so the pre-state invariant,
shared by every obligation, is written and parsed once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from . import logic as L


class Translator:
    """Translates formulas of one signature into Z3 terms.

    Formulas are written out as SMT-LIB text and parsed by Z3 in one call per
    batch: building terms through z3's Python API costs a Python object and a
    reference count per node, the parser none (about 30 times faster here,
    which is most of the Python time of a proof).

    A bound variable is named after its quantifier depth, not after the
    Python object, so the invariant over the pre-state and over a post-state
    that leaves a conjunct's variables alone have the very same text. Free
    variables (an action's parameters) get names of their own."""

    def __init__(self, sorts: Iterable[L.Sort], ordered: L.Sort, relations: Iterable[L.Rel] = ()) -> None:
        self.sorts = {s: z3.DeclareSort(s.name) for s in sorts}
        self.ordered = ordered
        z_ord = self.sorts[ordered]
        self.le = z3.Function("le", z_ord, z_ord, z3.BoolSort())
        self.decls: dict[str, Any] = {"le": self.le}
        self.rels: dict[str, z3.FuncDeclRef] = {}
        for r in relations:
            self.rel(r)
        self.free: dict[L.Term, z3.ExprRef] = {}
        self._names: dict[L.Term, str] = {}
        self._text: dict[int, tuple[L.Formula, str]] = {}
        self._terms: dict[str, z3.BoolRef] = {}

    def rel(self, r: L.Rel) -> z3.FuncDeclRef:
        f = self.rels.get(r.name)
        if f is None:
            f = self.rels[r.name] = z3.Function(r.name, *(self.sorts[s] for s in r.sorts), z3.BoolSort())
            self.decls[r.name] = f
        return f

    def term(self, t: L.Term) -> z3.ExprRef:
        """A constant or a free variable as a Z3 constant."""
        found = self.free.get(t)
        if found is None:
            found = self.free[t] = z3.Const(self._name(t), self.sorts[t.sort])
            self.decls[self._name(t)] = found
        return found

    def _name(self, t: L.Term) -> str:
        name = self._names.get(t)
        if name is None:
            name = self._names[t] = t.name if isinstance(t, L.Const) else f"{t.name}!{len(self._names)}"
        return name

    def text(self, f: L.Formula) -> str:
        """``f`` in SMT-LIB (memoized by node)."""
        hit = self._text.get(id(f))
        if hit is None:
            hit = self._text[id(f)] = (f, self._write(f, {}, 0))  # keep f alive: its id stays unique
        return hit[1]

    def __call__(self, f: L.Formula) -> z3.BoolRef:
        return self.batch([f])[0]

    def batch(self, formulas: Sequence[L.Formula]) -> list[z3.BoolRef]:
        """Every formula as a Z3 term, with one parse for all that are new."""
        texts = [self.text(f) for f in formulas]
        new = list(dict.fromkeys(t for t in texts if t not in self._terms))
        if new:
            for t in self._names:
                self.term(t)
            parsed = z3.parse_smt2_string(
                "".join(f"(assert {t})\n" for t in new),
                sorts={s.name: z for s, z in self.sorts.items()},
                decls=self.decls,
            )
            for t, z in zip(new, parsed):
                self._terms[t] = z
        return [self._terms[t] for t in texts]

    def _write(self, f: L.Formula, env: dict[L.Var, str], depth: int) -> str:
        def t(x: L.Term) -> str:
            return env[x] if x in env else self._name(x)

        if f is L.TRUE:
            return "true"
        if f is L.FALSE:
            return "false"
        if isinstance(f, L.App):
            self.rel(f.rel)
            return f"({f.rel.name} {' '.join(t(x) for x in f.args)})"
        if isinstance(f, L.Eq):
            return f"(= {t(f.left)} {t(f.right)})"
        if isinstance(f, L.Le):
            return f"(le {t(f.left)} {t(f.right)})"
        if isinstance(f, L.Quant):
            # Depth counts variables, not quantifiers, so that the names of
            # one quantifier's variables differ too.
            inner = dict(env)
            binders = []
            for i, v in enumerate(f.vars):
                name = inner[v] = f"{v.name}%{depth + i}"
                binders.append(f"({name} {v.sort.name})")
            body = self._write(f.body, inner, depth + len(f.vars))
            return f"({'forall' if isinstance(f, L.Forall) else 'exists'} ({' '.join(binders)}) {body})"
        op = _OPERATORS[type(f)]
        return f"({op} {' '.join(self._write(g, env, depth) for g in L.children(f))})"


_OPERATORS = {L.Not: "not", L.And: "and", L.Or: "or", L.Implies: "=>", L.Iff: "=", L.Ite: "ite"}


@dataclass
class Answer:
    """What a query came to: "sat", "unsat" or "unknown", with the model if sat."""

    result: str
    model: z3.ModelRef | None
    seconds: float
    reason: str = ""


def solve(
    assertions: Sequence[z3.BoolRef],
    timeout: float,
    retry: bool = True,
    seed: int = 0,
    options: dict[str, Any] | None = None,
) -> Answer:
    """Is the conjunction of ``assertions`` satisfiable? A fresh solver per
    attempt; on "unknown", one more attempt with another seed and twice the
    time. "unknown" stays "unknown"."""
    start = time.perf_counter()
    reason = ""
    for attempt in range(2 if retry else 1):
        s = z3.SimpleSolver()
        for key, value in (options or {}).items():
            s.set(key, value)
        s.set("timeout", max(1, int(timeout * 1000 * 2**attempt)))
        if seed or attempt:
            s.set("random_seed", seed + attempt)
        s.add(*assertions)
        r = s.check()
        if r == z3.sat:
            return Answer("sat", s.model(), time.perf_counter() - start)
        if r == z3.unsat:
            return Answer("unsat", None, time.perf_counter() - start)
        reason = s.reason_unknown()
    return Answer("unknown", None, time.perf_counter() - start, reason)

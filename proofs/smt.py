"""Formulas of ``proofs.logic`` in Z3, and one solver run per query.

Sorts become uninterpreted Z3 sorts; relations become Boolean functions (the
graph of maxBal, say, not a function symbol: see ``proofs/paxos.py`` for why);
the ordered sort's ``≤`` is an uninterpreted relation whose axioms (a total
order) are part of the model's axioms. Free variables (an action's
parameters) become constants, which is how an existential hypothesis is
Skolemized.

Translation is memoized by node identity, so the pre-state invariant, shared
by every obligation, is translated once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import z3

from . import logic as L


class Translator:
    """Translates formulas of one signature into Z3 terms (one Z3 context)."""

    def __init__(self, sorts: Iterable[L.Sort], ordered: L.Sort) -> None:
        self.sorts = {s: z3.DeclareSort(s.name) for s in sorts}
        self.ordered = ordered
        z_ord = self.sorts[ordered]
        self.le = z3.Function("le", z_ord, z_ord, z3.BoolSort())
        self.rels: dict[str, z3.FuncDeclRef] = {}
        self.terms: dict[L.Term, z3.ExprRef] = {}
        self._memo: dict[int, tuple[L.Formula, z3.BoolRef]] = {}
        self._count = 0

    def rel(self, r: L.Rel) -> z3.FuncDeclRef:
        f = self.rels.get(r.name)
        if f is None:
            f = self.rels[r.name] = z3.Function(r.name, *(self.sorts[s] for s in r.sorts), z3.BoolSort())
        return f

    def term(self, t: L.Term) -> z3.ExprRef:
        found = self.terms.get(t)
        if found is None:
            # A Var object is one variable: give it a name no other has, so
            # that nested quantifiers never capture each other's variables.
            if isinstance(t, L.Const):
                name = t.name
            else:
                self._count += 1
                name = f"{t.name}!{self._count}"
            found = self.terms[t] = z3.Const(name, self.sorts[t.sort])
        return found

    def __call__(self, f: L.Formula) -> z3.BoolRef:
        hit = self._memo.get(id(f))
        if hit is not None:
            return hit[1]
        out = self._translate(f)
        self._memo[id(f)] = (f, out)  # keep f alive: its id stays unique
        return out

    def _translate(self, f: L.Formula) -> z3.BoolRef:
        if f is L.TRUE:
            return z3.BoolVal(True)
        if f is L.FALSE:
            return z3.BoolVal(False)
        if isinstance(f, L.App):
            return self.rel(f.rel)(*(self.term(t) for t in f.args))
        if isinstance(f, L.Eq):
            return self.term(f.left) == self.term(f.right)
        if isinstance(f, L.Le):
            return self.le(self.term(f.left), self.term(f.right))
        if isinstance(f, L.Not):
            return z3.Not(self(f.arg))
        if isinstance(f, L.And):
            return z3.And(*(self(g) for g in f.args))
        if isinstance(f, L.Or):
            return z3.Or(*(self(g) for g in f.args))
        if isinstance(f, L.Implies):
            return z3.Implies(self(f.left), self(f.right))
        if isinstance(f, L.Iff):
            return self(f.left) == self(f.right)
        if isinstance(f, L.Ite):
            return z3.If(self(f.cond), self(f.then), self(f.other))
        if isinstance(f, L.Forall):
            return z3.ForAll([self.term(v) for v in f.vars], self(f.body))
        if isinstance(f, L.Exists):
            return z3.Exists([self.term(v) for v in f.vars], self(f.body))
        raise TypeError(f"not a formula: {f!r}")


@dataclass
class Answer:
    """What a query came to: "sat", "unsat" or "unknown", with the model if sat."""

    result: str
    model: z3.ModelRef | None
    seconds: float
    reason: str = ""


def solve(
    assertions: Sequence[z3.BoolRef], timeout: float, retry: bool = True, seed: int = 0
) -> Answer:
    """Is the conjunction of ``assertions`` satisfiable? A fresh solver per
    attempt; on "unknown", one more attempt with another seed and twice the
    time. "unknown" stays "unknown"."""
    start = time.perf_counter()
    reason = ""
    attempts = 2 if retry else 1
    for attempt in range(attempts):
        s = z3.SimpleSolver()
        # Model-based quantifier instantiation is what decides the quorum
        # axiom (∀q,r ∃a ...): E-matching alone finds no trigger for it.
        s.set("mbqi", True)
        s.set("timeout", max(1, int(timeout * 1000 * (2**attempt))))
        s.set("random_seed", seed + attempt)
        s.add(*assertions)
        r = s.check()
        if r == z3.sat:
            return Answer("sat", s.model(), time.perf_counter() - start)
        if r == z3.unsat:
            return Answer("unsat", None, time.perf_counter() - start)
        reason = s.reason_unknown()
    return Answer("unknown", None, time.perf_counter() - start, reason)

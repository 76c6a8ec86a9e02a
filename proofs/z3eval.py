"""Z3 itself as the evaluator, on sampled states of the cross-check.

The cross-check evaluates the proof model's formulas with the Python
compiler of ``proofs/logic.py``; Z3 reads the same formulas through the
SMT-LIB writer of ``proofs/smt.py``. This oracle closes that last gap: on a
concrete state, pinned down in Z3 by its diagram (a finite universe, every
relation atom true or false), it asks Z3 for the truth of the very terms the
proof obligations are made of:

- each conjunct of the invariant (the pre-state terms);
- the parameter tuples that satisfy each action's guard (all of them, by
  enumeration with blocking clauses);
- for each such step, each conjunct over the post-state (the terms of the
  consecution obligations, with the parameters fixed).

``check`` returns the differences with the Python evaluation, as sentences.
"""

from __future__ import annotations

import itertools
from typing import Any

import z3

from . import logic as L
from .finite import apply_updates
from .logic import Structure
from .model import ProofModel
from .obligations import Prover


class Z3Oracle:
    def __init__(self, model: ProofModel, base: Structure):
        self.prover = p = Prover(model)
        tr = p.tr
        self.base = base
        # One constant per element of the configuration.
        self.elem: dict[Any, dict[Any, z3.ExprRef]] = {}
        facts: list[z3.BoolRef] = []  # the diagram pins the order and the quorums: no axioms needed
        for sort, values in base.domains.items():
            consts = {x: z3.Const(f"e!{sort.name}!{i}", tr.sorts[sort]) for i, x in enumerate(values)}
            self.elem[sort] = consts
            zs = list(consts.values())
            x = z3.Const(f"x!{sort.name}", tr.sorts[sort])
            facts.append(z3.ForAll([x], z3.Or(*(x == c for c in zs))))
            if len(zs) > 1:
                facts.append(z3.Distinct(*zs))
        for c in model.constants:
            facts.append(tr.term(c) == self.elem[c.sort][base.constants[c.name]])
        bs = self.elem[model.ordered]
        facts += [tr.le(bs[x], bs[y]) == z3.BoolVal(x <= y) for x in bs for y in bs]
        self.facts = facts
        self.python = {n: L.compile_formula(f, (), name=n) for n, f in p.inv.items()}
        # The consecution goals that differ from the pre-state conjunct.
        self.goals: dict[str, list[tuple[str, L.Formula]]] = {}
        self.actions = {}
        for ob in p.obligations:
            if ob.kind == "consecution":
                self.actions[ob.action.name] = ob.action
                if not ob.framed:
                    self.goals.setdefault(ob.action.name, []).append((ob.conjunct, ob.goal))

    def _diagram(self, st: Structure) -> list[z3.BoolRef]:
        tr = self.prover.tr
        out = []
        for rel in (*self.prover.model.fixed, *self.prover.model.state):
            f = tr.rel(rel)
            true = st.relations[rel.name]
            for args in itertools.product(*(self.base.domains[s] for s in rel.sorts)):
                atom = f(*(self.elem[s][x] for s, x in zip(rel.sorts, args)))
                out.append(atom if args in true else z3.Not(atom))
        return out

    def check(self, st: Structure, enumerators: list) -> list[str]:
        """Differences between Z3 and the Python evaluation on state ``st``."""
        p, tr = self.prover, self.prover.tr
        s = z3.SimpleSolver()
        s.add(*self.facts, *self._diagram(st))
        problems = []

        def valid(term: z3.BoolRef, assumptions: list[z3.BoolRef] = ()) -> bool | None:
            s.push()
            s.add(*assumptions, z3.Not(term))
            r = s.check()
            s.pop()
            return True if r == z3.unsat else False if r == z3.sat else None

        for name, term in p.z_inv.items():
            z = valid(term)
            py = self.python[name](st)
            if z != py:
                problems.append(f"Z3 reads {name} as {z}, the Python evaluator as {py}")
        for act, enum in enumerators:
            # The obligations' own parameters (the same, position by position).
            act = self.actions[act.name]
            params = [tr.term(v) for v in act.params]
            ours = set(enum(st))
            found = set()
            s.push()
            s.add(tr(act.guard))
            while s.check() == z3.sat and len(found) <= len(ours):
                m = s.model()
                values = tuple(
                    next(x for x, c in self.elem[v.sort].items() if z3.is_true(m.eval(z == c, model_completion=True)))
                    for v, z in zip(act.params, params)
                )
                found.add(values)
                s.add(z3.Or(*(z != self.elem[v.sort][x] for v, z, x in zip(act.params, params, values))))
            s.pop()
            if found != ours:
                problems.append(
                    f"Z3 enables {act.name} for {sorted(map(str, found ^ ours))[:3]} unlike the Python evaluator"
                )
                continue
            goals = self.goals.get(act.name, [])
            z_goals = tr.batch([g for _, g in goals])
            for values in ours:
                fix = [z == self.elem[v.sort][x] for v, z, x in zip(act.params, params, values)]
                post = apply_updates(st, act.updates, dict(zip(act.params, values)))
                for (name, _), term in zip(goals, z_goals):
                    z = valid(term, fix)
                    py = self.python[name](post)
                    if z != py:
                        problems.append(f"after {act.name}{values}, Z3 reads {name}′ as {z}, Python as {py}")
        return problems

"""The proof obligations of an inductive invariant, discharged one by one with Z3.

For a proof model (``proofs.model.ProofModel``: Paxos, Multi-Paxos, ...)
and its invariant Inv (a dict of named conjuncts):

- ``initiation``: Init ⇒ Inv;
- ``ACTION/CONJUNCT`` for every action and every conjunct (consecution):
  Inv ∧ ACTION ⇒ CONJUNCT′;
- ``safety``: Inv ⇒ the model's safety property (Paxos's Consistency,
  Multi-Paxos's per-slot Agreement).

Each obligation is a satisfiability query for its negation (axioms, the
hypotheses and the negated goal), run in a fresh ``SimpleSolver`` with a
timeout, then retries with other random seeds. unsat means proven; sat means failed (the model is a
counterexample); unknown stays unknown, but first ``proofs.cti`` searches
small finite universes for a counterexample, so a wrong protocol is refuted
even where Z3 gives up on the unbounded query.

When an action leaves every variable of a conjunct alone, CONJUNCT′ is
CONJUNCT itself (the same SMT-LIB text, so the same Z3 term: see
``smt.Translator``); the query then needs no other hypothesis, and is given
none. It is still Z3 that answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import z3

from . import logic as L
from .model import ActionDef, ProofModel, post_view
from .smt import Answer, Translator, solve

# Z3 settings for every query. Pulling nested quantifiers to the front lets
# SafeAt's inner quantifiers be instantiated with the outer ones (measured:
# a third to a half less work for Z3 on this model).
SOLVER_OPTIONS: dict[str, Any] = {"pull_nested_quantifiers": True}
# Seconds per query (then, unless a small universe has a counterexample, a
# retry with twice as long for each of RETRY_SEEDS). Paxos's slowest query
# takes a few hundredths of a second: this is generous, and a wrong protocol
# that Z3 cannot refute goes on to the small-universe search within seconds.
DEFAULT_TIMEOUT = 2.0
# Z3's search depends on its random seed: a query it answers in 0.05 s with
# one seed can run away with another (measured: Multi-Paxos's
# Propose/ProposalAfterEarlierAcks, with seed 1, still open after 4 s). A
# loaded machine can push the first attempt past its timeout, so one retry
# is not enough to keep a true obligation from being reported unknown.
RETRY_SEEDS = (1, 2, 3)


@dataclass
class Obligation:
    """One query: ``kind`` is "initiation", "consecution" or "safety"."""

    name: str
    kind: str
    action: ActionDef | None = None
    conjunct: str | None = None
    # As formulas of proofs.logic: the counterexample search grounds them.
    hypotheses: list[L.Formula] = field(default_factory=list)
    goal: L.Formula = L.TRUE  # what must hold; the query asserts its negation
    framed: bool = False  # the action leaves the conjunct's variables alone


@dataclass
class Outcome:
    name: str
    kind: str
    result: str  # "proven", "failed" or "unknown"
    seconds: float
    action: str | None = None
    conjunct: str | None = None
    detail: str = ""
    counterexample: Any = None  # a proofs.cti.Counterexample, when failed


@dataclass
class Report:
    spec: str
    bug: str | None
    outcomes: list[Outcome]
    seconds: float
    z3_version: str = field(default_factory=z3.get_version_string)
    safety_name: str = "Consistency"  # what the invariant must imply
    sizes_text: str = "acceptors, ballots and values"  # what every number of is covered
    variant_text: str = "two values can be chosen"  # what a gallery variant lets happen

    @property
    def verdict(self) -> str:
        return "proven" if all(o.result == "proven" for o in self.outcomes) else "failed"

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result != "proven"]


class Prover:
    """The obligations of one model, built over one Z3 translator."""

    def __init__(self, model: ProofModel, timeout: float = DEFAULT_TIMEOUT):
        self.model = model
        self.timeout = timeout
        self.twin = model.twin()
        self.tr = Translator(model.sorts, model.ordered)
        self.axioms = model.axioms()
        self.pre = model.pre_view()
        self.inv = model.invariant(self.pre)
        self.obligations = list(self._obligations())
        # One parse for every formula of every query.
        needed = [*self.axioms.values(), *self.inv.values()]
        for ob in self.obligations:
            needed.append(ob.goal)
            if ob.action is not None:
                needed.append(ob.action.guard)
        self.tr.batch(needed)
        tr = self.tr
        self.z_axioms = tr.batch(list(self.axioms.values()))
        self.z_inv = dict(zip(self.inv, tr.batch(list(self.inv.values()))))
        # Every full query starts with the same hypotheses: one Z3 term.
        self.z_base = z3.And(*self.z_axioms, *self.z_inv.values())

    def _obligations(self) -> Iterator[Obligation]:
        model, inv = self.model, self.inv
        base = [*self.axioms.values(), *inv.values()]
        yield Obligation(
            "initiation",
            "initiation",
            hypotheses=list(self.axioms.values()),
            goal=L.and_(*model.invariant(model.init_view()).values()),
        )
        for act in model.actions():
            post = model.invariant(post_view(self.pre, act.updates))
            for name, f in post.items():
                yield Obligation(
                    f"{act.name}/{name}",
                    "consecution",
                    action=act,
                    conjunct=name,
                    hypotheses=[*base, act.guard],
                    goal=f,
                    framed=self.tr.text(f) == self.tr.text(inv[name]),
                )
        parts = model.safety_parts(self.pre)
        for name, goal in parts.items():
            label = "safety" if len(parts) == 1 else f"safety/{name}"
            yield Obligation(label, "safety", conjunct=name, hypotheses=base, goal=goal)

    def query(self, ob: Obligation) -> list[z3.BoolRef]:
        tr = self.tr
        negated = z3.Not(tr(ob.goal))
        if ob.framed:
            return [self.z_inv[ob.conjunct], negated]
        if ob.kind == "initiation":
            return [*self.z_axioms, negated]
        if ob.kind == "consecution":
            return [self.z_base, tr(ob.action.guard), negated]
        return [self.z_base, negated]

    def discharge(self, ob: Obligation, counterexamples: bool = True) -> Outcome:
        start = time.perf_counter()
        query = self.query(ob)
        # One attempt first: when Z3 gives up, a counterexample in a small
        # universe (found in milliseconds, if there is one) settles the
        # obligation without the longer second attempt.
        from .cti import find_counterexample

        answer: Answer = solve(query, self.timeout, retry=False, options=SOLVER_OPTIONS)
        searched = answer.result == "unknown" and counterexamples
        cex = find_counterexample(self, ob) if searched else None
        for seed in RETRY_SEEDS if answer.result == "unknown" and cex is None else ():
            answer = solve(query, 2 * self.timeout, retry=False, seed=seed, options=SOLVER_OPTIONS)
            if answer.result != "unknown":
                break
        out = Outcome(
            ob.name,
            ob.kind,
            {"unsat": "proven", "sat": "failed", "unknown": "unknown"}[answer.result],
            0.0,
            action=ob.action.name if ob.action else None,
            conjunct=ob.conjunct,
        )
        if answer.result == "unknown":
            tries = "" if cex else f", {1 + len(RETRY_SEEDS)} times"
            out.detail = f"Z3 gave up ({answer.reason or 'no reason given'}){tries}"
        out.seconds = time.perf_counter() - start
        if answer.result != "unsat" and counterexamples:
            if not searched:  # the small universes are searched once
                cex = find_counterexample(self, ob)
            out.seconds = time.perf_counter() - start
            if cex is not None:
                out.counterexample = cex
                if out.result == "unknown":
                    out.result = "failed"
                    out.detail = "Z3 gave up on the unbounded query; a small universe has a counterexample"
            elif out.result == "failed":
                out.detail = "Z3 found a counterexample; none fits the small universes searched"
            else:
                out.detail += "; no counterexample in the small universes searched"
        return out


def prove(
    model: ProofModel | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    counterexamples: bool = True,
) -> Report:
    """Discharge every obligation of ``model`` (default: Paxos) and report."""
    start = time.perf_counter()
    if model is None:
        from .paxos import PaxosModel

        model = PaxosModel()
    prover = Prover(model, timeout)
    outcomes = [prover.discharge(ob, counterexamples) for ob in prover.obligations]
    seconds = time.perf_counter() - start
    return Report(
        model.name,
        model.bug,
        outcomes,
        seconds,
        safety_name=model.safety_name,
        sizes_text=model.sizes_text,
        variant_text=model.variant_text,
    )

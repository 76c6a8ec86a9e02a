"""Cross-check the proof model against the executable spec, state by state.

A proof is only as good as the model it is about. This module makes sure the
formulas given to Z3 describe the protocol that ``spec/paxos.py`` runs, on
every reachable state of a configuration:

(a) each conjunct of the invariant (and Consistency), evaluated on the state,
    has the same truth value as the spec's Python predicate of that name;
(b) the values the model calls chosen are the spec's chosen set (what its
    Consistency counts, and Consensus's chosen under the refinement mapping):
    Consistency is true on every state of correct Paxos, so comparing only
    its truth would let a wrong ``chosen`` on either side go unnoticed;
(c) the successors the model's transition relation allows (every parameter
    tuple of every action whose guard holds, with the action's updates
    applied) are exactly ``spec.next``'s successors, action labels included;

and Init defines exactly ``spec.init()``'s states. Every conjunct of the
spec's invariant must have its counterpart in the proof model (``Inv``, the
conjunction, is the model's whole invariant but TypeOK): one that has none
would be checked by the explorer and never proved, and is reported by name. The formulas evaluated are
the very objects ``proofs/smt.py`` hands to Z3 (``proofs/logic.py`` compiles
them to Python), so a difference here is a difference in what was proved.

No z3 is needed, and none is imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..explorer.bfs import reachable
from ..spec.base import Action, action
from ..spec.paxos import Paxos, PaxosState
from .concrete import empty_structure, spec_class, state_of, structure_of
from .finite import FiniteModel, NotAState, apply_updates, materialize
from .logic import App, Formula, children, compile_enumerator, compile_formula, variables
from .model import ProofModel
from .paxos import PaxosModel, V, member

#: The spec's conjunction of its conjuncts; its counterpart is the model's
#: invariant without TypeOK (the spec states TypeOK on its own).
CONJUNCTION = "Inv"


@dataclass
class Mismatch:
    """Where the two encodings part: ``kind`` is "init", "missing" (a conjunct of
    the spec with no counterpart), "conjunct", "chosen", "successors" or "z3"."""

    kind: str
    state: PaxosState | None
    detail: str


@dataclass
class CrossReport:
    spec: str
    bug: str | None
    config: dict[str, Any]
    kind: str = "exact"  # "exact": the model is the spec, step for step; "abstraction": it abstracts the spec
    states: int = 0
    transitions: int = 0  # (action, successor) pairs compared
    evaluations: int = 0  # conjunct values compared
    seconds: float = 0.0
    complete: bool = True  # False: stopped at max_states
    compared: list[str] = field(default_factory=list)  # conjuncts both sides have
    proof_only: list[str] = field(default_factory=list)  # conjuncts only the proof model has
    spec_only: list[str] = field(default_factory=list)  # conjuncts of the spec with no counterpart: a failure
    chosen_states: int = 0  # states where the chosen sets were compared and a value was chosen
    falsified: dict[str, int] = field(default_factory=dict)  # conjunct -> states where it is false
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    z3_states: int = 0  # states on which Z3 itself evaluated the formulas

    max_mismatches: int = 10  # the differences kept (all are counted)
    started: float = field(default_factory=time.perf_counter)
    _shown: float = 0.0

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0

    def mismatch(self, kind: str, state: Any, detail: str) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < self.max_mismatches:
            self.mismatches.append(Mismatch(kind, state, detail))

    def state_done(self, total: int, progress: Callable[[Progress], None] | None) -> None:
        """One more state compared of ``total``; progress at most four times a second."""
        self.states += 1
        if progress is not None and self.states % 500 == 0:
            now = time.perf_counter()
            if now - self._shown >= 0.25:
                self._shown = now
                progress(Progress(self.states, total - self.states, now - self.started))

    def finish(self) -> CrossReport:
        self.seconds = time.perf_counter() - self.started
        return self


class _OnView:
    """A conjunct of ``spec/paxos_invariants.py`` applied to a shared view."""

    def __init__(self, f: Callable[[Any], bool]):
        self.f = f


@dataclass
class Progress:
    states: int
    queue: int
    seconds: float


class _Checker:
    def __init__(self, model: PaxosModel, spec: Paxos, max_mismatches: int):
        self.model, self.spec = model, spec
        self.base = empty_structure(spec)
        pre = model.pre_view()
        formulas = {**model.invariant(pre), "Consistency": model.consistency(pre)}
        self.conjuncts = {name: compile_formula(f, (), name=name) for name, f in formulas.items()}
        self.in_conjunction = [name for name in model.invariant(pre) if name != "TypeOK"]
        (v,) = variables("v", V)
        chosen = model.chosen_value(pre, v)
        self.chosen = compile_formula(chosen, (v,), name="chosen")
        self.values = self.base.domains[V]
        # The model's chosen values, memoized on the variables its formula
        # reads (the msg2b relation, as the model has it; member is the
        # configuration's, the same in every state).
        self.chosen_reads = sorted(_relations(chosen) - {member.name})
        self._chosen_memo: dict[tuple, list[str]] = {}
        python = dict(spec.invariants)
        self.view = None
        from ..spec import paxos_invariants as pinv

        view = getattr(pinv, "_View", None)
        if view is not None and type(spec).invariants is Paxos.invariants:
            # The spec's conjuncts are CONJUNCTS applied to one _View of the
            # state: build the view once per state, not once per conjunct.
            self.view = view
            self.view_conjuncts = dict(pinv.CONJUNCTS)
            for name, g in pinv.CONJUNCTS.items():
                python[name] = _OnView(g)
        self.pairs = [(n, f, python[n]) for n, f in self.conjuncts.items() if n in python]
        self.proof_only = [(n, f) for n, f in self.conjuncts.items() if n not in python]
        self.spec_only = [n for n in python if n not in self.conjuncts and n != CONJUNCTION]
        self.conjunction = python.get(CONJUNCTION)
        self.actions = []
        for act in model.actions():
            enum = compile_enumerator(act.params, act.guard, name=f"{act.name} guard")
            shown = [(p.name, i) for i, p in enumerate(act.params) if p.name in act.shown]
            shown.sort(key=lambda x: act.shown.index(x[0]))
            self.actions.append((act, enum, shown))
        self.max_mismatches = max_mismatches

    def compare_conjuncts(self, s: PaxosState, st, falsified: dict[str, int]) -> list[str]:
        """Where the two sides' conjuncts (and Inv, their conjunction) differ on
        state ``s`` (``st``: the same state as a structure); counts in
        ``falsified`` the conjuncts the model finds false."""
        view = self.view(self.spec, s) if self.view is not None else None
        out = []
        ours: dict[str, bool] = {}
        theirs: dict[str, bool] = {}
        for name, f, g in self.pairs:
            z = ours[name] = f(st)
            theirs[name] = bool(g.f(view) if isinstance(g, _OnView) else g(s))
            if not z:
                falsified[name] += 1
            if z != theirs[name]:
                out.append(f"{name} is {z} in the proof model but {not z} in the spec")
        for name, f in self.proof_only:
            z = ours[name] = f(st)
            if not z:
                falsified[name] += 1
        if self.conjunction is not None:
            z = all(ours[name] for name in self.in_conjunction)
            if z != self._spec_conjunction(s, view, theirs):
                out.append(f"{CONJUNCTION} is {z} in the proof model but {not z} in the spec")
        return out

    def _spec_conjunction(self, s: PaxosState, view: Any, known: dict[str, bool]) -> bool:
        if view is None:
            return bool(self.conjunction(s))
        # On a shared view Inv is the conjunction of CONJUNCTS: reuse the
        # values just compared, evaluate only the others.
        return all(known[n] if n in known else bool(g(view)) for n, g in self.view_conjuncts.items())

    def compare_chosen(self, s: PaxosState, st) -> list[str]:
        """Where the model's chosen values differ from the spec's chosen set
        and from Consensus's chosen under the refinement mapping."""
        key = tuple(frozenset(st.relations[name]) for name in self.chosen_reads)
        ours = self._chosen_memo.get(key)
        if ours is None:
            ours = self._chosen_memo[key] = sorted((v for v in self.values if self.chosen(st, v)), key=str)
        out = []
        for where, theirs in (("the spec", self.spec.chosen(s.msgs)), ("Consensus", self.spec.to_consensus(s))):
            if ours != sorted(theirs, key=str):
                out.append(f"chosen is {_values(ours)} in the proof model but {_values(theirs)} in {where}")
        return out

    def successors(self, st) -> tuple[set[tuple[Action, PaxosState]], list[str]]:
        out: set[tuple[Action, PaxosState]] = set()
        problems = []
        for act, enum, shown in self.actions:
            for values in enum(st):
                env = dict(zip(act.params, values))
                label = action(act.name, **{name: values[i] for name, i in shown})
                post = apply_updates(st, act.updates, env)
                try:
                    out.add((label, state_of(self.spec, post)))
                except NotAState as exc:
                    problems.append(f"{label} leads to no state of the spec: {exc}")
        return out, problems


def crosscheck(
    model: PaxosModel,
    acceptors: int = 3,
    values: int = 2,
    ballots: int = 3,
    quorums: list[list[str]] | None = None,
    *,
    max_states: int | None = None,
    max_mismatches: int = 10,
    z3_every: int = 0,
    progress: Callable[[Progress], None] | None = None,
    twin: type[Paxos] | None = None,
) -> CrossReport:
    """Compare ``model`` with its executable twin (``spec_class(model)``, or
    ``twin``) on every reachable state of the given configuration; see the
    module doc.

    With ``z3_every`` = k > 0, every k-th state (the first included) is also
    evaluated by Z3 itself (``proofs.z3eval``): the SMT-LIB terms of the
    proof against the Python reading of the same formulas."""
    twin = twin or spec_class(model)
    spec = twin(acceptors=acceptors, values=values, ballots=ballots, quorums=quorums)
    c = _Checker(model, spec, max_mismatches)
    report = CrossReport(
        spec=model.name,
        bug=model.bug,
        config=spec.config,
        compared=[n for n, _, _ in c.pairs],
        proof_only=[n for n, _ in c.proof_only],
        spec_only=list(c.spec_only),
        falsified={n: 0 for n in c.conjuncts},
        max_mismatches=max_mismatches,
    )
    oracle = None
    if z3_every > 0:
        from .z3eval import Z3Oracle

        oracle = Z3Oracle(model, c.base)
        enumerators = [(act, enum) for act, enum, _ in c.actions]
    mismatch = report.mismatch
    for name in c.spec_only:
        mismatch(
            "missing", None, f"{name} is a conjunct of the spec's invariant with no counterpart in the proof model"
        )
    # Init
    inits = set(spec.init())
    try:
        model_init = {state_of(spec, materialize(model, model.init_view(), c.base))}
    except NotAState as exc:
        model_init = set()
        mismatch("init", None, f"the model's Init is no state of the spec: {exc}")
    if model_init and model_init != inits:
        mismatch("init", next(iter(inits)), "the model's Init and the spec's initial states differ")

    states = reachable(spec, max_states)
    report.complete = max_states is None or len(states) < max_states
    for s in states:
        st = structure_of(spec, s, c.base)
        # (a) conjunct by conjunct
        for detail in c.compare_conjuncts(s, st, report.falsified):
            mismatch("conjunct", s, detail)
        report.evaluations += len(c.pairs)
        # (b) the chosen values
        for detail in c.compare_chosen(s, st):
            mismatch("chosen", s, detail)
        report.chosen_states += bool(spec.chosen(s.msgs))
        # (c) successors
        ours, problems = c.successors(st)
        theirs = set(spec.next(s))
        report.transitions += len(theirs)
        for p in problems:
            mismatch("successors", s, p)
        if ours != theirs:
            mismatch("successors", s, _difference(ours, theirs))
        if oracle is not None and report.states % z3_every == 0:
            report.z3_states += 1
            for p in oracle.check(st, enumerators):
                mismatch("z3", s, p)
        report.state_done(len(states), progress)
    return report.finish()


def _relations(f: Formula) -> set[str]:
    """The names of the relations formula ``f`` reads."""
    if isinstance(f, App):
        return {f.rel.name}
    return set().union(*(_relations(g) for g in children(f)))


def _values(vs) -> str:
    return "{" + ", ".join(sorted(map(str, vs))) + "}"


def _difference(ours: set, theirs: set) -> str:
    def show(pairs: set) -> str:
        labels = sorted({str(a) for a, _ in pairs})
        more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
        return ", ".join(labels[:3]) + more

    parts = []
    missing = theirs - ours
    extra = ours - theirs
    if missing:
        parts.append(f"the spec takes steps the proof model does not: {show(missing)}")
    if extra:
        parts.append(f"the proof model takes steps the spec does not: {show(extra)}")
    return "; ".join(parts)


def report_text(r: CrossReport) -> str:
    if r.kind == "abstraction":
        return _abstraction_text(r)
    cfg = r.config

    def n(k: int, word: str) -> str:
        return f"{k} {word}{'s' * (k != 1)}"

    lines = [
        f"cross-check of the proof model against the executable spec ({r.spec}"
        f"{' --bug ' + r.bug if r.bug else ''}: {n(cfg['acceptors'], 'acceptor')}, {n(cfg['values'], 'value')}, "
        f"ballots 0..{cfg['ballots'] - 1})",
        f"  {r.states:,} reachable states{'' if r.complete else ' (stopped at --max-states)'}, "
        f"{r.transitions:,} steps compared, {r.evaluations:,} conjunct values compared, {r.seconds:.1f} s",
        f"  conjuncts compared: {', '.join(r.compared)}",
    ]
    if r.z3_states:
        lines.append(
            f"  Z3 itself evaluated the proof's terms on {r.z3_states:,} of the states: "
            "conjuncts, guards and post-states"
        )
    lines.append(f"  chosen sets compared on every state ({r.chosen_states:,} with a value chosen)")
    if r.proof_only:
        lines.append(f"  only in the proof model (evaluated, nothing to compare): {', '.join(r.proof_only)}")
    if r.spec_only:
        lines.append(f"  only in the spec (no counterpart in the proof model): {', '.join(r.spec_only)}")
    lines += _verdict(r, "OK: the two encodings agree on every state and every step")
    return "\n".join(lines)


def _verdict(r: CrossReport, ok: str) -> list[str]:
    """The conjuncts false somewhere, then the verdict and the first differences."""
    lines = []
    false = {n: k for n, k in r.falsified.items() if k}
    if false:
        lines.append("  false in some reachable state: " + ", ".join(f"{n} ({k:,})" for n, k in false.items()))
    if r.ok:
        return [*lines, ok]
    lines.append(f"MISMATCH: {r.mismatch_count:,} difference{'s' * (r.mismatch_count != 1)}; the first:")
    for m in r.mismatches:
        where = "" if m.state is None else f" (in state {m.state})"
        lines.append(f"  {m.kind}: {m.detail}{where}")
    return lines


def _abstraction_text(r: CrossReport) -> str:
    config = ", ".join(f"{k} {v}" for k, v in r.config.items())
    lines = [
        f"cross-check of the proof model against the executable spec ({r.spec}"
        f"{' --bug ' + r.bug if r.bug else ''}: {config})",
        f"  {r.states:,} reachable states{'' if r.complete else ' (stopped at --max-states)'}, "
        f"{r.transitions:,} steps mapped to runs of the model or stutters, {r.evaluations:,} conjunct values "
        f"evaluated, {r.seconds:.1f} s",
        f"  conjuncts evaluated on every state: {', '.join(r.proof_only)}",
        f"  {r.chosen_states:,} states with a committed slot",
    ]
    lines += _verdict(r, "OK: every reachable state satisfies the invariant and every step is a step of the model")
    return "\n".join(lines)


def report_json(r: CrossReport) -> dict[str, Any]:
    return {
        "verdict": "agree" if r.ok else "mismatch",
        "kind": r.kind,
        "spec": r.spec,
        "bug": r.bug,
        "config": r.config,
        "states": r.states,
        "complete": r.complete,
        "transitions": r.transitions,
        "evaluations": r.evaluations,
        "seconds": round(r.seconds, 3),
        "compared": r.compared,
        "proof_only": r.proof_only,
        "spec_only": r.spec_only,
        "chosen_states": r.chosen_states,
        "falsified": r.falsified,
        "z3_states": r.z3_states,
        "mismatch_count": r.mismatch_count,
        "mismatches": [{"kind": m.kind, "detail": m.detail} for m in r.mismatches],
    }


# ---------------------------------------------------------------------------
# A model that abstracts its spec: every state satisfies the invariant, every
# step is a run of model steps or a stutter
# ---------------------------------------------------------------------------

#: Model steps that one spec step may take at most (a leader's HandlePrepareReplies
#: proposes every unfinished slot at once; TakeNewRequest proposes and votes).
MAX_PATH = 8


def crosscheck_abstraction(
    model: ProofModel,
    spec: Any,
    base: Any,
    structure_of: Callable[[Any, Any, Any], Any],
    *,
    max_states: int | None = None,
    max_mismatches: int = 10,
    progress: Callable[[Progress], None] | None = None,
) -> CrossReport:
    """Check ``model`` against ``spec`` under the mapping ``structure_of(spec,
    state, base)`` on every reachable state: the spec's initial states map to
    the model's; every conjunct of the invariant and the safety property hold
    on every mapped state; every step maps to a stutter or to a run of at most
    MAX_PATH model steps (the run's states stay between the two mapped states).
    For a gallery variant, conjuncts false on reachable states are counted
    (``falsified``: where its bug shows), not reported as differences."""
    fm = FiniteModel(model, base)
    pre = model.pre_view()
    formulas = {**model.invariant(pre), **model.safety_parts(pre)}
    compiled = {n: compile_formula(f, (), name=n) for n, f in formulas.items()}
    report = CrossReport(
        spec=model.name,
        bug=model.bug,
        config=spec.config,
        kind="abstraction",
        proof_only=list(compiled),
        falsified={n: 0 for n in compiled},
        max_mismatches=max_mismatches,
    )
    mismatch = report.mismatch

    def image(s: Any) -> tuple:
        return fm.freeze(structure_of(spec, s, base))

    model_init = set(fm.init())
    for s in spec.init():
        if image(s) not in model_init:
            mismatch("init", s, "an initial state of the spec maps to no initial state of the model")
    states = reachable(spec, max_states)
    report.complete = max_states is None or len(states) < max_states
    steps_ok: set[tuple] = set()
    for s in states:
        x = image(s)
        st = fm.structure(x)
        for name, f in compiled.items():
            report.evaluations += 1
            if not f(st):
                report.falsified[name] += 1
                # A gallery variant breaks its invariant (that is its bug); the protocol may not.
                if model.bug is None:
                    mismatch("invariant", s, f"{name} is false on the model's image of a reachable state")
        report.chosen_states += any(x[i] for i, r in enumerate(model.state) if r.name == "committed")
        for a, t in spec.next(s):
            report.transitions += 1
            y = image(t)
            if y == x or (x, y) in steps_ok:
                continue
            if model_run(fm, x, y) is None:
                mismatch("successors", s, f"{a} maps to no run of the model's steps")
            else:
                steps_ok.add((x, y))
        report.state_done(len(states), progress)
    return report.finish()


def model_run(fm: FiniteModel, x: tuple, y: tuple) -> list[Action] | None:
    """The labels of a shortest run of ``fm`` from state ``x`` to state ``y``
    through states whose every tuple is in ``x`` or ``y``, or None."""
    between = [a | b for a, b in zip(x, y)]
    frontier = [(x, [])]
    seen = {x}
    for _ in range(MAX_PATH):
        level = []
        for u, path in frontier:
            for a, v in fm.next(u):
                if v in seen or any(not (r <= w) for r, w in zip(v, between)):
                    continue
                if v == y:
                    return [*path, a]
                seen.add(v)
                level.append((v, [*path, a]))
        frontier = level
    return None

"""Exhaustive breadth-first exploration of any ``Spec``.

Every reachable state is visited once; invariants are checked on each new
state, step properties and refinement mappings on every step. Because the
search is breadth-first, the first violation found has a shortest trace.

Visited states are kept as 64-bit fingerprints (with the chance of a
collision reported) or, with ``exact=True``, as the states themselves. Each
entry remembers its parent's entry, and a counterexample is rebuilt by
replaying the spec from an initial state along those entries, so the trace
printed is always a real behaviour of the spec, even under symmetry.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ..spec.base import Action, Refinement, Spec, State, action
from ..spec.constants import ConfigError
from .store import Level
from .trace import Step, Trace


class SpecError(Exception):
    """The spec itself misbehaved (raised, or produced something unusable)."""


@dataclass
class Violation:
    property: str
    kind: str  # "invariant", "action property", "refinement", "deadlock", "liveness"
    trace: Trace
    detail: str = ""
    loop: int | None = None  # liveness: the trace is a lasso whose cycle starts at this step (0-based)


@dataclass
class Progress:
    distinct_states: int
    states_generated: int
    depth: int
    queue: int
    seconds: float


@dataclass
class Result:
    spec: str
    config: dict[str, Any]
    verdict: str  # "ok", "violation", "incomplete" (max_states reached), "interrupted"
    distinct_states: int
    states_generated: int
    depth: int
    seconds: float
    violation: Violation | None
    properties: list[str]
    symmetry: bool
    exact: bool
    never_enabled: list[str] = field(default_factory=list)
    witnesses: dict[str, int | None] = field(default_factory=dict)  # name -> depth first seen
    max_queue: int = 0
    digest: str | None = None
    actions_declared: bool = True  # False: the spec lists no actions, so none can be reported unused
    fairness: list[str] | None = None  # the fairness a liveness check assumed (None: no liveness checked)

    @property
    def warnings(self) -> list[str]:
        """Why an "ok" may say less than it seems: actions never enabled,
        situations never reached, a search cut short. ``--strict`` fails on any."""
        out = [f"action {name} was never enabled" for name in self.never_enabled]
        out += [f"{name} was never witnessed" for name, depth in self.witnesses.items() if depth is None]
        if self.verdict == "incomplete":
            out.append(f"the search stopped at --max-states after {self.distinct_states:,} states")
        return out

    @property
    def collision_probability(self) -> float | None:
        """Chance that two distinct states shared a fingerprint (birthday bound, 64 bits)."""
        if self.exact:
            return None
        n = self.distinct_states
        return min(1.0, n * (n - 1) / 2 / 2.0**64)


@dataclass
class _Checks:
    invariants: list[tuple[str, Callable[[State], bool]]]
    steps: list[tuple[str, Callable[[State, Action, State], bool]]]
    refinements: list[_RefinementCheck]
    _images: dict = field(default_factory=dict, repr=False)  # images_of's, by the first image

    def __post_init__(self) -> None:
        # One mapping from this spec, the others along chains from it: the
        # images of a state all follow from the first, which many states share.
        refs = self.refinements
        self._chain = bool(refs) and all(r.via >= 0 for r in refs[1:])

    @property
    def names(self) -> list[str]:
        refinements = [r.name for r in self.refinements if r.checked]
        return [n for n, _ in self.invariants] + [n for n, _ in self.steps] + refinements

    def only(self, name: str) -> _Checks:
        """The checks of the one property ``name`` (a refinement with the links of its chain)."""
        return _Checks(
            [(n, p) for n, p in self.invariants if n == name],
            [(n, p) for n, p in self.steps if n == name],
            _chains([r.ref for r in self.refinements if r.name == name and r.checked]),
        )

    # The evaluation of the properties, shared by every engine that walks a
    # spec (the exhaustive search and the random simulation): a failure is
    # (property, kind, detail), or None when everything holds.

    def state_failure(self, s: State) -> tuple[str, str, str] | None:
        """The first invariant ``s`` breaks."""
        for name, inv in self.invariants:
            if not inv(s):
                return name, "invariant", ""
        return None

    def initial_failure(self, s: State) -> tuple[str, str, str] | None:
        """The first property an initial state breaks: an invariant, or a
        refinement whose mapping takes it to no initial abstract state."""
        found = self.state_failure(s)
        if found is not None:
            return found
        for r in self.refinements:
            if r.checked and r.ref.image(s) not in r.abstract_init:
                return r.name, "refinement", "the initial state maps to no initial state of " + r.abstract.name
        return None

    def images_of(self, s: State) -> list[tuple]:
        """What the refinement checks of every step from ``s`` share: the image
        of ``s`` under each mapping of the chains, and the abstract steps allowed there."""
        if self._chain:
            u = self.refinements[0].mapping(s)
            found = self._images.get(u)
            if found is None:
                found = self._images[u] = self._images_from(s, u)
            return found
        return self._images_from(s, None)

    def _images_from(self, s: State, u: Any) -> list[tuple]:
        abstract: list[tuple] = []
        for r in self.refinements:
            below = None if r.via < 0 else abstract[r.via][1]
            image = u if u is not None and r.via < 0 else r.mapping(s if below is None else below)
            abstract.append((r.mapping, image, r.allowed(image) if r.checked else None, r, r.via, below))
        return abstract

    def step_failure(self, s: State, act: Action, t: State, images: list[tuple]) -> tuple[str, str] | None:
        """The first step property or refinement the step ``s -act-> t`` breaks
        (``images`` is ``images_of(s)``); a stutter refines anything."""
        failed = self.bad_step(s, [(act, t)], images)
        return None if failed is None else failed[1:]

    def bad_step(self, s: State, steps: list[tuple[Action, State]], images: list[tuple]) -> tuple[int, str, str] | None:
        """The first of the ``steps`` from ``s`` that breaks a step property or
        a refinement: (its position, the property, its kind); None if none does.
        A step's properties are looked at before its refinements."""
        # One loop over all the steps of a state: it runs once per step of the
        # spec (millions), where a call per step would cost more than its work.
        failed = self._bad_by_property(s, steps) if self.steps else None
        if failed is not None:
            steps = steps[: failed[0]]
        if not images:
            return failed
        (mapping, u, allowed, r, _, _), above = images[0], images[1:]
        chain = self._chain
        for i, (act, t) in enumerate(steps):  # noqa: B007 - act names the step in a SpecError (_checked_step)
            if t is s:
                continue
            image = mapping(t)
            if image is u:
                if chain:
                    continue  # the first link stutters, and so does every link along it
            elif allowed is not None and image not in allowed:
                return i, r.name, "refinement"
            mapped = [image]
            for link, w, link_allowed, link_ref, via, below in above:
                if via < 0:
                    up = link(t)
                elif mapped[via] is below:  # the lower link stutters: so does this one
                    up = w
                else:
                    up = link(mapped[via])
                mapped.append(up)
                if link_allowed is not None and up is not w and up not in link_allowed:
                    return i, link_ref.name, "refinement"
        return failed

    def _bad_by_property(self, s: State, steps: list[tuple[Action, State]]) -> tuple[int, str, str] | None:
        for i, (act, t) in enumerate(steps):
            for name, prop in self.steps:
                if not prop(s, act, t):
                    return i, name, "action property"
        return None

    def step_detail(self, name: str, kind: str, s: State, t: State) -> str:
        """Why a failing step fails, when a line can say more than its name."""
        if kind != "refinement":
            return ""
        return _explain_refinement(next(r for r in self.refinements if r.name == name), s, t)


class _RefinementCheck:
    """Does every step map to a step (or a stutter) of the abstract spec?

    The abstract successors of each abstract state are computed once, so a
    step costs one mapping and one set lookup."""

    def __init__(self, ref: Refinement, checked: bool, via: int):
        self.ref = ref
        self.name = ref.name
        self.abstract = ref.abstract
        self.mapping = ref.mapping
        self.checked = checked  # False: only a link in another's chain
        self.via = via  # position of the lower link in the list, or -1
        self._succ: dict[State, frozenset[State]] = {}
        self.abstract_init = frozenset(ref.abstract.init())

    def allowed(self, u: State) -> frozenset[State]:
        found = self._succ.get(u)
        if found is None:
            found = self._succ[u] = frozenset([u, *(t for _, t in self.abstract.next(u))])
        return found


def property_names(spec: Spec) -> list[str]:
    """Every property ``--invariant`` can name; liveness ones are checked by explorer.liveness."""
    safety = [*spec.invariants, *spec.action_properties, *(r.name for r in spec.refinements)]
    return [*safety, *getattr(spec, "liveness", {})]


def select_checks(spec: Spec, names: Iterable[str] | None) -> _Checks:
    """The properties to check: those named, else the spec's defaults."""
    for part in ("invariants", "action_properties", "sometimes"):
        _named_predicates(spec, part)
    refs = {r.name: r for r in spec.refinements}
    available = property_names(spec)
    if names is None:
        default = getattr(spec, "default_properties", None)
        chosen = list(default) if default is not None else available
    else:
        chosen = list(dict.fromkeys(names))
        unknown = [n for n in chosen if n not in available]
        if unknown:
            raise ConfigError(
                f"unknown property {unknown[0]!r} for spec {spec.name!r}; it has: {', '.join(available) or 'none'}"
            )
        live = [n for n in chosen if n in getattr(spec, "liveness", {})]
        if live:  # never dropped in silence: this search checks states and steps, not behaviours
            raise ConfigError(f"{live[0]} is a liveness property of {spec.name!r}: explorer.liveness.check checks it")
    return _Checks(
        invariants=[(n, spec.invariants[n]) for n in chosen if n in spec.invariants],
        steps=[(n, spec.action_properties[n]) for n in chosen if n in spec.action_properties],
        refinements=_chains([refs[n] for n in chosen if n in refs]),
    )


def _named_predicates(spec: Spec, part: str) -> None:
    """A spec's ``invariants`` (and the like) must map names to functions: say so
    in one line rather than fail somewhere inside the search."""
    value = getattr(spec, part)
    if not isinstance(value, Mapping):
        raise SpecError(f"spec {spec.name!r}: {part} must map names to functions, not {type(value).__name__}")
    for name, pred in value.items():
        if not isinstance(name, str) or not callable(pred):
            raise SpecError(f"spec {spec.name!r}: {part}[{name!r}] must be a function of a state, not {pred!r}")


def _chains(chosen: list[Refinement]) -> list[_RefinementCheck]:
    """The checks for the chosen refinements, each preceded by the links of
    its chain (checked only if chosen themselves)."""
    out: list[_RefinementCheck] = []
    position: dict[int, int] = {}

    def add(ref: Refinement, checked: bool) -> int:
        if id(ref) in position:
            out[position[id(ref)]].checked |= checked
            return position[id(ref)]
        via = -1 if ref.via is None else add(ref.via, False)
        position[id(ref)] = len(out)
        out.append(_RefinementCheck(ref, checked, via))
        return len(out) - 1

    for ref in chosen:
        add(ref, True)
    return out


@dataclass(frozen=True)
class CheckOptions:
    """How ``check`` searches, as one value (the keywords of ``check`` are its fields).

    ``properties`` picks the spec's properties by name (None: its defaults;
    an empty tuple: none of them). ``invariants`` and ``action_properties``
    are the caller's own, checked beside those picked, under their own
    names. ``observers`` watch the search (see ``Observer``)."""

    properties: tuple[str, ...] | None = None
    symmetry: bool = False
    exact: bool = False
    max_states: int | None = None
    deadlock: bool = False
    progress: Callable[[Progress], None] | None = None
    digest: bool = False
    invariants: Mapping[str, Callable[[State], bool]] = field(default_factory=dict)
    action_properties: Mapping[str, Callable[[State, Action, State], bool]] = field(default_factory=dict)
    observers: tuple[Observer, ...] = ()

    def __post_init__(self) -> None:
        # Lists are what users write; tuples keep the options a value.
        if self.properties is not None and not isinstance(self.properties, tuple):
            object.__setattr__(self, "properties", tuple(self.properties))
        object.__setattr__(self, "observers", tuple(self.observers))


class Observer:
    """Watches a search without changing it; override what you need.

    ``on_state`` sees each new distinct state (the initial ones first),
    ``on_step`` each step the spec offers, in the order the search meets
    them: stutters and steps to states already seen included, steps out of
    the model (its ``state_constraint``) not. An exception
    raised here ends the search (a ``ConfigError`` reaches the caller as it is)."""

    def on_state(self, state: State) -> None:
        pass

    def on_step(self, state: State, act: Action, successor: State) -> None:
        pass


def check(
    spec: Spec, properties: Iterable[str] | CheckOptions | None = None, options: CheckOptions | None = None, **keywords
) -> Result:
    """Explore every reachable state of ``spec`` breadth-first; see the module doc.

    Options come as one ``CheckOptions`` (``check(spec, options)`` or
    ``options=``), as keywords (``check(spec, ["Consistency"], symmetry=True)``),
    or both: keywords then replace the fields they name.

    ``digest`` (which implies ``exact``) also computes ``Result.digest``, a
    hash of the reachable set that does not depend on the order of search,
    on the process, or on Python's hash seed: the drift gate pins it."""
    options = merged_options(properties, options, keywords)
    spec, checks = prepare(spec, options)
    if options.max_states is not None and options.max_states < 1:
        raise ConfigError(f"--max-states must be at least 1, not {options.max_states}")
    with without_cycle_collector():
        return _Search(spec, checks, options).run()


@contextmanager
def without_cycle_collector() -> Iterator[None]:
    """States are trees of immutable values: the cycle collector finds
    nothing in them, and its passes over a heap of millions of tuples are
    pure cost. Switched back on once a search has let go of them (or its
    first pass would go over every one)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def prepare(spec: Any, options: CheckOptions) -> tuple[Spec, _Checks]:
    """The spec as a ``Spec`` and the properties ``options`` ask to check on it."""
    spec = as_spec(spec)
    checks = select_checks(spec, options.properties)
    explored = spec.checking(checks.names)
    if explored is not spec:
        spec, checks = explored, select_checks(explored, options.properties)
    checks.invariants += list(options.invariants.items())
    checks.steps += list(options.action_properties.items())
    if options.symmetry and spec.symmetry is None:
        raise ConfigError(f"spec {spec.name!r} declares no symmetry")
    return spec, checks


def merged_options(
    properties: Iterable[str] | CheckOptions | None, options: CheckOptions | None, keywords: dict[str, Any]
) -> CheckOptions:
    """The one ``CheckOptions`` that ``check``'s three ways of giving options mean."""
    if isinstance(properties, CheckOptions):
        properties, options = None, properties
    options = options or CheckOptions()
    if properties is not None:
        keywords["properties"] = properties
    return replace(options, **keywords) if keywords else options


def model_steps(spec: Spec) -> Callable[[State], tuple[list[tuple[Action, State]], list[tuple[Action, State]]]]:
    """State -> (every step ``spec.next`` offers, those that stay in the model): as in the search, a step that
    leaves the model (``state_constraint``) counts as generated and as its action enabled, and is taken no
    further; a state is deadlocked only with no step at all."""
    in_model, spec_next = spec.state_constraint, spec.next

    def steps(s: State) -> tuple[list[tuple[Action, State]], list[tuple[Action, State]]]:
        offered = list(spec_next(s))
        return offered, offered if in_model is None else [(act, t) for act, t in offered if in_model(t)]

    return steps


def reachable(spec: Spec, max_states: int | None = None) -> list[State]:
    """Every reachable state of ``spec`` in breadth-first order (the first
    ``max_states`` of them), checking nothing: for engines that need the
    states themselves, such as the proofs' cross-check and invariant mining."""
    search = _Search(as_spec(spec), _Checks([], [], []), CheckOptions(exact=True, max_states=max_states))
    with without_cycle_collector():
        search.run()
        return list(search.parent)  # exact mode: the keys are the states, in the order found


def state_key(spec: Spec, symmetry: bool, exact: bool, hasher: Callable[[Any], int] = hash) -> Callable[[State], Any]:
    """State -> what a set of visited states stores: its fingerprint, or the
    state itself (exact); under symmetry, of its canonical form. ``hasher``
    makes the fingerprint unless the spec has its own: ``hash``, or one that
    is the same in every process (``explorer.parallel.stable_hash``)."""
    canon = spec.symmetry if symmetry else None
    if exact:
        return canon or (lambda s: s)
    if canon is not None:
        return lambda s: hasher(canon(s))
    fingerprint = spec.fingerprint
    if getattr(fingerprint, "__func__", None) is Spec.fingerprint:
        return hasher  # the default, called without a Python frame
    return fingerprint


# What a search step returns when --max-states cut the search short: no violation, but stop.
_CUT: Any = object()


class _Search:
    """The per-state work of a breadth-first search, one level at a time:
    ``_expand`` takes every step of a level's states and checks each step,
    ``_check_state`` checks a state seen for the first time. ``run`` is the
    search in one process; ``explorer.parallel`` runs the same pieces on a
    shard of the states in each worker."""

    def __init__(self, spec: Spec, checks: _Checks, options: CheckOptions):
        self.spec = spec
        self.checks = checks
        self.symmetry = options.symmetry
        self.exact = options.exact or options.digest
        self.max_states = options.max_states
        self.deadlock = options.deadlock
        self.progress = options.progress
        self.digest = options.digest
        self.observers = options.observers
        self._cut = False
        self.key = state_key(spec, self.symmetry, self.exact)
        self.parent: dict[Any, Any] = {}
        self.level = self._new_level()  # the next level's states, as they are found
        self.generated = 0
        self.depth = 0
        self.max_queue = 0
        self.enabled: set[str] = set()
        self._never_yet = set(spec.actions)  # declared actions not enabled so far
        self.witnesses: dict[str, int | None] = {name: None for name in spec.sometimes}
        self._unwitnessed = list(spec.sometimes.items())
        self._on_state = [o.on_state for o in self.observers]
        self._constraint = spec.constraint
        self._next_report = 4096
        self.started = time.perf_counter()

    # -- the search -------------------------------------------------------

    def run(self) -> Result:
        verdict = "ok"
        violation = None
        try:
            violation = self._search()
            if violation is not None:
                verdict = "violation"
                self.depth = max(self.depth, len(violation.trace))
            elif self._cut:
                verdict = "incomplete"
        except KeyboardInterrupt:
            verdict = "interrupted"
        return self._result(verdict, violation)

    def _search(self) -> Violation | None:
        found = None
        for s, k in self._initial_states(counts_out_of_model=True):
            if k not in self.parent:
                self.parent[k] = None
                found = self._check_initial(s, k)
                if found is not None:
                    return found
        if not self.parent:
            # Nothing to explore would make every property hold "in every
            # reachable state": a vacuous OK, and never what the author meant.
            raise SpecError(f"spec {self.spec.name!r} has no initial state: init() yielded nothing")
        self.depth = 1
        while found is None and self.level:
            frontier, self.level = self.level, self._new_level()
            self.max_queue = max(self.max_queue, len(frontier))
            found = self._expand(frontier, self.parent, self._admit)
            if found is None and self.level:
                self.depth += 1
        return None if found is _CUT else found

    def _new_level(self) -> Level:
        # Keys here are the parent dict's own objects: a list of them costs nothing more.
        return Level(compact=False)

    def _initial_states(self, counts_out_of_model: bool) -> list[tuple[State, Any]]:
        """The initial states in the model, with their keys; those outside
        count as generated if ``counts_out_of_model`` (one engine counts them once)."""
        in_model = self.spec.state_constraint
        found, s = [], None
        try:
            for s in self.spec.init():
                if in_model is not None and not in_model(s):
                    self.generated += counts_out_of_model  # generated, but none of the model's states
                    continue
                found.append((s, self.key(s)))
        except (KeyboardInterrupt, SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, s, None)) from exc
        return found

    def _check_initial(self, s: State, k: Any) -> Violation | None:
        """``_check_state`` for an initial state, which must also map to an
        initial state of every abstract spec checked."""
        self.generated += 1
        try:
            return self._check_state(s, k, self.checks.initial_failure)
        except (KeyboardInterrupt, SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, s, None)) from exc

    def _admit(self, t: State, k: Any, ks: Any) -> Violation | None:
        """A state seen for the first time, from the state with key ``ks``."""
        self.parent[k] = ks
        found = self._check_state(t, k)
        if found is None and self.max_states is not None and len(self.parent) >= self.max_states:
            self._cut = True
            self.depth += 1
            return _CUT
        return found

    def _check_state(
        self, s: State, k: Any, failure: Callable[[State], tuple | None] | None = None
    ) -> Violation | None:
        """Show a new state to the observers, check it with ``failure`` (None:
        the invariants), note what it witnesses, and queue it for the next
        level unless the constraint stops there."""
        if self._on_state:
            for seen in self._on_state:
                seen(s)
        if failure is None:  # what nearly every state takes: the invariants, without a call between
            for name, holds in self.checks.invariants:
                if not holds(s):
                    return Violation(name, "invariant", self._trace_to(k), "")
        elif (failed := failure(s)) is not None:
            name, kind, detail = failed
            return Violation(name, kind, self._trace_to(k), detail)
        if self._unwitnessed:
            self._unwitnessed = self._witness(self._unwitnessed, s, self.depth + 1)
        if self._constraint is None or self._constraint(s):
            self.level.append(s, k)
        return None

    def _expand(
        self, frontier: Iterable[tuple[State, Any]], seen: Any, admit: Callable[[State, Any, Any], Violation | None]
    ) -> Violation | None:
        """Take every step of the ``frontier``'s states and check it; hand each
        successor whose key is not in ``seen`` to ``admit``, which may stop the
        search by returning a violation (or ``_CUT``)."""
        # One long function on purpose: the inner loop runs once per step of
        # the spec (millions), and locals are the cheapest names Python has.
        spec, checks, key = self.spec, self.checks, self.key
        abstract: list = []
        refs = checks.refinements
        images_of, bad_step = checks.images_of, checks.bad_step
        checks_steps = bool(checks.steps or refs)
        in_model = spec.state_constraint
        never_yet, enabled = self._never_yet, self.enabled
        on_step = [o.on_step for o in self.observers]
        next_of, deadlock, progress = spec.next, self.deadlock, self.progress
        s = act = None
        try:
            for s, ks in frontier:
                if refs:
                    abstract = images_of(s)
                successors = next_of(s)
                if type(successors) is not list:
                    successors = list(successors)
                self.generated += len(successors)
                stuck = not successors  # a deadlock: no step at all, in the model or out of it
                if never_yet:  # an action is enabled even where its steps leave the model
                    for act, _ in successors:
                        if act.name not in enabled:
                            enabled.add(act.name)
                            never_yet.discard(act.name)
                if in_model is not None:
                    successors = [(a, t) for a, t in successors if in_model(t)]
                for observe in on_step:
                    for act, t in successors:
                        observe(s, act, t)
                act = None  # (for a SpecError: not the last step the loops above saw)
                failed = bad_step(s, successors, abstract) if checks_steps else None
                # Up to a bad step, the steps are taken as if each were checked in turn.
                for act, t in successors if failed is None else successors[: failed[0]]:  # noqa: B007 - see _blame
                    if t is s:  # a stutter: refines anything, and is no new state
                        continue
                    k = key(t)
                    if k in seen:
                        continue
                    found = admit(t, k, ks)
                    if found is not None:
                        return found
                if failed is not None:
                    i, name, kind = failed
                    return self._step_violation(name, kind, ks, *successors[i])
                act = None
                if deadlock and stuck:
                    return Violation("Deadlock", "deadlock", self._trace_to(ks), "no action is enabled")
                if progress is not None and len(self.parent) >= self._next_report:
                    self._next_report = len(self.parent) + 4096
                    self._report(len(self.level) + len(frontier))
        except (KeyboardInterrupt, SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, s, _checked_step(exc) or act)) from exc
        return None

    # -- helpers that turn a misbehaving spec into a clear SpecError -------

    def _blame(self, exc: Exception, s: State | None, act: Action | None) -> str:
        """One line naming what went wrong, where, and in which state."""
        name = self.spec.name
        if _raised_here(exc):
            if isinstance(exc, TypeError) and "unhashable" in str(exc):
                where = f"the state after {act}" if act is not None else "an initial state"
                return f"spec {name!r}: {where} is not hashable ({exc}); states must be immutable"
            return f"spec {name!r}: next() must yield (action, state) pairs with an Action ({_describe(exc)})"
        if s is None:
            return f"spec {name!r}: init() raised {_describe(exc)}"
        after = f" after {act}" if act is not None else ""
        return f"spec {name!r} raised {_describe(exc)}{after} in state {_short(s)}"

    def _witness(self, pending, s, depth):
        still = []
        for name, pred in pending:
            if pred(s):
                self.witnesses[name] = depth
            else:
                still.append((name, pred))
        return still

    def _report(self, queue: int) -> None:
        self.progress(Progress(len(self.parent), self.generated, self.depth, queue, time.perf_counter() - self.started))

    # -- counterexamples --------------------------------------------------
    #
    # A counterexample is found as a chain of keys, from an initial state's to
    # the last state's; it is turned into a path (the position of the initial
    # state in init(), then of each step in next()) and replayed. Only the
    # search that found the keys can make the path (the keys may be hashes of
    # its process); anyone with the spec can replay it.

    def _trace_to(self, k) -> Trace:
        """The trace along the parent chain that ends at entry ``k``."""
        return replay(self.spec, self.path_of(self._chain(k)))

    def _chain(self, k) -> list:
        chain = []
        while k is not None:
            chain.append(k)
            k = self.parent[k]
        chain.reverse()
        return chain

    def path_of(self, chain: list, bad: tuple[str, Any] | None = None) -> list[int]:
        """The path of the keys in ``chain``; with ``bad`` = (property, key),
        plus the step from the chain's last state to a state of that key that
        breaks that step property or refinement."""
        initial = list(self.spec.init())
        i = next(i for i, s in enumerate(initial) if self.key(s) == chain[0])
        path, state = [i], initial[i]
        for want in chain[1:]:
            i, state = next((i, t) for i, (_, t) in enumerate(self.spec.next(state)) if self.key(t) == want)
            path.append(i)
        if bad is not None:
            path.append(self._bad_step(*bad, state))
        return path

    def _step_violation(self, name, kind, ks, act, t) -> Violation:
        """The trace to the source of a bad step, plus that step (replayed, so
        under symmetry it is the matching step of the replayed state)."""
        return self.step_violation(name, kind, self.path_of(self._chain(ks), (name, self.key(t))))

    def step_violation(self, name: str, kind: str, path: list[int]) -> Violation:
        """The violation of a step property or refinement whose path ends with the bad step."""
        trace = replay(self.spec, path)
        s, t = trace.steps[-2].state, trace.steps[-1].state
        return Violation(name, kind, trace, self.checks.step_detail(name, kind, s, t))

    def _bad_step(self, name: str, want: Any, s: State) -> int:
        only = self.checks.only(name)
        images = only.images_of(s)
        for i, (a, t) in enumerate(self.spec.next(s)):
            if self.key(t) == want and only.step_failure(s, a, t, images) is not None:
                return i
        raise AssertionError("the bad step did not replay: is the symmetry a true symmetry of the spec?")

    def _result(self, verdict: str, violation: Violation | None) -> Result:
        digest = None
        if self.digest and verdict != "interrupted":
            import hashlib
            import json

            from .trace import plain

            h = hashlib.sha256()
            for line in sorted(json.dumps(plain(k), sort_keys=True, default=repr) for k in self.parent):
                h.update(line.encode() + b"\n")
            digest = h.hexdigest()
        return Result(
            digest=digest,
            spec=self.spec.name,
            config=self.spec.config,
            verdict=verdict,
            distinct_states=len(self.parent),
            states_generated=self.generated,
            depth=self.depth,
            seconds=time.perf_counter() - self.started,
            violation=violation,
            properties=self.checks.names,
            symmetry=self.symmetry,
            exact=self.exact,
            never_enabled=[a for a in self.spec.actions if a not in self.enabled],
            actions_declared=bool(self.spec.actions),
            witnesses=self.witnesses,
            max_queue=self.max_queue,
        )


def replay(spec: Spec, path: list[int]) -> Trace:
    """The behaviour of ``spec`` that ``path`` names: its first entry picks an
    initial state, each next one a step of ``spec.next`` by position."""
    state = list(spec.init())[path[0]]
    steps = [Step(None, state)]
    for i in path[1:]:
        act, state = list(spec.next(state))[i]
        steps.append(Step(act, state))
    return Trace(spec, steps)


class PlainSpec(Spec):
    """A spec written as a plain class (``init``, ``next``, ``invariants``, no
    ``Spec`` base): what it has is used, ``Spec``'s defaults fill the rest.

    Attributes may be properties, plain values, or methods taking no argument
    (``def invariants(self): return {...}``): all three are what users write."""

    _OPTIONAL = ("invariants", "action_properties", "sometimes", "refinements", "liveness", "config")

    def __init__(self, obj: Any):
        self.obj = obj
        self.name = str(getattr(obj, "name", None) or type(obj).__name__)
        self.actions = tuple(getattr(obj, "actions", None) or ())
        self.default_properties = getattr(obj, "default_properties", None)
        self.symmetry = getattr(obj, "symmetry", None)
        self.constraint = getattr(obj, "constraint", None)
        self.fairness = tuple(getattr(obj, "fairness", None) or ())
        self.state_constraint = getattr(obj, "state_constraint", None)
        for attr in self._OPTIONAL:
            if hasattr(obj, attr):
                value = getattr(obj, attr)
                self.__dict__["_" + attr] = value() if callable(value) and not isinstance(value, dict) else value
        if callable(getattr(obj, "fingerprint", None)):
            self.fingerprint = obj.fingerprint
        if callable(getattr(obj, "variables", None)):
            self.variables = obj.variables
        if callable(getattr(obj, "chart", None)):
            self.chart = obj.chart

    def init(self) -> Iterable[State]:
        return self.obj.init()

    def next(self, state: State) -> Iterable[tuple[Action, State]]:
        # An action may be given by its name alone, as a plain class is likely to.
        for act, successor in self.obj.next(state):
            yield (action(act) if isinstance(act, str) else act), successor

    invariants = property(lambda self: self.__dict__.get("_invariants", {}))
    action_properties = property(lambda self: self.__dict__.get("_action_properties", {}))
    sometimes = property(lambda self: self.__dict__.get("_sometimes", {}))
    refinements = property(lambda self: tuple(self.__dict__.get("_refinements", ())))
    liveness = property(lambda self: self.__dict__.get("_liveness", {}))
    config = property(lambda self: dict(self.__dict__.get("_config", {})))


def as_spec(obj: Any) -> Spec:
    """``obj`` as a ``Spec``: itself if it is one, else a ``PlainSpec`` around
    it when it has ``init()`` and ``next()``; anything else is a ConfigError."""
    if isinstance(obj, Spec):
        return obj
    if callable(getattr(obj, "init", None)) and callable(getattr(obj, "next", None)):
        return PlainSpec(obj)
    raise ConfigError(f"{type(obj).__name__} is not a spec: a spec has init() and next(state)")


def _explain_refinement(r: _RefinementCheck, s: State, t: State) -> str:
    """Why a step is no abstract step: what it does there, and what was allowed."""
    from .render import changes

    abstract = r.abstract
    before, after = r.ref.image(s), r.ref.image(t)
    moved = "; ".join(changes(abstract.variables(before), abstract.variables(after)))
    enabled = sorted({str(a) for a, u in abstract.next(before) if u != before})
    shown = ", ".join(enabled[:8]) + (f" and {len(enabled) - 8} more" if len(enabled) > 8 else "")
    return (
        f"mapped to {abstract.name}, this step does: {moved}. No {abstract.name} action does that here; "
        f"the ones enabled are: {shown or 'none'}."
    )


def _checked_step(exc: BaseException) -> Action | None:
    """The action of the step the step checks were on when ``exc`` was raised, if they were."""
    checking = (_Checks.bad_step.__code__, _Checks._bad_by_property.__code__)
    tb, act = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code in checking:
            act = tb.tb_frame.f_locals.get("act", act)  # the innermost frame knows best
        tb = tb.tb_next
    return act


def _raised_here(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename == __file__


def _describe(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero at file.py:12 in phase2a()``."""
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        frame = tb.tb_frame
        if "/explorer/" not in frame.f_code.co_filename:
            where = f" at {frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {frame.f_code.co_name}()"
        tb = tb.tb_next
    text = str(exc)
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def _short(x: Any, limit: int = 300) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""Random simulation of any ``Spec``: behaviours drawn at random from the
initial states, for configurations too big to explore exhaustively.

As TLC's ``-simulate``: a behaviour starts in an initial state and takes, at
each step, one of the enabled successors chosen uniformly at random (a step
that changes nothing is never chosen), until it has ``depth`` states or no
step is left. Every successor generated on the way is checked by the same
code as the exhaustive search's: invariants on each new state, step
properties and refinement mappings on every step. A state whose successors
were all checked once is not checked again, so "distinct states" counts
every state checked.

Reproducible from the seed: behaviour number ``n`` draws from a generator of
its own, seeded with the seed and ``n``, so it is the same behaviour whichever
process runs it. With N workers, worker i runs behaviours i, i+N, i+2N, ...;
a worker stops once its next behaviour comes after the first violating one
found so far, and the report counts only the behaviours up to the first
violating one. A seed therefore gives the same violation and the same counts
with any number of workers, and the violating behaviour is replayed in the
main process to print it.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from typing import Any

from ..spec.base import Action, Spec, State
from ..spec.constants import ConfigError
from .bfs import CheckOptions, Result, SpecError, Violation, _Checks, _describe, _short, model_steps, prepare, state_key
from .trace import Step, Trace

NO_VIOLATION = 2**62  # behaviour numbers stay below this


@dataclass(frozen=True)
class SimulateOptions(CheckOptions):
    """How ``simulate`` draws behaviours, beside what it checks (``CheckOptions``'s
    ``properties``, ``symmetry``, ``exact``, ``deadlock``, ``invariants``,
    ``action_properties``, ``progress``).

    ``depth`` bounds a behaviour's length in states (the initial one
    included), ``traces`` the number of behaviours; ``seed`` None draws one
    (the result says which). ``shorten`` searches breadth-first for a shorter
    trace to the same failure, visiting at most ``shorten_states`` states."""

    depth: int = 100
    traces: int = 1000
    seed: int | None = None
    workers: int = 1
    shorten: bool = False
    shorten_states: int = 200_000


@dataclass
class SimulationProgress:
    traces: int
    steps: int
    distinct_states: int | None  # None with several workers: their sets are merged only at the end
    seconds: float


@dataclass
class SimulationResult(Result):
    """A ``Result`` (``depth`` is the longest behaviour's length, in states)
    with the figures of the simulation."""

    seed: int = 0
    max_depth: int = 0
    traces: int = 0
    steps: int = 0
    workers: int = 1
    behaviour: int | None = None  # the number of the violating behaviour (None: an initial state fails)
    found_length: int | None = None  # the violation's trace length as found, before shortening
    shorten_states: int = 0  # states the shortening visited
    shorten_seconds: float = 0.0  # of ``seconds``, those the shortening took


def simulate(spec: Any, options: SimulateOptions | None = None, **keywords) -> SimulationResult:
    """Check ``spec`` on random behaviours; see the module doc."""
    options = options or SimulateOptions()
    if keywords:
        options = replace(options, **keywords)
    _validate(options)
    spec, checks = prepare(spec, options)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
    return _Simulation(spec, checks, options, seed).run()


def _validate(options: SimulateOptions) -> None:
    for name in ("depth", "traces", "workers"):
        if getattr(options, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, not {getattr(options, name)}")
    unused = [name for name in ("max_states", "digest", "observers") if getattr(options, name)]
    if unused:
        raise ConfigError(f"a simulation takes no {unused[0]}: it draws behaviours rather than visit every state")


@dataclass
class _Part:
    """What one worker saw: the keys of the states it checked in the order
    checked, and per behaviour run (in increasing number) how many keys it had
    before it, so that behaviours after the first violation can be left out."""

    keys: list[Any]
    runs: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # n, keys before, steps, generated, length
    events: list[tuple[int, str, str, int]] = field(default_factory=list)  # n, "enabled"|"witness", name, depth
    violation: int = NO_VIOLATION
    error: BaseException | None = None


class _Walker:
    """Runs behaviours, checking every step, and remembers what they saw."""

    def __init__(self, spec: Spec, checks: _Checks, options: SimulateOptions, seed: int):
        self.spec, self.checks, self.seed = spec, checks, seed
        self.depth, self.deadlock = options.depth, options.deadlock
        self.key = state_key(spec, options.symmetry, options.exact)
        self.seen: dict[Any, None] = {}  # keys in the order checked
        self.expanded: set[Any] = set()
        self.inits: list[State] = []
        self.runs: list[tuple[int, int, int, int, int]] = []
        self.events: list[tuple[int, str, str, int]] = []
        self.enabled: set[str] = set()
        self.pending = dict(spec.sometimes)
        self.checks_steps = bool(checks.steps or checks.refinements)

    def start(self) -> Violation | None:
        """Check the initial states (once, before any behaviour)."""
        s = None
        try:
            for s in self.spec.init():
                if self.spec.state_constraint is not None and not self.spec.state_constraint(s):
                    continue
                k = self.key(s)
                if k in self.seen:
                    continue
                self.seen[k] = None
                self.inits.append(s)
                failed = self.checks.initial_failure(s)
                if failed is not None:
                    return Violation(failed[0], failed[1], Trace(self.spec, [Step(None, s)]), failed[2])
                self._witness(-1, s, 1)
        except (SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, s, None)) from exc
        if not self.inits:
            raise SpecError(f"spec {self.spec.name!r} has no initial state: init() yielded nothing")
        return None

    def walk(self, n: int) -> Violation | None:
        """Behaviour number ``n``: its violation, if a step of it (or a
        successor generated on the way) breaks a property."""
        rng = random.Random(f"{self.seed}:{n}")
        s = rng.choice(self.inits)
        path = [Step(None, s)]
        before, generated, failure = len(self.seen), 0, None
        constraint, spec_next = self.spec.constraint, model_steps(self.spec)
        act = None
        try:
            while len(path) < self.depth and (constraint is None or constraint(s)):
                offered, successors = spec_next(s)
                generated += len(offered)
                ks = self.key(s)
                if ks not in self.expanded:
                    self.expanded.add(ks)
                    failure = self._expand(n, s, offered, successors, len(path) + 1)
                    if failure is not None:
                        break
                moves = [step for step in successors if step[1] != s]
                if not moves:
                    break
                act, s = rng.choice(moves)
                path.append(Step(act, s))
        except (SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, s, act)) from exc
        self.runs.append((n, before, len(path) - 1, generated, len(path)))
        if failure is None:
            return None
        name, kind, detail, step = failure
        return Violation(name, kind, Trace(self.spec, path + ([Step(*step)] if step else [])), detail)

    def _expand(self, n: int, s: State, offered: list, successors: list, depth: int) -> tuple | None:
        """Check every step from ``s`` that stays in the model and every new
        successor: the first failure as (property, kind, detail, the failing
        step or None). ``offered`` are all the steps, those leaving the model too."""
        checks, seen, key = self.checks, self.seen, self.key
        images = checks.images_of(s) if checks.refinements else []
        for act, _ in offered:
            if act.name not in self.enabled:
                self.enabled.add(act.name)
                self.events.append((n, "enabled", act.name, 0))
        for act, t in successors:
            if self.checks_steps:
                failed = checks.step_failure(s, act, t, images)
                if failed is not None:
                    return (*failed, checks.step_detail(*failed, s, t), (act, t))
            k = key(t)
            if k in seen:
                continue
            seen[k] = None
            failed = checks.state_failure(t)
            if failed is not None:
                return (*failed, (act, t))
            if self.pending:
                self._witness(n, t, depth)
        if self.deadlock and not offered:
            return "Deadlock", "deadlock", "no action is enabled", None
        return None

    def _witness(self, n: int, s: State, depth: int) -> None:
        for name, pred in list(self.pending.items()):
            if pred(s):
                del self.pending[name]
                self.events.append((n, "witness", name, depth))

    def _blame(self, exc: Exception, s: State | None, act: Action | None) -> str:
        name = self.spec.name
        if s is None:
            return f"spec {name!r}: init() raised {_describe(exc)}"
        after = f" after {act}" if act is not None else ""
        return f"spec {name!r} raised {_describe(exc)}{after} in state {_short(s)}"

    def part(self, violation: int = NO_VIOLATION) -> _Part:
        return _Part(list(self.seen), self.runs, self.events, violation)


class _Simulation:
    def __init__(self, spec: Spec, checks: _Checks, options: SimulateOptions, seed: int):
        self.spec, self.checks, self.options, self.seed = spec, checks, options, seed
        self.started = time.perf_counter()

    def run(self) -> SimulationResult:
        walker = _Walker(self.spec, self.checks, self.options, self.seed)
        violation = walker.start()
        self.initial_states = len(walker.inits)
        if violation is not None:
            return self._result("violation", [walker.part()], NO_VIOLATION, violation)
        try:
            if self.options.workers == 1:
                parts, first, interrupted = self._run_here(walker)
            else:
                parts, first, interrupted = self._run_workers(walker)
        except KeyboardInterrupt:
            parts, first, interrupted = [walker.part()], NO_VIOLATION, True
        for p in parts:
            if p.error is not None:
                raise p.error
        if interrupted:
            return self._result("interrupted", parts, first, None)
        if first == NO_VIOLATION:
            return self._result("ok", parts, first, None)
        return self._result("violation", parts, first, self._replay(first))

    # -- running the behaviours ---------------------------------------------

    def _run_here(self, walker: _Walker) -> tuple[list[_Part], int, bool]:
        progress = self.options.progress
        steps = 0
        for n in range(self.options.traces):
            if walker.walk(n) is not None:
                return [walker.part(n)], n, False
            steps += walker.runs[-1][2]
            if progress is not None:
                progress(SimulationProgress(n + 1, steps, len(walker.seen), self._seconds()))
        return [walker.part()], NO_VIOLATION, False

    def _run_workers(self, walker: _Walker) -> tuple[list[_Part], int, bool]:
        """Fork the workers (they inherit the spec and the checked initial
        states) and merge what they send back."""
        workers = self.options.workers
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        first = context.Value("q", NO_VIOLATION)
        done = context.RawArray("q", 2 * workers)  # per worker: behaviours run, steps taken
        pipes, processes = [], []
        for i in range(workers):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(walker, i, workers, self.options.traces, first, done, send))
            process.start()
            send.close()
            pipes.append(receive)
            processes.append(process)
        parts: list[_Part | None] = [None] * workers
        interrupted = False
        try:
            self._collect(pipes, parts, first, done)
        except KeyboardInterrupt:
            interrupted = True
            first.value = -1  # every worker stops after its current behaviour and reports
            self._collect(pipes, parts, first, done)
        for process in processes:
            process.join()
        got = [p for p in parts if p is not None]
        for p in got:
            if isinstance(p.error, KeyboardInterrupt):
                interrupted, p.error = True, None
        return got, min(p.violation for p in got), interrupted

    def _collect(self, pipes: list, parts: list, first: Any, done: Any) -> None:
        waiting = {pipe: i for i, pipe in enumerate(pipes) if parts[i] is None}
        progress = self.options.progress
        while waiting:
            for pipe in wait(list(waiting), timeout=0.25):
                i = waiting.pop(pipe)
                try:
                    parts[i] = pipe.recv()
                except EOFError:  # killed, say for want of memory
                    parts[i] = _Part([], error=RuntimeError(f"simulation worker {i} ended without a report"))
                if parts[i].error is not None:
                    first.value = -1  # the run fails: the other workers need not go on
            if progress is not None:
                progress(SimulationProgress(sum(done[0::2]), sum(done[1::2]), None, self._seconds()))

    def _replay(self, n: int) -> Violation:
        """Behaviour ``n`` again, here: the violation to print (and a check that
        the behaviour is the same when drawn again)."""
        walker = _Walker(self.spec, self.checks, self.options, self.seed)
        walker.start()
        violation = walker.walk(n)
        if violation is None:
            raise SpecError(
                f"spec {self.spec.name!r}: behaviour {n} failed once and not when drawn again; "
                "does next() yield its steps in the same order every time?"
            )
        return violation

    # -- the report -----------------------------------------------------------

    def _result(self, verdict: str, parts: list[_Part], first: int, violation: Violation | None) -> SimulationResult:
        keys: set[Any] = set()
        traces = steps = generated = longest = 0
        enabled: set[str] = set()
        witnesses: dict[str, tuple[int, int]] = {}
        for part in parts:
            cut = len(part.keys)
            for n, before, taken, made, length in part.runs:
                if n > first:
                    cut = min(cut, before)
                    continue
                traces, steps, generated, longest = traces + 1, steps + taken, generated + made, max(longest, length)
            keys.update(part.keys[:cut])
            for n, kind, name, depth in part.events:
                if n <= first and kind == "enabled":
                    enabled.add(name)
                elif n <= first and (name not in witnesses or (n, depth) < witnesses[name]):
                    witnesses[name] = (n, depth)
        found_length, visited, shortening = None, 0, time.perf_counter()
        if violation is not None:
            found_length = len(violation.trace)
            if self.options.shorten and found_length > 2:
                violation, visited = shorten(self.spec, self.checks, self.options, violation)
        shortening = time.perf_counter() - shortening
        return SimulationResult(
            spec=self.spec.name,
            config=self.spec.config,
            verdict=verdict,
            distinct_states=len(keys),
            states_generated=generated + self.initial_states,
            depth=max(longest, 1),
            seconds=self._seconds(),
            violation=violation,
            properties=self.checks.names,
            symmetry=self.options.symmetry,
            exact=self.options.exact,
            never_enabled=[a for a in self.spec.actions if a not in enabled],
            actions_declared=bool(self.spec.actions),
            witnesses={name: witnesses[name][1] if name in witnesses else None for name in self.spec.sometimes},
            seed=self.seed,
            max_depth=self.options.depth,
            traces=traces,
            steps=steps,
            workers=self.options.workers,
            behaviour=None if first == NO_VIOLATION else first,
            found_length=found_length,
            shorten_states=visited,
            shorten_seconds=shortening if visited else 0.0,
        )

    def _seconds(self) -> float:
        return time.perf_counter() - self.started


def _worker(walker: _Walker, index: int, workers: int, traces: int, first: Any, done: Any, send: Any) -> None:
    """One worker process: behaviours index, index+workers, ... until the
    first known violation; sends its ``_Part`` back."""
    part, parent = None, os.getppid()
    try:
        for n in range(index, traces, workers):
            if n > first.value or os.getppid() != parent:  # a violation before this one, or the main process died
                break
            if walker.walk(n) is not None:
                with first.get_lock():
                    first.value = min(first.value, n)
                part = walker.part(n)
                break
            done[2 * index] += 1
            done[2 * index + 1] += walker.runs[-1][2]
        part = part or walker.part()
    except BaseException as exc:  # reported to the main process, which raises it there
        part = walker.part()
        part.error = exc
    send.send(part)
    send.close()


# ---------------------------------------------------------------------------
# Shortening: breadth-first searches from the states of a found trace
# ---------------------------------------------------------------------------


def shorten(spec: Spec, checks: _Checks, options: SimulateOptions, violation: Violation) -> tuple[Violation, int]:
    """A trace no longer than ``violation``'s to the same property failing, and the states visited.

    Breadth-first searches from the states of the trace, the last ones first
    (each bounded to beat the best trace so far, so each is small), then from
    the initial states: when the budget of ``options.shorten_states`` lasts,
    the trace returned is a shortest one."""
    narrow = checks.only(violation.property)
    key = state_key(spec, options.symmetry, options.exact)
    best, detail = _drop_steps(spec, narrow, options.deadlock, list(violation.trace.steps), violation.detail)
    budget = options.shorten_states
    for j in range(len(best) - 3, -1, -1):
        bound = len(best) - 2 - j  # steps: one fewer than the best trace takes from state j
        starts = [best[j].state] if j > 0 else list(spec.init())  # the last search: from every initial state
        found, used = _nearest_failure(spec, narrow, key, starts, bound, budget, options.deadlock, violation.property)
        budget -= used
        if found is not None:
            steps, detail = found
            best = best[: j + 1] + steps[1:] if j > 0 else steps  # the path starts at state j, without its action
        if budget <= 0:
            break
    shorter = Violation(violation.property, violation.kind, Trace(spec, best), detail)
    return shorter, options.shorten_states - max(budget, 0)


def _drop_steps(spec: Spec, checks: _Checks, deadlock: bool, best: list[Step], detail: str) -> tuple[list[Step], str]:
    """The trace without the steps it can do without: a random behaviour
    takes many steps that have nothing to do with the failure. Each step in
    turn is left out and the rest replayed by action (those no longer enabled
    skipped); when the failure still happens, sooner, the shorter trace stays."""
    i = 1
    while i < len(best) - 1:
        replayed = _replay_actions(spec, checks, deadlock, best[0].state, [s.action for s in best[1:i] + best[i + 1 :]])
        if replayed is not None and len(replayed[0]) < len(best):
            best, detail = replayed
        else:
            i += 1
    return best, detail


def _replay_actions(
    spec: Spec, checks: _Checks, deadlock: bool, s: State, actions: list[Action]
) -> tuple[list[Step], str] | None:
    """From ``s``, the actions in turn (skipping those not enabled), up to the
    first failure of ``checks``: the steps and the failure's detail, or None."""
    steps = [Step(None, s)]
    spec_next = model_steps(spec)
    for wanted in actions:
        offered, successors = spec_next(s)
        if deadlock and not offered:
            return steps, "no action is enabled"
        t = next((t for a, t in successors if a == wanted), None)
        if t is None:
            continue
        failed = checks.step_failure(s, wanted, t, checks.images_of(s)) or checks.state_failure(t)
        steps.append(Step(wanted, t))
        if failed is not None:
            return steps, checks.step_detail(failed[0], failed[1], s, t)
        s = t
    return None


def _nearest_failure(
    spec: Spec,
    checks: _Checks,
    key: Callable[[State], Any],
    starts: list[State],
    bound: int,
    budget: int,
    deadlock: bool,
    name: str,
) -> tuple[tuple[list[Step], str] | None, int]:
    """Breadth-first from ``starts``, at most ``bound`` steps and ``budget``
    states: the steps (from a start, included) to the nearest failure of
    ``checks`` and its detail, or None; and the states visited."""
    came_from: dict[Any, tuple[Any, Action | None, State]] = {key(s): (None, None, s) for s in starts}

    def path(k: Any, last: list[Step]) -> list[Step]:
        steps = list(last)
        while k is not None:
            above, act, s = came_from[k]
            steps.append(Step(act, s))
            k = above
        return steps[::-1]

    frontier = [(key(s), s) for s in starts]
    deadlocks = deadlock and name == "Deadlock"
    spec_next = model_steps(spec)
    for level_no in range(bound + 1):
        if level_no == bound and not deadlocks:
            break
        level = []
        for ks, s in frontier:
            offered, successors = spec_next(s)
            if deadlocks and not offered:
                return (path(ks, []), "no action is enabled"), len(came_from)
            if level_no == bound:
                continue
            images = checks.images_of(s) if checks.refinements else []
            for act, t in successors:
                failed = checks.step_failure(s, act, t, images)
                if failed is not None:
                    return (path(ks, [Step(act, t)]), checks.step_detail(*failed, s, t)), len(came_from)
                k = key(t)
                if k in came_from:
                    continue
                came_from[k] = (ks, act, t)
                if checks.state_failure(t) is not None:
                    return (path(k, []), ""), len(came_from)
                if spec.constraint is None or spec.constraint(t):
                    level.append((k, t))
                if len(came_from) >= budget:
                    return None, len(came_from)
        frontier = level
    return None, len(came_from)


# ---------------------------------------------------------------------------
# The report: text and JSON, around the renderer every search uses
# ---------------------------------------------------------------------------


def progress_text(p: SimulationProgress) -> str:
    """The progress line of a simulation."""
    rate = p.steps / p.seconds if p.seconds > 0 else 0
    states = f" · {p.distinct_states:,} states" if p.distinct_states is not None else ""
    return f"  {p.traces:,} behaviours · {p.steps:,} steps{states} · {rate:,.0f} steps/s · {p.seconds:.0f} s"


def simulation_text(result: SimulationResult, strict: bool = False) -> str:
    """What ``paxoscope check --simulate`` prints."""
    from .render import _vacuity_lines, strict_failed, violation_text

    checked = ", ".join(result.properties) or "nothing (no property selected)"
    workers = f", {result.workers} workers" if result.workers > 1 else ""
    lines = [
        f"checked: {checked}",
        f"simulated: seed {result.seed}, behaviours of at most {result.max_depth} states{workers}"
        + " (up to symmetry)" * result.symmetry,
    ]
    if result.verdict == "violation":
        lines += violation_text(result)
        lines += ["", f"  {_found(result)}"]
    elif strict_failed(result, strict):
        lines.append(f"FAILED (--strict): {'; '.join(result.warnings)}")
    elif result.verdict == "ok":
        lines.append(
            f"OK: no property fails in {result.traces:,} random behaviours "
            "(a simulation visits some of the reachable states, not every one)"
        )
    else:
        lines.append("INTERRUPTED: partial statistics")
    lines.append(f"  {_statistics(result)}")
    if result.verdict == "ok":
        lines += _vacuity_lines(result)
    return "\n".join(lines)


def _found(result: SimulationResult) -> str:
    if result.behaviour is None:
        return "an initial state fails: no behaviour was needed"
    steps = result.found_length - 1
    said = f"found in behaviour {result.behaviour:,} of seed {result.seed} after {steps} step{'s' * (steps != 1)}"
    if result.shorten_states:
        said += (
            f"; shortened in {result.shorten_seconds:.2f} s by breadth-first searches "
            f"over {result.shorten_states:,} states"
        )
    return said


def _statistics(result: SimulationResult) -> str:
    drawing = result.seconds - result.shorten_seconds
    rate = result.steps / drawing if drawing > 0 else 0.0
    return (
        f"{_count(result.traces, 'behaviour')}, {_count(result.steps, 'step')}, "
        f"{result.distinct_states:,} distinct states, "
        f"{result.states_generated:,} generated, longest {result.depth} states, {result.seconds:.2f} s "
        f"({rate:,.0f} steps/s)"
    )


def simulation_json(result: SimulationResult, spec_name: str, strict: bool = False) -> dict[str, Any]:
    """``check --json``'s report, with the figures of the simulation under ``simulation``."""
    from .render import result_json

    return {
        **result_json(result, spec_name, strict),
        "simulation": {
            "seed": result.seed,
            "traces": result.traces,
            "steps": result.steps,
            "max_depth": result.max_depth,
            "workers": result.workers,
            "violating_behaviour": result.behaviour,
            "found_length": result.found_length,
            "shorten_states": result.shorten_states,
            "shorten_seconds": round(result.shorten_seconds, 4),
        },
    }


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'s' * (n != 1)}"

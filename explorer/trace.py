"""The one trace type: a run of a spec as a list of steps from an initial state.

Every engine speaks it: an explorer counterexample, a counterexample to
induction from the prover, a recorded run of the implementation. ``validate``
checks that a trace is a legal behaviour of a spec, step by step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..spec.base import Action, Spec, State


@dataclass(frozen=True)
class Step:
    """``action`` led to ``state``; the first step of a trace has no action."""

    action: Action | None
    state: State


@dataclass
class Trace:
    spec: Spec
    steps: list[Step] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    @property
    def states(self) -> list[State]:
        return [step.state for step in self.steps]

    @property
    def actions(self) -> list[Action]:
        return [step.action for step in self.steps[1:]]


@dataclass(frozen=True)
class StepError:
    """Where a trace leaves the spec: the step index, and what the spec allowed there."""

    index: int
    reason: str
    allowed: tuple[Action, ...] = ()


def validate(spec: Spec, trace: Trace | Iterable[Step]) -> StepError | None:
    """None if the trace is a behaviour of ``spec``, else the first illegal step.

    A step is legal when its state is a successor of the previous state under
    the recorded action (or under any action, if the step records none), or
    when it repeats the previous state (a stutter)."""
    steps = list(trace.steps if isinstance(trace, Trace) else trace)
    if not steps:
        return StepError(0, "the trace is empty")
    inits = list(spec.init())
    if steps[0].state not in inits:
        return StepError(0, "the first state is not an initial state of the spec")
    for i in range(1, len(steps)):
        before, step = steps[i - 1].state, steps[i]
        if step.state == before:
            continue
        succ = list(spec.next(before))
        if any(t == step.state and (step.action is None or a == step.action) for a, t in succ):
            continue
        allowed = tuple(dict.fromkeys(a for a, t in succ if t != before))
        if step.action is not None and any(a == step.action for a, _ in succ):
            reason = f"{step.action} is enabled here but leads to another state"
        elif step.action is not None:
            reason = f"{step.action} is not enabled here"
        else:
            reason = "no action of the spec leads to this state"
        return StepError(i, reason, allowed)
    return None


def trace_of(spec: Spec, pairs: Iterable[tuple[Action | None, State]]) -> Trace:
    return Trace(spec, [Step(a, s) for a, s in pairs])


def plain(value: Any) -> Any:
    """A variable's value as JSON-friendly data (sets sorted, records as dicts)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=_order)
    if hasattr(value, "_asdict"):
        return {"type": _type_name(value), **{k: plain(v) for k, v in value._asdict().items()}}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _type_name(record: Any) -> str:
    text = str(record)
    return text.split("(", 1)[0] if "(" in text else type(record).__name__


def _order(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True, default=str)

"""A scenario: a behaviour of a spec written as the steps a reader would name.

Each step is a line ``Name arg ...``: the action's name, then the values of
its parameters in order, ``*`` for any value (a message in flight, say). The
scenario is played from the spec's initial state, each line taking the one
step of the spec it names; ``play`` stops at the first line that names no
step, or more than one, so a trace shorter than the scenario says where the
spec and the scenario part. Where a state space is too large to search, a
scenario still shows, step by step, a behaviour that goes wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..spec.base import Action, Spec
from .trace import Trace, trace_of


def play(spec: Spec, steps: Sequence[str]) -> Trace:
    """The trace of ``spec`` from its (first) initial state along ``steps``, as far as they go."""
    state = next(iter(spec.init()))
    pairs: list = [(None, state)]
    for line in steps:
        name, *args = line.split()
        taken = [(act, t) for act, t in spec.next(state) if names(act, name, args)]
        if len(taken) != 1:
            break
        pairs.append(taken[0])
        state = taken[0][1]
    return trace_of(spec, pairs)


def names(act: Action, name: str, args: Sequence[str]) -> bool:
    """Whether the line ``name args`` names the action ``act``."""
    values = [str(value) for _, value in act.params]
    return act.name == name and len(values) == len(args) and all(a in ("*", v) for a, v in zip(args, values))

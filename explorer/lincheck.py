"""Linearizability of a client history against a sequential model.

A history is linearizable (Herlihy & Wing) when some total order of its
operations, each taking effect between its call and its return, explains
every result by running the model sequentially. The search is Wing & Gong's
with Lowe's improvements, as Porcupine does it: the calls and returns form a
doubly linked list ordered by time; the search linearizes ("lifts") a call
whose model step explains its output, backtracks at the first return it
meets, and never revisits a (linearized set, model state) pair. A model that
partitions its history (``kv`` by key) is checked one partition at a time
(P-compositionality, Horn & Kroening 2015).

An operation whose outcome is unknown (Jepsen's ``:info``) returns at +infinity
with an output that matches anything: it may take effect any time after its
call, or never.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import kvstore

#: The output of an operation whose result the client never learnt: it matches every output.
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "?"})()

LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN_VERDICT = "linearizable", "not-linearizable", "unknown"


@dataclass(frozen=True)
class Operation:
    """One client operation: ``input`` is ``(f, key, value)``; ``ret`` is +inf when the outcome is unknown."""

    index: int
    client: Hashable
    input: tuple[str, Any, Any]
    output: Any
    call: float
    ret: float

    @property
    def pending(self) -> bool:
        return self.output is UNKNOWN

    def describe(self) -> str:
        f, key, value = self.input
        where = "" if key is None else f" {key!r}"
        arg = "" if value is None else f" {value!r}"
        return f"client {self.client}: {f}{where}{arg} -> {'(unknown)' if self.pending else repr(self.output)}"


@dataclass(frozen=True)
class Model:
    """A sequential object: ``step(state, input) -> (output, next_state)`` is deterministic.

    ``reads`` are the functions whose observed result is their value (a read returns what it read);
    any other function returns ``"ok"`` or, when it is in ``fails``, ``"fail"``. A failed operation
    whose function is not in ``fails`` did not take effect and is left out of the history.
    """

    name: str
    init: Hashable
    step: Callable[[Any, tuple[str, Any, Any]], tuple[Any, Any]]
    functions: frozenset[str]
    reads: frozenset[str] = frozenset()
    fails: frozenset[str] = frozenset()
    partition: Callable[[Sequence[Operation]], list[list[Operation]]] | None = None
    keyed: bool = False

    def observed(self, f: str, kind: str, value: Any) -> Any:
        """The output a finished operation reports, in the model's terms."""
        if kind == "fail":
            return "fail"
        return value if f in self.reads else "ok"


def user_model(name: str, obj: Any) -> Model:
    """A ``Model`` from a user's object (or class): ``init``, ``step(state, input) -> (output, next_state)``
    and ``functions``; optionally ``reads``, ``fails``, ``partition`` and ``keyed``, as ``Model`` has them."""
    from ..spec.constants import ConfigError

    if isinstance(obj, type):
        obj = obj()
    if isinstance(obj, Model):
        return obj
    missing = [attr for attr in ("init", "step", "functions") if not hasattr(obj, attr)]
    if missing or not callable(obj.step):
        raise ConfigError(f"{name} is not a model: it needs init, step(state, input) and functions ({missing})")
    return Model(
        getattr(obj, "name", name),
        obj.init,
        obj.step,
        frozenset(obj.functions),
        frozenset(getattr(obj, "reads", ())),
        frozenset(getattr(obj, "fails", ())),
        getattr(obj, "partition", None),
        bool(getattr(obj, "keyed", False)),
    )


def _register_step(state: Any, inp: tuple[str, Any, Any]) -> tuple[Any, Any]:
    f, _, value = inp
    if f == "read":
        return state, state
    if f == "write":
        return "ok", value
    if f == "cas":
        expected, new = value
        return ("ok", new) if state == expected else ("fail", state)
    raise AssertionError(f)


def _kv_step(state: tuple[tuple[Any, str], ...], inp: tuple[str, Any, Any]) -> tuple[Any, Any]:
    f, key, value = inp
    table = dict(state)
    if f == "get":
        return table.get(key, ""), state
    table[key] = value if f == "put" else table.get(key, "") + value
    return "ok", tuple(sorted(table.items()))


def _lock_step(owner: Any, inp: tuple[str, Any, Any]) -> tuple[Any, Any]:
    f, _, who = inp
    if f == "acquire":
        return ("ok", who) if owner is None else ("fail", owner)
    return ("ok", None) if owner == who else ("fail", owner)


def by_key(ops: Sequence[Operation]) -> list[list[Operation]]:
    """One sub-history per key: operations on different keys never constrain each other."""
    groups: dict[Any, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.input[1], []).append(op)
    return list(groups.values())


MODELS: dict[str, Model] = {
    "register": Model("register", None, _register_step, frozenset({"read", "write"}), frozenset({"read"})),
    "cas-register": Model(
        "cas-register",
        None,
        _register_step,
        frozenset({"read", "write", "cas"}),
        frozenset({"read"}),
        frozenset({"cas"}),
    ),
    "kv": Model(
        "kv", (), _kv_step, frozenset({"get", "put", "append"}), frozenset({"get"}), partition=by_key, keyed=True
    ),
    "kv-store": Model("kv-store", (), kvstore.step, kvstore.FUNCTIONS, kvstore.READS, partition=by_key, keyed=True),
    "lock": Model("lock", None, _lock_step, frozenset({"acquire", "release"}), fails=frozenset({"acquire", "release"})),
}


@dataclass
class PartitionResult:
    verdict: str
    operations: list[Operation]
    #: On a failure: the longest order of operations found that explains its results, and the state it ends in.
    prefix: list[Operation] = field(default_factory=list)
    prefix_state: Any = None
    #: On a failure: the operation that returned before any further operation could be placed.
    stuck: Operation | None = None
    #: On a failure: for each operation, the states the model could be in where the operation could go next.
    states: list[list[Any] | None] = field(default_factory=list)


@dataclass
class LincheckResult:
    verdict: str
    model: str
    operations: int
    partitions: list[PartitionResult]
    seconds: float

    @property
    def failure(self) -> PartitionResult | None:
        """The smallest failing partition, if any."""
        failing = [p for p in self.partitions if p.verdict == NOT_LINEARIZABLE]
        return min(failing, key=lambda p: len(p.operations)) if failing else None


class _Timeout(Exception):
    pass


def _entries(ops: Sequence[Operation]) -> list[tuple[float, int, int]]:
    """Calls and returns ordered by time; at a tie calls come first, so touching operations overlap."""
    events = [(op.call, 0, i) for i, op in enumerate(ops)] + [(op.ret, 1, i) for i, op in enumerate(ops)]
    events.sort()
    return events


def check_partition(
    model: Model,
    ops: Sequence[Operation],
    deadline: float | None = None,
    fits_in: list[set[Any]] | None = None,
) -> PartitionResult:
    """Wing & Gong's search with Lowe's cache over one (sub-)history; ``fits_in[i]`` collects the states
    in which the search found operation ``i`` could take effect."""
    n = len(ops)
    events = _entries(ops)
    size = len(events)
    head, tail = size, size + 1
    # Entry e (0..size-1) is events[e]; the sentinels head and tail close the list.
    order = [head, *range(size), tail]
    nxt = [0] * (size + 2)
    prv = [0] * (size + 2)
    for a, b in zip(order, order[1:]):
        nxt[a], prv[b] = b, a
    is_call = [kind == 0 for _, kind, _ in events]
    op_of = [i for _, _, i in events]
    ret_entry = [0] * n
    for e, (_, kind, i) in enumerate(events):
        if kind == 1:
            ret_entry[i] = e
    inputs = [op.input for op in ops]
    outputs = [op.output for op in ops]
    step = model.step

    twin = _earlier_twins(ops)
    pending_mask = sum(1 << i for i, op in enumerate(ops) if op.ret == math.inf)
    remaining = sum(1 for op in ops if op.ret != math.inf)
    state: Any = model.init
    linearized = 0
    # Lowe's cache, with pending operations apart: a configuration that used a superset of the pending
    # operations another used, at the same known-result set and state, can do no more than that one did
    # (an unused pending operation may still never happen), so it is pruned.
    seen: dict[tuple[int, Any], list[int]] = {}
    calls: list[tuple[int, Any, bool]] = []
    pending = [op.ret == math.inf for op in ops]
    # Two passes over the calls that may go next: those with a known result first, then those pending, so
    # that an operation of unknown outcome takes effect only where a known result needs it.
    late = False
    best_len = -1
    best: tuple[list[int], Any, int | None] = ([], None, None)
    steps = 0
    entry = nxt[head]
    while remaining:
        steps += 1
        if deadline is not None and not steps & 0x3FF and time.monotonic() > deadline:
            raise _Timeout
        if is_call[entry]:
            i = op_of[entry]
            if pending[i] != late or (twin[i] >= 0 and not linearized >> twin[i] & 1):
                entry = nxt[entry]
                continue
            output, new_state = step(state, inputs[i])
            expected = outputs[i]
            if expected is UNKNOWN or output == expected:
                if fits_in is not None:
                    fits_in[i].add(state)
                new_linearized = linearized | (1 << i)
                if _new(seen, new_linearized & ~pending_mask, new_linearized & pending_mask, new_state):
                    calls.append((entry, state, late))
                    state, linearized = new_state, new_linearized
                    if not pending[i]:
                        remaining -= 1
                    _lift(nxt, prv, entry, ret_entry[i])
                    entry, late = nxt[head], False
                    continue
            entry = nxt[entry]
            continue
        if not late:
            entry, late = nxt[head], True
            continue
        # A return: every operation still unplaced has to be placed before it, and none can be.
        if len(calls) > best_len:
            best_len = len(calls)
            best = ([op_of[c] for c, _, _ in calls], state, op_of[entry])
        if not calls:
            return _failure(ops, best)
        entry, state, late = calls.pop()
        i = op_of[entry]
        linearized &= ~(1 << i)
        if not pending[i]:
            remaining += 1
        _unlift(nxt, prv, entry, ret_entry[i])
        entry = nxt[entry]
    return PartitionResult(LINEARIZABLE, list(ops))


def _new(seen: dict[tuple[int, Any], list[int]], known: int, used: int, state: Any) -> bool:
    """Whether no configuration seen at ``known`` and ``state`` used only pending operations among ``used``;
    records this one if so."""
    earlier = seen.setdefault((known, state), [])
    if any(u & used == u for u in earlier):
        return False
    earlier.append(used)
    return True


def _earlier_twins(ops: Sequence[Operation]) -> list[int]:
    """For each operation pending to the end, the one called just before it with the same input, else -1.

    Two such twins are interchangeable, so the search places the earlier first: without this, each
    subset of a crowd of timed-out identical writes would be a separate cache entry."""
    twin = [-1] * len(ops)
    last: dict[Any, int] = {}
    for i in sorted(range(len(ops)), key=lambda i: ops[i].call):
        if ops[i].ret == math.inf:
            twin[i] = last.get(ops[i].input, -1)
            last[ops[i].input] = i
    return twin


def _lift(nxt: list[int], prv: list[int], call: int, ret: int) -> None:
    for e in (call, ret):
        nxt[prv[e]] = nxt[e]
        prv[nxt[e]] = prv[e]


def _unlift(nxt: list[int], prv: list[int], call: int, ret: int) -> None:
    for e in (ret, call):
        nxt[prv[e]] = e
        prv[nxt[e]] = e


def _failure(ops: Sequence[Operation], best: tuple[list[int], Any, int | None]) -> PartitionResult:
    order, state, stuck = best
    return PartitionResult(
        NOT_LINEARIZABLE,
        list(ops),
        prefix=[ops[i] for i in order],
        prefix_state=state,
        stuck=None if stuck is None else ops[stuck],
    )


def check(model: Model, ops: Sequence[Operation], timeout: float | None = None) -> LincheckResult:
    """The verdict on a whole history: every partition of it must be linearizable."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    parts = model.partition(ops) if model.partition else [list(ops)]
    results = []
    verdict = LINEARIZABLE
    for part in parts:
        try:
            result = check_partition(model, part, deadline)
        except _Timeout:
            result = PartitionResult(UNKNOWN_VERDICT, list(part))
        results.append(result)
        if result.verdict == NOT_LINEARIZABLE:
            verdict = NOT_LINEARIZABLE
        elif result.verdict == UNKNOWN_VERDICT and verdict == LINEARIZABLE:
            verdict = UNKNOWN_VERDICT
    result = LincheckResult(verdict, model.name, len(ops), results, time.monotonic() - started)
    if result.failure is not None:
        _explain(model, result.failure, deadline)
    return result


def _explain(model: Model, failure: PartitionResult, deadline: float | None) -> None:
    """The states each operation of a failing sub-history could take effect in: a second search, recording
    (within the same time limit: when it runs out, the states are not known, None)."""
    fits_in: list[set[Any]] = [set() for _ in failure.operations]
    try:
        check_partition(model, failure.operations, deadline, fits_in=fits_in)
    except _Timeout:
        failure.states = [None] * len(failure.operations)
        return
    failure.states = [sorted(states, key=repr) for states in fits_in]
    # The first operation to return that fits in no reachable state is the one to blame; when every
    # operation fits somewhere (only their combination fails), the search's last blocking return is.
    nowhere = [op for op, states in zip(failure.operations, fits_in, strict=True) if not states and not op.pending]
    if nowhere:
        failure.stuck = min(nowhere, key=lambda op: op.ret)

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
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
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
    whose function is not in ``fails`` did not take effect and is left out of the history. As in
    Jepsen, ``"fail"`` means the operation did not take effect: it never changes the state, and
    neither does a function in ``readonly``; the search uses both to prune.
    """

    name: str
    init: Hashable
    step: Callable[[Any, tuple[str, Any, Any]], tuple[Any, Any]]
    functions: frozenset[str]
    reads: frozenset[str] = frozenset()
    fails: frozenset[str] = frozenset()
    partition: Callable[[Sequence[Operation]], list[list[Operation]]] | None = None
    keyed: bool = False
    readonly: frozenset[str] = frozenset()

    def observed(self, f: str, kind: str, value: Any) -> Any:
        """The output a finished operation reports, in the model's terms."""
        if kind == "fail":
            return "fail"
        return value if f in self.reads else "ok"

    def neutral(self, op: Operation) -> bool:
        """Whether ``op`` leaves the state as it found it, wherever it takes effect."""
        return op.input[0] in self.readonly or op.output == "fail"


def user_model(name: str, obj: Any) -> Model:
    """A ``Model`` from a user's object (or class): ``init``, ``step(state, input) -> (output, next_state)``
    and ``functions``; optionally ``reads``, ``fails``, ``partition``, ``keyed`` and ``readonly``, as
    ``Model`` has them."""
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
        frozenset(getattr(obj, "readonly", ())),
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
    # The state is the table's (key, value) pairs in key order; checked per key, it holds one pair.
    current = ""
    for k, v in state:
        if k == key:
            current = v
            break
    if f == "get":
        return current, state
    if len(state) == 1 and state[0][0] == key or not state:
        return "ok", ((key, value if f == "put" else current + value),)
    table = dict(state)
    table[key] = value if f == "put" else current + value
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


def _per_key(
    name: str, init: Hashable, step: Callable, functions: Iterable[str], reads: Iterable[str], fails: Iterable[str] = ()
) -> Model:
    """A model checked one key at a time, whose reads change nothing."""
    reads = frozenset(reads)
    return Model(
        name, init, step, frozenset(functions), reads, frozenset(fails), partition=by_key, keyed=True, readonly=reads
    )


MODELS: dict[str, Model] = {
    # Registers are one per key: a history without keys is one register; with Jepsen's independent keys,
    # one register per key, each checked on its own.
    "register": _per_key("register", None, _register_step, {"read", "write"}, {"read"}),
    "cas-register": _per_key("cas-register", None, _register_step, {"read", "write", "cas"}, {"read"}, {"cas"}),
    "kv": _per_key("kv", (), _kv_step, {"get", "put", "append"}, {"get"}),
    "kv-store": _per_key("kv-store", (), kvstore.step, kvstore.FUNCTIONS, kvstore.READS),
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
    #: On a failure: whether leaving out any one more of the ``operations`` that cannot change the state would
    #: make them linearizable.
    minimal: bool = False
    #: On a failure: found letting pending operations take effect more than once (``states`` are then too).
    reused_pending: bool = False


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


@dataclass
class Progress:
    """Where a long check is: which partition, what it does (``search`` or ``cut``: making a failing
    sub-history smaller), and how many configurations it has tried there."""

    partition: int
    partitions: int
    phase: str
    steps: int


@dataclass
class _Clock:
    """The time limit of a search, and whom to tell how far it got."""

    deadline: float | None
    progress: Callable[[Progress], None] | None = None
    where: Progress = field(default_factory=lambda: Progress(1, 1, "search", 0))

    def tick(self, steps: int) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Timeout
        if self.progress is not None:
            self.where.steps = steps
            self.progress(self.where)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


class _Unbounded(Exception):
    """Operations taking effect more than once keep making new states: that search would not end."""


def _entries(ops: Sequence[Operation]) -> list[tuple[float, int, int]]:
    """Calls and returns ordered by time; at a tie calls come first, so touching operations overlap."""
    events = [(op.call, 0, i) for i, op in enumerate(ops)] + [(op.ret, 1, i) for i, op in enumerate(ops)]
    events.sort()
    return events


def check_partition(
    model: Model,
    ops: Sequence[Operation],
    clock: _Clock | None = None,
    fits_in: list[set[Any]] | None = None,
    reuse_pending: bool = False,
) -> PartitionResult:
    """The verdict of ``_search`` on one (sub-)history, searched to its end."""
    return _finish(_search(model, ops, clock, fits_in, reuse_pending))


def _finish(search: Iterator[None]) -> Any:
    """Run a search that pauses now and then (a generator) to its end: its result."""
    try:
        while True:
            next(search)
    except StopIteration as done:
        return done.value


def _search(
    model: Model,
    ops: Sequence[Operation],
    clock: _Clock | None,
    fits_in: list[set[Any]] | None,
    reuse_pending: bool,
) -> Iterator[None]:
    """Wing & Gong's search with Lowe's cache over one (sub-)history; ``fits_in[i]`` collects the states
    in which the search found operation ``i`` could take effect.

    With ``reuse_pending``, an operation of unknown outcome may take effect any number of times: a
    history that is not linearizable even so is not linearizable, and that search is far smaller (it
    does not tell apart which pending operations were used). That search gives up (``_Unbounded``) when the
    pending operations keep making new states, as appends do."""
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
    # An operation that cannot change the state, placed where it fits, never has to be undone to make room:
    # whatever order completes the history without it placed completes it with it placed (drop it from
    # that order: nobody sees a difference). So it is placed as a forced move, and when everything after
    # it fails, the configuration it was placed in fails too.
    neutral = [model.neutral(op) for op in ops]
    neutral_mask = sum(1 << i for i, is_neutral in enumerate(neutral) if is_neutral)
    changing_mask = ~pending_mask & ~neutral_mask
    state: Any = model.init
    linearized = 0
    # Lowe's cache, with two kinds of operation apart. A configuration at the same state, with the same
    # state-changing operations of known result placed, can do no more than one seen before if it placed
    # only some of the neutral operations that one placed (placing them is never a loss, see above) and
    # used all the pending operations that one used, or more (an unused pending operation may still never
    # happen). Such a configuration is pruned.
    seen: dict[tuple[int, Any], list[tuple[int, int]]] = {(0, model.init): [(0, 0)]}
    calls: list[tuple[int, Any, bool, bool, bool]] = []
    pending = [op.ret == math.inf for op in ops]
    # Two passes over the calls that may go next: those with a known result first, then those pending, so
    # that an operation of unknown outcome takes effect only where a known result needs it.
    late = False
    best_len = -1
    best: tuple[list[int], Any, int | None] = ([], None, None)
    steps = 0
    made: set[Any] = set()
    made_limit = 64 + 4 * n
    # Whether the pass over the calls that may go next passed one pending: if not, a second pass is useless.
    passed_pending = False
    entry = nxt[head]
    while remaining:
        steps += 1
        if not steps & 0x3FF:
            if clock is not None:
                clock.tick(steps)
            yield  # a pause: partitions are searched side by side
        if is_call[entry]:
            i = op_of[entry]
            if pending[i] != late or (twin[i] >= 0 and not linearized >> twin[i] & 1):
                passed_pending = passed_pending or pending[i]
                entry = nxt[entry]
                continue
            output, new_state = step(state, inputs[i])
            expected = outputs[i]
            if expected is UNKNOWN or output == expected:
                if fits_in is not None:
                    fits_in[i].add(state)
                if pending[i] and new_state == state:
                    # Taking effect here changes nothing that not taking effect at all would not.
                    entry = nxt[entry]
                    continue
                if reuse_pending and pending[i]:
                    made.add(new_state)
                    if len(made) > made_limit:
                        raise _Unbounded
                    if _new(seen, (linearized & changing_mask, new_state), linearized & neutral_mask, 0):
                        calls.append((entry, state, late, False, passed_pending))
                        state, entry, late, passed_pending = new_state, nxt[head], False, False
                        continue
                    entry = nxt[entry]
                    continue
                new_linearized = linearized | (1 << i)
                if _new(
                    seen,
                    (new_linearized & changing_mask, new_state),
                    new_linearized & neutral_mask,
                    new_linearized & pending_mask,
                ):
                    calls.append((entry, state, late, neutral[i], passed_pending))
                    state, linearized = new_state, new_linearized
                    if not pending[i]:
                        remaining -= 1
                    _lift(nxt, prv, entry, ret_entry[i])
                    entry, late, passed_pending = nxt[head], False, False
                    continue
                if not neutral[i]:
                    entry = nxt[entry]
                    continue
                # The forced move leads where the search has already failed: so does this configuration.
            else:
                entry = nxt[entry]
                continue
        elif not late and passed_pending:
            entry, late = nxt[head], True
            continue
        # Every operation still unplaced has to be placed before this return, and none can be.
        if not is_call[entry] and len(calls) > best_len:
            best_len = len(calls)
            best = ([op_of[c] for c, *_ in calls], state, op_of[entry])
        forced = True
        while forced:
            if not calls:
                return _failure(ops, best)
            entry, state, late, forced, passed_pending = calls.pop()
            i = op_of[entry]
            if reuse_pending and pending[i]:
                break
            linearized &= ~(1 << i)
            if not pending[i]:
                remaining += 1
            _unlift(nxt, prv, entry, ret_entry[i])
        entry = nxt[entry]
    return PartitionResult(LINEARIZABLE, list(ops))


def _new(seen: dict[tuple[int, Any], list[tuple[int, int]]], key: tuple[int, Any], placed: int, used: int) -> bool:
    """Whether no configuration seen at ``key`` placed all the neutral operations in ``placed`` and used only
    pending operations among ``used``; records this one if so."""
    earlier = seen.setdefault(key, [])
    for p, u in earlier:
        if p & placed == placed and u & used == u:
            return False
    earlier.append((placed, used))
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


#: Without a time limit, how long a failing sub-history is made smaller before it is reported as it stands.
MINIMIZE_SECONDS = 10.0


def check(
    model: Model,
    ops: Sequence[Operation],
    timeout: float | None = None,
    explain: bool = True,
    progress: Callable[[Progress], None] | None = None,
) -> LincheckResult:
    """The verdict on a whole history: every partition of it must be linearizable. On a failure, with
    ``explain``, the smallest failing partition is cut down to a failing sub-history (see ``minimized``) and
    each of its operations gets the states it could take effect in. ``progress`` is told, every thousand
    configurations or so, where the check is."""
    started = time.monotonic()
    clock = _Clock(None if timeout is None else started + timeout, progress)
    # An operation of unknown outcome that cannot change the state constrains nothing: it may never have happened.
    checked = [op for op in ops if not (op.pending and model.neutral(op))]
    parts = model.partition(checked) if model.partition else [checked]
    results = _verdicts(model, parts, clock)
    verdicts = {r.verdict for r in results}
    verdict = next((v for v in (NOT_LINEARIZABLE, UNKNOWN_VERDICT) if v in verdicts), LINEARIZABLE)
    result = LincheckResult(verdict, model.name, len(ops), results, 0.0)
    failure = result.failure
    if failure is not None and explain:
        where = results.index(failure)
        clock.where = Progress(where + 1, len(parts), "cut", 0)
        budget = clock.deadline if clock.deadline is not None else time.monotonic() + MINIMIZE_SECONDS
        results[where] = failure = minimized(model, failure, _Clock(budget, progress, clock.where))
        _explain(model, failure, clock)
    elif failure is not None:
        failure.states = [None] * len(failure.operations)
    result.seconds = time.monotonic() - started
    return result


#: How many pauses (of about a thousand steps each) each undecided partition goes on for, in its turn.
TURN = 16


def _verdicts(model: Model, parts: list[list[Operation]], clock: _Clock) -> list[PartitionResult]:
    """Each partition's verdict. The partitions are searched side by side, in turns, so that the first failure
    found, in whichever partition is quickest to fail, decides: the partitions not decided by then are left
    unknown."""
    results: list[PartitionResult | None] = [None] * len(parts)
    searches = {number: _part_search(model, part, clock) for number, part in enumerate(parts)}
    try:
        while searches:
            for number, search in list(searches.items()):
                clock.where = Progress(number + 1, len(parts), "search", 0)
                try:
                    for _ in range(TURN):
                        next(search)
                except StopIteration as done:
                    results[number] = done.value
                    del searches[number]
                    if done.value.verdict == NOT_LINEARIZABLE:
                        searches.clear()
                        break
    except _Timeout:
        pass
    return [PartitionResult(UNKNOWN_VERDICT, list(part)) if r is None else r for r, part in zip(results, parts)]


def _part_search(model: Model, ops: Sequence[Operation], clock: _Clock) -> Iterator[None]:
    """A failure found letting pending operations take effect more than once is a failure; else, the exact search."""
    if any(op.ret == math.inf for op in ops):
        try:
            relaxed = yield from _search(model, ops, clock, None, True)
        except _Unbounded:
            relaxed = None
        if relaxed is not None and relaxed.verdict == NOT_LINEARIZABLE:
            relaxed.reused_pending = True
            return relaxed
    return (yield from _search(model, ops, clock, None, False))


def _fails(model: Model, ops: Sequence[Operation], clock: _Clock) -> PartitionResult | None:
    """The failure of ``ops``, or None when they are linearizable or there is no time left to tell."""
    try:
        result = _finish(_part_search(model, ops, clock))
    except _Timeout:
        return None
    return result if result.verdict == NOT_LINEARIZABLE else None


def _cut(ops: Sequence[Operation], at: float) -> list[Operation]:
    """The history as it stood at time ``at``: what had been called, the operations still running pending."""
    return [
        op if op.ret <= at else Operation(op.index, op.client, op.input, UNKNOWN, op.call, math.inf)
        for op in ops
        if op.call <= at
    ]


def minimized(model: Model, failure: PartitionResult, clock: _Clock) -> PartitionResult:
    """A failing sub-history of ``failure``'s operations, as small as the ``clock``'s time limit allows.

    First the earliest moment the history had already failed: a history whose prefix is not linearizable
    is not (Herlihy & Wing), so a binary search over the returns finds it, and the operations called by then,
    with their real results, fail. Then the operations that cannot change the state are left out, in halves,
    quarters, ... and one at a time, while what is left still fails; ``minimal`` says that no single one more
    could be left out."""
    ops = failure.operations
    returns = sorted({op.ret for op in ops if op.ret != math.inf})
    lo, hi = 0, len(returns) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _fails(model, _cut(ops, returns[mid]), clock) is not None:
            hi = mid
        elif clock.out_of_time():
            return failure
        else:
            lo = mid + 1
    kept = [op for op in ops if op.call <= returns[lo]] if returns else list(ops)
    if len(kept) < len(ops):
        cut = _fails(model, kept, clock)
        if cut is None:
            return failure
        failure = cut
    # Only operations that cannot change the state are left out: without one, what is left cannot become
    # linearizable, nor fail for a new reason (leaving out a write would make its reads unexplainable).
    removable = [op for op in kept if model.neutral(op)]
    chunk = max(1, len(removable) // 2)
    while not clock.out_of_time():
        removed_any = False
        start = 0
        while start < len(removable) and not clock.out_of_time():
            dropped = {op.index for op in removable[start : start + chunk]}
            smaller = _fails(model, [op for op in kept if op.index not in dropped], clock)
            if smaller is None:
                start += chunk
            else:
                removable = removable[:start] + removable[start + chunk :]
                kept, failure, removed_any = smaller.operations, smaller, True
        if chunk == 1 and not removed_any and start >= len(removable):
            failure.minimal = True
            break
        chunk = max(1, chunk // 2)
    return failure


def _explain(model: Model, failure: PartitionResult, clock: _Clock) -> None:
    """The states each operation of a failing sub-history could take effect in: a second search, recording
    (within the same time limit: when it runs out, the states are not known, None)."""
    fits_in: list[set[Any]] = [set() for _ in failure.operations]
    try:
        check_partition(model, failure.operations, clock, fits_in=fits_in, reuse_pending=failure.reused_pending)
    except _Timeout:
        failure.states = [None] * len(failure.operations)
        return
    failure.states = [sorted(states, key=repr) for states in fits_in]
    # The first operation to return that fits in no reachable state is the one to blame; when every
    # operation fits somewhere (only their combination fails), the search's last blocking return is.
    nowhere = [op for op, states in zip(failure.operations, fits_in, strict=True) if not states and not op.pending]
    if nowhere:
        failure.stuck = min(nowhere, key=lambda op: op.ret)

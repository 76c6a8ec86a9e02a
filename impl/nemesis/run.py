"""One nemesis run: clients and faults against a service, then the verdict on what the clients saw.

``run`` starts the service (a ``Target``), runs the clients (``workload``) while a thread applies the
fault schedule (``faults``), heals every fault, reads every key once more, and judges:

- the history is linearizable against the ``kv-store`` model (``explorer.lincheck``);
- no acknowledged write was lost (``workload.lost_writes``);
- every replica's applied state is the same once the service has settled;
- once every fault is healed, the service answers (a read of every key), as it must with all replicas up.

It stops the service whatever happens (an error, Ctrl-C): the target's ``stop`` ends every process the
run started. Bounded: the clients stop after ``seconds``, the faults are healed before then, and every
wait after that has a deadline.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...explorer import lincheck
from ...explorer.histories import from_records
from .faults import KILL, KINDS, LEADER, PARTITION, PAUSE, RESTART, Fault, schedule
from .history import NEMESIS, OK, History, HistoryEvent
from .workload import KEYS, KVService, Workload, final_reads, lost_writes, run_clients

MODEL = "kv-store"
SETTLE = 20.0  # seconds the replicas may take to apply the same log once the faults are healed
CHECK_TIMEOUT = 120.0  # seconds the linearizability check may take before its verdict is unknown
LEADER_WAIT = 2.0  # seconds a fault aimed at the leader waits for one while an election is under way


class Target(Protocol):
    """A replicated service under test, and the faults the nemesis can do to it."""

    nodes: tuple[str, ...]

    def start(self) -> None: ...

    def stop(self) -> None:
        """End every process ``start`` and the faults started; safe to call more than once."""

    def connect(self, number: int | None) -> KVService:
        """The service as client ``number`` of the run uses it (a target may tie some clients to one replica);
        None: a client that finds the leader wherever it is, as the final reads need."""

    def leader(self) -> str | None: ...

    def kill(self, node: str) -> None: ...

    def revive(self, node: str) -> None:
        """Start a killed node again on its own data."""

    def pause(self, node: str) -> None: ...

    def resume(self, node: str) -> None: ...

    def restart(self, node: str) -> None: ...

    def partition(self, fault: Fault, node: str) -> None: ...

    def heal(self) -> None: ...

    def replica_states(self) -> dict[str, Any]:
        """Each replica's applied state while it runs (anything comparable; None: it did not say)."""

    def stored_states(self) -> dict[str, Any] | None:
        """Each replica's applied state once stopped, read from its store (None: not known that way)."""


@dataclass
class Injected:
    fault: Fault
    node: str  # the node it hit (the leader's name, for a fault aimed at LEADER)
    was_leader: bool
    started: float  # history time
    healed: float | None = None

    def report(self) -> dict[str, Any]:
        return {
            "kind": self.fault.kind,
            "node": self.node,
            "leader": self.was_leader,
            "what": self.fault.describe(self.node),
            "at": round(self.started, 3),
            "healed": None if self.healed is None else round(self.healed, 3),
        }


@dataclass
class NemesisResult:
    seed: int
    seconds: float
    clients: int
    history: History
    faults: list[Injected]
    counts: dict[str, int]
    final: dict[str, Any]
    lost: list[HistoryEvent]
    states: dict[str, Any]
    stored: dict[str, Any] | None
    check: lincheck.LincheckResult
    keys: tuple[str, ...] = KEYS
    unavailable: list[tuple[str, float | None]] = field(default_factory=list)  # (fault kind, seconds)

    @property
    def replicas_equal(self) -> bool:
        """Every replica applied the same state: as they said while running, and as their stores hold it."""
        return _all_equal(self.states) and (self.stored is None or _all_equal(self.stored))

    @property
    def answered_after_heal(self) -> bool:
        """Once every fault was healed, the service answered a read of every key (a majority was up)."""
        return len(self.final) == len(self.keys)

    @property
    def ok(self) -> bool:
        return (
            self.check.verdict == lincheck.LINEARIZABLE
            and not self.lost
            and self.replicas_equal
            and self.answered_after_heal
        )


def _all_equal(states: dict[str, Any]) -> bool:
    values = list(states.values())
    return bool(values) and all(v is not None and v == values[0] for v in values)


def unavailability(history: History, faults: Sequence[Injected]) -> list[tuple[str, float | None]]:
    """For each fault that hit the leader: the seconds from the fault to the return of the first write
    called after it that succeeded (None: none did before the run ended)."""
    writes = [(c.time, r.time) for c, r in history.operations() if c.f != "get" and r is not None and r.type == OK]
    windows = []
    for injected in faults:
        if injected.was_leader:
            after = [ret for call, ret in writes if call >= injected.started]
            windows.append((injected.fault.kind, min(after) - injected.started if after else None))
    return windows


class _Nemesis(threading.Thread):
    """Applies the schedule on its own thread; every fault is healed before it ends, even when stopped."""

    def __init__(self, target: Target, faults: Sequence[Fault], history: History, seed: int, say: Callable):
        super().__init__(name="nemesis", daemon=True)
        self.target, self.faults, self.history, self.say = target, faults, history, say
        self.rng = random.Random(seed ^ 0x5EED)
        self.injected: list[Injected] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for fault in self.faults:
                if self.stop_event.wait(max(0.0, fault.at - self.history.now())):
                    return
                self._apply(fault)
                self.stop_event.wait(max(0.0, fault.until - self.history.now()))
                self._heal(fault)
        except BaseException as exc:  # reported by the run, which stops everything
            self.error = exc

    def _leader(self, fault: Fault) -> str | None:
        """The leader, waited for a little while an election is under way (None: still none)."""
        deadline = self.history.now() + LEADER_WAIT
        while (leader := self.target.leader()) is None and fault.target == LEADER:
            if self.history.now() >= deadline or self.stop_event.wait(0.05):
                break
        return leader

    def _apply(self, fault: Fault) -> None:
        leader = self._leader(fault)
        node = (leader or self.rng.choice(self.target.nodes)) if fault.target == LEADER else fault.target
        injected = Injected(fault, node, node == leader, self.history.now())
        self.injected.append(injected)
        self.history.add(NEMESIS, "info", fault.kind, value=fault.describe(node))
        self.say(
            f"{injected.started:6.1f} s  {fault.describe(node)}" + (" (the leader)" if injected.was_leader else "")
        )
        if fault.kind == KILL:
            self.target.kill(node)
        elif fault.kind == PAUSE:
            self.target.pause(node)
        elif fault.kind == RESTART:
            self.target.restart(node)
        elif fault.kind == PARTITION:
            self.target.partition(fault, node)

    def _heal(self, fault: Fault) -> None:
        injected = self.injected[-1]
        if fault.kind == KILL:
            self.target.revive(injected.node)
        elif fault.kind == PAUSE:
            self.target.resume(injected.node)
        elif fault.kind == PARTITION:
            self.target.heal()
        injected.healed = self.history.now()
        if fault.kind != RESTART:
            self.history.add(NEMESIS, "info", "heal", value=fault.describe(injected.node))


def run(
    target: Target,
    seconds: float,
    clients: int,
    seed: int,
    kinds: Sequence[str] = KINDS,
    max_faults: int | None = None,
    keys: Sequence[str] = KEYS,
    say: Callable[[str], None] = lambda line: None,
    history_file: str | Path | None = None,
    check_timeout: float = CHECK_TIMEOUT,
    faults: Sequence[Fault] | None = None,
) -> NemesisResult:
    """One run against ``target`` with the faults drawn from ``seed`` (or ``faults``, a schedule of one's
    own); the target is stopped when this returns or raises."""
    faults = schedule(seed, seconds, target.nodes, kinds, max_faults) if faults is None else faults
    history = History()
    try:
        target.start()
        say(f"{len(target.nodes)} replicas up; {clients} clients for {seconds:g} s, {len(faults)} faults scheduled")
        history = History()  # the clock starts with the clients
        nemesis = _Nemesis(target, faults, history, seed, say)
        nemesis.start()
        try:
            counts = run_clients(Workload(clients, seconds, seed, keys), target.connect, history)
        finally:
            nemesis.stop_event.set()
            nemesis.join()
        if nemesis.error is not None:
            raise nemesis.error
        say(f"{history.now():6.1f} s  clients done ({sum(counts.values())} operations); final reads")
        service = target.connect(None)
        try:
            final = final_reads(service, history, keys)
        finally:
            service.close()
        states = _settled_states(target)
    finally:
        if history_file is not None:
            history.write_edn(history_file)
        target.stop()
    stored = target.stored_states()
    model, ops = from_records(history.records(), MODEL)
    say(f"checking {len(ops)} operations for linearizability")
    verdict = lincheck.check(model, ops, timeout=check_timeout)
    result = NemesisResult(
        seed,
        seconds,
        clients,
        history,
        nemesis.injected,
        counts,
        final,
        lost_writes(history, final),
        states,
        stored,
        verdict,
    )
    result.unavailable = unavailability(history, nemesis.injected)
    result.keys = tuple(keys)
    return result


def _settled_states(target: Target, patience: float = SETTLE) -> dict[str, Any]:
    """The replicas' applied states once they agree, or as they are when ``patience`` runs out."""
    deadline = time.monotonic() + patience
    while True:
        states = target.replica_states()
        if _all_equal(states) or time.monotonic() > deadline:
            return states
        time.sleep(0.25)

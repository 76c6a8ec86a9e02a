"""Concurrent clients doing random operations on a few keys, each call and return recorded in a ``History``.

A client speaks to the service through a ``KVService`` (``get``, ``put``, ``delete``, ``cas``). What a
call ends with decides what the history says of it: a result is ``ok``; ``Refused`` (the service said
for certain the operation was not applied) and a ``cas`` whose comparison failed are ``fail``; anything
else (a timeout, a broken connection) is ``info``: the operation may or may not have happened.

Every value a client writes is unique (``c3-17``: client 3's 17th), so that a value read names the
write it came from: that is how ``lost_writes`` tells an acknowledged write that vanished.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .history import FAIL, INFO, INVOKE, OK, History, HistoryEvent

KEYS = ("k1", "k2", "k3", "k4")
PAUSE = (0.0, 0.02)  # seconds a client waits between two calls: the history stays small enough to check


class Refused(Exception):
    """The service refused the request: it was certainly not applied (a history's ``fail``)."""


class KVService(Protocol):
    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def cas(self, key: str, old: Any, new: str) -> bool: ...

    def close(self) -> None: ...


@dataclass
class Workload:
    clients: int
    seconds: float
    seed: int
    keys: Sequence[str] = KEYS
    max_operations: int = 100_000  # over every client: a bound on the history, whatever the service's speed
    counts: dict[str, int] = field(default_factory=dict)


class _Client:
    def __init__(self, number: int, workload: Workload, service: KVService, history: History):
        self.number = number
        self.process = number
        self.workload = workload
        self.service = service
        self.history = history
        self.rng = random.Random(workload.seed * 1000 + number)
        self.written = 0
        self.seen: dict[str, Any] = {}  # the last value this client read or wrote, by key: what a cas expects

    def operation(self) -> tuple[str, str, Any]:
        key = self.rng.choice(list(self.workload.keys))
        f = self.rng.choices(("get", "put", "cas", "delete"), weights=(4, 4, 2, 1))[0]
        if f in ("get", "delete"):
            return f, key, None
        self.written += 1
        value = f"c{self.number}-{self.written}"
        if f == "cas" and self.seen.get(key) is not None:  # a cas expects what this client last saw there
            return f, key, (self.seen[key], value)
        return "put", key, value

    def call(self, f: str, key: str, value: Any) -> HistoryEvent:
        self.history.add(self.process, INVOKE, f, key, value)
        try:
            result = _perform(self.service, f, key, value)
        except Refused:
            return self.history.add(self.process, FAIL, f, key, value)
        except Exception:  # whatever went wrong, the client cannot know what happened
            event = self.history.add(self.process, INFO, f, key, value)
            self.process += self.workload.clients  # the old process may still have the call in flight
            return event
        if f == "cas" and not result:
            return self.history.add(self.process, FAIL, f, key, value)
        if f == "get":
            self.seen[key] = result
            return self.history.add(self.process, OK, f, key, result)
        self.seen[key] = value[1] if f == "cas" else value if f == "put" else None
        return self.history.add(self.process, OK, f, key, value)


def _perform(service: KVService, f: str, key: str, value: Any) -> Any:
    if f == "get":
        return service.get(key)
    if f == "put":
        return service.put(key, value)
    if f == "delete":
        return service.delete(key)
    old, new = value
    return service.cas(key, old, new)


def run_clients(
    workload: Workload, connect: Callable[[int], KVService], history: History, stop: threading.Event | None = None
) -> dict[str, int]:
    """Run ``workload.clients`` clients in threads until ``workload.seconds`` pass (or ``stop`` is set, or
    the operations run out); the counts of calls by function and outcome (``put:ok``...)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + workload.seconds
    budget = threading.Semaphore(workload.max_operations)
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def loop(number: int) -> None:
        service = connect(number)
        client = _Client(number, workload, service, history)
        try:
            while not stop.is_set() and time.monotonic() < deadline and budget.acquire(blocking=False):
                ret = client.call(*client.operation())
                with lock:
                    counts[f"{ret.f}:{ret.type}"] = counts.get(f"{ret.f}:{ret.type}", 0) + 1
                stop.wait(client.rng.uniform(*PAUSE))
        finally:
            service.close()

    threads = [
        threading.Thread(target=loop, args=(n,), name=f"client-{n}", daemon=True) for n in range(workload.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def final_reads(service: KVService, history: History, keys: Sequence[str], patience: float = 20.0) -> dict[str, Any]:
    """Read every key once the faults are healed, retrying until it answers (each try is in the history,
    as a process of its own: negative numbers, which no client has); the values read (a key that never
    answered is left out)."""
    values: dict[str, Any] = {}
    deadline = time.monotonic() + patience
    tries = 0
    for key in keys:
        while time.monotonic() < deadline:
            tries += 1
            history.add(-tries, INVOKE, "get", key)
            try:
                values[key] = service.get(key)
            except Exception:  # a read that did not answer constrains nothing: try again
                history.add(-tries, INFO, "get", key)
                time.sleep(0.2)
                continue
            history.add(-tries, OK, "get", key, values[key])
            break
    return values


def lost_writes(history: History, final: dict[str, Any]) -> list[HistoryEvent]:
    """The acknowledged writes the final state contradicts.

    An acknowledged write ``w`` of a key is lost when the key's final value came from no write that could
    have taken effect after ``w``: neither ``w`` itself nor any write (acknowledged or of unknown outcome)
    that had not yet returned when ``w`` was called. Values are unique, so the writes that leave the final
    value are known, and ``w`` is lost when all of them had returned before ``w`` was called."""
    pairs = [(c, r) for c, r in history.operations() if c.f != "get" and c.key in final]
    last_producer: dict[str, float] = {}  # by key: the latest end of a write that leaves the final value
    for call, ret in pairs:
        if (ret is None or ret.type != FAIL) and _writes(call) == final[call.key]:
            last_producer[call.key] = max(last_producer.get(call.key, -math.inf), _end(ret))
    return [
        call
        for call, ret in pairs
        if ret is not None and ret.type == OK and last_producer.get(call.key, -math.inf) < call.time
    ]


def _end(ret: HistoryEvent | None) -> float:
    return math.inf if ret is None or ret.type == INFO else ret.time


def _writes(call: HistoryEvent) -> Any:
    """The value a write leaves in its key."""
    if call.f == "delete":
        return None
    return call.value[1] if call.f == "cas" else call.value

"""The client history of a nemesis run: every call and return, in the order they happened, as Jepsen records it.

Each client operation is an ``invoke`` event when the call is made and one return event: ``ok`` (it took
effect, with what a read returned), ``fail`` (the service said for certain it did not take effect) or
``info`` (the client does not know: it timed out, or the connection broke after the request left).
A process whose call ended in ``info`` may still have it in flight, so, as in Jepsen, the client goes on
as a new process (``process + clients``) and each process has at most one call open.

The nemesis's own events (its faults) are in the history too, as process ``:nemesis``; the
linearizability checker skips them. ``write_edn`` writes the history one EDN map a line, the form
``paxoscope lincheck`` reads (``explorer.histories``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
NEMESIS = "nemesis"


@dataclass(frozen=True)
class HistoryEvent:
    process: Any  # a client's process number, or NEMESIS
    type: str  # INVOKE, OK, FAIL or INFO
    f: str
    key: Any
    value: Any
    time: float  # seconds since the history began

    def record(self) -> dict[str, Any]:
        """The event as the JSON form of a history has it (``explorer.histories.from_records``)."""
        record = {"process": self.process, "type": self.type, "f": self.f, "value": _plain(self.value)}
        if self.key is not None:
            record["key"] = self.key
        return record


class History:
    """Events appended from any thread, each stamped with the time it was appended: the order of the list
    is the real order of the calls and returns."""

    def __init__(self) -> None:
        self.events: list[HistoryEvent] = []
        self._lock = threading.Lock()
        self._start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._start

    def add(self, process: Any, kind: str, f: str, key: Any = None, value: Any = None) -> HistoryEvent:
        with self._lock:
            event = HistoryEvent(process, kind, f, key, value, self.now())
            self.events.append(event)
            return event

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.record() for e in self.events]

    def write_edn(self, path: str | Path) -> Path:
        path = Path(path)
        with self._lock:
            lines = [edn_line(e) for e in self.events]
        path.write_text("".join(line + "\n" for line in lines))
        return path

    def operations(self) -> list[tuple[HistoryEvent, HistoryEvent | None]]:
        """Each client call with its return (None: it never returned), in the order of the calls."""
        with self._lock:
            events = list(self.events)
        return pair_calls(events)


def pair_calls(events: Iterable[HistoryEvent]) -> list[tuple[HistoryEvent, HistoryEvent | None]]:
    pairs: list[list[Any]] = []
    open_calls: dict[Any, list[Any]] = {}
    for e in events:
        if e.process == NEMESIS:
            continue
        if e.type == INVOKE:
            open_calls[e.process] = [e, None]
            pairs.append(open_calls[e.process])
        elif e.process in open_calls:
            open_calls.pop(e.process)[1] = e
    return [(call, ret) for call, ret in pairs]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def edn(value: Any) -> str:
    """A value in EDN: nil, booleans, numbers, strings, vectors; a ``Keyword`` as ``:name``."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Keyword):
        return f":{value.name}"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(edn(v) for v in value) + "]"
    raise TypeError(f"no EDN form for {value!r}")


@dataclass(frozen=True)
class Keyword:
    name: str


def edn_line(e: HistoryEvent) -> str:
    process = Keyword(e.process) if isinstance(e.process, str) else e.process
    fields: list[tuple[str, Any]] = [("process", process), ("type", Keyword(e.type)), ("f", Keyword(e.f))]
    if e.key is not None:
        fields.append(("key", e.key))
    fields += [("value", e.value), ("time", int(e.time * 1e9))]
    return "{" + ", ".join(f":{name} {edn(v)}" for name, v in fields) + "}"

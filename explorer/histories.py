"""Client histories from files: Jepsen's EDN, Jepsen's log lines, and paxoscope's JSON.

Every format is read into events (process, type, f, key, value, line), one per
call or return, then matched per process into ``lincheck.Operation``s. The
JSON form is a list of such events::

    [{"process": 0, "type": "invoke", "f": "write", "value": 3},
     {"process": 0, "type": "ok", "f": "write", "value": 3}, ...]

with ``"key"`` for the ``kv`` model, ``[from, to]`` as the value of a ``cas``,
and ``type`` one of ``invoke``, ``ok``, ``fail``, ``info``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..spec.constants import ConfigError
from .lincheck import MODELS, UNKNOWN, Model, Operation

FORMATS = ("edn", "jepsen-log", "json")
_TYPES = ("invoke", "ok", "fail", "info")


class HistoryError(ConfigError):
    """A history file that cannot be read: names the file and the line."""


@dataclass(frozen=True)
class Event:
    process: Any
    type: str
    f: str
    key: Any
    value: Any
    line: int


# EDN as Jepsen writes a history, one map a line: keywords, numbers, strings, nil, booleans, vectors, lists, sets,
# maps, and tagged values (read as the value).
_EDN_TOKEN = re.compile(r'\s*(?:,\s*)*(#\{|\{|\}|\[|\]|\(|\)|"(?:[^"\\]|\\.)*"|[^\s,{}\[\]()"]+)')


def _edn_atom(token: str) -> Any:
    if token.startswith('"'):
        return json.loads(token)
    if token == "nil":
        return None
    if token in ("true", "false"):
        return token == "true"
    if token.startswith(":"):
        return token[1:]
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"unreadable EDN value {token!r}") from None


def read_edn(text: str) -> Any:
    """One EDN value (maps, vectors, atoms); raises ValueError on anything else."""
    tokens = []
    pos = 0
    text = text.rstrip().rstrip(",")
    while pos < len(text):
        m = _EDN_TOKEN.match(text, pos)
        if not m:
            raise ValueError("unreadable EDN")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos] in " \t,":
            pos += 1
    value, rest = _edn_value(tokens, 0)
    if rest != len(tokens):
        raise ValueError("trailing text after the EDN value")
    return value


def _edn_value(tokens: list[str], i: int) -> tuple[Any, int]:
    if i >= len(tokens):
        raise ValueError("unfinished EDN value")
    token = tokens[i]
    if token.startswith("#") and token != "#{":
        return _edn_value(tokens, i + 1)  # a tagged value (#inst "...", #uuid "..."): the value itself
    if token in ("{", "[", "#{", "("):
        close = {"{": "}", "#{": "}", "[": "]", "(": ")"}[token]
        items = []
        i += 1
        while i < len(tokens) and tokens[i] != close:
            item, i = _edn_value(tokens, i)
            items.append(item)
        if i >= len(tokens):
            raise ValueError(f"missing {close!r}")
        if token == "#{":
            return frozenset(items), i + 1
        if token in ("[", "("):
            return tuple(items), i + 1
        if len(items) % 2:
            raise ValueError("a map with an odd number of forms")
        return dict(zip(items[::2], items[1::2], strict=True)), i + 1
    if token in ("}", "]", ")"):
        raise ValueError(f"unexpected {token!r}")
    return _edn_atom(token), i + 1


def _event(record: Any, line: int) -> Event:
    if not isinstance(record, dict):
        raise ValueError("not a map")
    for name in ("process", "type", "f"):
        if name not in record:
            raise ValueError(f"no {name}")
    kind, f = record["type"], record["f"]
    if kind not in _TYPES:
        raise ValueError(f"type {kind!r} is not one of {', '.join(_TYPES)}")
    value = record.get("value")
    if isinstance(value, list):
        value = tuple(value)
    return Event(record["process"], kind, str(f), record.get("key"), value, line)


_LOG_LINE = re.compile(r"^\S+\s+jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\S+)\s+(.*)$")


def _log_event(text: str, line: int) -> Event:
    m = _LOG_LINE.match(text)
    if not m:
        raise ValueError("not a Jepsen log line (LEVEL jepsen.util - PROCESS<tab>:type<tab>:f<tab>value)")
    process, kind, f, value = m.groups()
    return _event({"process": _edn_atom(process), "type": kind, "f": f, "value": read_edn(value)}, line)


def sniff(path: Path, text: str) -> str:
    """The format of a history: by suffix, else by its first line."""
    if path.suffix == ".json":
        return "json"
    if path.suffix == ".edn":
        return "edn"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("{"):
        return "edn"
    if first.lstrip().startswith("["):
        return "json"
    return "jepsen-log"


def read_events(path: str | Path, fmt: str | None = None) -> list[Event]:
    path = Path(path)
    text = path.read_text()
    fmt = fmt or sniff(path, text)
    if fmt == "json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}") from None
        if not isinstance(records, list):
            raise HistoryError(f"{path}:1: a JSON history is a list of events")
        return [_checked(path, n, lambda r=r, n=n: _event(r, n)) for n, r in enumerate(records, 1)]
    parse = _log_event if fmt == "jepsen-log" else (lambda t, n: _event(read_edn(t), n))
    return [
        _checked(path, n, lambda t=t, n=n: parse(t.strip(), n))
        for n, t in enumerate(text.splitlines(), 1)
        if t.strip() and not (fmt == "jepsen-log" and "jepsen.util" not in t)
    ]


def _checked(path: Path, line: int, parse: Any) -> Event:
    try:
        return parse()
    except (ValueError, TypeError) as exc:
        raise HistoryError(f"{path}:{line}: malformed event: {exc}") from None


def infer_model(events: list[Event]) -> Model:
    """The model a history speaks to: keys mean ``kv`` (``kv-store`` with a ``delete`` or ``cas``); a ``cas``
    a cas-register; else by its functions."""
    functions = {e.f for e in events}
    keyed = any(e.key is not None for e in events)
    if keyed and functions & {"delete", "cas"}:
        return MODELS["kv-store"]
    if keyed or functions & {"get", "put", "append"}:
        return MODELS["kv"]
    if functions & {"acquire", "release"}:
        return MODELS["lock"]
    return MODELS["cas-register"]


def independent(events: list[Event], model: Model) -> list[Event]:
    """Jepsen's independent keys (``jepsen.independent``): when no event names a key and every call's value
    is a ``[key value]`` pair (a cas's: ``[key [from to]]``), the pairs are taken apart into key and value."""
    calls = [e for e in events if e.type == "invoke" and e.process != "nemesis"]
    if not model.keyed or not calls or any(e.key is not None for e in events):
        return events
    if not all(_pair(e.value) and (e.f != "cas" or _pair(e.value[1])) for e in calls):
        return events
    return [Event(e.process, e.type, e.f, e.value[0], e.value[1], e.line) if _pair(e.value) else e for e in events]


def _pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2


def operations(path: str | Path, events: list[Event], model: Model) -> list[Operation]:
    """Match each return to its process's open call; times are the events' positions."""
    events = independent(events, model)
    ops: list[Operation] = []
    open_calls: dict[Any, tuple[int, Event]] = {}
    for t, e in enumerate(events):
        if e.process == "nemesis":
            continue  # Jepsen's fault injector: its events are faults, not client operations
        if e.f not in model.functions:
            raise HistoryError(f"{path}:{e.line}: unknown function :{e.f} for the {model.name} model")
        if e.type == "invoke":
            if e.process in open_calls:
                raise HistoryError(f"{path}:{e.line}: process {e.process} calls again before its call returned")
            open_calls[e.process] = (t, e)
            continue
        if e.process not in open_calls:
            raise HistoryError(f"{path}:{e.line}: a return of process {e.process} with no call before it")
        called_at, call = open_calls.pop(e.process)
        if call.f != e.f:
            raise HistoryError(f"{path}:{e.line}: returns :{e.f} to a call of :{call.f} (line {call.line})")
        op = _operation(model, len(ops), call, e, called_at, t)
        if op is not None:
            ops.append(op)
    # Calls that never returned are pending: they may have taken effect, or not.
    for called_at, call in open_calls.values():
        ops.append(Operation(len(ops), call.process, _input(model, call), UNKNOWN, called_at, math.inf))
    return ops


def _input(model: Model, call: Event) -> tuple[str, Any, Any]:
    value = call.value
    if call.f in ("acquire", "release"):  # the owner of a lock is the calling process unless named
        value = call.process if value is None else value
    return (call.f, call.key if model.keyed else None, value)


def _operation(model: Model, index: int, call: Event, ret: Event, called_at: int, returned_at: int) -> Operation | None:
    inp = _input(model, call)
    if ret.type == "info" or (ret.type == "fail" and call.f in model.reads):
        # A timed-out client does not know whether its operation happened (a failed read constrains nothing).
        return Operation(index, call.process, inp, UNKNOWN, called_at, math.inf if ret.type == "info" else returned_at)
    if ret.type == "fail" and call.f not in model.fails:
        return None  # a failed write did not take effect
    return Operation(index, call.process, inp, model.observed(call.f, ret.type, ret.value), called_at, returned_at)


def from_records(
    records: list[dict[str, Any]], model: str | Model, name: str = "history"
) -> tuple[Model, list[Operation]]:
    """The model and the operations of a history given as the JSON form's events (dicts)."""
    chosen = _model(model)
    events = [_checked(Path(name), n, lambda r=r, n=n: _event(r, n)) for n, r in enumerate(records, 1)]
    return chosen, operations(name, events, chosen)


def _model(model: str | Model) -> Model:
    if isinstance(model, Model):
        return model
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r} (known: {', '.join(MODELS)}, or file.py:Name)")
    return MODELS[model]


def load(path: str | Path, fmt: str | None = None, model: str | Model | None = None) -> tuple[Model, list[Operation]]:
    """The model (a built-in's name, a ``Model``, or None to infer it) and the operations of the history in ``path``."""
    events = read_events(path, fmt)
    chosen = infer_model(events) if model is None else _model(model)
    return chosen, operations(path, events, chosen)

"""What Paxos nodes say to each other, and how it looks on the wire.

The four protocol messages carry exactly the fields of the spec's messages
(``1a(bal)``, ``1b(acc, bal, mbal, mval)``, ``2a(bal, val)``,
``2b(acc, bal, val)``), which is what makes the refinement mapping a
renaming. Clients and operators use three more: ``Propose``, ``Decided`` and
``Status``/``StatusReply``.

Wire format: a frame is a 4-byte big-endian length and a JSON object of at
most ``MAX_FRAME`` bytes carrying ``"v"`` (the encoding version) and
``"type"``. ``decode`` raises ``MalformedMessage`` for anything else.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, fields
from typing import Any

VERSION = 1
MAX_FRAME = 64 * 1024
HEADER = struct.Struct(">I")


class MalformedMessage(ValueError):
    """A frame or payload that is not a message of this protocol version."""


@dataclass(frozen=True)
class Prepare:
    """1a(bal): the proposer of ballot ``bal`` asks for promises."""

    bal: int
    type = "1a"


@dataclass(frozen=True)
class Promise:
    """1b(acc, bal, mbal, mval): ``acc`` promises ``bal`` and reports its last vote."""

    acc: str
    bal: int
    mbal: int
    mval: str | None
    type = "1b"


@dataclass(frozen=True)
class Accept:
    """2a(bal, val): the proposer of ballot ``bal`` proposes ``val``."""

    bal: int
    val: str
    type = "2a"


@dataclass(frozen=True)
class Accepted:
    """2b(acc, bal, val): ``acc`` votes for ``val`` in ``bal``."""

    acc: str
    bal: int
    val: str
    type = "2b"


@dataclass(frozen=True)
class Rejected:
    """``acc`` refuses ballot ``bal`` (a 1a or 2a below its promise) and says
    what it promised, ``max_bal``, so that the proposer jumps above it at once
    instead of climbing one timeout at a time. Not a message of the spec: the
    refinement mapping leaves it out of ``msgs``."""

    acc: str
    bal: int
    max_bal: int
    type = "nack"


@dataclass(frozen=True)
class Propose:
    """A client asks the cluster to choose ``value`` (the answer may be another value)."""

    value: str
    type = "propose"


@dataclass(frozen=True)
class Decided:
    """The value chosen, told to a client."""

    value: str
    type = "decided"


@dataclass(frozen=True)
class Status:
    type = "status"


@dataclass(frozen=True)
class StatusReply:
    name: str
    max_bal: int
    max_vbal: int
    max_val: str | None
    decided: str | None
    type = "status-reply"


Protocol = Prepare | Promise | Accept | Accepted | Rejected
Message = Protocol | Propose | Decided | Status | StatusReply

TYPES: dict[str, type] = {
    cls.type: cls for cls in (Prepare, Promise, Accept, Accepted, Rejected, Propose, Decided, Status, StatusReply)
}

# What each field may hold: ints are ballots (-1: none), str | None values.
_FIELD_KINDS = {"bal": int, "mbal": int, "max_bal": int, "max_vbal": int}


def encode(msg: Message) -> bytes:
    """The frame for ``msg``: length header and JSON payload."""
    payload = json.dumps({"v": VERSION, "type": msg.type, **asdict(msg)}, separators=(",", ":")).encode()
    if len(payload) > MAX_FRAME:
        raise MalformedMessage(f"a {msg.type} message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte frame limit")
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Message:
    """A message from one frame's payload (without the length header)."""
    if len(payload) > MAX_FRAME:
        raise MalformedMessage(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError covers JSONDecodeError
        raise MalformedMessage(f"payload is not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("payload is not a JSON object")
    if type(data.get("v")) is not int or data["v"] != VERSION:  # True == 1, 1.0 == 1: not versions
        raise MalformedMessage(f"unsupported encoding version {data.get('v')!r} (this node speaks {VERSION})")
    kind = data.get("type")
    cls = TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MalformedMessage(f"unknown message type {data.get('type')!r}")
    names = [f.name for f in fields(cls)]
    if set(data) - {"v", "type"} != set(names):
        raise MalformedMessage(f"a {cls.type} message has fields {names}, not {sorted(set(data) - {'v', 'type'})}")
    args: dict[str, Any] = {}
    for name in names:
        value = data[name]
        if _FIELD_KINDS.get(name) is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= -1
        elif name in ("mval", "max_val", "decided"):
            ok = value is None or isinstance(value, str)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise MalformedMessage(f"field {name!r} of a {cls.type} message has a bad value: {value!r}")
        args[name] = value
    return cls(**args)

"""What Paxos nodes say to each other, and how it looks on the wire.

The four protocol messages carry exactly the fields of the spec's messages
(``1a(bal)``, ``1b(acc, bal, mbal, mval)``, ``2a(bal, val)``,
``2b(acc, bal, val)``), which is what makes the refinement mapping a
renaming. Clients and operators use three more: ``Propose``, ``Decided`` and
``Status``/``StatusReply``.

Wire format: the runtime's frames (``impl.framing``), this protocol's
``CODEC``: ``encode``, ``decode``, ``read_frame`` and ``request`` are its.

Validation: a message received is as untrusted as a file read back from
disk, and what the acceptor does with it ends up in its store. So one
function, ``fields_problem``, says what every field may hold, by name, and
both ``decode`` (and ``encode``, so that a node never sends what its peers
would refuse) and the store's loader (``impl.paxos.store``) use it: a frame the
decoder accepts cannot leave an acceptor in a state the loader refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..framing import HEADER, MAX_FRAME, Codec, MalformedMessage, Status, show

__all__ = ["HEADER", "MAX_FRAME", "MalformedMessage", "Status"]  # the frames these messages travel in

VERSION = 1
# Ballots are below 2**63 (a signed 64-bit integer holds every one): a ballot
# near 10**4300 cannot even be written back out as JSON, and arithmetic on it
# (the next ballot) would fail far from where it came in.
BALLOT_LIMIT = 2**63
# A value travels inside bigger messages (a StatusReply carries it twice), so
# it must stay well under the frame limit: counted in UTF-8 bytes, whatever
# escapes JSON would use for it.
VALUE_LIMIT = 16 * 1024
# JSON writes a control character of one UTF-8 byte as six (\u0001), and a
# StatusReply carries two values: the frame limit (MAX_FRAME) leaves room for
# both at their worst.
assert 2 * 6 * VALUE_LIMIT < MAX_FRAME


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

    def show(self) -> str:
        return f"1b({self.acc}, bal={self.bal}, mbal={self.mbal}, mval={self.mval})"


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

    def show(self) -> str:
        return f"2b({self.acc}, bal={self.bal}, val={self.val})"


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
class StatusReply:
    name: str
    max_bal: int
    max_vbal: int
    max_val: str | None
    decided: str | None
    # Why the node's acceptor store cannot be written (None: it can): a node
    # that cannot make a promise durable answers nothing, so it is failing.
    store_error: str | None = None
    type = "status-reply"


Protocol = Prepare | Promise | Accept | Accepted | Rejected
Message = Protocol | Propose | Decided | Status | StatusReply

TYPES: dict[str, type] = {
    cls.type: cls for cls in (Prepare, Promise, Accept, Accepted, Rejected, Propose, Decided, Status, StatusReply)
}

# What each field may hold, by name. Every field of every message (and of the
# stored acceptor state) is named here: a field this table does not know is refused.
_BALLOT = "a ballot (an integer 0 <= b < 2**63)"
_BALLOT_OR_NONE = "a ballot or -1 for none"
_VALUE = f"a value (a string of at most {VALUE_LIMIT} UTF-8 bytes)"
_VALUE_OR_NONE = "a value or null for none"
_NAME = "a node name (a non-empty string)"
_TEXT_OR_NONE = "a string or null"
FIELD_KINDS: dict[str, str] = {
    "bal": _BALLOT,
    "mbal": _BALLOT_OR_NONE,
    "max_bal": _BALLOT_OR_NONE,
    "max_vbal": _BALLOT_OR_NONE,
    "val": _VALUE,
    "value": _VALUE,
    "mval": _VALUE_OR_NONE,
    "max_val": _VALUE_OR_NONE,
    "decided": _VALUE_OR_NONE,
    "acc": _NAME,
    "name": _NAME,
    "store_error": _TEXT_OR_NONE,
}


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a value (too large, not text), or None if it can."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "a value must be text (it holds a lone surrogate, which UTF-8 cannot encode)"
    if size > VALUE_LIMIT:
        return f"a value may take at most {VALUE_LIMIT} bytes as UTF-8, this one takes {size}"
    return None


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _field_problem(name: str, x: object) -> str | None:
    kind = FIELD_KINDS.get(name)
    if kind is None:
        return f"unknown field {name!r}"
    if kind == _BALLOT:
        ok = _is_int(x) and 0 <= x < BALLOT_LIMIT  # type: ignore[operator]
    elif kind == _BALLOT_OR_NONE:
        ok = _is_int(x) and -1 <= x < BALLOT_LIMIT  # type: ignore[operator]
    elif kind in (_VALUE, _VALUE_OR_NONE):
        if x is None and kind == _VALUE_OR_NONE:
            return None
        if isinstance(x, str) and (problem := value_problem(x)):
            return f"{name!r}: {problem}"
        ok = isinstance(x, str)
    elif kind == _NAME:
        ok = isinstance(x, str) and x != ""
    else:
        ok = x is None or isinstance(x, str)
    return None if ok else f"{name!r} must be {kind}, not {show(x)}"


def fields_problem(values: dict[str, Any]) -> str | None:
    """What is wrong with these fields of one message or stored state, or None.

    Each field must hold what its name says (``FIELD_KINDS``), and the fields
    must describe something an acceptor can say or be: a vote's ballot and
    value come together (``mbal`` is -1 exactly when ``mval`` is null, the
    same for ``max_vbal`` and ``max_val``), an acceptor never voted above the
    ballot it promised, a promise for ``bal`` reports a vote below ``bal``, and
    a refusal of ``bal`` names a promise at or above ``bal`` (an acceptor
    refuses a ballot it has already promised: Paxos.tla's Phase1b needs one
    above)."""
    for name, x in values.items():
        if problem := _field_problem(name, x):
            return problem
    for ballot, value in (("mbal", "mval"), ("max_vbal", "max_val")):
        if ballot in values and value in values and (values[ballot] == -1) != (values[value] is None):
            return f"{value!r} must be null exactly when {ballot!r} is -1"
    if "max_vbal" in values and "max_bal" in values and values["max_vbal"] > values["max_bal"]:
        return f"max_vbal {values['max_vbal']} exceeds max_bal {values['max_bal']}"
    if "mbal" in values and "bal" in values and values["mbal"] >= values["bal"]:
        return f"a promise for ballot {values['bal']} reports a vote in ballot {values['mbal']}, not below it"
    if "max_bal" in values and "bal" in values and values["max_bal"] < values["bal"]:
        return f"a refusal of ballot {values['bal']} names a promise of {values['max_bal']}, below it"
    return None


CODEC = Codec(VERSION, TYPES.values(), fields_problem)
encode, decode, decode_payload = CODEC.encode, CODEC.decode, CODEC.decode_payload
read_frame, request = CODEC.read_frame, CODEC.request

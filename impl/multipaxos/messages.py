"""What Multi-Paxos replicas and their clients say, and how it looks on the wire.

Peer messages carry their sender's name (``src``): replies go to a replica by
name, on the sender's own stream to it. A log entry on the wire is an
instance of the spec's: ``[slot, status, cmd, vbal, vcmd]`` with commands in
their JSON form (``kvstate.Command.to_json``, None for the spec's "nil").

- ``Prepare(src, bal, first)``: phase 1 for every slot from ``first`` on.
- ``Promise(src, bal, insts, commit, truncated)``: the replier's instances
  from ``first`` (none up to ``truncated``, its snapshot's last slot).
- ``Accept(src, bal, first, cmds, commit, sent)``: phase 2 for slots ``first``..,
  a batch (empty: a heartbeat); ``commit`` tells the leader's commit index,
  ``sent`` its clock (``lease``).
- ``Accepted(src, bal, first, last, commit, sent)``: votes for slots
  first..last; ``sent``: the Accept's, when the replier promised its lease.
- ``Reject(src, bal, promised)``: ``bal`` is below ``promised``, the highest
  ballot the replier knows, so a candidate climbs above it at once.
- ``CatchUp(src, bal, snapshot, first, cmds, commit)``: chosen commands (and
  a snapshot, when the slots before ``first`` are truncated) for a replica
  whose log is behind.
- clients: ``Request(client, rid, op, args)`` -> ``Reply(client, rid, status,
  result, leader)``; ``Status()`` -> ``StatusReply``. A pipelining client may
  send many requests in one frame, ``Requests(reqs)``, each ``[client, rid,
  op, args]``; the answers then come in ``Replies(replies)`` frames, each
  ``[client, rid, status, result, leader]`` (a frame a request costs a leader
  more than the rest of its work on a small command).

``fields_problem`` says what each field may hold (the decoder and the store
use it), so no frame can put a replica in a state it would refuse to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..framing import MAX_FRAME, Codec, Status
from .kvstate import command_problem, request_problem

VERSION = 1
BALLOT_LIMIT = 2**63
NAME_LIMIT = 64

# Messages are values: equal fields, equal messages, hashed alike. Not frozen, though nothing changes
# one once made: a frozen class's __init__ costs three times as much, and a leader makes a request and a
# reply for every command.
message = dataclass(unsafe_hash=True)

OK, NOT_LEADER, REFUSED, UNKNOWN = "ok", "not-leader", "refused", "unknown"
REPLY_STATUSES = (OK, NOT_LEADER, REFUSED, UNKNOWN)
STATUSES = ("Empty", "Preparing", "Accepting", "Committed")


@message
class Prepare:
    src: str
    bal: int
    first: int
    type = "prepare"


@message
class Promise:
    src: str
    bal: int
    insts: list
    commit: int
    truncated: int  # the replier's snapshot index: its log holds no slot up to it
    type = "promise"


@message
class Accept:
    src: str
    bal: int
    first: int
    cmds: list
    commit: int
    sent: float = 0.0  # the leader's monotonic clock when it sent this (0: none): a lease counts from it
    type = "accept"


@message
class Accepted:
    src: str
    bal: int
    first: int
    last: int
    commit: int
    sent: float = 0.0  # the answered Accept's ``sent``, carried back by a replica that promised its lease (0: none)
    type = "accepted"


@message
class Reject:
    src: str
    bal: int
    promised: int
    type = "reject"


@message
class CatchUp:
    src: str
    bal: int
    snapshot: Any  # None, or {"index": i, "state": kv state JSON}
    first: int
    cmds: list
    commit: int
    type = "catchup"


@message
class Request:
    client: str
    rid: int
    op: str
    args: list
    type = "request"


@message
class Reply:
    client: str
    rid: int
    status: str
    result: Any
    leader: str | None
    type = "reply"


@message
class Requests:
    reqs: list  # [client, rid, op, args], each as a Request's fields
    type = "requests"

    def each(self) -> list[Request]:
        return [Request(*req) for req in self.reqs]


@message
class Replies:
    replies: list  # [client, rid, status, result, leader], each as a Reply's fields
    type = "replies"

    def each(self) -> list[Reply]:
        return [Reply(*reply) for reply in self.replies]


def merge_replies(replies: list[Reply]) -> Replies:
    """Answers to a client that sends ``Requests``, in one frame."""
    return Replies([[r.client, r.rid, r.status, r.result, r.leader] for r in replies])


@message
class StatusReply:
    name: str
    role: str
    leader: str | None
    bal: int
    commit: int
    applied: int
    snapshot_index: int
    log_first: int
    log_last: int
    store_error: str | None
    lease: float | None = None  # seconds of leader lease left (None: it holds none)
    type = "status-reply"

    @property
    def decided(self) -> None:
        """A log has no single decision."""
        return None


__all__ = ["Status"]  # the runtime's, which this protocol answers with StatusReply

PEER_TYPES = (Prepare, Promise, Accept, Accepted, Reject, CatchUp)
TYPES = (*PEER_TYPES, Request, Reply, Requests, Replies, Status, StatusReply)


def _count(x: Any, limit: int = BALLOT_LIMIT) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < limit


def _is_time(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x < float("inf")


def _name(x: Any) -> bool:
    return isinstance(x, str) and 0 < len(x) <= NAME_LIMIT


def inst_problem(doc: Any) -> str | None:
    """Why ``doc`` is not an instance ``[slot, status, cmd, vbal, vcmd]`` (None: it is one)."""
    if not isinstance(doc, list) or len(doc) != 5:
        return "an instance is [slot, status, cmd, vbal, vcmd]"
    slot, status, cmd, vbal, vcmd = doc
    if not _count(slot) or slot == 0:
        return "an instance's slot must be a whole number from 1"
    if status not in STATUSES:
        return f"an instance's status must be one of {', '.join(STATUSES)}"
    if not _count(vbal):
        return "an instance's ballot must be a whole number"
    for c in (cmd, vcmd):
        if c is not None and (problem := command_problem(c)):
            return problem
    return None


def _each(items: Any, check: Any, what: str) -> str | None:
    if not isinstance(items, list):
        return f"{what} must be a list"
    for item in items:
        if problem := check(item):
            return problem
    return None


def snapshot_problem(doc: Any) -> str | None:
    if doc is None:
        return None
    if isinstance(doc, dict) and "part" in doc:
        from .transfer import part_problem

        return part_problem(doc)
    if not isinstance(doc, dict) or set(doc) != {"index", "state"} or not _count(doc["index"]):
        return "a snapshot is {index, state}"
    from .kvstate import KVState

    try:
        KVState.from_json(doc["state"])
    except ValueError as exc:
        return str(exc)
    return None


_CHECKS = {
    "src": lambda x: None if _name(x) else "a replica's name must be a short non-empty string",
    "name": lambda x: None if _name(x) else "a replica's name must be a short non-empty string",
    "leader": lambda x: None if x is None or _name(x) else "a leader is a replica's name or null",
    "bal": lambda x: None if _count(x) else "a ballot must be a whole number",
    "promised": lambda x: None if _count(x) else "a ballot must be a whole number",
    "first": lambda x: None if _count(x) and x > 0 else "a slot must be a whole number from 1",
    "last": lambda x: None if _count(x) else "a slot must be a whole number",
    "commit": lambda x: None if _count(x) else "a commit index must be a whole number",
    "snapshot_index": lambda x: None if _count(x) else "a snapshot index must be a whole number",
    "applied": lambda x: None if _count(x) else "an applied index must be a whole number",
    "truncated": lambda x: None if _count(x) else "a snapshot index must be a whole number",
    "insts": lambda x: _each(x, inst_problem, "insts"),
    "cmds": lambda x: _each(x, command_problem, "cmds"),
    "snapshot": snapshot_problem,
    "sent": lambda x: None if _is_time(x) else "a clock reading must be a number of seconds from 0",
    "lease": lambda x: None if x is None or _is_time(x) else "a lease is a number of seconds or null",
    "status": lambda x: None if x in REPLY_STATUSES else f"a reply's status is one of {', '.join(REPLY_STATUSES)}",
    "client": lambda x: None if isinstance(x, str) and len(x) <= 256 else "a client id must be a short string",
    "rid": lambda x: None if _count(x) else "a request id must be a whole number",
    "op": lambda x: None if isinstance(x, str) and len(x) <= 32 else "an operation is a short name",
    "args": lambda x: None if isinstance(x, list) else "args must be a list",
}


def _fields_of(fields: tuple[str, ...], what: str) -> Any:
    """The check of a list of messages' fields in order (a batched frame's items)."""

    def problem(items: Any) -> str | None:
        if not isinstance(items, list):
            return f"{what} must be a list"
        for item in items:
            if not isinstance(item, list) or len(item) != len(fields):
                return f"each of {what} is [{', '.join(fields)}]"
            if bad := fields_problem(dict(zip(fields, item, strict=True))):
                return f"{what}: {bad}"
        return None

    return problem


_CHECKS["reqs"] = _fields_of(("client", "rid", "op", "args"), "reqs")
_CHECKS["replies"] = _fields_of(("client", "rid", "status", "result", "leader"), "replies")


def fields_problem(values: dict[str, Any]) -> str | None:
    """What is wrong with a message's fields, by name (None: nothing)."""
    for name, value in values.items():
        check = _CHECKS.get(name)
        if check is not None and (problem := check(value)):
            return f"{name}: {problem}"
    return None


def request_fields_problem(msg: Request) -> str | None:
    """Why a client's request cannot be served (None: it can)."""
    return request_problem(msg.client, msg.rid, msg.op, msg.args)


# A batch's commands, and a reply's client and result, come from what was checked when the client's
# request (or the peer's frame) was read: checking them again on the way out would cost the leader a
# fifth of its time.
CODEC = Codec(VERSION, TYPES, fields_problem, built_from_checked=(Accept, CatchUp, Promise, Reply, Replies))
assert MAX_FRAME >= 64 * 1024

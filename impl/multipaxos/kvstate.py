"""The replicated state machine: a key-value store and Chubby-style locks.

Every replica applies the same committed commands in the same order, so the
machine is deterministic: it reads no clock and no randomness. Time comes in
through the log: the leader stamps each command with its clock (``Command.t``,
never decreasing along the log), and a lock's lease is measured in those
stamps, so every replica frees an expired lock at the same command.

Commands (``Command.op`` and its ``args``)::

    get KEY              -> the value, or None
    put KEY VALUE        -> the value it replaced, or None
    delete KEY           -> True if the key was there
    cas KEY OLD NEW      -> True if KEY held OLD (and now holds NEW)
    acquire NAME TTL     -> True if the lock is now this client's (held until t + TTL unless renewed)
    release NAME         -> True if this client held it
    keepalive            -> the names of the locks this client holds, renewed for their TTL
    noop                 -> None (a new leader fills a hole in the log with it)

A client's session is its id: a client that stops sending (any command
renews, ``keepalive`` does only that) loses its locks when their leases run
out. Exactly-once: each client numbers its requests; the machine remembers
each client's last request id and result, so a request retried after a
timeout (same id) is answered with the first result and not applied again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..framing import json_bytes

# What a client may ask: op -> the number of its arguments (a ttl is a number, the rest are strings). The
# log's noop (a new leader fills a hole with it) is no client's to ask.
ARITY = {"get": 1, "put": 2, "delete": 1, "cas": 3, "acquire": 2, "release": 1, "keepalive": 0}
READS = frozenset({"get"})
STRING_LIMIT = 4096  # bytes of UTF-8 in a key, value or lock name
TTL_LIMIT = 86400.0


# Not frozen, though nothing changes a command once made: a frozen class's __init__ costs three times
# as much, and every replica makes one for each command. Nothing hashes one (logs, queues and sessions
# go by its key).
@dataclass
class Command:
    """One client command as the log holds it: who asked (``client``, ``rid``),
    what (``op``, ``args``), and the leader's clock when it was logged (``t``)."""

    client: str
    rid: int
    op: str
    args: tuple = ()
    t: float = 0.0

    def to_json(self) -> list:
        # Built once: a command goes into a message, a log record and a vote, each time in this form
        # (nobody changes it). Kept in __dict__, beside the fields: equality compares only those.
        doc = self.__dict__.get("_doc")
        if doc is None:
            doc = self.__dict__["_doc"] = [self.client, self.rid, self.op, list(self.args), self.t]
        return doc

    def json_bytes(self) -> bytes:
        """Its JSON form, made once (a log record embeds it as it is)."""
        text = self.__dict__.get("_json")
        if text is None:
            text = self.__dict__["_json"] = json_bytes(self.to_json())
        return text

    @property
    def json_size(self) -> int:
        """Bytes of its JSON form on the wire: what a batch's size limit counts."""
        return len(self.json_bytes())

    @classmethod
    def from_json(cls, doc: Any) -> Command:
        client, rid, op, args, t = doc
        cmd = cls(client, rid, op, tuple(args), t)
        cmd.__dict__["_doc"] = doc  # its JSON form is the one it was read from (nobody changes either)
        return cmd

    @property
    def key(self) -> tuple[str, int]:
        return (self.client, self.rid)

    def __str__(self) -> str:
        return f"{self.client}#{self.rid} {self.op} {' '.join(map(str, self.args))}".rstrip()


NOOP = Command("", 0, "noop")


def _text_problem(x: Any, what: str) -> str | None:
    # A character is at most 4 bytes of UTF-8: a string this short is within the limit without being measured.
    if type(x) is str and len(x) <= STRING_LIMIT // 4:
        return None
    if not isinstance(x, str):
        return f"{what} must be a string"
    if len(x.encode("utf-8", "surrogatepass")) > STRING_LIMIT:
        return f"{what} is longer than {STRING_LIMIT} bytes"
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def request_problem(client: Any, rid: Any, op: Any, args: Any) -> str | None:
    """Why a client request cannot be logged (None: it can): checked before it
    is proposed, so no replica ever applies a command it cannot read."""
    if problem := _text_problem(client, "the client id"):
        return problem
    if not client:
        return "the client id is empty"
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 < rid < 2**63:
        return "the request id must be a whole number from 1"
    if type(op) is not str or op not in ARITY:
        return f"unknown operation {str(op)[:40]!r} (one of {', '.join(ARITY)})"
    if not isinstance(args, list | tuple) or len(args) != ARITY[op]:
        return f"{op} takes {ARITY[op]} argument{'s' * (ARITY[op] != 1)}"
    for i, a in enumerate(args):
        if op == "acquire" and i == 1:
            if not _is_number(a) or not 0 < a <= TTL_LIMIT:
                return f"a lease's ttl must be a number of seconds in (0, {TTL_LIMIT:g}]"
        elif problem := _text_problem(a, f"argument {i + 1} of {op}"):
            return problem
    return None


def command_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a logged command in its JSON form (None: it is one)."""
    if not isinstance(doc, list) or len(doc) != 5:
        return "a command is [client, rid, op, args, t]"
    client, rid, op, args, t = doc
    if not _is_number(t) or t < 0:
        return "a command's time must be a number of seconds"
    if op == "noop":
        return None if client == "" and rid == 0 and args == [] else "a noop has no client, id or arguments"
    return request_problem(client, rid, op, args)


@dataclass
class Lock:
    owner: str
    ttl: float
    expires: float


@dataclass
class KVState:
    """The machine's state: keys, locks, and each client's last request and its result."""

    kv: dict[str, str] = field(default_factory=dict)
    locks: dict[str, Lock] = field(default_factory=dict)
    sessions: dict[str, tuple[int, Any]] = field(default_factory=dict)  # client -> (last rid, its result)
    clock: float = 0.0  # the stamp of the last command applied

    def duplicate(self, cmd: Command) -> tuple[bool, Any]:
        """(True, the first result) if ``cmd`` was applied already; (False, None) otherwise."""
        last = self.sessions.get(cmd.client)
        if last is None or cmd.rid > last[0]:
            return False, None
        # An id below the last one is a retry the client has given up on: it is not applied again.
        return True, last[1] if cmd.rid == last[0] else None

    def apply(self, cmd: Command) -> Any:
        """Apply one committed command; its result (the first one's, for a retry)."""
        self.clock = max(self.clock, cmd.t)
        if self.locks:
            self._expire()
        if cmd.op == "noop":
            return None
        seen, result = self.duplicate(cmd)
        if seen:
            return result
        if self.locks:
            self._renew(cmd.client)
        result = getattr(self, "_" + cmd.op)(cmd.client, *cmd.args)
        self.sessions[cmd.client] = (cmd.rid, result)
        return result

    def read(self, op: str, args: tuple) -> Any:
        """A read's answer from this state, without applying anything."""
        return self.kv.get(args[0]) if op == "get" else None

    # -- operations -----------------------------------------------------------

    def _get(self, client: str, key: str) -> str | None:
        return self.kv.get(key)

    def _put(self, client: str, key: str, value: str) -> str | None:
        old = self.kv.get(key)
        self.kv[key] = value
        return old

    def _delete(self, client: str, key: str) -> bool:
        return self.kv.pop(key, None) is not None

    def _cas(self, client: str, key: str, old: str, new: str) -> bool:
        if self.kv.get(key) != old:
            return False
        self.kv[key] = new
        return True

    def _acquire(self, client: str, name: str, ttl: float) -> bool:
        held = self.locks.get(name)
        if held is not None and held.owner != client:
            return False
        self.locks[name] = Lock(client, ttl, self.clock + ttl)
        return True

    def _release(self, client: str, name: str) -> bool:
        held = self.locks.get(name)
        if held is None or held.owner != client:
            return False
        del self.locks[name]
        return True

    def _keepalive(self, client: str) -> list[str]:
        return sorted(name for name, lock in self.locks.items() if lock.owner == client)

    def _renew(self, client: str) -> None:
        for lock in self.locks.values():
            if lock.owner == client:
                lock.expires = self.clock + lock.ttl

    def _expire(self) -> None:
        for name in [n for n, lock in self.locks.items() if lock.expires <= self.clock]:
            del self.locks[name]

    # -- snapshots ------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "kv": dict(sorted(self.kv.items())),
            "locks": {n: [lk.owner, lk.ttl, lk.expires] for n, lk in sorted(self.locks.items())},
            "sessions": {c: [rid, result] for c, (rid, result) in sorted(self.sessions.items())},
            "clock": self.clock,
        }

    @classmethod
    def from_json(cls, doc: Any) -> KVState:
        """A state from its snapshot form; ValueError if it is not one."""
        try:
            kv = {str(k): str(v) for k, v in doc["kv"].items()}
            locks = {str(n): Lock(str(o), float(ttl), float(e)) for n, (o, ttl, e) in doc["locks"].items()}
            sessions = {str(c): (int(rid), result) for c, (rid, result) in doc["sessions"].items()}
            return cls(kv, locks, sessions, float(doc["clock"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a key-value state: {type(exc).__name__}: {exc}") from None

    def copy(self) -> KVState:
        return KVState.from_json(self.to_json())

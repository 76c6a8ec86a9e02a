"""The client of the replicated key-value and lock service.

``KVClient`` finds the leader (a replica that is not the leader answers
``not-leader``, naming the leader it knows) and fails over by itself: on a
timeout, a closed connection or a redirect it asks the next replica, with the
same request id, until the request's deadline. The service applies a request
id once, so a retry never applies a command twice.

Each call returns the command's result or raises one of two errors, and the
difference matters to anyone recording a history (a Jepsen history's ``:fail``
and ``:info``):

- ``Definite``: the command did not take effect and never will: every replica
  asked refused it before logging it (``Unavailable``: none is the leader or
  none could be reached; ``Refused``: the request is malformed);
- ``Indeterminate``: the command may have taken effect, or may yet: it was
  sent and no answer came in time, or the leader lost its leadership with the
  command in its log.

One ``KVClient`` is one session (its ``client_id``): locks it acquires are its
own, held while it keeps sending within each lock's ttl (``keepalive``).
It sends one request at a time; use one client per thread.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..clusterfile import load
from ..framing import MalformedMessage
from .messages import CODEC, NOT_LEADER, OK, REFUSED, Reply, Request


class KVError(Exception):
    """A command that returned no result."""


class Definite(KVError):
    """The command did not take effect and will not (a history's :fail)."""


class Unavailable(Definite):
    """No replica took the command: none is the leader, or none could be reached."""


class Refused(Definite):
    """The service refused the command as malformed."""


class Indeterminate(KVError):
    """The command may have taken effect, or may yet (a history's :info)."""


Address = tuple[str, str, int]  # (name, host, port)


class KVClient:
    """A session with the service; see the module's docstring.

    ``KVClient(data=DIR)`` reads the replicas from ``DIR/cluster.json``;
    ``KVClient(nodes=[(name, host, port), ...])`` takes them as given (a
    nemesis puts its proxies there). ``timeout``: seconds a call may take in
    all; ``attempt_timeout``: seconds to wait for one replica's answer."""

    def __init__(
        self,
        data: str | os.PathLike[str] | None = None,
        *,
        nodes: Sequence[Address] | None = None,
        client_id: str | None = None,
        timeout: float = 5.0,
        attempt_timeout: float = 1.0,
        first_rid: int = 1,
    ):
        if nodes is None:
            if data is None:
                raise ValueError("KVClient needs data (a cluster's directory) or nodes")
            nodes = [(n.name, n.host, n.port) for n in load(data).nodes]
        self.nodes = list(nodes)
        self.client_id = client_id or uuid.uuid4().hex[:16]
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self.rid = first_rid - 1
        self.leader: str | None = None
        self._socks: dict[str, socket.socket] = {}

    # -- the commands -------------------------------------------------------------

    def get(self, key: str) -> str | None:
        return self.call("get", key)

    def put(self, key: str, value: str) -> str | None:
        """Set ``key``; the value it replaced (None: it had none)."""
        return self.call("put", key, value)

    def delete(self, key: str) -> bool:
        return self.call("delete", key)

    def cas(self, key: str, old: str, new: str) -> bool:
        """Set ``key`` to ``new`` if it holds ``old``; whether it did."""
        return self.call("cas", key, old, new)

    def acquire(self, name: str, ttl: float = 10.0) -> bool:
        """Take lock ``name`` for this session, for ``ttl`` seconds of the leader's clock
        (renewed by every later command of the session); whether it is now ours."""
        return self.call("acquire", name, ttl)

    def release(self, name: str) -> bool:
        """Give lock ``name`` up; whether this session held it."""
        return self.call("release", name)

    def keepalive(self) -> list[str]:
        """Renew this session's locks; their names."""
        return self.call("keepalive")

    def call(self, op: str, *args: Any) -> Any:
        """Run one command; its result, or ``Definite`` / ``Indeterminate``."""
        self.rid += 1
        request = Request(self.client_id, self.rid, op, list(args))
        deadline = time.monotonic() + self.timeout
        maybe_sent = False  # once a request may have reached a leader, a failure is indeterminate
        why = "no replica answered"
        order = self._order()
        i = tries = 0
        while time.monotonic() < deadline:
            if tries and tries % len(order) == 0:
                time.sleep(0.05)  # as many refusals as replicas: an election is under way
            name = order[i % len(order)]
            i += 1
            tries += 1
            try:
                sock = self._connect(name)
            except OSError as exc:  # not connected: the request was not sent
                why = f"{name} is unreachable ({exc.strerror or type(exc).__name__})"
                continue
            try:
                reply = self._ask(sock, request, deadline, self.attempt_timeout)
            except (OSError, MalformedMessage) as exc:
                maybe_sent = True
                why = f"{name}: {exc or type(exc).__name__}"
                self._drop(name)
                continue
            if reply.status == OK:
                self.leader = name
                return reply.result
            if reply.status == REFUSED:
                raise Refused(str(reply.result))
            if reply.status == NOT_LEADER:
                why = f"{name} is not the leader"
                if reply.leader is not None and reply.leader in (n for n, _, _ in self.nodes) and reply.leader != name:
                    order = [reply.leader, *[n for n in order if n != reply.leader]]
                    i = 0
                continue
            maybe_sent = True  # UNKNOWN: logged by a leader that lost its leadership
            why = f"{name} lost its leadership with the command in its log"
        error = Indeterminate if maybe_sent else Unavailable
        raise error(f"{op}: no result within {self.timeout:g} s ({why})")

    def close(self) -> None:
        for name in list(self._socks):
            self._drop(name)

    def __enter__(self) -> KVClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections --------------------------------------------------------------

    def _order(self) -> list[str]:
        names = [n for n, _, _ in self.nodes]
        if self.leader in names:
            names.remove(self.leader)
            names.insert(0, self.leader)
        return names

    def _connect(self, name: str) -> socket.socket:
        sock = self._socks.get(name)
        if sock is None:
            _, host, port = next(a for a in self.nodes if a[0] == name)
            sock = socket.create_connection((host, port), timeout=min(self.attempt_timeout, 0.5))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socks[name] = sock
        return sock

    @staticmethod
    def _ask(sock: socket.socket, request: Request, deadline: float, attempt: float) -> Reply:
        sock.settimeout(max(0.001, min(attempt, deadline - time.monotonic())))
        sock.sendall(CODEC.encode(request))
        while True:
            reply = CODEC.read_frame(sock)
            if isinstance(reply, Reply) and (reply.client, reply.rid) == (request.client, request.rid):
                return reply

    def _drop(self, name: str) -> None:
        sock = self._socks.pop(name, None)
        if sock is not None:
            sock.close()

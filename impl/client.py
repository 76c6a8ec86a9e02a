"""The client side of a local cluster: a blocking request over one connection,
the status of every node, and a proposal that asks node after node.

It does not import asyncio (``impl.net``, the node itself, does), so the
commands that use it cost every other command little.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from typing import Any

from .clusterfile import ClusterDescription, ClusterError, NodeInfo, load
from .framing import MalformedMessage
from .protocol import RuntimeProtocol
from .supervise import POLL, is_running

PATIENCE = 1.0  # seconds a node may take to answer a proposal before the next node is asked too


def cluster_status(data: str | os.PathLike[str], timeout: float = 1.0) -> list[tuple[NodeInfo, Any]]:
    """Each node and its answer to Status (None: it did not answer)."""
    answers: list[tuple[NodeInfo, Any]] = []
    cluster = load(data)
    protocol = cluster.runtime
    for info in cluster.nodes:
        try:
            reply = protocol.codec.request(info.host, info.port, protocol.status(), protocol.status_answer, timeout)
        except (OSError, MalformedMessage):
            reply = None
        answers.append((info, reply))
    return answers


class NoDecision(Exception):
    """No value was learned in time (exit 1): the message says why."""


def propose(
    data: str | os.PathLike[str],
    value: str,
    timeout: float = 10.0,
    patience: float = PATIENCE,
    protocol: RuntimeProtocol | None = None,
) -> tuple[str, str]:
    """Ask the cluster to choose ``value``: (the chosen value, the node that told us).

    Asks the nodes in turn: the next one as soon as a node refuses the
    connection or drops it, and also when the nodes asked so far have not
    answered within ``patience`` seconds (a node that is paused, or cut off
    from a quorum, accepts a connection and never answers). Every node asked
    keeps the request, and the first decision any of them reports is the
    answer. Raises NoDecision if none came within ``timeout`` seconds, and
    ClusterError for bad input (no cluster, a value too large: for
    ``protocol``, the one the caller means to speak, before the cluster is
    looked at, and for the one the cluster runs)."""
    if protocol is not None and (problem := protocol.value_problem(value)):
        raise ClusterError(problem)
    cluster = load(data)
    if problem := cluster.runtime.value_problem(value):
        raise ClusterError(problem)
    with contextlib.ExitStack() as stack:
        asking = _Asking(cluster, value, time.monotonic() + timeout, patience, stack)
        answer = asking.run()
    if answer is not None:
        return answer
    if not asking.reached:
        names = ", ".join(n.name for n in cluster.nodes)
        raise NoDecision(f"no node answers ({names} are not running; paxoscope cluster start --data {data})")
    raise NoDecision(
        f"no decision learned within {timeout:g} s (asked {', '.join(asking.reached)}): the outcome is unknown, "
        f"{value!r} may still be chosen; propose again (any value) to learn the decision"
    )


class _Asking:
    """One proposal in flight: the connections that carry it, and which node to ask next."""

    def __init__(
        self, cluster: ClusterDescription, value: str, deadline: float, patience: float, stack: contextlib.ExitStack
    ):
        protocol = cluster.runtime
        self.codec, self.msg, self.answer = protocol.codec, protocol.request(value), protocol.answer
        self.cluster, self.deadline, self.patience, self.stack = cluster, deadline, patience, stack
        self.queue = list(cluster.nodes)  # in order: the first node is asked first
        self.waiting: dict[socket.socket, NodeInfo] = {}
        self.reached: list[str] = []  # the nodes that took the request (it may be chosen through any of them)
        self.next_ask = 0.0

    def run(self) -> tuple[str, str] | None:
        while (remaining := self.deadline - time.monotonic()) > 0:
            if self.queue and (not self.waiting or time.monotonic() >= self.next_ask):
                self._ask(self.queue.pop(0), remaining)
                continue
            if not self.waiting:
                # Every node refused the connection: starting or restarting ones are worth another round.
                if not any(is_running(n.pid, n.name) for n in self.cluster.nodes):
                    return None
                time.sleep(POLL)
                self.queue = list(self.cluster.nodes)
                continue
            wait = remaining if not self.queue else max(0.0, min(remaining, self.next_ask - time.monotonic()))
            ready, _, _ = select.select(list(self.waiting), [], [], wait)
            for sock in ready:
                info = self.waiting.pop(sock)
                try:
                    sock.settimeout(max(0.01, self.deadline - time.monotonic()))
                    while not isinstance(answer := self.codec.read_frame(sock), self.answer):
                        pass
                except (OSError, MalformedMessage):
                    sock.close()  # it went away: the others still hold the request
                    continue
                return answer.value, info.name
        return None

    def _ask(self, info: NodeInfo, remaining: float) -> None:
        try:
            sock = socket.create_connection((info.host, info.port), timeout=min(remaining, 1.0))
            self.stack.callback(sock.close)
            sock.sendall(self.codec.encode(self.msg))
        except OSError:
            return  # down: the next node is asked at once
        if info.name not in self.reached:
            self.reached.append(info.name)
        self.waiting[sock] = info
        self.next_ask = time.monotonic() + self.patience

"""Multi-Paxos as the generic runtime takes it: one ``RuntimeProtocol``, ``PROTOCOL``."""

from __future__ import annotations

import time
from typing import Any

from ..protocol import ClientRequest, RuntimeProtocol
from .config import cluster_config, directed_schedules
from .core import IMPL_BUGS, LogState, Node
from .mapping import Checker, spec_for
from .messages import CODEC, PEER_TYPES, Reply, Request, Requests, Status, StatusReply, merge_replies
from .store import SCHEMA, LogStore
from .walk import realise

TICK = 0.02  # seconds between a replica's timer events: heartbeats, the failure detector, the clock of leases


def monotonic() -> float:
    """The clock leases run on: it never steps with the wall clock and runs on while the process is
    paused; on Linux also while the machine sleeps (CLOCK_BOOTTIME), where time.monotonic stops."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic()


class HostedNode(Node):
    """A replica as a host runs it: each event comes with the host's monotonic clock."""

    def handle(self, event: Any, at: float | None = None) -> Any:
        return super().handle(event, monotonic() if at is None else at)


def lease_left(node: Node, at: float) -> float | None:
    """Seconds of lease the replica holds as leader at ``at`` on its monotonic clock (None: none)."""
    if not node.prepared:
        return None
    left = node.lease.remaining(node.state.bal_prepared, node.config.majority, at)
    return None if left is None else round(left, 3)


def client_request(msg: Request, src: str) -> ClientRequest:
    return ClientRequest(client=msg.client, request_id=msg.rid, command=(msg.op, tuple(msg.args)), src=src)


def status_reply(name: str, node: Node, durable: LogState, store_error: str | None) -> StatusReply:
    """A replica's answer to Status: its role, the leader it follows, and its log's figures."""
    s = node.state
    first = min(s.insts, default=s.snapshot_index + 1)
    return StatusReply(
        name,
        node.role,
        s.leader,
        s.bal_max_known,
        s.commit,
        node.applied,
        s.snapshot_index,
        first,
        s.last_slot,
        store_error,
        lease_left(node, monotonic()),
    )


# What ``cluster status`` shows of a replica, by name: the reply's field for each.
STATUS_FIELDS = {
    "role": "role",
    "leader": "leader",
    "ballot": "bal",
    "committed": "commit",
    "applied": "applied",
    "snapshot": "snapshot_index",
    "log_first": "log_first",
    "log_last": "log_last",
    "lease": "lease",
}


def status_fields(reply: StatusReply) -> dict[str, Any]:
    return {name: getattr(reply, field) for name, field in STATUS_FIELDS.items()}


PROTOCOL = RuntimeProtocol(
    name="multipaxos",
    node=HostedNode,
    codec=CODEC,
    store=SCHEMA,
    peer_messages=PEER_TYPES,
    request=Request,
    answer=Reply,
    status=Status,
    status_answer=StatusReply,
    status_reply=status_reply,
    status_fields=status_fields,
    value_problem=lambda value: None,
    node_config=cluster_config,
    bugs=IMPL_BUGS,
    spec_for=spec_for,
    checker=Checker,
    directed_schedules=directed_schedules,
    realise=realise,
    client_request=client_request,
    tick=TICK,
    group_commit=True,
    # More than 4 batches waiting: the host reads no more requests until some are proposed.
    busy=lambda node: len(node.queue) >= 4 * node.config.batch,
    batch_requests=True,
    requests=Requests,
    merge_replies=merge_replies,
    store_factory=LogStore,
)

"""Multi-Paxos as the generic runtime takes it: one ``RuntimeProtocol``, ``PROTOCOL``."""

from __future__ import annotations

from typing import Any

from ..protocol import ClientRequest, RuntimeProtocol
from .config import cluster_config, directed_schedules
from .core import IMPL_BUGS, LogState, Node
from .mapping import Checker, spec_for
from .messages import CODEC, PEER_TYPES, Reply, Request, Status, StatusReply
from .store import SCHEMA, LogStore
from .walk import realise

TICK = 0.02  # seconds between a replica's timer events: heartbeats, the failure detector, the clock of leases


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
}


def status_fields(reply: StatusReply) -> dict[str, Any]:
    return {name: getattr(reply, field) for name, field in STATUS_FIELDS.items()}


PROTOCOL = RuntimeProtocol(
    name="multipaxos",
    node=Node,
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
    store_factory=LogStore,
)

"""Paxos as the generic runtime takes it: one ``RuntimeProtocol``, ``PROTOCOL``."""

from __future__ import annotations

from typing import Any

from ..protocol import RuntimeProtocol
from .config import cluster_config
from .core import IMPL_BUGS, AcceptorState, Node
from .mapping import Checker, spec_for
from .messages import (
    CODEC,
    Accept,
    Accepted,
    Decided,
    Prepare,
    Promise,
    Propose,
    Rejected,
    Status,
    StatusReply,
    value_problem,
)
from .store import SCHEMA
from .walk import drive_other_handlers, realise, restart_ladders


def status_reply(name: str, node: Node, durable: AcceptorState, store_error: str | None) -> StatusReply:
    """A node's answer to Status: its *durable* acceptor state and what it decided."""
    return StatusReply(name, durable.max_bal, durable.max_vbal, durable.max_val, node.decided, store_error)


def status_fields(reply: StatusReply) -> dict[str, Any]:
    return {"max_bal": reply.max_bal, "max_vbal": reply.max_vbal, "max_val": reply.max_val}


PROTOCOL = RuntimeProtocol(
    name="paxos",
    node=Node,
    codec=CODEC,
    store=SCHEMA,
    peer_messages=(Prepare, Promise, Accept, Accepted, Rejected),
    request=Propose,
    answer=Decided,
    status=Status,
    status_answer=StatusReply,
    status_reply=status_reply,
    status_fields=status_fields,
    value_problem=value_problem,
    node_config=cluster_config,
    bugs=IMPL_BUGS,
    spec_for=spec_for,
    checker=Checker,
    directed_schedules=restart_ladders,
    realise=realise,
    drive_other_handlers=drive_other_handlers,
)

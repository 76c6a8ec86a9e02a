"""What the nemesis needs of a replicated service's protocol, beyond running its nodes: a client, the
leader's name, and each replica's applied state, all read the protocol's own way.

The leader and the applied state come from the nodes' answers to ``Status``, through the protocol's
``status_fields``: a node whose fields say ``role: leader`` leads; a replica's applied state is what its
fields say of it (``applied``, and ``state_digest`` when the protocol reports one).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..client import cluster_status
from ..clusterfile import ClusterError, load
from .cluster import LocalCluster

APPLIED_FIELDS = ("applied", "state_digest")


def leader(data: Path) -> str | None:
    protocol = load(data).runtime
    for info, reply in cluster_status(data, timeout=0.5):
        if reply is not None and protocol.status_fields(reply).get("role") == "leader":
            return info.name
    return None


def applied(data: Path) -> dict[str, Any]:
    protocol = load(data).runtime
    states: dict[str, Any] = {}
    for info, reply in cluster_status(data, timeout=1.0):
        fields = {} if reply is None else protocol.status_fields(reply)
        states[info.name] = tuple(fields.get(name) for name in APPLIED_FIELDS) if "applied" in fields else None
    return states


def kv_client(protocol: str) -> Any:
    """The function that makes a ``KVService`` for ``(data, number)``: the protocol's ``nemesis_client``
    (in ``paxoscope.impl.<protocol>.client``); ``ClusterError`` when the protocol serves no key-value store."""
    try:
        module = importlib.import_module(f"{__package__.rpartition('.')[0]}.{protocol}.client")
        return module.nemesis_client
    except (ModuleNotFoundError, AttributeError):
        raise ClusterError(f"the {protocol} protocol serves no key-value store the nemesis can attack") from None


def local_cluster(data: str | Path, protocol: str, nodes: int = 3) -> LocalCluster:
    """A local cluster of ``protocol``'s service, as the nemesis's target."""
    return LocalCluster(data, protocol, nodes, client=kv_client(protocol), leader=leader, applied=applied)

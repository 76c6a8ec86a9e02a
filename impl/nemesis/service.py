"""What the nemesis needs of a replicated key-value service, read the protocol's own way: a client, the
leader's name, and each replica's applied state.

A protocol that serves a key-value store exports ``KVClient`` from its package (``impl.multipaxos``'s
does): ``KVClient(data, timeout=..., attempt_timeout=...)`` with ``get``, ``put``, ``delete``, ``cas``
and ``close``, raising its ``Definite`` error for a command that certainly did not take effect and any
other for one whose outcome is unknown.

Half the clients find the leader and fail over as the client library does; the other half are each
bound to one replica (``KVClient(nodes=[that one])``), as Jepsen's clients are to their node: a replica
that believes it still leads after it was cut off from the others is then still asked, and what it
answers is judged.

The leader and the applied index come from the nodes' answers to ``Status`` (``status_fields``'s
``role`` and ``applied``). The applied *state* is read from each replica's store once the cluster is
stopped: the protocol's node is rebuilt from what its store holds, as at a restart, and its machine's
state (``kv.to_json()``) taken at its applied index.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from ..client import cluster_status
from ..clusterfile import ClusterError, load
from ..storage import CorruptStorage
from .cluster import LocalCluster
from .workload import KVService, Refused

CLIENT_TIMEOUT = 3.0  # seconds a call may take in all, failing over from replica to replica
ATTEMPT_TIMEOUT = 1.0  # seconds one replica has to answer


def leader(data: Path) -> str | None:
    protocol = load(data).runtime
    for info, reply in cluster_status(data, timeout=0.5):
        if reply is not None and protocol.status_fields(reply).get("role") == "leader":
            return info.name
    return None


def applied(data: Path) -> dict[str, Any]:
    """Each replica's applied index, as it reports it (None: it did not answer)."""
    protocol = load(data).runtime
    return {
        info.name: None if reply is None else protocol.status_fields(reply).get("applied")
        for info, reply in cluster_status(data, timeout=1.0)
    }


def stored_states(data: Path) -> dict[str, Any]:
    """Each replica's applied index and machine state, rebuilt from its store (the cluster stopped)."""
    cluster = load(data)
    protocol = cluster.runtime
    states: dict[str, Any] = {}
    for info in cluster.nodes:
        try:
            node = protocol.node(protocol.node_config(cluster, info.name), protocol.open_store(info.data).load())
        except (OSError, CorruptStorage, ValueError) as exc:
            states[info.name] = f"unreadable: {exc}"
            continue
        machine = getattr(node, "kv", None)
        state = machine.to_json() if machine is not None else None
        states[info.name] = (getattr(node, "applied", None), json.dumps(state, sort_keys=True))
    return states


class _Client:
    """A ``KVService`` over the protocol's ``KVClient``: its ``Definite`` errors are refusals."""

    def __init__(self, client: Any, definite: type[Exception]):
        self.client, self.definite = client, definite

    def _call(self, op: str, *args: Any) -> Any:
        try:
            return getattr(self.client, op)(*args)
        except self.definite as exc:
            raise Refused(str(exc)) from None

    def get(self, key: str) -> Any:
        return self._call("get", key)

    def put(self, key: str, value: str) -> None:
        self._call("put", key, value)

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def cas(self, key: str, old: Any, new: str) -> bool:
        return self._call("cas", key, old, new)

    def close(self) -> None:
        self.client.close()


def kv_client(protocol: str) -> Any:
    """``connect(data, number) -> KVService`` for ``protocol``'s service; ``ClusterError`` if it has none."""
    try:
        package = importlib.import_module(f"{__package__.rpartition('.')[0]}.{protocol}")
        client_class = package.KVClient
        definite = importlib.import_module(client_class.__module__).Definite
    except (ModuleNotFoundError, AttributeError):
        raise ClusterError(f"the {protocol} protocol serves no key-value store the nemesis can attack") from None

    def connect(data: Path, number: int | None) -> KVService:
        # Half the clients talk to one replica only: a cut-off leader's stale read needs a client that stays with it.
        if number is None or number % 2 == 0:
            client = client_class(data, timeout=CLIENT_TIMEOUT, attempt_timeout=ATTEMPT_TIMEOUT)
        else:
            nodes = load(data).nodes
            node = nodes[(number // 2) % len(nodes)]
            client = client_class(nodes=[(node.name, node.host, node.port)], timeout=ATTEMPT_TIMEOUT)
        return _Client(client, definite)

    return connect


def local_cluster(data: str | Path, protocol: str, nodes: int = 3, bugs: frozenset[str] = frozenset()) -> LocalCluster:
    """A local cluster of ``protocol``'s key-value service (with the known-wrong ``bugs``), as the nemesis's target."""
    return LocalCluster(
        data,
        protocol,
        nodes,
        client=kv_client(protocol),
        leader=leader,
        applied=applied,
        stored=stored_states,
        bugs=bugs,
    )

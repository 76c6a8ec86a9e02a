"""Multi-Paxos, implemented: a replicated key-value and lock service on a
replicated log, as one ``RuntimeProtocol`` (``PROTOCOL``) for the generic runtime.

- ``kvstate``: the state machine (keys, locks with leases, exactly-once sessions);
- ``core``: the replica, sans-I/O, and its known-wrong variants, ``IMPL_BUGS``;
- ``lease``: the leader lease reads are answered under, sans-I/O (``Lease``);
- ``messages``: the wire messages and what their fields may hold (``CODEC``);
- ``store``: the durable log with group commit, and snapshots (``LogStore``);
- ``config``: the simulated configurations (``SimConfig``) and a cluster replica's (``cluster_config``);
- ``mapping``: the refinement mapping to ``spec.multipaxos`` and the step check (``Checker``);
- ``client``: the client library (``KVClient``) that finds the leader and fails over;
- ``runtime``: ``PROTOCOL``, all of the above as one ``impl.protocol.RuntimeProtocol``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: the registry reads IMPL_BUGS without loading the runtime and the explorer.
_HOMES = {
    "PROTOCOL": ".runtime",
    "IMPL_BUGS": ".core",
    "SimConfig": ".config",
    "cluster_config": ".config",
    "KVClient": ".client",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


__all__ = ["IMPL_BUGS", "PROTOCOL", "KVClient", "SimConfig", "cluster_config"]

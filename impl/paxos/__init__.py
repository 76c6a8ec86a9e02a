"""Single-decree Paxos, implemented: its sans-I/O core, wire messages, durable
state, refinement mapping to ``spec.paxos`` and directed runs, as one
``RuntimeProtocol`` (``PROTOCOL``) for the generic runtime.

- ``core``: the node (acceptor, proposer, learner) and its known-wrong variants, ``IMPL_BUGS``;
- ``messages``: the wire messages and what their fields may hold (``CODEC``);
- ``store``: the acceptor's durable state, ``acceptor.json`` (``SCHEMA``);
- ``config``: the simulated configurations (``SimConfig``) and a cluster node's (``cluster_config``);
- ``mapping``: the refinement mapping and the step check (``Checker``);
- ``walk``: the restart ladders and the coverage walk's hooks;
- ``runtime``: ``PROTOCOL``, all of the above as one ``impl.protocol.RuntimeProtocol``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: the registry reads IMPL_BUGS without loading the
# runtime, the mapping and the explorer behind PROTOCOL.
_HOMES = {"PROTOCOL": ".runtime", "IMPL_BUGS": ".core", "SimConfig": ".config", "cluster_config": ".config"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


__all__ = ["IMPL_BUGS", "PROTOCOL", "SimConfig", "cluster_config"]

"""What a Paxos acceptor keeps durable: ``acceptor.json`` in its data directory.

An acceptor must never forget a promise or a vote (Paxos.tla's ``maxBal``,
``maxVBal``, ``maxVal``): the runtime's store (``impl.storage``) writes, fsyncs
and checksums this schema, and the fields are checked by ``fields_problem``,
the function the wire decoder uses.
"""

from __future__ import annotations

import os
from typing import Any

from ..storage import DurableStore, StoreSchema
from .core import AcceptorState
from .messages import fields_problem


def _to_dict(state: AcceptorState) -> dict[str, Any]:
    return {"max_bal": state.max_bal, "max_vbal": state.max_vbal, "max_val": state.max_val}


def _from_dict(doc: dict[str, Any]) -> AcceptorState:
    return AcceptorState(doc["max_bal"], doc["max_vbal"], doc["max_val"])


SCHEMA = StoreSchema(
    format="paxoscope-acceptor",
    version=1,
    filename="acceptor.json",
    noun="acceptor",
    fields=("max_bal", "max_vbal", "max_val"),
    to_dict=_to_dict,
    from_dict=_from_dict,
    fields_problem=fields_problem,
    initial=AcceptorState(),
)


def AcceptorStore(directory: str | os.PathLike[str]) -> DurableStore:  # noqa: N802 - reads as the class it builds
    """The acceptor state of one node, kept in ``directory/acceptor.json``."""
    return DurableStore(directory, SCHEMA)

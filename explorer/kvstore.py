"""The sequential model of a replicated key-value store: ``get``, ``put``, ``delete`` and ``cas`` on keys.

A key that was never written, or was deleted, reads as nil (``None``). ``cas`` takes ``[old, new]`` and
writes ``new`` only if the key holds ``old``. A failed ``cas`` is left out of the history, as Knossos
does: a client cannot tell a comparison that failed from a request the service refused before running
it, and neither changed anything. Checked one key at a time (``lincheck.by_key``).
"""

from __future__ import annotations

from typing import Any

FUNCTIONS = frozenset({"get", "put", "delete", "cas"})
READS = frozenset({"get"})


def step(state: tuple[tuple[Any, Any], ...], inp: tuple[str, Any, Any]) -> tuple[Any, Any]:
    """``state``: the table as sorted (key, value) pairs, absent keys left out."""
    f, key, value = inp
    table = dict(state)
    if f == "get":
        return table.get(key), state
    if f == "cas":
        old, new = value
        if table.get(key) != old:
            return "fail", state
        table[key] = new
    elif f == "put":
        table[key] = value
    else:
        table.pop(key, None)
    return "ok", tuple(sorted(table.items(), key=repr))

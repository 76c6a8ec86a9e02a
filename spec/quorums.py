"""Majority quorums: every set of more than half of some names.

Paxos.tla's ``Quorum`` and the default of every Paxos-family spec; an
implementation that enumerates its quorums means the same thing."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations


def majority(count: int) -> int:
    """How many of ``count`` members make a majority."""
    return count // 2 + 1


def majorities(names: Iterable[str]) -> tuple[frozenset[str], ...]:
    """Every set holding more than half of ``names``, smallest first, each in the order of ``names``."""
    names = tuple(names)
    n = len(names)
    return tuple(frozenset(q) for size in range(majority(n), n + 1) for q in combinations(names, size))

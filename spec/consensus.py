"""Consensus, the specification of what Paxos is for (Lamport's Consensus.tla).

One variable, ``chosen``: a set of values that starts empty and may become
one value, once. Paxos refines it through Voting: whatever Paxos does, the
set of values chosen (by some quorum voting in one ballot) behaves so.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import Action, Spec, action


class Consensus(Spec):
    name = "consensus"
    actions = ("Choose",)

    def __init__(self, values: tuple[str, ...] = ("v1", "v2")):
        self.values = tuple(values)
        self._choose = {v: action("Choose", v=v) for v in self.values}

    def init(self) -> Iterator[frozenset[str]]:
        yield frozenset()

    def next(self, chosen: frozenset[str]) -> Iterator[tuple[Action, frozenset[str]]]:
        """Choose(v): nothing is chosen yet; then v is, for ever."""
        if not chosen:
            for v in self.values:
                yield self._choose[v], frozenset((v,))

    @property
    def invariants(self):
        return {"Consistency": lambda chosen: len(chosen) <= 1}

    @property
    def sometimes(self):
        return {"ValueChosen": bool}

    @property
    def config(self):
        return {"values": len(self.values)}

    def variables(self, chosen: frozenset[str]):
        return {"chosen": chosen}

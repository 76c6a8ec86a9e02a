"""A replicated log, the specification of what Multi-Paxos (and Raft, and any
state machine replication protocol) is for: a sequence of slots, each of
them a Consensus of its own.

One variable: per slot, the set of values chosen there (as Consensus's
``chosen``). A slot starts empty and may come to hold one value, once; no
step ever changes or adds to it afterwards. Slots are chosen independently
and in any order: a protocol may choose slot 2 before slot 1.

A protocol that chooses several slots in one step (a Raft leader whose
commit index moves past two entries) refines ``Log(..., at_once=True)``, whose
steps also choose in several slots together: each such step is Choose steps
taken at once, and the states and what may be chosen in them are the same.

A log protocol refines this spec by mapping each of its states to the
values chosen in every slot (for Multi-Paxos: by a majority of votes in one
ballot). A step that chooses a second value
in a slot, or replaces one, is no step of this spec: the refinement check
reports it at the step where it happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import combinations, product

from .base import Action, Spec, action, except_at
from .consensus import Consensus

#: The values chosen in each slot, slot 1 first.
LogState = tuple[frozenset[str], ...]


class Log(Spec):
    name = "log"
    actions = ("Choose",)

    def __init__(self, slots: int = 2, values: Iterable[str] = ("v1", "v2"), at_once: bool = False):
        self.slots = range(1, slots + 1)
        self.at_once = at_once
        self.consensus = Consensus(tuple(values))  # what each slot is
        self._choose = {
            (slot, act): action("Choose", slot=slot, **dict(act.params))
            for slot in self.slots
            for act, _ in self.consensus.next(frozenset())
        }

    def init(self) -> Iterator[LogState]:
        for empty in self.consensus.init():
            yield (empty,) * len(self.slots)

    def next(self, log: LogState) -> Iterator[tuple[Action, LogState]]:
        """Choose(slot, v): a step of that slot's Consensus, the other slots unchanged."""
        for slot, chosen in zip(self.slots, log):
            for act, after in self.consensus.next(chosen):
                yield self._choose[slot, act], except_at(log, slot - 1, after)
        if self.at_once:
            yield from self.choose_several(log)

    def choose_several(self, log: LogState) -> Iterator[tuple[Action, LogState]]:
        """Choose(slot=i, v=x, slot=j, v=y, ...): a Choose step in each of two or more slots at once."""
        open_slots = [(slot, list(self.consensus.next(chosen))) for slot, chosen in zip(self.slots, log)]
        open_slots = [(slot, steps) for slot, steps in open_slots if steps]
        for size in range(2, len(open_slots) + 1):
            for together in combinations(open_slots, size):
                for steps in product(*(steps for _, steps in together)):
                    after, params = list(log), []
                    for (slot, _), (act, chosen) in zip(together, steps):
                        after[slot - 1] = chosen
                        params += self._choose[slot, act].params
                    yield Action("Choose", tuple(params)), tuple(after)

    @property
    def invariants(self):
        consistent = self.consensus.invariants["Consistency"]
        return {"Consistency": lambda log: all(consistent(chosen) for chosen in log)}

    @property
    def sometimes(self):
        return {"SlotChosen": any}

    @property
    def config(self):
        return {"slots": len(self.slots), "values": len(self.consensus.values)}

    def variables(self, log: LogState):
        return {"chosen": {slot: chosen for slot, chosen in zip(self.slots, log)}}

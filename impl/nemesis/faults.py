"""The nemesis's faults: a schedule drawn from a seed, bounded in time and count, and its application.

A schedule is a list of ``Fault``s, one at a time with a quiet gap between them, so that a majority of
the replicas is up most of the time and the service can be judged on its availability as well as its
safety. Every fault is healed before the run ends. ``kill`` (SIGKILL, then a restart on the same data
directory), ``pause`` (SIGSTOP, then SIGCONT), ``restart`` (a clean stop and start) and ``partition``
(links cut through the proxies: one node isolated, one node deaf or mute, one way, or a link both ways).
A fault aimed at ``LEADER`` hits whichever node leads when it strikes (during an election, the one elected
within a couple of seconds).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

KILL, PAUSE, PARTITION, RESTART = "kill", "pause", "partition", "restart"
KINDS = (KILL, PAUSE, PARTITION, RESTART)
LEADER = "leader"

# How partitions cut the links: every message to and from one node, every message to it (it still
# talks, nobody hears... the reverse), from it, or one link both ways.
ISOLATE, DEAF, MUTE, LINK = "isolate", "deaf", "mute", "link"
PARTITIONS = (ISOLATE, DEAF, MUTE, LINK)

GAP = (0.5, 2.0)  # seconds of quiet before each fault
DURATION = (1.0, 4.0)  # seconds a fault lasts
TAIL = 2.0  # seconds left without faults at the end, for the service to settle


@dataclass(frozen=True)
class Fault:
    at: float  # seconds from the start of the run
    kind: str  # one of KINDS
    target: str  # a node's name or LEADER
    until: float  # when it is healed (a restart is instant: until == at)
    how: str = ""  # for a partition: one of PARTITIONS
    peer: str = ""  # for a partition of one LINK: the node at its other end

    def describe(self, target: str | None = None) -> str:
        who = target or self.target
        if self.kind == PARTITION:
            what = {
                ISOLATE: f"isolate {who}",
                DEAF: f"cut every link to {who}",
                MUTE: f"cut every link from {who}",
                LINK: f"cut {who} <-> {self.peer}",
            }[self.how]
            return f"{what} for {self.until - self.at:.1f} s"
        if self.kind == RESTART:
            return f"restart {who}"
        return f"{self.kind} {who} for {self.until - self.at:.1f} s"


def schedule(
    seed: int, seconds: float, nodes: Sequence[str], kinds: Sequence[str] = KINDS, max_faults: int | None = None
) -> list[Fault]:
    """The faults of a run of ``seconds`` seconds, drawn from ``seed``: the same seed, the same schedule."""
    rng = random.Random(seed)
    limit = max_faults if max_faults is not None else int(seconds)
    faults: list[Fault] = []
    t = rng.uniform(*GAP)
    while len(faults) < limit and kinds:
        kind = rng.choice(list(kinds))
        length = 0.0 if kind == RESTART else rng.uniform(*DURATION)
        if t + length > seconds - TAIL:
            break
        target = LEADER if kind in (KILL, PAUSE, PARTITION) and rng.random() < 0.5 else rng.choice(list(nodes))
        how = rng.choice(PARTITIONS) if kind == PARTITION else ""
        peer = ""
        if how == LINK:
            target = rng.choice(list(nodes))
            peer = rng.choice([n for n in nodes if n != target])
        faults.append(Fault(round(t, 3), kind, target, round(t + length, 3), how, peer))
        t += length + rng.uniform(*GAP)
    return faults

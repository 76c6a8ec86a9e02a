"""A lease-based lock service in the manner of Chubby, as a paxoscope spec.

One lock, a server that grants it, and a few clients. A client that acquires
the lock gets a lease: it may act as the holder until its lease expires at
``clock + lease``. It may renew the lease while it still holds it, or release
it. Time moves in ticks, up to ``max_time`` (which keeps the state space
finite).

Safety (``MutualExclusion``): at most one client holds an unexpired lease.

The seeded bug (``LOCKSERVICE_BUG=1`` in the environment, or
``LockService(early_grant=True)``): the server grants the lock one tick
early, when the current lease expires at the *next* tick, on the reasoning
that "it is about to expire anyway". For one tick two clients both hold an
unexpired lease.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from paxoscope import Spec, action

#: The seeded bug, on when the environment says ``LOCKSERVICE_BUG=1``.
BUG = os.environ.get("LOCKSERVICE_BUG") == "1"

NONE = -1  # no lease / no owner


class LockState(NamedTuple):
    clock: int
    owner: int  # the client the server granted the lock to, or NONE
    expires: int  # the server's record of the owner's lease expiry
    held: tuple[int, ...]  # per client: the expiry of the lease it holds, or NONE


class LockService(Spec):
    name = "lockservice"
    actions = ("Acquire", "Renew", "Release", "Tick")

    def __init__(self, clients: int = 2, lease: int = 2, max_time: int = 5, early_grant: bool | None = None):
        self.clients = tuple(f"c{i + 1}" for i in range(clients))
        self.lease = lease
        self.max_time = max_time
        self.early_grant = BUG if early_grant is None else early_grant

    def init(self):
        yield LockState(clock=0, owner=NONE, expires=0, held=(NONE,) * len(self.clients))

    def _free(self, s: LockState) -> bool:
        """May the server grant the lock now?"""
        if s.owner == NONE:
            return True
        if self.early_grant:
            return s.expires <= s.clock + 1  # BUG: "about to expire" is not expired
        return s.expires <= s.clock

    def next(self, s: LockState):
        for i, c in enumerate(self.clients):
            holds = s.held[i] > s.clock
            if not holds and self._free(s):
                until = s.clock + self.lease
                yield action("Acquire", c=c), s._replace(owner=i, expires=until, held=_set(s.held, i, until))
            if holds and s.owner == i:
                until = s.clock + self.lease
                yield action("Renew", c=c), s._replace(expires=until, held=_set(s.held, i, until))
            if holds:
                released = s._replace(held=_set(s.held, i, NONE))
                if s.owner == i:
                    released = released._replace(owner=NONE, expires=0)
                yield action("Release", c=c), released
        if s.clock < self.max_time:
            yield action("Tick"), s._replace(clock=s.clock + 1)

    @property
    def invariants(self):
        return {"MutualExclusion": self.mutual_exclusion}

    def mutual_exclusion(self, s: LockState) -> bool:
        return sum(1 for until in s.held if until > s.clock) <= 1

    def variables(self, s: LockState) -> dict[str, Any]:
        name = {NONE: None, **dict(enumerate(self.clients))}
        return {
            "clock": s.clock,
            "owner": name[s.owner],
            "expires": s.expires if s.owner != NONE else None,
            "lease": {c: (until if until != NONE else None) for c, until in zip(self.clients, s.held)},
        }

    @property
    def config(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "lease": self.lease, "max_time": self.max_time}


def _set(row: tuple[int, ...], i: int, x: int) -> tuple[int, ...]:
    return row[:i] + (x,) + row[i + 1 :]

"""The leader lease: a leader answers reads from its own state while a majority
has promised not to help any other leader, sans-I/O (every time is passed in).

The promise. A replica that takes an ``Accept`` (one not below the ballot it
promised) refuses, for ``seconds`` on its own monotonic clock from when it
handled that ``Accept``, to help any other leader: it answers no ``Prepare`` of a higher
ballot and does not stand itself. Its ``Accepted`` carries back the ``sent``
stamp of the ``Accept`` it answers, the leader's clock when the leader sent it.

The lease. A leader's lease runs from the latest stamp a majority (itself
included: it helps another leader only by stepping down) acknowledged, for
``seconds`` shrunk by the drift allowance: ``seconds * (1 - drift) / (1 +
drift)``. Each promise started after its ``Accept`` was sent, and each
replica's clock runs at a rate within ``drift`` of real time, so the lease
ends, in real time, before any promise of that majority does; no other
leader can gather a majority of promises before then. Only rates are
compared: the clocks' absolute values never meet, so they may be arbitrarily
far apart.

A read under the lease is answered from the leader's state once that state
holds every command chosen before: the leader has committed the last slot it
held when it became leader (every slot a previous leader may have had chosen
is at or below it) and applied everything it committed.

What a replica forgets when it restarts (the promises it made, the
acknowledgements it gathered) is assumed made: a replica that starts helps
no other leader for ``seconds``, and a leader that starts holds no lease
until a majority acknowledges it again. A monotonic clock runs on while a
process is paused (SIGSTOP), so a paused leader resumes with an expired
lease and reads through the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

LEASE = 0.15  # seconds a replica refuses other leaders after an Accept: below the cluster's 500 ms failure detector
DRIFT = 0.1  # the bound on how far the rate of a replica's clock may stray from real time (10%)
NO_STAMP = 0.0  # an Accept sent without a clock, or an Accepted that promised nothing


def held(seconds: float, drift: float = DRIFT) -> float:
    """How long a leader counts on a promise of ``seconds``: the shortest that
    ``seconds`` on a follower's clock can be, measured on the leader's."""
    return seconds * (1 - drift) / (1 + drift)


@dataclass
class Lease:
    """One replica's side of leases: the promise it made as a follower and the
    acknowledgements it gathered as a leader. ``seconds`` 0: no lease (reads go through the log)."""

    seconds: float = 0.0
    drift: float = DRIFT
    now: float | None = None  # this replica's monotonic clock at the event it is handling (None: it has none)
    promised_until: float = float("-inf")  # helps no other leader before then
    ballot: int = 0  # the ballot this replica leads, whose acknowledgements ``acked`` holds
    floor: int = 0  # the last slot it held when it became leader of ``ballot``: committed before a read
    acked: dict[str, float] = field(default_factory=dict)  # peer -> the latest stamp it acknowledged in ``ballot``

    def clock(self, now: float | None) -> None:
        """The event being handled happens at ``now``."""
        if not self.seconds or now is None:
            return
        if self.now is None:  # a replica that (re)starts may have promised before and forgotten it
            self.promised_until = now + self.seconds
        self.now = now if self.now is None else max(self.now, now)

    def promise(self, stamp: float) -> float:
        """Took an Accept of the leader it follows, sent at ``stamp``: what its Accepted carries back."""
        if not self.seconds or self.now is None:
            return NO_STAMP
        self.promised_until = max(self.promised_until, self.now + self.seconds)
        return stamp

    def binds(self) -> bool:
        """Whether this replica promised, and still must, to help no other leader."""
        return self.now is not None and self.now < self.promised_until

    def stamped(self, sends: list[tuple[str, Any]], kind: type) -> list[tuple[str, Any]]:
        """``sends`` with each ``kind`` message (an Accept) carrying this event's clock; a message
        broadcast to several replicas stays one object (a host encodes it once)."""
        if not sends or not self.seconds or self.now is None:
            return sends
        copies: dict[int, Any] = {}
        for _, msg in sends:
            if isinstance(msg, kind) and id(msg) not in copies:
                copies[id(msg)] = replace(msg, sent=self.now)
        return [(dest, copies.get(id(msg), msg)) for dest, msg in sends]

    def lead(self, name: str, ballot: int, last_slot: int) -> None:
        """``name`` became leader of ``ballot`` holding slots up to ``last_slot``: only its own
        acknowledgement counts yet (it holds for as long as it leads)."""
        if ballot != self.ballot:
            self.ballot, self.floor, self.acked = ballot, last_slot, {name: float("inf")}

    def acknowledged(self, peer: str, ballot: int, stamp: float) -> None:
        # A stamp ahead of this clock was never sent by it: an answer to a process before a reboot, whose clock
        # started again from 0. It would stretch the lease far beyond any promise.
        if ballot == self.ballot and NO_STAMP < stamp <= (self.now or NO_STAMP):
            self.acked[peer] = max(stamp, self.acked.get(peer, stamp))

    def expires(self, majority: int) -> float | None:
        """When the lease ends on this replica's clock (None: a majority never acknowledged it)."""
        stamps = sorted(self.acked.values(), reverse=True)
        if not self.seconds or self.now is None or len(stamps) < majority:
            return None
        return min(stamps[majority - 1], self.now) + held(self.seconds, self.drift)

    def remaining(self, ballot: int, majority: int, at: float | None = None) -> float | None:
        """Seconds of lease left to the leader of ``ballot`` at ``at`` (None: this event's time;
        the result None: it holds none)."""
        end = self.expires(majority)
        now = self.now if at is None else at
        if ballot != self.ballot or end is None or now is None or end <= now:
            return None
        return end - now

    def readable(self, ballot: int, majority: int, commit: int, applied: int) -> bool:
        """Whether the leader of ``ballot`` may answer a read from its state now, without the log."""
        return self.remaining(ballot, majority) is not None and applied == commit >= self.floor

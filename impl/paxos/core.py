"""The Paxos protocol core: pure state machines, no I/O (in the manner of h11).

A ``Node`` plays the three roles (acceptor, proposer, learner). It takes one
event at a time (a message received, a client's request, a timer) and returns
``Effects``: a durable write, the messages to send, a decision. The runtime
must make the write durable *before* any message leaves; the deterministic
simulator (``impl.sim``) and the TCP runtime (``impl.net``) both run this
module unchanged (the events and ``Effects`` are the runtime's, ``impl.protocol``).

Ballots: proposer i of P owns the ballots b with b % P == i, so no two
proposers ever use one ballot. A proposer that times out moves to its next
ballot. ``NodeConfig.ballots`` bounds them (None: unbounded). An acceptor
that refuses a ballot below its promise says so (``Rejected``, with the
ballot it promised), and the proposer moves at once to its least ballot above
that: after a restart with a high promise on the acceptors, one round trip
instead of one timeout per ballot.

Known-wrong behaviours can be switched on by name (``NodeConfig.bugs``), so
that the conformance suite can show it catches each one; see ``IMPL_BUGS``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...spec.gallery import story
from ..protocol import ClientRequest, Effects, Event, Receive, Timeout
from .messages import Accept, Accepted, Prepare, Promise, Rejected

__all__ = ["ClientRequest", "Effects", "Event", "Receive", "Timeout"]  # the runtime's, which this core speaks


# The implementation's known-wrong behaviours, by name; their stories are the
# gallery's (spec/gallery.toml), as the spec's variants' are.
IMPL_BUGS = {
    name: story("paxos", name)
    for name in ("reply-before-durable", "ignore-reported-votes", "accept-lower-ballot", "reuse-ballot")
}


@dataclass(frozen=True)
class AcceptorState:
    """What an acceptor must never forget: Paxos.tla's maxBal, maxVBal, maxVal."""

    max_bal: int = -1
    max_vbal: int = -1
    max_val: str | None = None


@dataclass(frozen=True)
class NodeConfig:
    name: str
    acceptors: tuple[str, ...]
    proposers: tuple[str, ...]
    learners: tuple[str, ...]
    quorums: tuple[frozenset[str], ...]
    ballots: int | None = None  # ballots 0..ballots-1; None: no bound
    bugs: frozenset[str] = frozenset()

    @property
    def protocol(self) -> Any:
        from . import PROTOCOL

        return PROTOCOL


# -- roles --------------------------------------------------------------------


class Acceptor:
    def __init__(self, config: NodeConfig, state: AcceptorState):
        self.config = config
        self.state = state

    def on_prepare(self, src: str, m: Prepare) -> Effects:
        """Phase1b: promise a ballot above every one promised, and report the
        last vote. A ballot already promised is refused, as Paxos.tla does:
        promised twice, it could serve a proposer that restarted, forgot the
        2a it sent in that ballot, and would send a second, different one."""
        s = self.state
        if m.bal <= s.max_bal:
            return self._refuse(src, m.bal)
        self.state = replace(s, max_bal=m.bal)
        reply = Promise(self.config.name, m.bal, s.max_vbal, s.max_val)
        return Effects(
            persist=self.state,
            send=[(src, reply)],
            durable_first="reply-before-durable" not in self.config.bugs,
        )

    def on_accept(self, src: str, m: Accept) -> Effects:
        """Phase2b: vote for a proposal unless a higher ballot was promised."""
        if m.bal < self.state.max_bal and "accept-lower-ballot" not in self.config.bugs:
            return self._refuse(src, m.bal)
        self.state = AcceptorState(m.bal, m.bal, m.val)
        vote = Accepted(self.config.name, m.bal, m.val)
        return Effects(
            persist=self.state,
            send=[(learner, vote) for learner in self.config.learners],
            durable_first="reply-before-durable" not in self.config.bugs,
        )

    def _refuse(self, src: str, bal: int) -> Effects:
        """Tell the proposer of ``bal`` what was promised instead (nothing changes here)."""
        return Effects(send=[(src, Rejected(self.config.name, bal, self.state.max_bal))])


class Proposer:
    def __init__(self, config: NodeConfig):
        self.config = config
        self.index = config.proposers.index(config.name) if config.name in config.proposers else None
        self.ballot: int | None = None  # the ballot being run
        self.value: str | None = None  # what clients asked for, the latest request
        self.promises: dict[str, Promise] = {}
        self.proposed = False
        self.done = False

    def on_client(self, value: str, floor: int) -> Effects:
        self.value = value
        if self.ballot is None and not self.done:
            return self._start(self._first_ballot(floor))
        return Effects()

    def on_timeout(self, floor: int) -> Effects:
        """No decision in time: try again in this proposer's next ballot.

        ``floor`` is a ballot known to be promised already (the node's own
        acceptor's maxBal): starting below it would be wasted."""
        if self.done or self.value is None:
            return Effects()
        if self.ballot is None:
            return self._start(self._first_ballot(floor))
        return self._start(max(self.ballot + len(self.config.proposers), self._first_ballot(floor)))

    def on_rejected(self, m: Rejected) -> Effects:
        """An acceptor promised a higher ballot than the one being run: that
        ballot cannot succeed, so start at once the least one owned above it."""
        if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot:
            return Effects()
        return self._start(self._first_ballot(m.max_bal))

    def on_promise(self, m: Promise) -> Effects:
        """Phase2a: once a quorum promised this ballot, propose the value of
        the highest vote they report, or our own if they report none."""
        if m.bal != self.ballot or self.proposed:
            return Effects()
        self.promises[m.acc] = m
        for q in self.config.quorums:
            if q <= self.promises.keys():
                reports = [self.promises[a] for a in sorted(q)]
                value = self._safe_value(reports)
                self.proposed = True
                return Effects(send=[(a, Accept(m.bal, value)) for a in self.config.acceptors])
        return Effects()

    def _safe_value(self, reports: list[Promise]) -> str:
        votes = [r for r in reports if r.mbal >= 0]
        if not votes or "ignore-reported-votes" in self.config.bugs:
            assert self.value is not None
            return self.value
        return max(votes, key=lambda r: r.mbal).mval  # type: ignore[return-value]

    def _first_ballot(self, floor: int) -> int:
        """The least ballot this proposer owns above ``floor``."""
        if "reuse-ballot" in self.config.bugs:
            return 0
        mine, step = self.index or 0, len(self.config.proposers)
        if floor < mine:
            return mine
        return mine + ((floor - mine) // step + 1) * step

    def _start(self, b: int) -> Effects:
        if self.index is None or (self.config.ballots is not None and b >= self.config.ballots):
            return Effects()  # not a proposer, or out of ballots: give up
        self.ballot, self.promises, self.proposed = b, {}, False
        return Effects(send=[(a, Prepare(b)) for a in self.config.acceptors], timer=True)


class Learner:
    def __init__(self, config: NodeConfig):
        self.config = config
        self.votes: dict[tuple[int, str], set[str]] = {}
        self.decided: str | None = None

    def on_accepted(self, m: Accepted) -> Effects:
        """A value is chosen when a quorum voted for it in one ballot."""
        voters = self.votes.setdefault((m.bal, m.val), set())
        voters.add(m.acc)
        if self.decided is None and any(q <= voters for q in self.config.quorums):
            self.decided = m.val
            return Effects(decide=m.val)
        return Effects()


# -- the node ---------------------------------------------------------------


class Node:
    """One process: an acceptor (if named one), a proposer and a learner."""

    def __init__(self, config: NodeConfig, stored: AcceptorState | None = None):
        self.config = config
        self.acceptor = Acceptor(config, stored or AcceptorState()) if config.name in config.acceptors else None
        self.proposer = Proposer(config)
        self.learner = Learner(config)

    @property
    def decided(self) -> str | None:
        return self.learner.decided

    @property
    def durable(self) -> AcceptorState | None:
        """The acceptor state as this node holds it (None: no acceptor, nothing to keep)."""
        return self.acceptor.state if self.acceptor is not None else None

    def restore(self, state: AcceptorState | None) -> None:
        if self.acceptor is not None and state is not None:
            self.acceptor.state = state

    def clone(self) -> Node:
        """A copy sharing only what is immutable (configs, messages, states): the coverage walk clones a lot."""
        twin = _shallow(self)
        if self.acceptor is not None:
            twin.acceptor = _shallow(self.acceptor)
        twin.proposer = _shallow(self.proposer)
        twin.proposer.promises = dict(self.proposer.promises)
        twin.learner = _shallow(self.learner)
        twin.learner.votes = {k: set(v) for k, v in self.learner.votes.items()}
        return twin

    def handle(self, event: Event) -> Effects:
        floor = self.acceptor.state.max_bal if self.acceptor is not None else -1
        if isinstance(event, ClientRequest):
            return self.proposer.on_client(event.value, floor)
        if isinstance(event, Timeout):
            return self.proposer.on_timeout(floor)
        m = event.msg
        if isinstance(m, Prepare) and self.acceptor is not None:
            return self.acceptor.on_prepare(event.src, m)
        if isinstance(m, Accept) and self.acceptor is not None:
            return self.acceptor.on_accept(event.src, m)
        if isinstance(m, Rejected):
            return self.proposer.on_rejected(m)
        if isinstance(m, Promise):
            return self.proposer.on_promise(m)
        if isinstance(m, Accepted):
            effects = self.learner.on_accepted(m)
            if effects.decide is not None:
                self.proposer.done = True
            return effects
        return Effects()  # not for this node's roles: ignored


def _shallow(obj):
    """``copy.copy`` for a plain object, without its generic machinery."""
    twin = object.__new__(type(obj))
    twin.__dict__.update(obj.__dict__)
    return twin

"""The Multi-Paxos core: one replica of a replicated log, sans-I/O (in the manner of h11).

A replica is the spec's node (``spec.multipaxos``) made real: it keeps the
spec's fields (``leader``, ``bal_prepared``, ``bal_max_known``,
``commit_up_to`` as ``commit``, and one instance per slot with its status,
command and vote), all of them durable, and applies committed commands to
the key-value machine (``kvstate``). It takes one event at a time and
returns ``Effects``: the records to make durable (``LogState.apply`` replays
them, on a restart and in the simulator's disk), then the messages and the
answers to clients.

- Stable leader: a replica whose failure detector fires (no heartbeat for
  ``election_ticks``) takes a ballot of its own above every one it knows and
  prepares every slot from its first uncommitted one at once; once a
  majority promised, it proposes each client command in one round trip.
- Batching and pipelining: the commands that wait while earlier batches are
  in flight go out together in one ``Accept`` (at most ``batch``), and up to
  ``window`` batches are in flight at once. The host's group commit makes
  one fsync cover every record of the events it ran together.
- Catch-up: a replica reports its commit index in each ``Accepted``; the
  leader sends one that is behind the chosen commands it lacks (``CatchUp``),
  or its snapshot when the log was truncated before them.
- Snapshots: every ``snapshot_every`` applied commands the machine's state is
  recorded and the log before it dropped, so the log stays bounded.
- A replica refuses a ballot below its own with ``Reject`` carrying the
  highest ballot it knows: a candidate climbs above it in one round trip.

Reads go through the log like writes: a leader answers a read only once a
majority accepted it in its ballot, so a deposed leader, which can no longer
gather one, never answers from stale state. With a lease (``NodeConfig.lease``,
``lease.py``) a leader answers a read from its own state while a majority
promised to help no other leader; when the lease does not hold, through the log.

Known-wrong behaviours can be switched on by name (``NodeConfig.bugs``), the
Multi-Paxos gallery's variants, implemented; see ``IMPL_BUGS``.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...spec.gallery import story
from ..framing import MAX_FRAME
from ..protocol import ClientRequest, ClientRequests, Effects, Event, Receive, Timeout
from .kvstate import NOOP, READS, Command, KVState, request_problem
from .lease import NO_STAMP, Lease
from .messages import (
    NOT_LEADER,
    OK,
    REFUSED,
    UNKNOWN,
    Accept,
    Accepted,
    CatchUp,
    Prepare,
    Promise,
    Reject,
    Reply,
    fields_problem,
    inst_problem,
    snapshot_problem,
)
from .transfer import Assembly, Parts

EMPTY, PREPARING, ACCEPTING, COMMITTED = "Empty", "Preparing", "Accepting", "Committed"
# A Promise reports a candidate the chosen slots it lacks only up to this many bytes; beyond, catch-up does.
PROMISE_BYTES = MAX_FRAME // 4

IMPL_BUGS = {
    name: story("multipaxos", name)
    for name in (
        "commit-on-too-few-replies",
        "silent-acceptor",
        "ignore-prepare-votes",
        "stale-leader-read",
        "accept-below-promise",
    )
}


@dataclass(frozen=True)
class NodeConfig:
    name: str
    nodes: tuple[str, ...]
    bugs: frozenset[str] = frozenset()
    batch: int = 512  # commands in one Accept, at most
    batch_bytes: int = 128 * 1024  # bytes of commands (JSON) in one Accept or CatchUp, at most (one always goes)
    window: int = 2  # batches in flight, at most
    election_ticks: int = 10  # ticks without a heartbeat before a follower stands (staggered by position)
    resend_ticks: int = 1  # a leader's ticks between retransmissions of the Accepts a replica has not answered
    snapshot_every: int = 10_000  # applied commands between snapshots; 0: never
    catch_up: bool = True  # send a lagging replica the chosen commands it lacks
    fill_holes: bool = True  # a leader fills an empty slot below its last one with a noop
    restand: bool = True  # a candidate that gathered no majority stands again (above a Reject's ballot)
    max_ballot: int | None = None  # None: unbounded
    max_slots: int | None = None  # None: unbounded
    lease: float = 0.0  # seconds of the leader lease reads are answered under (lease.py); 0: reads go through the log

    @property
    def protocol(self) -> Any:
        from . import PROTOCOL

        return PROTOCOL

    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1


@dataclass  # not frozen, as Command (kvstate.py): nothing changes an instance once made, nor hashes one
class Inst:
    """One slot, as the spec has it: status, command, and the last vote (ballot, command)."""

    status: str
    cmd: Command | None
    vbal: int = 0
    vcmd: Command | None = None

    def to_json(self, slot: int) -> list:
        return [slot, self.status, _cmd_json(self.cmd), self.vbal, _cmd_json(self.vcmd)]

    @classmethod
    def from_json(cls, doc: list) -> tuple[int, Inst]:
        slot, status, cmd, vbal, vcmd = doc
        return slot, cls(status, _cmd(cmd), vbal, _cmd(vcmd))

    def committed(self) -> Inst:
        """This instance, Committed: made once, so a replica's state and its store's copy share it."""
        twin = self.__dict__.get("_committed")
        if twin is None:
            twin = self.__dict__["_committed"] = Inst(COMMITTED, self.cmd, self.vbal, self.vcmd)
        return twin


class InstRecord(list):
    """An ``inst`` record that keeps the instance it was made from: applying it
    (to the node's state, and to the store's) then parses nothing back."""

    __slots__ = ("inst",)

    def __init__(self, slot: int, inst: Inst):
        cmd, vcmd = inst.cmd, inst.vcmd
        cmd_doc = None if cmd is None else cmd.to_json()
        vcmd_doc = cmd_doc if vcmd is cmd else None if vcmd is None else vcmd.to_json()
        super().__init__(("inst", slot, inst.status, cmd_doc, inst.vbal, vcmd_doc))
        self.inst = inst


NO_INST = Inst(EMPTY, None)  # a slot the log does not hold


def _cmd_json(c: Command | None) -> list | None:
    return None if c is None else c.to_json()


def _cmd(doc: Any) -> Command | None:
    return None if doc is None else Command.from_json(doc)


@dataclass
class LogState:
    """What a replica keeps durable: the spec's node (less the state machine's
    value, which replaying the committed commands gives) and a snapshot.

    It changes only by records (``apply``), the unit the store writes:
    ``["follow", bal, leader, reset]``, ``["prepared", bal]``,
    ``["inst", slot, status, cmd, vbal, vcmd]``, ``["commit", upto]``,
    ``["snapshot", index, state]``."""

    leader: str | None = None
    bal_prepared: int = 0
    bal_max_known: int = 0
    commit: int = 0
    insts: dict[int, Inst] = field(default_factory=dict)
    snapshot_index: int = 0
    snapshot: dict | None = None  # the machine's state after slot snapshot_index (None: the initial one)

    def apply(self, rec: list) -> None:
        kind = rec[0]
        if kind == "inst":
            slot, inst = (rec[1], rec.inst) if isinstance(rec, InstRecord) else Inst.from_json(rec[1:])
            if slot > self.snapshot_index:
                self.insts[slot] = inst
        elif kind == "follow":
            _, self.bal_max_known, self.leader, reset = rec
            if reset:
                for slot, inst in self.insts.items():
                    if inst.status == ACCEPTING:
                        self.insts[slot] = Inst(PREPARING, inst.cmd, inst.vbal, inst.vcmd)
        elif kind == "prepared":
            self.bal_prepared = rec[1]
        elif kind == "commit":
            # The slots up to it are Committed (the spec's HandleAcceptReplies and HandleCommitNotice, slot by slot)
            upto = rec[1]
            if upto - self.commit <= len(self.insts):
                newly = [slot for slot in range(self.commit + 1, upto + 1) if slot in self.insts]
            else:  # a far commit index (a replica that was behind): only the slots it holds
                newly = [slot for slot in self.insts if self.commit < slot <= upto]
            insts = self.insts
            for slot in newly:
                insts[slot] = insts[slot].committed()
            self.commit = max(self.commit, rec[1])
        elif kind == "snapshot":
            _, index, state = rec
            if index > self.snapshot_index:
                self.snapshot_index, self.snapshot = index, state
                self.commit = max(self.commit, index)
                self.insts = {s: i for s, i in self.insts.items() if s > index}
        else:
            raise ValueError(f"unknown record {kind!r}")

    def after(self, records: Iterable[list]) -> LogState:
        """A copy with ``records`` applied (the simulator's disk: the stored state is never changed in place)."""
        twin = LogState(
            self.leader,
            self.bal_prepared,
            self.bal_max_known,
            self.commit,
            dict(self.insts),
            self.snapshot_index,
            self.snapshot,
        )
        for rec in records:
            twin.apply(rec)
        return twin

    def records(self) -> list[list]:
        """Records that rebuild this state from the initial one (a compacted log)."""
        out: list[list] = []
        if self.snapshot_index:
            out.append(["snapshot", self.snapshot_index, self.snapshot])
        out.append(["follow", self.bal_max_known, self.leader, False])
        out.append(["prepared", self.bal_prepared])
        out.extend(["inst", *inst.to_json(slot)] for slot, inst in sorted(self.insts.items()))
        out.append(["commit", self.commit])
        return out

    @property
    def last_slot(self) -> int:
        # Asked on every tick and every answer: kept until the log gains a slot. Slots are only ever
        # added to a log's dict (a snapshot's truncation makes a new one), so its length tells.
        insts, seen = self.insts, self.__dict__.get("_last")
        if seen is not None and seen[0] is insts and seen[1] == len(insts):
            return seen[2]
        last = max(insts, default=self.snapshot_index)
        self.__dict__["_last"] = (insts, len(insts), last)
        return last


def record_problem(rec: Any) -> str | None:
    """Why ``rec`` is not a record of a replica's log (None: it is one): the
    store checks every record it reads back with the checks the wire uses."""
    if not isinstance(rec, list) or not rec:
        return "a record is a non-empty list"
    kind, args = rec[0], rec[1:]
    if kind == "inst":
        return inst_problem(args)
    if kind == "follow" and len(args) == 3:
        bal, leader, reset = args
        return fields_problem({"bal": bal, "leader": leader}) or (None if isinstance(reset, bool) else "reset: a bool")
    if kind in ("prepared", "commit") and len(args) == 1:
        return fields_problem({"bal": args[0]})
    if kind == "snapshot" and len(args) == 2:
        return snapshot_problem({"index": args[0], "state": args[1]})
    return f"unknown record {str(kind)[:20]!r}"


def disk_after(stored: LogState | None, records: list) -> LogState:
    return (stored or LogState()).after(records)


class Node:
    """One replica; see the module's docstring."""

    def __init__(self, config: NodeConfig, stored: LogState | None):
        self.config = config
        self.name = config.name
        self.index = config.nodes.index(config.name)
        self.state = (stored or LogState()).after(())
        self.kv = KVState() if self.state.snapshot is None else KVState.from_json(self.state.snapshot)
        self.applied = self.state.snapshot_index
        # volatile: what a restart forgets
        self.now = 0.0
        self.quiet = 0  # ticks since this replica last heard from a leader of a ballot it knows
        self.beats = 0  # heartbeats sent as leader
        self.commit_last_tick = 0  # the commit index at the last of them
        self.promises: dict[str, dict[int, Inst]] = {}
        if self.role == "candidate":  # restarted while standing: its own promise is its log, which it kept
            self.promises[self.name] = self._insts_from(self.state.commit + 1)
        self.acks: dict[int, set[str]] = {}
        self.peer_commit: dict[str, int] = {}
        self.caught_up: dict[str, int] = {}  # peer -> the tick we last sent it a CatchUp
        self.parts = Parts()  # our snapshot as the CatchUps to lagging peers carry it
        self.assembly = Assembly()  # the parts of a leader's snapshot received so far
        self.in_flight: deque[int] = deque()  # the last slot of each batch in flight, oldest first
        self.queue: deque[tuple[str, Command]] = deque()  # (reply-to, command) waiting for room in the window
        self.waiting: dict[tuple[str, int], str] = {}  # command key -> reply-to, once logged
        self.highest_seen = self.state.bal_max_known
        # How many slots of the log hold each command: a retry of one the log holds waits for it; one whose
        # slot another command took (a leader deposed before it was chosen) is proposed again.
        self.logged: Counter[tuple[str, int]] = Counter()
        self._count_logged()
        # Stamps never decrease along the log, whoever leads: a lease is measured in them.
        self.stamp = max((i.cmd.t for i in self.state.insts.values() if i.cmd is not None), default=self.kv.clock)
        self.lease = Lease(self.config.lease)  # volatile too: a (re)started replica allows for what it forgot
        self.lease.lead(self.name, self.state.bal_prepared, self.state.last_slot)
        self._records: list[list] = []
        self._send: list[tuple[str, Any]] = []
        self._reply: list[tuple[str, Any]] = []
        self._catch_up_committed()

    # -- the runtime's interface ----------------------------------------------

    @property
    def decided(self) -> None:
        return None

    @property
    def durable(self) -> LogState:
        return self.state

    def restore(self, state: LogState) -> None:
        self.__init__(self.config, state)  # type: ignore[misc]

    def clone(self) -> Node:
        return copy.deepcopy(self)

    @property
    def role(self) -> str:
        if self.state.leader != self.name:
            return "follower"
        return "leader" if self.prepared else "candidate"

    @property
    def prepared(self) -> bool:
        s = self.state
        return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared > 0

    def handle(self, event: Event, at: float | None = None) -> Effects:
        """``at``: the host's monotonic clock as it handles ``event`` (None: no clock, so no lease)."""
        self._records, self._send, self._reply = [], [], []
        self.lease.clock(at)
        if isinstance(event, Receive):
            self._receive(event.msg)
        elif isinstance(event, ClientRequest):
            self._request(event)
        elif isinstance(event, ClientRequests):
            for request in event.requests:
                self._request(request, propose=False)
            while self._propose():  # all of them at once: as few batches as the window has room for
                pass
        elif isinstance(event, Timeout):
            self._tick(event.now)
        self._send = self.lease.stamped(self._send, Accept)
        return Effects(persist=self._records or None, send=self._send, reply=self._reply)

    # -- records: every durable change goes through here --------------------------

    def _emit(self, rec: list) -> None:
        self.state.apply(rec)
        self._records.append(rec)

    def _count_logged(self) -> None:
        self.logged = Counter(inst.cmd.key for inst in self.state.insts.values() if inst.cmd is not None)

    def _set_inst(self, slot: int, inst: Inst) -> None:
        self._records.append(InstRecord(slot, inst))
        if slot <= self.state.snapshot_index:
            return  # as LogState.apply does with this record (without reading it back)
        insts = self.state.insts
        if self.state.leader == self.name:  # only a leader asks what its log holds; one that stands counts it anew
            self._count_change(insts.get(slot), inst)
        if inst.cmd is not None:
            self.stamp = max(self.stamp, inst.cmd.t)
        insts[slot] = inst

    def _count_change(self, old: Inst | None, new: Inst) -> None:
        """``logged`` as a slot's instance goes from ``old`` to ``new``."""
        logged = self.logged  # by get and set: a Counter's missing key costs a call of its __missing__
        if old is not None and old.cmd is not None:
            key = old.cmd.key
            left = logged.get(key, 0) - 1
            if left > 0:
                logged[key] = left
            else:
                logged.pop(key, None)
        if new.cmd is not None:
            logged[new.cmd.key] = logged.get(new.cmd.key, 0) + 1

    def _follow(self, bal: int, leader: str, reset: bool) -> None:
        s = self.state
        if (s.bal_max_known, s.leader) != (bal, leader) or reset:
            # Leading, or standing again after it led: either way clients may be waiting on it.
            held_lead = s.leader == self.name
            self._emit(["follow", bal, leader, reset])
            if held_lead and leader != self.name:
                self._step_down()
            if leader == self.name:
                self._count_logged()  # a follower does not keep the count (see _set_inst)
        self.highest_seen = max(self.highest_seen, bal)

    def _broadcast(self, msg: Any, include_self: bool = False) -> None:
        for n in self.config.nodes:
            if n != self.name or include_self:
                self._send.append((n, msg))

    # -- events -------------------------------------------------------------------

    def _receive(self, msg: Any) -> None:
        if getattr(msg, "src", None) not in self.config.nodes:
            return  # not a replica of this cluster: nothing it says binds us
        handler = getattr(self, "_on_" + msg.type, None)
        if handler is not None:
            handler(msg)

    def _tick(self, now: float | None) -> None:
        self.now = self.now + 1.0 if now is None else max(self.now, now)
        if self.prepared:
            self._heartbeat()
            return
        self.quiet += 1
        stagger = self.config.election_ticks * self.index // max(1, len(self.config.nodes))
        if self.quiet < self.config.election_ticks + stagger:
            return
        if self.lease.binds():
            return  # it promised a leader's lease to help no other leader yet, itself included
        if self.state.leader != self.name or self.config.restand:
            self._stand(self.highest_seen)

    # -- phase 1 ------------------------------------------------------------------

    def _next_ballot(self, above: int) -> int | None:
        n = len(self.config.nodes)
        b = above + 1
        b += (self.index - (b - 1)) % n  # the least ballot above ``above`` this replica owns
        limit = self.config.max_ballot
        return None if limit is not None and b > limit else b

    def _stand(self, above: int) -> None:
        b = self._next_ballot(max(above, self.state.bal_max_known))
        if b is None:
            return
        self.quiet = 0
        self._follow(b, self.name, reset=True)
        self._emit(["prepared", 0])
        first = self.state.commit + 1
        self.promises = {self.name: self._insts_from(first)}
        self.acks = {}
        self.in_flight.clear()
        self._broadcast(Prepare(self.name, b, first))
        self._try_prepared()

    def _insts_from(self, first: int) -> dict[int, Inst]:
        return {s: i for s, i in self.state.insts.items() if s >= first}

    def _on_prepare(self, m: Prepare) -> None:
        s = self.state
        if m.bal <= s.bal_max_known:
            if m.bal < s.bal_max_known:
                self._send.append((m.src, Reject(self.name, m.bal, s.bal_max_known)))
            return
        if self.lease.binds():
            return  # it promised a leader's lease to help no other leader yet: the candidate stands again later
        self.quiet = 0
        self._follow(m.bal, m.src, reset=True)
        reported = sorted(self._insts_from(m.first).items())
        truncated = s.snapshot_index
        if m.first <= s.commit and _inst_bytes(i for _, i in reported) > PROMISE_BYTES and self.config.catch_up:
            # Too many chosen slots for one frame: the candidate gets them by catch-up, and reads this
            # Promise as from a log truncated at our commit index (it does not count it, and stands again).
            reported, truncated = [], s.commit
        insts = [inst.to_json(slot) for slot, inst in reported]
        self._send.append((m.src, Promise(self.name, m.bal, insts, s.commit, truncated)))
        if truncated >= m.first and self.config.catch_up:
            self._send_catch_up(m.src, m.first - 1)

    def _on_promise(self, m: Promise) -> None:
        s = self.state
        if not (s.leader == self.name and s.bal_prepared == 0 and m.bal == s.bal_max_known):
            return
        if m.truncated >= s.commit + 1:
            return  # its log no longer holds slots we need: its CatchUp comes with this Promise
        self.promises[m.src] = dict(Inst.from_json(doc) for doc in m.insts)
        self._try_prepared()

    def _try_prepared(self) -> None:
        if len(self.promises) < self.config.majority:
            return
        s = self.state
        b = s.bal_max_known
        reports = self.promises
        if "ignore-prepare-votes" in self.config.bugs:
            reports = {self.name: self.promises[self.name]}  # BUG: the others' votes are not looked at
        slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit + 1).keys())
        resumed = []
        for slot in sorted(slots):
            if slot <= s.commit:
                continue
            inst = s.insts.get(slot, NO_INST)
            peak = _peak(r.get(slot) for r in reports.values())
            resume = inst.status == PREPARING or (inst.status == EMPTY and peak is not None)
            if resume:
                self._set_inst(slot, Inst(ACCEPTING, peak or NOOP, inst.vbal, inst.vcmd))
                resumed.append(slot)
        self._emit(["prepared", b])
        self.lease.lead(self.name, b, s.last_slot)
        self.promises = {}
        for first, cmds in _runs((slot, s.insts[slot].cmd) for slot in resumed):
            self._broadcast(Accept(self.name, b, first, cmds, s.commit), include_self=True)
        self._propose()

    # -- phase 2 ------------------------------------------------------------------

    def _request(self, event: ClientRequest, propose: bool = True) -> None:
        op, args = event.command if isinstance(event.command, (tuple, list)) and len(event.command) == 2 else ("", [])
        if problem := request_problem(event.client, event.request_id, op, args):
            rid = event.request_id if isinstance(event.request_id, int) and 0 <= event.request_id < 2**63 else 0
            self._reply.append((event.src, Reply(str(event.client)[:256], rid, REFUSED, problem, None)))
            return
        cmd = Command(event.client, event.request_id, op, tuple(args))
        if not self.prepared:
            leader = self.state.leader if self.state.leader != self.name else None
            self._reply.append((event.src, Reply(cmd.client, cmd.rid, NOT_LEADER, None, leader)))
            return
        seen, result = self.kv.duplicate(cmd)
        if seen:
            self._reply.append((event.src, Reply(cmd.client, cmd.rid, OK, result, self.name)))
            return
        s = self.state
        if op in READS and (
            self.lease.readable(s.bal_prepared, self.config.majority, s.commit, self.applied)
            or "stale-leader-read" in self.config.bugs
        ):
            # From this replica's own state: under a lease that holds, or (the BUG) with no majority asked at all
            self._reply.append((event.src, Reply(cmd.client, cmd.rid, OK, self.kv.read(op, args), self.name)))
            return
        if cmd.key in self.logged:
            self.waiting[cmd.key] = event.src  # logged already (a retry): answered when it commits
            return
        self.queue.append((event.src, cmd))
        if propose:
            self._propose()

    def _room(self) -> int:
        """Commands the next batch may carry: none while ``window`` batches are in flight (the
        commands that wait meanwhile go out together), else up to ``batch``."""
        commit = self.state.commit
        while self.in_flight and self.in_flight[0] <= commit:
            self.in_flight.popleft()
        return 0 if len(self.in_flight) >= self.config.window else self.config.batch

    def _slot_limit(self) -> int:
        """The last slot a replica takes an Accept for: within the configured
        bound, and not absurdly past its commit index (no hole it would have to fill is that wide)."""
        bound = self.state.commit + 64 * self.config.window * self.config.batch
        return bound if self.config.max_slots is None else min(bound, self.config.max_slots)

    def _free_slots(self) -> Iterable[int]:
        s = self.state
        slot = s.commit + 1
        while self.config.max_slots is None or slot <= self.config.max_slots:
            if slot not in s.insts:
                yield slot
            slot += 1

    def _propose(self) -> bool:
        """TakeNewRequest, for the queued commands one batch has room for; whether it proposed any."""
        if not self.prepared or not self.queue:
            return False
        s = self.state
        room = self._room()
        if room <= 0:
            return False
        stamp = self.stamp = max(self.now, self.stamp)
        proposed: list[tuple[int, Command]] = []
        free = iter(self._free_slots())
        size = 0
        while self.queue and len(proposed) < room:
            src, cmd = self.queue[0]
            if cmd.key in self.logged:
                self.queue.popleft()
                self.waiting[cmd.key] = src
                continue
            cmd = Command(cmd.client, cmd.rid, cmd.op, cmd.args, stamp)
            size += cmd.json_size
            if proposed and size > self.config.batch_bytes:
                break  # a frame has a size limit: the rest goes in the next batch
            slot = next(free, None)
            if slot is None:
                break
            self.queue.popleft()
            self._set_inst(slot, Inst(ACCEPTING, cmd, s.bal_prepared, cmd))
            self.acks[slot] = {self.name}
            self.waiting[cmd.key] = src
            proposed.append((slot, cmd))
        for first, cmds in _runs(proposed):
            self._broadcast(Accept(self.name, s.bal_prepared, first, cmds, s.commit))
        if proposed:
            self.in_flight.append(proposed[-1][0])
        self._try_commit()
        return bool(proposed)

    def _on_accept(self, m: Accept) -> None:
        s = self.state
        below_promise = m.bal < s.bal_max_known
        if below_promise and "accept-below-promise" not in self.config.bugs:
            self._send.append((m.src, Reject(self.name, m.bal, s.bal_max_known)))
            return
        if not below_promise:
            self.quiet = 0
        echo = NO_STAMP if below_promise else self.lease.promise(m.sent)
        voted = []
        limit = self._slot_limit()
        follow = not below_promise  # once, before the first vote this Accept changes
        for k, doc in enumerate(m.cmds):
            slot = m.first + k
            inst = s.insts.get(slot, NO_INST)
            if slot <= s.snapshot_index or slot > limit:
                continue
            if m.bal > inst.vbal:
                if follow:
                    self._follow(m.bal, m.src, reset=False)
                    follow = False
                cmd = Command.from_json(doc)
                # As the spec: Accepting again even below the commit index (the command is the chosen one,
                # applied already; the commit index does not move back).
                self._set_inst(slot, Inst(ACCEPTING, cmd, m.bal, cmd))
                voted.append(slot)
            elif m.bal == inst.vbal:
                voted.append(slot)  # voted already (a retransmission): its Accepted was lost, or this is a copy
        if not below_promise:
            # Before answering: the commit index the answer reports is then one the leader's own
            # notice could not raise, and a replica below it is one that needs catching up.
            self._learn_commit(m.bal, m.commit)
        if "silent-acceptor" not in self.config.bugs:  # BUG when it is: the votes are kept, never told
            for first, last in _ranges(voted):
                self._send.append((m.src, Accepted(self.name, m.bal, first, last, s.commit, echo)))
            if not m.cmds and not below_promise:
                self._send.append((m.src, Accepted(self.name, m.bal, m.first, m.first - 1, s.commit, echo)))

    def _learn_commit(self, bal: int, upto: int) -> None:
        """HandleCommitNotice, slot by slot: a follower commits a slot the
        leader of ``bal`` committed when its own vote there is that leader's."""
        s = self.state
        if s.leader == self.name:
            return
        start = s.commit
        slot = s.commit + 1
        while slot <= upto:
            inst = s.insts.get(slot)
            if inst is None or inst.status != ACCEPTING or inst.vbal != bal:
                break
            slot += 1
        if slot - 1 > start:
            self._emit(["commit", slot - 1])
            self._apply_committed()

    def _on_accepted(self, m: Accepted) -> None:
        s = self.state
        if not (self.prepared and m.bal == s.bal_prepared):
            return
        self.lease.acknowledged(m.src, m.bal, m.sent)
        self.peer_commit[m.src] = m.commit
        for slot in range(max(m.first, s.commit + 1), min(m.last, s.last_slot) + 1):
            self.acks.setdefault(slot, set()).add(m.src)
        self._try_commit()
        # Below the commit index of the last tick, every Accept since has told the replica: it lacks
        # slots (it restarted, or lost Accepts). Merely behind this tick's, it has yet to hear of them.
        if m.commit < self.commit_last_tick and self.config.catch_up:
            self._send_catch_up(m.src, m.commit)
        self._propose()

    def _needed(self) -> int:
        if "commit-on-too-few-replies" in self.config.bugs:
            return max(1, self.config.majority - 1)  # BUG: a majority is needed
        return self.config.majority

    def _try_commit(self) -> None:
        """HandleAcceptReplies, slot by slot, while the next one has a majority."""
        s = self.state
        start = s.commit
        slot = s.commit + 1
        while True:
            inst = s.insts.get(slot)
            if inst is None or inst.status != ACCEPTING or len(self.acks.get(slot, ())) < self._needed():
                break
            self.acks.pop(slot, None)
            slot += 1
        if slot - 1 > start:
            self._emit(["commit", slot - 1])
            self._apply_committed()

    def _on_reject(self, m: Reject) -> None:
        self.highest_seen = max(self.highest_seen, m.promised)
        s = self.state
        if s.leader == self.name and m.bal == s.bal_max_known and m.promised > m.bal and self.config.restand:
            self._stand(m.promised)  # above the ballot that refused us, in one round trip

    # -- applying, answering, catching up -----------------------------------------

    def _apply_committed(self) -> None:
        s = self.state
        while self.applied < s.commit:
            slot = self.applied + 1
            inst = s.insts.get(slot)
            if inst is None:
                break  # truncated or not learned: a snapshot or catch-up brings it
            result = self.kv.apply(inst.cmd or NOOP)
            self.applied = slot
            cmd = inst.cmd
            if cmd is not None and cmd.key in self.waiting:
                src = self.waiting.pop(cmd.key)
                self._reply.append((src, Reply(cmd.client, cmd.rid, OK, result, self.name)))
        every = self.config.snapshot_every
        if every and self.applied - s.snapshot_index >= every:
            self._emit(["snapshot", self.applied, self.kv.to_json()])
            self._count_logged()

    def _catch_up_committed(self) -> None:
        """On start: apply what the log says is committed (no one waits for those answers)."""
        self._apply_committed()
        self._reply.clear()
        self._records.clear()

    def _send_catch_up(self, peer: str, their_commit: int) -> None:
        tick = int(self.now)
        if self.caught_up.get(peer) == tick:
            return  # one CatchUp a tick per peer: more would only repeat it
        self.caught_up[peer] = tick
        s = self.state
        snapshot = None
        first = their_commit + 1
        if first <= s.snapshot_index:
            snapshot = self.parts.for_peer(peer, s.snapshot_index, s.snapshot)  # whole, or its next part
            first = s.snapshot_index + 1
        last = min(s.commit, first + self.config.batch - 1)
        if any(slot not in s.insts for slot in range(first, last + 1)):
            return
        chosen = [s.insts[slot].cmd or NOOP for slot in range(first, last + 1)]
        cmds = [cmd.to_json() for cmd in chosen[: _fitting(chosen, self.config.batch_bytes)]]
        last = first + len(cmds) - 1
        self._send.append((peer, CatchUp(self.name, s.bal_max_known, snapshot, first, cmds, last)))

    def _on_catchup(self, m: CatchUp) -> None:
        if not self.config.catch_up:
            return
        s = self.state
        snapshot = None if m.snapshot is None or m.snapshot["index"] <= s.commit else self.assembly.add(m.snapshot)
        if snapshot is not None:
            try:
                kv = KVState.from_json(snapshot["state"])
            except ValueError:
                return  # parts that did not make a machine's state: the next round of them may
            self._emit(["snapshot", snapshot["index"], snapshot["state"]])
            self.kv = kv
            self.applied = snapshot["index"]
            self._count_logged()
        if m.first > s.commit + 1:
            return
        for k, doc in enumerate(m.cmds):
            slot = m.first + k
            if slot > s.commit:
                inst = s.insts.get(slot, NO_INST)
                cmd = Command.from_json(doc)
                if inst.cmd != cmd or inst.status != ACCEPTING:  # else it holds it already: nothing to log
                    self._set_inst(slot, Inst(ACCEPTING, cmd, inst.vbal, inst.vcmd))
        if m.commit > s.commit:
            self._emit(["commit", min(m.commit, m.first + len(m.cmds) - 1)])
            self._apply_committed()

    def _heartbeat(self) -> None:
        """A prepared leader's tick: the commit index to everyone (its heartbeat),
        the slots a replica has not voted for again, and holes filled."""
        s = self.state
        if self.config.fill_holes and not self.queue:
            holes = [slot for slot in range(s.commit + 1, s.last_slot) if slot not in s.insts][: self.config.batch]
            for slot in holes:
                self._set_inst(slot, Inst(ACCEPTING, NOOP, s.bal_prepared, NOOP))
                self.acks[slot] = {self.name}
            for first, cmds in _runs((slot, NOOP) for slot in holes):
                self._broadcast(Accept(self.name, s.bal_prepared, first, cmds, s.commit))
        self.beats += 1
        self.commit_last_tick = s.commit
        unvoted = [
            (slot, inst.cmd)
            for slot in range(s.commit + 1, s.last_slot + 1)
            if (inst := s.insts.get(slot)) is not None and inst.status == ACCEPTING and inst.vbal == s.bal_prepared
        ][: self.config.batch]
        unvoted = unvoted[: _fitting((cmd for _, cmd in unvoted), self.config.batch_bytes)]
        if self.beats % self.config.resend_ticks:
            unvoted = []  # a batch in flight is not resent before its answers had time to come back
        resend = dict(_runs(unvoted))
        for peer in self.config.nodes:
            if peer == self.name:
                continue
            behind = {first: cmds for first, cmds in resend.items() if peer not in self.acks.get(first, ())}
            for first, cmds in behind.items():
                self._send.append((peer, Accept(self.name, s.bal_prepared, first, cmds, s.commit)))
            if not behind:
                self._send.append((peer, Accept(self.name, s.bal_prepared, s.commit + 1, [], s.commit)))
        self._try_commit()
        self._propose()

    def _step_down(self) -> None:
        """No longer leader: queued commands were never logged (the client may
        try elsewhere); logged ones may yet be chosen, so their fate is unknown."""
        leader = self.state.leader
        for src, cmd in self.queue:
            self._reply.append((src, Reply(cmd.client, cmd.rid, NOT_LEADER, None, leader)))
        for (client, rid), src in self.waiting.items():
            self._reply.append((src, Reply(client, rid, UNKNOWN, None, leader)))
        self.queue, self.waiting, self.acks = deque(), {}, {}
        self.in_flight.clear()


def _peak(insts: Iterable[Inst | None]) -> Command | None:
    """The command voted at the highest ballot among the reports (None: no vote).
    Two reports at one ballot carry one command (one leader a ballot); the least is taken all the same."""
    votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal > 0]
    if not votes:
        return None
    top = max(b for b, _ in votes)
    return min((c for b, c in votes if b == top), key=lambda c: c.to_json() if c else [])


def _runs(items: Iterable[tuple[int, Command | None]]) -> list[tuple[int, list]]:
    """Consecutive slots grouped: [(first slot, [command JSON, ...]), ...]."""
    out: list[tuple[int, list]] = []
    prev = None
    for slot, cmd in items:
        doc = _cmd_json(cmd or NOOP)
        if prev is not None and slot == prev + 1:
            out[-1][1].append(doc)
        else:
            out.append((slot, [doc]))
        prev = slot
    return out


def _fitting(cmds: Iterable[Command | None], budget: int) -> int:
    """How many of ``cmds``, from the first, fit in ``budget`` bytes of JSON (the first always does)."""
    size = count = 0
    for cmd in cmds:
        size += (cmd or NOOP).json_size
        if count and size > budget:
            break
        count += 1
    return count


def _inst_bytes(insts: Iterable[Inst]) -> int:
    """A bound on the bytes of these instances' JSON (each: its slot, status and ballot, two commands)."""
    return sum(48 + (i.cmd or NOOP).json_size + (i.vcmd or NOOP).json_size for i in insts)


def _ranges(slots: list[int]) -> list[tuple[int, int]]:
    return [(first, first + len(cmds) - 1) for first, cmds in _runs((s, None) for s in slots)]

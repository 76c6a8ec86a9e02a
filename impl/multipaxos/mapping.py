"""The refinement mapping from the Multi-Paxos replicas to ``spec.multipaxos``,
and the check that every step of a simulated run is a step of the spec.

The mapping:

- ``node[r]``: what replica r's *durable* log holds (``LogState``): leader,
  ballots, commit index and each slot's instance, field for field, commands
  by their spec names (the client of ``command_request``; a noop is "nil",
  or the extended spec's ``noop``); ``kvalue`` is the key's value in its
  snapshot, overwritten by the writes it committed after it;
- ``msgs``: every protocol message sent, each as the spec messages it stands
  for: a ``Prepare`` as ``Prepare``; a ``Promise`` as ``PrepareReply`` with
  the replier's votes for every slot; an ``Accept`` of a batch as one
  ``Accept`` per slot (a heartbeat, empty, as none); an ``Accepted`` of slots
  first..last as one ``AcceptReply`` per slot; plus what the spec's steps
  send that the implementation folds into others: a candidate's own
  ``PrepareReply`` when it stands, a leader's own ``AcceptReply`` for the
  commands it logs, and the ``CommitNotice`` of each slot a leader commits
  (the implementation sends the commit index in its next Accept). ``Reject``
  and ``CatchUp`` stand for nothing (a replica that takes a ``CatchUp``
  learns chosen commands: see ``Learn`` below);
- ``pending`` and ``observed``: history variables, as the spec's clients see
  it: a command is requested (``Req``) when a leader first logs it, and
  acknowledged (``Ack``, with the value before it) when a leader commits it.

A candidate adopts the votes of the promises it received; the spec's
``HandlePrepareReplies`` adopts those of every reply sent for its ballot,
received or not, which no process can do. A reply still in flight commutes
with the candidate's step (the replier's ``HandlePrepare`` and the
candidate's step touch different replicas, and only the candidate reads the
reply), so the check moves it after: the candidate's steps are searched with
the replies it has not received left out of ``msgs``, then put back.

One handler run may be several spec steps (a batch logged, several slots
committed at once): it conforms when a sequence of spec steps of that
replica, at most one per slot and message, leads from the state before to the
state after. Obligations beyond the state: every answer a replica gives a
client is an acknowledgement the spec made, with the same value.

Faults and the core's features beyond MultiPaxos.tla (``SimConfig``: all on
unless ``faithful``):

- a crash loses what is volatile (promises and acks gathered, the queue,
  who waits for an answer) and every message to the replica while it is
  down: the spec's message loss. The log survives; a restart rebuilds the
  replica from it, a stutter. A candidate forgets the promises it took, so
  those replies count as not received again;
- a snapshot truncates the log: the mapping reads a ghost of each log, kept
  by the check from the records the replica writes (``untruncated``): the
  log with no slot dropped, which must equal the log on disk less the slots
  under the snapshot. A snapshot installed from a peer commits each slot up
  to its index with the command the peer had committed there;
- catch-up, snapshots installed, noops in holes and a candidate standing
  again are the steps ``Learn``, ``FillHole`` and ``StandAgain`` of
  ``impl.multipaxos.extended``, MultiPaxos.tla with them (the module says why
  none is a sequence of the TLA+'s steps); a noop is that spec's ``noop``.
  There the replicas go on once every command is acknowledged, and so does
  the check; MultiPaxos.tla's may then only leave their loops, and a
  ``faithful`` run's check stops there.
"""

from __future__ import annotations

import copy
from collections import deque

from ...explorer.trace import Step, Trace
from ...spec.base import Action
from ...spec.multipaxos import (
    COMMITTED,
    NIL,
    NONE,
    RLOOP,
    MPState,
    MultiPaxos,
    Vote,
    accept_msg,
    accept_reply_msg,
    ack_event,
    commit_notice_msg,
    observe,
    prepare_msg,
    prepare_reply_msg,
    req_event,
    votes_by_node,
)
from ...spec.multipaxos import Inst as SpecInst
from ...spec.multipaxos import Node as SpecNode
from ..conformance import left_the_spec
from ..protocol import Receive
from ..sim import HandlerRun, Restarted, Simulator
from .config import KEY, SimConfig
from .core import EMPTY, Inst, LogState
from .extended import ExtendedMultiPaxos
from .kvstate import Command
from .messages import OK, Accept, Accepted, CatchUp, Prepare, Promise, Reply

MAX_STEPS = 12  # spec steps one handler run may stand for


def spec_for(config: SimConfig) -> MultiPaxos:
    """The spec a run of ``config`` refines: MultiPaxos.tla's own when the core runs
    ``faithful``, else with the steps it takes beyond it (``ExtendedMultiPaxos``)."""
    spec = MultiPaxos if config.faithful else ExtendedMultiPaxos
    return spec(replicas=config.replicas, writes=config.writes, reads=config.reads, max_ballot=config.max_ballot)


def spec_name(cmd: Command | None, noop: str = NIL) -> str:
    """A command by its spec name (its client's); a noop as the spec names it."""
    if cmd is None:
        return NIL
    return noop if cmd.op == "noop" else cmd.client


def abstract_node(spec: MultiPaxos, state: LogState) -> SpecNode:
    """Replica state ``state`` as the spec's node, field for field (see the module);
    ``kvalue`` is what its snapshot holds under the key, overwritten by the
    writes it committed after the snapshot."""
    noop = getattr(spec, "noop", NIL)
    insts = []
    kvalue = (state.snapshot or {}).get("kv", {}).get(KEY, NIL)
    for slot in spec.slots:
        inst = state.insts.get(slot)
        if inst is None:
            insts.append(SpecInst("Empty", NIL, Vote(0, NIL)))
            continue
        insts.append(SpecInst(inst.status, spec_name(inst.cmd, noop), Vote(inst.vbal, spec_name(inst.vcmd, noop))))
        if state.snapshot_index < slot <= state.commit and inst.cmd is not None and inst.cmd.op == "put":
            kvalue = inst.cmd.args[1]
    return SpecNode(state.leader or NONE, kvalue, state.commit, state.bal_prepared, state.bal_max_known, tuple(insts))


def untruncated(log: LogState, records: list, peer: LogState | None) -> LogState:
    """The ghost of a replica's log: ``log`` (a ghost itself) after ``records``, as
    ``LogState.after`` but with no slot dropped by a snapshot. A snapshot above
    its commit index (installed from ``peer``, the sender's ghost) commits each
    slot up to its index with the command the sender had committed there, the
    replica's own vote left as it was."""
    ghost = log.after(())
    for rec in records:
        if rec[0] != "snapshot":
            ghost.apply(rec)
            continue
        index = rec[1]
        if index > ghost.snapshot_index:
            ghost.snapshot = rec[2]
        for slot in range(ghost.commit + 1, index + 1):
            own = ghost.insts.get(slot, Inst(EMPTY, None))
            ghost.insts[slot] = Inst(COMMITTED, peer.insts[slot].cmd if peer else None, own.vbal, own.vcmd)
        ghost.commit = max(ghost.commit, index)
        ghost.snapshot_index = max(ghost.snapshot_index, index)
    return ghost


def truncated_away(ghost: LogState, disk: LogState) -> bool:
    """Whether ``disk`` is ``ghost`` less the slots up to its snapshot (the ghost may keep nothing else)."""
    kept = {slot: inst for slot, inst in ghost.insts.items() if slot > disk.snapshot_index}
    fields = (disk.leader, disk.bal_prepared, disk.bal_max_known, disk.commit, disk.insts)
    return fields == (ghost.leader, ghost.bal_prepared, ghost.bal_max_known, ghost.commit, kept)


class Checker:
    """Observes a simulator and checks each handler run against the spec (see the module)."""

    def __init__(self, spec: MultiPaxos, sim: Simulator):
        self.spec = spec
        self.names = sim.config.node_names
        start = next(iter(spec.init()))
        self.trace = Trace(spec, [Step(None, start)])
        self.visited: set[MPState] = {start}
        self.runs = 0
        self.done = False  # every command acknowledged: the spec's replicas may only leave their loops
        self.received: set[tuple[str, str, int]] = set()  # (candidate, replier, ballot) of each Promise taken
        self.ghosts: dict[str, LogState] = {n: sim.disk[n] for n in self.names}  # each log, nothing truncated
        sim.observer = self

    def fork(self, twin: Simulator) -> Checker:
        other = copy.copy(self)
        other.trace = Trace(self.spec, list(self.trace.steps))
        other.visited = set()
        other.received, other.ghosts = set(self.received), dict(self.ghosts)
        twin.observer = other
        return other

    def next_states(self, state: MPState) -> dict[MPState, Action]:
        found: dict[MPState, Action] = {}
        for act, t in self.spec.next(state):
            found.setdefault(t, act)
        return found

    def __call__(self, sim: Simulator, run: HandlerRun) -> None:
        self.runs += 1
        if self.done:
            return
        before = self.trace.steps[-1].state
        self._note_promises(run, before)
        after = self._after(sim, run, before)
        if after != before:
            path = self._path(before, after, run.node)
            if path is None:
                self._fail(before, after, run, "no sequence of the spec's steps of this replica makes this step")
            for act, state in path:
                self.trace.steps.append(Step(act, state))
                self.visited.add(state)
        for _client, msg in run.effects.reply:
            if isinstance(msg, Reply) and msg.status == OK:
                self._check_answer(after, run, msg)
        # MultiPaxos.tla's replicas may only leave their loops once every command is acknowledged; the extended
        # spec's go on, and so does the check
        self.done = self.spec.terminated(after) and not isinstance(self.spec, ExtendedMultiPaxos)

    def _note_promises(self, run: HandlerRun, before: MPState) -> None:
        """Which candidate took which Promise: a restart forgets them all; one
        from a replica that truncated slots the candidate lacks is left aside
        (the core waits for its CatchUp instead), as though it were lost."""
        if isinstance(run.event, Restarted):
            self.received = {r for r in self.received if r[0] != run.node}
        elif isinstance(run.event, Receive) and isinstance(run.event.msg, Promise):
            m = run.event.msg
            if m.truncated < before.node[self.names.index(run.node)].commit_up_to + 1:
                self.received.add((run.node, m.src, m.bal))

    # -- the mapping --------------------------------------------------------------

    def _nodes(self, sim: Simulator, run: HandlerRun) -> tuple[SpecNode, ...]:
        """Every replica mapped from the ghost of its log (``untruncated``), which the run's records extend."""
        if run.effects.persist:
            msg = run.event.msg if isinstance(run.event, Receive) else None
            peer = self.ghosts[msg.src] if isinstance(msg, CatchUp) and msg.snapshot else None
            self.ghosts[run.node] = untruncated(self.ghosts[run.node], run.effects.persist, peer)
            if not truncated_away(self.ghosts[run.node], sim.disk[run.node]):
                # not a nonconformance: the mapping itself is wrong (and a RuntimeError stops the search)
                raise RuntimeError(f"the ghost of {run.node}'s log is not its log less the truncated slots")
        return tuple(abstract_node(self.spec, self.ghosts[n]) for n in self.names)

    def _after(self, sim: Simulator, run: HandlerRun, before: MPState) -> MPState:
        spec = self.spec
        noop = getattr(spec, "noop", NIL)
        i = self.names.index(run.node)
        nodes = self._nodes(sim, run)
        me, was = nodes[i], before.node[i]
        sent = set()
        for _dst, m in run.effects.send:
            sent |= self._spec_messages(m, me)
        if me.bal_prepared == 0 and me.leader == run.node and me.bal_max_known != was.bal_max_known:
            sent.add(prepare_reply_msg(run.node, me.bal_max_known, votes_by_node(me)))  # BecomeLeader's own reply
        pending, observed = before.pending, before.observed
        for slot in spec.slots:
            inst, old = me.insts[slot - 1], was.insts[slot - 1]
            if me.leader == run.node and inst.voted.bal == me.bal_prepared > 0 and inst.voted != old.voted:
                # TakeNewRequest (or FillHole, a noop no client asked): logged and voted at once
                if (old.cmd != inst.cmd or old.status != "Accepting") and inst.cmd != noop:
                    observed = observe(observed, req_event(inst.cmd))
                sent.add(accept_reply_msg(run.node, me.bal_prepared, slot))
        if me.leader == run.node and me.bal_prepared == me.bal_max_known > 0:
            kvalue = was.kvalue
            for slot in range(was.commit_up_to + 1, me.commit_up_to + 1):
                c = me.insts[slot - 1].cmd
                sent.add(commit_notice_msg(slot))
                if c != noop:  # a noop committed acknowledges no one
                    observed = observe(observed, ack_event(c, kvalue))
                    pending = tuple(p for p in pending if p != c)
                kvalue = c if c in spec.writes else kvalue
        msgs = before.msgs | sent if not sent <= before.msgs else before.msgs
        return MPState(msgs, nodes, pending, observed, (RLOOP,) * len(nodes))

    def _spec_messages(self, m: object, me: SpecNode) -> set:
        if isinstance(m, Prepare):
            return {prepare_msg(m.src, m.bal)}
        if isinstance(m, Promise):
            return {prepare_reply_msg(m.src, m.bal, votes_by_node(me))}
        if isinstance(m, Accept):
            cmds = [spec_name(Command.from_json(c), getattr(self.spec, "noop", NIL)) for c in m.cmds]
            return {accept_msg(m.src, m.bal, m.first + k, c) for k, c in enumerate(cmds)}
        if isinstance(m, Accepted):
            return {accept_reply_msg(m.src, m.bal, slot) for slot in range(m.first, m.last + 1)}
        return set()

    def _path(self, before: MPState, after: MPState, node: str) -> list[tuple[Action, MPState]] | None:
        """Spec steps of replica ``node`` from ``before`` to ``after``, the replies
        to its ballot it has not received moved after them (see the module)."""
        i = self.names.index(node)
        bal = before.node[i].bal_max_known
        hidden = frozenset(
            m
            for m in before.msgs
            if m.type == "PrepareReply" and m.bal == bal and m.src != node and (node, m.src, m.bal) not in self.received
        )
        if not hidden:
            return self._search(before, after, node)
        path = self._search(before._replace(msgs=before.msgs - hidden), after._replace(msgs=after.msgs - hidden), node)
        return None if path is None else [(act, t._replace(msgs=t.msgs | hidden)) for act, t in path]

    def _search(self, before: MPState, after: MPState, node: str) -> list[tuple[Action, MPState]] | None:
        """Spec steps of replica ``node`` from ``before`` to ``after``: a search in
        which each state's messages and history stay within ``after``'s."""
        seen = {before}
        queue = deque([(before, [])])
        while queue:
            state, path = queue.popleft()
            if len(path) >= MAX_STEPS:
                continue
            for act, t in self.spec.next(state):
                if t in seen or dict(act.params).get("r") != node or not t.msgs <= after.msgs:
                    continue
                if t.observed != after.observed[: len(t.observed)]:
                    continue
                if t == after:
                    return [*path, (act, t)]
                seen.add(t)
                queue.append((t, [*path, (act, t)]))
        return None

    def _check_answer(self, after: MPState, run: HandlerRun, msg: Reply) -> None:
        acks = {e.cmd: e.val for e in after.observed if e.type == "Ack"}
        told = NIL if msg.result is None else msg.result
        if msg.client not in acks:
            why = f"it answers {msg.client} ({told}), which no leader has committed"
        elif told != acks[msg.client]:
            why = f"it answers {msg.client} with {told}, the spec with {acks[msg.client]}"
        else:
            return
        self._fail(after, after, run, why, "broke an obligation of the implementation")

    def _fail(self, before: MPState, after: MPState, run: HandlerRun, reason: str, what: str = "left the spec") -> None:
        raise left_the_spec(self.spec, self.trace.steps, before, after, run.describe, reason, what)

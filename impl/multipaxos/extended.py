"""``spec.multipaxos`` with the three steps the implementation takes beyond
MultiPaxos.tla, the spec that a conformance run with every feature on refines.

MultiPaxos-SMR has no step for any of them, and none can be written as its
steps:

- ``StandAgain(r, b)``: a candidate that gathered no majority, or a leader
  refused by a higher ballot, stands again with a fresh ballot. The TLA+'s
  ``BecomeLeader`` is guarded by ``leader # r``: a replica that ever stood
  stays its own leader until a Prepare or an Accept above its ballot reaches
  it, and may wait forever. The step is ``BecomeLeader`` without that guard:
  a ballot above every one it knows that no one prepared, as safe as any.
- ``FillHole(r, slot)``: a prepared leader proposes a noop (``noop``, a value
  beside the commands that no client asked and no client sees) in an empty
  slot below one it has filled, so that the slots after it can be applied.
  It is ``TakeNewRequest`` with the value noop: the leader logs it, votes for
  it and sends its Accept; a noop committed writes nothing and acknowledges
  no one. A slot a new leader resumes with no vote reported is resumed with a
  noop too (the TLA+ would send an Accept of ``nil``, no value at all), and
  its committed prefix is left as it is.
- ``Learn(r, slot)``: a replica commits its next slot with a command chosen
  there (a majority voted for it in one ballot: the ``AcceptReply`` messages
  of that ballot and slot, as ``to_log`` counts), its own vote left as it
  was. This is catch-up (a ``CatchUp`` carries chosen commands) and the
  installing of a snapshot (the commands up to its index). In the TLA+ a
  follower's instance gets a command only through ``HandleAccept``, which is
  a vote at the sender's ballot and makes the sender its leader; a replica
  that learns a chosen command has cast no such vote, and its Promises must
  not report one. A prepared leader that learns a slot acknowledges its
  client, as when it commits the slot itself.

And the replicas go on once every command is acknowledged: the TLA+'s may
then only leave their loops (``Exit``), while the implementation's go on
committing, catching up and taking snapshots; here they take every step
they took before, beside ``Exit``.

Each is guarded so that the spec's safety stays what it was: the extended
spec still satisfies ``TypeOK`` and ``Linearizability``, and with two
replicas ``CommittedIsChosen`` (the tests explore it; with three, that
property fails as it may in the TLA+: a follower commits on a CommitNotice
whatever its slot holds). The pinned state counts are ``spec.multipaxos``'s,
untouched: this spec lives with the implementation, for conformance only.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from ...spec.base import action, except_at
from ...spec.multipaxos import (
    ACCEPTING,
    COMMITTED,
    EMPTY,
    NIL,
    NONE,
    RLOOP,
    Accept,
    MPState,
    MsgsByType,
    MultiPaxos,
    PrepareReply,
    Step,
    Vote,
    _Canonicalizer,
    accept_msg,
    by_type,
    commit_notice_msg,
)

NOOP = "noop"  # the value of a noop, as the extended spec names it


class ExtendedMultiPaxos(MultiPaxos):
    """MultiPaxos plus ``StandAgain``, ``FillHole`` and ``Learn`` (see the module)."""

    name = "multipaxos+recovery"
    actions = (*MultiPaxos.actions, "StandAgain", "FillHole", "Learn")
    noop = NOOP  # what the mapping names a noop command

    def next(self, s: MPState) -> Iterator[Step]:
        yield from super().next(s)
        done = self.terminated(s)
        msgs = by_type(s.msgs)
        for i, r in enumerate(self.replicas):
            if s.pc[i] != RLOOP:
                continue
            if done:  # the TLA+'s replicas may only leave their loop; these go on, as the implementation's do
                yield from self.tla_steps(s, i, r, msgs)
            yield from self.stand_again(s, i, r)
            yield from self.fill_hole(s, i, r)
            yield from self.learn(s, i, r)

    def tla_steps(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """Replica r's steps of the TLA+, as it takes them before every command is acknowledged."""
        yield from self.become_leader(s, i, r)
        yield from self.take_new_request(s, i, r)
        for handle in (self.handle_prepare, self.handle_prepare_replies, self.handle_accept):
            yield from handle(s, i, r, msgs)
        for handle in (self.handle_accept_replies, self.handle_commit_notice):
            yield from handle(s, i, r, msgs)

    # -- the steps beyond the TLA+ --------------------------------------------

    def stand_again(self, s: MPState, i: int, r: str) -> Iterator[Step]:
        """``BecomeLeader`` for a replica that is its own leader already."""
        if s.node[i].leader != r:
            return
        for act, t in super().become_leader(s._replace(node=_as_follower(s.node, i)), i, r):
            yield action("StandAgain", **dict(act.params)), t

    def fill_hole(self, s: MPState, i: int, r: str) -> Iterator[Step]:
        """A prepared leader proposes a noop in an empty slot below a filled one."""
        n = s.node[i]
        if not (n.leader == r and n.bal_prepared == n.bal_max_known > 0):
            return
        filled = [slot for slot, inst in zip(self.slots, n.insts) if inst.status != EMPTY]
        for slot, inst in zip(self.slots, n.insts):
            if inst.status == EMPTY and filled and slot < filled[-1] and slot > n.commit_up_to:
                t = self.propose_request(s, i, r, slot, NOOP)
                yield action("FillHole", r=r, slot=slot), t._replace(observed=s.observed)

    def learn(self, s: MPState, i: int, r: str) -> Iterator[Step]:
        """A replica commits its next slot with a command chosen there, keeping its vote."""
        n = s.node[i]
        slot = n.commit_up_to + 1
        if slot > self.num_commands or n.insts[slot - 1].status == COMMITTED:
            return
        leads = n.leader == r and n.bal_prepared == n.bal_max_known > 0
        for c in sorted(self.to_log(s)[slot - 1]):
            inst = n.insts[slot - 1]._replace(cmd=c)
            learnt = s._replace(node=_with_inst(s.node, i, slot, inst))
            ack = (c, n.kvalue) if leads and c != NOOP else None
            sent = {commit_notice_msg(slot)} if leads else set()
            yield action("Learn", r=r, slot=slot), self.commit(learnt, i, slot, sent, ack=ack)

    # -- the TLA+'s steps, where a noop changes them ----------------------------

    def handle_prepare_replies(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """As the TLA+'s, but the committed prefix is left as it is (the TLA+ sets
        every slot's command to the one reported, which a replica that learned a
        slot without voting there may not have reported), and a slot resumed with
        no vote reported is resumed with a noop."""
        was = s.node[i]
        for act, t in super().handle_prepare_replies(s, i, r, msgs):
            n = t.node[i]
            insts = tuple(
                old if slot <= was.commit_up_to else new._replace(cmd=NOOP) if _resumed_empty(new) else new
                for slot, old, new in zip(self.slots, was.insts, n.insts)
            )
            sent = {
                accept_msg(r, n.bal_prepared, slot, inst.cmd)
                for slot, inst in zip(self.slots, insts)
                if slot > was.commit_up_to and inst.status == ACCEPTING
            }
            node = n._replace(insts=insts)
            yield act, self.update(s, i, node, sent)

    def commit(self, s: MPState, i: int, slot: int, sent: set, ack: tuple[str, str] | None = None) -> MPState:
        """As the TLA+'s, but a noop acknowledges no one."""
        if ack is not None and ack[0] == NOOP:
            ack = None
        return super().commit(s, i, slot, sent, ack=ack)

    # -- types and symmetry: a noop is a value like a command --------------------

    def message_ok(self, m: Any) -> bool:
        if type(m) is Accept and m.cmd == NOOP:
            m = m._replace(cmd=self.commands[0])
        elif type(m) is PrepareReply:
            m = m._replace(votes=tuple(map(self._typed_vote, m.votes)))
        return super().message_ok(m)

    def vote_ok(self, v: Any) -> bool:
        return super().vote_ok(self._typed_vote(v))

    def node_ok(self, n: Any) -> bool:
        insts = tuple(x._replace(cmd=self.commands[0]) if x.cmd == NOOP else x for x in n.insts)
        return super().node_ok(n._replace(insts=insts))

    def _typed_vote(self, v: Any) -> Any:
        return v._replace(cmd=self.commands[0]) if type(v) is Vote and v.cmd == NOOP else v

    @cached_property
    def symmetry(self):
        canon = _Canonicalizer(self)
        for renaming in canon.cmd_perms:
            renaming[NOOP] = NOOP  # renaming commands leaves a noop as it is
        return canon


def _resumed_empty(inst: Any) -> bool:
    return inst.status == ACCEPTING and inst.cmd == NIL


def _with_inst(nodes: tuple, i: int, slot: int, inst: Any) -> tuple:
    n = nodes[i]
    return except_at(nodes, i, n._replace(insts=except_at(n.insts, slot - 1, inst)))


def _as_follower(nodes: tuple, i: int) -> tuple:
    """Replica i as though it followed no one: the guard ``BecomeLeader`` has and ``StandAgain`` drops."""
    return except_at(nodes, i, nodes[i]._replace(leader=NONE))

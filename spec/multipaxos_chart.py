"""How a Multi-Paxos trace is charted (``MultiPaxos.chart``): a lane for the
clients and one per replica. Each step's new messages are arrows labelled
with their ballot, and Accept and AcceptReply with their log slot: Prepare,
Accept and CommitNotice from their sender to every other replica,
PrepareReply and AcceptReply to the leader of their ballot (a loop when the
leader answers itself); a client's Req goes to the leader that logs it, its
Ack comes back from the leader that commits it. Beside each replica stand
its variables, under the TLA+ names (``balMaxKnown``, ``insts[1]``, ...), and
the requests still pending are noted under each step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Action, Arrow, Chart, Frame

CLIENTS = "clients"
KINDS = ("Req", "Prepare", "PrepareReply", "Accept", "AcceptReply", "CommitNotice", "Ack")
BROADCAST = ("Prepare", "Accept", "CommitNotice")  # sent to every other replica; the replies go to a leader


def multipaxos_chart(spec: Any, steps: Sequence[tuple[Action | None, Any]]) -> Chart:
    frames, before = [], None
    for act, state in steps:
        beside = {r: _fields(node, pc) for r, node, pc in zip(spec.replicas, state.node, state.pc)}
        arrows = () if before is None else _arrows(spec.replicas, before, act, state)
        frames.append(Frame(beside, {"pending": state.pending}, arrows))
        before = state
    return Chart(
        lanes=(CLIENTS, *spec.replicas),
        frames=tuple(frames),
        kinds=KINDS,
        short={CLIENTS: "C"},
        legend=("C: the clients",),
    )


def _fields(node: Any, pc: str) -> dict[str, Any]:
    """A replica's variables as the TLA+ names them, a log slot a line each."""
    fields = {
        "leader": node.leader,
        "balMaxKnown": node.bal_max_known,
        "balPrepared": node.bal_prepared,
        "commitUpTo": node.commit_up_to,
        "kvalue": node.kvalue,
    }
    for slot, inst in enumerate(node.insts, 1):
        fields[f"insts[{slot}]"] = _inst(inst)
    fields["pc"] = pc
    return fields


def _inst(inst: Any) -> str:
    """``Accepting w1@2``: the status, the command, and the ballot of the vote
    for it (``Preparing w1, voted r1@1`` when the vote is for another)."""
    shown = inst.status if inst.cmd == "nil" else f"{inst.status} {inst.cmd}"
    vote = inst.voted
    if vote.bal == 0:
        return shown
    return f"{shown}@{vote.bal}" if vote.cmd == inst.cmd else f"{shown}, voted {vote.cmd}@{vote.bal}"


def _arrows(replicas: tuple[str, ...], before: Any, act: Action | None, after: Any) -> tuple[Arrow, ...]:
    actor = dict(act.params).get("r") if act is not None else None
    leader_of = {m.bal: m.src for m in after.msgs if m.type == "Prepare"}
    out = []
    if actor not in replicas:  # no replica named by the step: its messages have no known sender
        return ()
    for e in after.observed[len(before.observed) :]:  # a client's Req or Ack, new in this step
        out.append(
            Arrow(e.type, CLIENTS, (actor,), str(e)) if e.type == "Req" else Arrow(e.type, actor, (CLIENTS,), str(e))
        )
    for m in sorted(after.msgs - before.msgs, key=lambda m: (KINDS.index(m.type), m)):
        sender = getattr(m, "src", actor)
        if m.type in BROADCAST:
            targets = tuple(r for r in replicas if r != sender)
        else:
            targets = (leader_of.get(m.bal, sender),)
        out.append(Arrow(m.type, sender, targets, _label(m, after, replicas, sender)))
    return tuple(sorted(out, key=lambda a: KINDS.index(a.kind)))


def _label(m: Any, after: Any, replicas: tuple[str, ...], sender: str) -> str:
    """The message as the spec prints it; a CommitNotice, which carries no
    ballot, with the ballot of the leader that sent it."""
    if m.type != "CommitNotice":
        return str(m)
    return f"{m} [bal={after.node[replicas.index(sender)].bal_prepared}]"

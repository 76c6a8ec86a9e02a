"""The coverage walk's hook for Multi-Paxos: drive the simulated replicas
along one transition of ``spec.multipaxos`` (``realise``), delivering exactly
the messages the spec action consumes. A transition the core cannot make in
one handler run (a ballot another replica owns; an Accept of a batch that
carries more than the action's slot) stays unrealised, and the walk counts it so.
The walk runs the core ``faithful`` (``SimConfig``): a step of its own beyond
the TLA+ (a noop in a hole, a catch-up) would be no transition of the spec walked."""

from __future__ import annotations

from typing import Any

from ...spec.base import Action
from ..sim import Fire, Request, Simulator
from .messages import OK, Accept, Accepted, Prepare, Promise


def realise(spec: Any, sim: Simulator, s: Any, act: Action) -> bool:
    """Make the implementation take spec step ``act`` from ``s`` (mapped from ``sim``)."""
    p = dict(act.params)
    r = p.get("r")
    if r is None:
        return False
    i = sim.config.node_names.index(r)
    mine = sim.nodes[r]
    if act.name == "BecomeLeader":
        if mine._next_ballot(s.node[i].bal_max_known) != p["b"]:
            return False  # a ballot another replica owns
        sim.step(Fire(i))
        return True
    if act.name == "HandlePrepare":
        m = p["m"]
        return sim.deliver_to(r, lambda x: isinstance(x, Prepare) and (x.src, x.bal) == (m.src, m.bal))
    if act.name == "HandlePrepareReplies":
        return _until(
            sim, r, lambda x: isinstance(x, Promise) and x.bal == mine.state.bal_max_known, lambda: mine.prepared
        )
    if act.name == "TakeNewRequest":
        unseen = spec.unseen_pending(s, s.node[i].insts)
        answered = {msg.client for _, _, msg in sim.replies if msg.status == OK}
        asked = [c for c in sim.config.commands if c not in answered]
        if not unseen or unseen[0] not in asked:
            return False
        sim.step(Request(i, asked.index(unseen[0])))
        return True
    if act.name == "HandleAccept":
        m = p["m"]
        return sim.deliver_to(
            r,
            lambda x: (
                isinstance(x, Accept) and (x.src, x.bal) == (m.src, m.bal) and x.first <= m.slot < x.first + len(x.cmds)
            ),
        )
    if act.name == "HandleAcceptReplies":
        start = mine.state.commit
        bal = mine.state.bal_prepared
        return _until(sim, r, lambda x: isinstance(x, Accepted) and x.bal == bal, lambda: mine.state.commit > start)
    if act.name == "HandleCommitNotice":
        leader = s.node[i].leader
        start = mine.state.commit
        if leader not in sim.nodes or not sim.up.get(leader):
            return False
        sim.step(Fire(sim.config.node_names.index(leader)))  # its heartbeat carries the commit index
        told = sim.nodes[leader].state.commit
        return told >= p["upto"] and _until(
            sim,
            r,
            lambda x: isinstance(x, Accept) and not x.cmds and x.commit >= p["upto"],
            lambda: mine.state.commit > start,
        )
    return False


def _until(sim: Simulator, dst: str, wanted: Any, done: Any) -> bool:
    """Deliver the messages to ``dst`` that ``wanted`` picks, one by one, until ``done()``."""
    while not done():
        if not sim.deliver_to(dst, wanted):
            return False
    return True

"""How a Raft trace is charted (``Raft.chart``): one lane per server. Each
copy of a message a step puts in flight is an arrow from its source to its
destination (a candidate's RequestVote to itself is a loop), labelled with its
term and, for AppendEntries, the entry before the ones it carries, those
entries (``v1@2``: value v1 of term 2) and the leader's commit index. Beside
each server stand its variables under raft.tla's names where they change;
the copies in flight are noted under each step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Action, Arrow, Chart, Frame
from .raft import AE_REQUEST, AE_RESPONSE, RV_REQUEST, RV_RESPONSE, show_log

KINDS = (RV_REQUEST, RV_RESPONSE, AE_REQUEST, AE_RESPONSE)


def raft_chart(spec: Any, steps: Sequence[tuple[Action | None, Any]]) -> Chart:
    frames, before = [], None
    for _, state in steps:
        beside = {name: _fields(state, i) for i, name in enumerate(spec.servers)}
        arrows = () if before is None else _arrows(before, state)
        frames.append(Frame(beside, {"in flight": sum(count for _, count in state.messages)}, arrows))
        before = state
    return Chart(lanes=spec.servers, frames=tuple(frames), kinds=KINDS)


def _fields(s: Any, i: int) -> dict[str, Any]:
    return {
        "currentTerm": s.currentTerm[i],
        "state": s.state[i],
        "votedFor": s.votedFor[i],
        "log": show_log(s.log[i]),
        "commitIndex": s.commitIndex[i],
    }


def _arrows(before: Any, after: Any) -> tuple[Arrow, ...]:
    """An arrow per copy that the step added to the bag (a reply, a send, the network's duplicate)."""
    had = dict(before.messages)
    out = []
    for m, count in sorted(after.messages, key=lambda item: (KINDS.index(item[0].mtype), item[0])):
        for _ in range(count - had.get(m, 0)):
            out.append(Arrow(m.mtype, m.msource, (m.mdest,), label(m)))
    return tuple(out)


def label(m: Any) -> str:
    """A message as the chart writes it: its kind, its term, what it carries."""
    if m.mtype == RV_REQUEST:
        return f"RequestVote term {m.mterm}, last entry {m.mlastLogIndex}@{m.mlastLogTerm}"
    if m.mtype == RV_RESPONSE:
        return f"{'vote granted' if m.mvoteGranted else 'vote refused'}, term {m.mterm}"
    if m.mtype == AE_REQUEST:
        return (
            f"AppendEntries term {m.mterm}, prev {m.mprevLogIndex}@{m.mprevLogTerm}, "
            f"entries {show_log(m.mentries)}, commit {m.mcommitIndex}"
        )
    return f"{'match ' + str(m.mmatchIndex) if m.msuccess else 'failed'}, term {m.mterm}"

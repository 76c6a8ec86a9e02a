"""How a Paxos trace is charted (``Paxos.chart``): one lane per proposer (one
per ballot the trace uses), one per acceptor and one for the learners; each
step's new messages are arrows (1a and 2a from a proposer to every acceptor,
1b from an acceptor to the proposer of its ballot, 2b from an acceptor to the
learners), and each acceptor's maxBal, maxVBal and maxVal stand beside its
lane. A trace holding a message Paxos never sends is charted as any spec's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Action, Arrow, Chart, Frame, Spec, State
from .paxos import Msg1a, Msg1b, Msg2a, Msg2b

KINDS = {Msg1a: "1a", Msg1b: "1b", Msg2a: "2a", Msg2b: "2b"}


def _kind(message: Any) -> str | None:
    return next((kind for cls, kind in KINDS.items() if isinstance(message, cls)), None)


def paxos_chart(spec: Spec, steps: Sequence[tuple[Action | None, State]]) -> Chart:
    views = [spec.variables(state) for _, state in steps]
    every = set().union(*(view["msgs"] for view in views))
    if any(_kind(m) is None for m in every):
        return Spec.chart(spec, steps)
    proposer = {b: f"proposer b{b}" for b in sorted({m.bal for m in every})}
    acceptors = [str(a) for a in views[0]["maxBal"]]
    acceptors += sorted({str(m.acc) for m in every if hasattr(m, "acc")} - set(acceptors))
    learners = ["learners"] if any(isinstance(m, Msg2b) for m in every) else []
    frames, before = [], frozenset()
    for view in views:
        arrows = tuple(_arrow(m, proposer, acceptors) for m in sorted(view["msgs"] - before, key=str))
        beside = {a: {var: value[a] for var, value in view.items() if isinstance(value, dict)} for a in acceptors}
        notes = {var: value for var, value in view.items() if var != "msgs" and not isinstance(value, dict)}
        frames.append(Frame({a: fields for a, fields in beside.items() if fields}, notes, arrows))
        before = view["msgs"]
    legend = ("bN: the proposer of ballot N",) if proposer else ()
    return Chart(
        lanes=(*proposer.values(), *acceptors, *learners),
        frames=tuple(frames),
        kinds=tuple(KINDS.values()),
        short={**{lane: lane.removeprefix("proposer ") for lane in proposer.values()}, "learners": "L"},
        legend=legend + (("L: the learners",) if learners else ()),
    )


def _arrow(m: Msg1a | Msg1b | Msg2a | Msg2b, proposer: dict[int, str], acceptors: list[str]) -> Arrow:
    kind = _kind(m)
    if kind in ("1a", "2a"):
        return Arrow(kind, proposer[m.bal], tuple(acceptors), str(m))
    return Arrow(kind, str(m.acc), (proposer[m.bal],) if kind == "1b" else ("learners",), str(m))

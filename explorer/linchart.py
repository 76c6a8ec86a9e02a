"""A client history as Porcupine's visualiser draws it: one row per client, each operation a bar from its
call to its return, the longest linearizable prefix found in green (numbered in its order), the operation
that cannot be placed in red, an operation of unknown outcome open to the right."""

from __future__ import annotations

import html
import math
from pathlib import Path

from .chart import FONT, SIZE, Section, _Canvas, _width, _write, html_page
from .lincheck import LincheckResult, Operation

UNIT = 16  # px per time step
ROW = 30  # px per client row
BAR = 20  # bar height
LEFT = 90  # room for client names
TOP = 34
PREFIX, STUCK, OTHER = "#2e7d32", "#c62828", "#90a4ae"


STATES_SHOWN = 6


def result_text(name: str, r: LincheckResult) -> list[str]:
    """The verdict in one line; for a failure, the smallest failing sub-history, each operation with the
    states it could take effect in, the longest linearizable prefix, and the operation that cannot be placed."""
    plural = "s" * (len(r.partitions) != 1)
    lines = [
        f"{name}: {r.verdict} ({r.model}, {r.operations} operations, {len(r.partitions)} partition{plural}, "
        f"{r.seconds:.3f} s)"
    ]
    failure = r.failure
    if failure is None:
        return lines
    n = len(failure.operations)
    how = (
        "leaving out any read or failed operation makes it linearizable"
        if failure.minimal
        else "cut down as far as the time allowed"
    )
    lines.append(f"  smallest failing sub-history: {n} operation{'' if n == 1 else 's'} ({how})")
    lines.append("  (each with the states the model could be in where it could take effect; none: it never could)")
    for op, states in zip(failure.operations, failure.states, strict=True):
        lines.append(f"    [{op.call}..{'' if op.ret == math.inf else op.ret}] {op.describe()}   in: {_states(states)}")
    state = failure.prefix_state
    lines.append(f"  longest linearizable prefix ({len(failure.prefix)} operations), leaving the model in {state!r}:")
    lines.extend(f"    {op.describe()}" for op in failure.prefix)
    if failure.stuck is not None:
        lines.append(f"  cannot be placed: {failure.stuck.describe()}")
    return lines


def _states(states: list | None) -> str:
    if states is None:
        return "(not computed: out of time)"
    shown = ", ".join(repr(s) for s in states[:STATES_SHOWN]) + (", ..." if len(states) > STATES_SHOWN else "")
    return shown or "none"


def drawn_operations(result: LincheckResult) -> list[Operation]:
    """The smallest failing sub-history, or the whole history when there is no failure."""
    failure = result.failure
    return failure.operations if failure else [op for part in result.partitions for op in part.operations]


def history_svg(result: LincheckResult) -> str:
    ops = drawn_operations(result)
    failure = result.failure
    order = {op.index: n for n, op in enumerate(failure.prefix, 1)} if failure else {}
    stuck = failure.stuck.index if failure and failure.stuck else None
    clients = sorted(
        {op.client for op in ops}, key=lambda c: (not isinstance(c, int), c if isinstance(c, int) else str(c))
    )
    row = {c: r for r, c in enumerate(clients)}
    labels = {op.index: (f"{order[op.index]}. " if op.index in order else "") + _short(op) for op in ops}
    at = _positions(ops, labels)
    width = max(at.values(), default=LEFT) + 20
    height = TOP + len(clients) * ROW + 10
    c = _Canvas()
    title = f"{result.verdict}: {len(ops)} operations ({result.model})"
    c.text(8, 18, title, "title", bold=True)
    for client in clients:
        c.text(8, TOP + row[client] * ROW + BAR * 0.7, f"client {client}", "lane")
    for op in ops:
        x, end = at[op.call], at[op.ret]
        y = TOP + row[op.client] * ROW
        colour = STUCK if op.index == stuck else PREFIX if op.index in order else OTHER
        c.parts.append(f"<g><title>{html.escape(op.describe())}</title>")
        c.rect(x, y, max(end - x, 4), BAR, colour, rx=3)
        if op.ret == math.inf:  # open to the right: it may take effect at any time, or never
            c.line(end, y, end, y + BAR, stroke="#ffffff", width=3, dash="3,3")
        c.text(x + 4, y + BAR * 0.7, labels[op.index], "op", fill="#ffffff")
        c.parts.append("</g>")
    body = "\n".join(c.parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="{FONT}" font-size="{SIZE}">\n'
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n{body}\n</svg>\n'
    )


def _positions(ops: list[Operation], labels: dict[int, str]) -> dict[float, float]:
    """The x of each drawn call and return time: time as the order of those events only (a sub-history of a
    long history stays compact), stretched where a bar needs room for its label."""
    times = sorted({t for op in ops for t in (op.call, op.ret)})
    room: dict[float, list[tuple[float, float]]] = {}
    for op in ops:
        room.setdefault(op.ret, []).append((op.call, _width(labels[op.index]) + 8))
    at: dict[float, float] = {}
    x = LEFT - UNIT
    for t in times:
        x = max([x + (2 * UNIT if t == math.inf else UNIT)] + [at[call] + need for call, need in room.get(t, [])])
        at[t] = x
    return at


def _short(op: Operation) -> str:
    f, key, value = op.input
    arg = "" if value is None else f" {value}"
    where = "" if key is None else f"[{key}]"
    return f"{f}{where}{arg}" + ("" if op.pending else f" → {op.output}")


def history_html(result: LincheckResult, title: str) -> str:
    """A self-contained page: the picture, then the operations in text."""
    ops = drawn_operations(result)
    lines = "\n".join(f"[{op.call}..{'' if op.ret == math.inf else op.ret}] {op.describe()}" for op in ops)
    legend = (
        "Green: the longest linearizable prefix found, numbered in its order. "
        "Red: the operation that cannot be placed. Open bars: outcome unknown."
    )
    return html_page(title, [Section(title, [("p", legend), ("svg", history_svg(result)), ("pre", lines)])])


def write(result: LincheckResult, path: str | Path, title: str, as_html: bool) -> Path:
    return _write(path, history_html(result, title) if as_html else history_svg(result))

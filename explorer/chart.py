"""Pictures of traces: a message sequence chart as SVG, and an HTML page.

The chart is drawn from the one trace type, and its lanes (lifelines) and
messages come from the spec's ``chart`` hook (``spec.base.Chart``), so the
engine names no protocol: Paxos draws a lane per proposer and acceptor and
its 1a/1b/2a/2b messages, Multi-Paxos a lane per replica, and a spec that
says nothing gets one lane per variable. Each step's messages are arrows
labelled by the spec, and the values the spec puts beside a lane are written
there where they change (``maxBal 0→1``).

Time runs down the page: each step is a band with its number and action on
the left; a step given in ``mark`` (as for ``trace_table``) is highlighted.
The SVG is plain text built here, with no system package needed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..spec.base import Arrow, Chart, Frame
from .bfs import as_spec
from .render import changes, show, trace_table
from .trace import Trace

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
SIZE = 11  # font size in px
CHAR = 0.61 * SIZE  # advance of one monospace character
LINE = 15  # height of one annotation line
ARROW = 24  # height of one arrow row
PAD = 8  # vertical padding of a step band
HEAD = 44  # height of the lifeline header
MARGIN = 12

# The colours of message kinds, in the order the chart lists its kinds (and
# the same order in a terminal): blue, green, orange, purple, then more.
COLOURS = ("#1f5fa8", "#2e7d32", "#b35c00", "#7b1fa2", "#00838f", "#6d4c41", "#ad1457", "#455a64")
ANSI_COLOURS = ("34", "32", "33", "35", "94", "92", "93", "95")


def _width(text: str) -> float:
    return len(text) * CHAR


@dataclass
class _Band:
    """What one step draws: its label, notes under it, and its rows."""

    number: int
    label: str
    notes: list[str] = field(default_factory=list)
    annotations: dict[str, list[str]] = field(default_factory=dict)  # lifeline -> lines beside it
    arrows: list[Arrow] = field(default_factory=list)
    mark: str | None = None


class _Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, x: float, y: float, s: str, cls: str, anchor: str = "start", fill: str = "#222", bold=False):
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text class={quoteattr(cls)} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{weight}>'
            f"{escape(s)}</text>"
        )

    def line(self, x1, y1, x2, y2, stroke="#222", width=1.0, dash: str | None = None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}" stroke-width="{width}"{d}/>'
        )

    def rect(self, x, y, w, h, fill, stroke="none", rx=0.0):
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
            f'fill="{fill}" stroke="{stroke}"/>'
        )

    def head(self, x, y, direction: int, fill: str):
        """An arrowhead whose tip is at (x, y), pointing right (+1) or left (-1)."""
        b = x - 8 * direction
        self.parts.append(f'<polygon points="{x:.1f},{y:.1f} {b:.1f},{y - 4:.1f} {b:.1f},{y + 4:.1f}" fill="{fill}"/>')


def _beside(before: Frame | None, now: Frame, lanes: tuple[str, ...]) -> dict[str, list[str]]:
    """Per lane, what is written beside it: every value in the first state,
    then only those that changed (``maxBal -1 → 0``)."""
    out: dict[str, list[str]] = {}
    for lane in lanes:
        new = now.beside.get(lane, {})
        if before is None:
            lines = [f"{'' if name == lane else name + ' '}= {show(value)}" for name, value in new.items()]
        else:
            old = before.beside.get(lane, {})
            lines = []
            for name in dict.fromkeys([*new, *old]):
                moved = [_strip(line, name) for line in changes({name: old.get(name)}, {name: new.get(name)})]
                lines += moved if name == lane else [f"{name} {line}" for line in moved]
        if lines:
            out[lane] = lines
    return out


def _strip(line: str, name: str) -> str:
    return line[len(name) :].lstrip(": ") if line.startswith(name) else line


def _bands(trace: Trace, mark: dict[int, str] | None) -> tuple[Chart, list[_Band]]:
    chart = as_spec(trace.spec).chart([(step.action, step.state) for step in trace.steps])
    bands = []
    previous: Frame | None = None
    for i, (step, frame) in enumerate(zip(trace.steps, chart.frames), start=1):
        label = str(step.action) if step.action is not None else ("Init" if i == 1 else "(step)")
        band = _Band(i, label, arrows=list(frame.arrows))
        band.annotations = _beside(previous, frame, chart.lanes)
        if previous is None:
            band.notes = [f"{k} = {show(v)}" for k, v in frame.notes.items()]
        else:
            band.notes = changes(dict(previous.notes), dict(frame.notes))
        if previous is not None and not band.annotations and not band.notes and not band.arrows:
            band.notes = ["(nothing changes: a stutter)"]
        if mark and i in mark:
            band.mark = mark[i]
        bands.append(band)
        previous = frame
    return chart, bands


def _colours(chart: Chart, bands: list[_Band], palette: tuple[str, ...]) -> Mapping[str, str]:
    """Message kind -> colour: the chart's kinds in order, then the others as they appear."""
    kinds = dict.fromkeys([*chart.kinds, *(a.kind for b in bands for a in b.arrows)])
    return {kind: palette[i % len(palette)] for i, kind in enumerate(kinds)}


def sequence_svg(trace: Trace, mark: dict[int, str] | None = None) -> str:
    """The trace as a message sequence chart: a self-contained SVG document."""
    chart, bands = _bands(trace, mark)
    lifelines, colours = chart.lanes, _colours(chart, bands, COLOURS)

    # Horizontal layout: the step column, then lifelines far enough apart
    # that every label fits between two neighbours.
    indent = MARGIN + 4 * CHAR  # where a step's label starts, after its number
    left = indent + max(_width(s) for b in bands for s in [b.label, *b.notes, f"✗ {b.mark or ''}"]) + 2 * MARGIN
    labels = [a.label for b in bands for a in b.arrows]
    notes = [line for b in bands for lines in b.annotations.values() for line in lines]
    gap = max(
        [_width(s) + 30 for s in labels] + [_width(s) + 24 for s in notes] + [_width(n) + 20 for n in lifelines] + [120]
    )
    first = left + _width(lifelines[0]) / 2 + 2 * MARGIN if lifelines else left
    x = {name: first + i * gap for i, name in enumerate(lifelines)}
    width = first + gap * (len(lifelines) - 0.5) + MARGIN

    # Vertical layout: per step, the annotation lines then one row per arrow.
    tops, heights = [], []
    y = MARGIN + HEAD + 6
    for band in bands:
        notes_h = max([len(v) for v in band.annotations.values()] + [0]) * LINE
        left_h = (1 + len(band.notes) + (1 if band.mark else 0)) * LINE
        h = max(left_h, notes_h + (4 if notes_h and band.arrows else 0) + len(band.arrows) * ARROW) + 2 * PAD
        tops.append(y)
        heights.append(h)
        y += h
    height = y + MARGIN

    c = _Canvas()
    c.rect(0, 0, width, height, "#ffffff")
    for band, top, h in zip(bands, tops, heights):
        if band.mark is not None:
            c.rect(0, top, width, h, "#fde0dc")
        elif band.number % 2 == 0:
            c.rect(0, top, width, h, "#f6f7f9")
    # lifelines and their heads
    for name in lifelines:
        cx = x[name]
        c.line(cx, MARGIN + HEAD - 8, cx, height - MARGIN, stroke="#9aa3ad", width=1.2, dash="4 3")
        w = _width(name) + 14
        c.rect(cx - w / 2, MARGIN, w, HEAD - 14, "#e8eef6", stroke="#5b6b7d", rx=4)
        c.text(cx, MARGIN + (HEAD - 14) / 2 + SIZE * 0.35, name, "lifeline", anchor="middle", bold=True)
    c.line(0, MARGIN + HEAD + 6, width, MARGIN + HEAD + 6, stroke="#c4cbd3")
    for band, top in zip(bands, tops):
        colour = "#b3261e" if band.mark is not None else "#222"
        bold = band.mark is not None
        c.text(indent - CHAR, top + PAD + SIZE, str(band.number), "number", anchor="end", fill=colour, bold=bold)
        c.text(indent, top + PAD + SIZE, band.label, "step", fill=colour, bold=bold)
        ny = top + PAD + SIZE
        for note in band.notes:
            ny += LINE
            c.text(indent, ny, note, "note", fill="#555")
        if band.mark is not None:
            c.text(indent, ny + LINE, f"✗ {band.mark}", "mark", fill="#b3261e", bold=True)
        # state changes beside the lifelines
        for name, lines in band.annotations.items():
            for k, line in enumerate(lines):
                c.text(x[name] + 6, top + PAD + SIZE + k * LINE, line, "change", fill="#0b4f8a")
        notes_h = max([len(v) for v in band.annotations.values()] + [0]) * LINE
        rows = top + PAD + notes_h + (4 if notes_h else 0)
        for k, arrow in enumerate(band.arrows):
            _svg_arrow(c, arrow, x, rows + k * ARROW + ARROW - 6, colours[arrow.kind])
    c.line(0, height - MARGIN, width, height - MARGIN, stroke="#c4cbd3")

    title = f"Trace of {getattr(trace.spec, 'name', 'a spec')}: {len(trace)} steps"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)} font-size="{SIZE}">\n'
        f"<title>{escape(title)}</title>\n" + "\n".join(c.parts) + "\n</svg>\n"
    )


def _svg_arrow(c: _Canvas, arrow: Arrow, x: dict[str, float], ay: float, colour: str) -> None:
    """One message at height ``ay``: a line from its sender with a head at
    each receiver, or a small loop for a message a lane sends to itself."""
    ends = [x[t] for t in arrow.targets if t in x]
    if not ends or arrow.source not in x:
        return
    xs = x[arrow.source]
    if ends == [xs]:
        top, bottom, out = ay - 5, ay + 3, xs + 16
        c.line(xs, top, out, top, stroke=colour, width=1.5)
        c.line(out, top, out, bottom, stroke=colour, width=1.5)
        c.line(out, bottom, xs + 9, bottom, stroke=colour, width=1.5)
        c.parts.append(f'<circle cx="{xs:.1f}" cy="{top:.1f}" r="2.5" fill="{colour}"/>')
        c.head(xs + 1, bottom, -1, colour)
        c.text(out + 8, ay + 2, arrow.label, "message", fill=colour)
        return
    if min(ends) < xs < max(ends):  # a broadcast to both sides of its sender
        c.line(min(ends) + 2, ay, max(ends) - 2, ay, stroke=colour, width=1.5)
        start = xs
    else:
        far = max(ends, key=lambda e: abs(e - xs))
        c.line(xs, ay, far - 2 * (1 if far > xs else -1), ay, stroke=colour, width=1.5)
        start = min(xs, far)
    c.parts.append(f'<circle cx="{xs:.1f}" cy="{ay:.1f}" r="2.5" fill="{colour}"/>')
    for e in ends:
        c.head(e, ay, 1 if e > xs else -1, colour)
    c.text(start + 10, ay - 5, arrow.label, "message", fill=colour)


# ---------------------------------------------------------------------------
# The same chart as text, for a terminal
# ---------------------------------------------------------------------------

STYLE = {"mark": "1;31", "change": "36", "dim": "2"}  # ANSI codes besides the message kinds
COLUMN = 5  # the least distance between two lifelines in the text chart


def _about(name: str, notes: list[str]) -> str:
    """``a1: maxBal -1 → 0``; a variable's own lines read ``msgs + 1a(bal=0)``, ``rm[r1]: a → b``."""
    text = ", ".join(notes)
    if text[:1] == "[":
        return name + text
    if text[:2] in ("= ", "+ ", "- "):
        return f"{name} {text}"
    return f"{name}: {text}"


class _Columns:
    """The lifelines as columns of text, ``step`` characters apart."""

    def __init__(self, lanes: tuple[str, ...], step: int):
        self.lanes = lanes
        self.step = step
        self.col = {name: i * step for i, name in enumerate(lanes)}
        self.span = step * (len(lanes) - 1) + 1

    def row(self, cells: dict[int, str] | None = None, fill: dict[int, str] | None = None) -> str:
        line = [" "] * self.span
        for name in self.lanes:
            line[self.col[name]] = "│"
        for i, ch in (fill or {}).items():
            line[i] = ch
        for i, ch in (cells or {}).items():
            line[i] = ch
        return "".join(line)

    def arrow(self, arrow: Arrow, paint) -> str | None:
        """``●──┼──▶`` from the sender to its receivers (``↺`` a message to
        itself), or None if no receiver is drawn."""
        col = self.col
        ends = [col[t] for t in arrow.targets if t in col]
        if not ends or arrow.source not in col:
            return None
        s = col[arrow.source]
        lo, hi = min(s, *ends), max(s, *ends)
        fill = {i: "─" for i in range(lo, hi + 1)}
        fill.update({col[n]: "┼" for n in self.lanes if lo < col[n] < hi})
        cells = {e: "▶" if e > s else "◀" for e in ends}
        cells[s] = "●" if lo < hi else "↺"
        drawn = self.row(cells, fill)
        return drawn[:lo] + paint(drawn[lo : hi + 1], arrow.kind) + drawn[hi + 1 :]


def sequence_text(trace: Trace, mark: dict[int, str] | None = None, colour: bool = False) -> str:
    """The message sequence chart as lines of text: the lifelines are columns
    (named short where the chart says so, as ``b0`` for the proposer of
    ballot 0 in Paxos, with a legend), each message an arrow from ``●`` to
    ``▶`` with its label on the right, and ``◆`` marks the lifeline whose
    state a line on the right describes."""
    chart, bands = _bands(trace, mark)
    codes = {**_colours(chart, bands, ANSI_COLOURS), **STYLE}

    def paint(text: str, what: str) -> str:
        return f"\x1b[{codes[what]}m{text}\x1b[0m" if colour and what in codes else text

    short = {name: chart.short.get(name, name) for name in chart.lanes}
    columns = _Columns(chart.lanes, max(COLUMN, *(len(n) + 2 for n in short.values())))
    left = max(len(f"{b.number:>2} {b.label}") for b in bands) + 2
    out = [" " * left + "".join(f"{short[n]:<{columns.step}}" for n in chart.lanes).rstrip()]
    if chart.legend:
        out.append(" " * left + paint(" · ".join(chart.legend), "dim"))
    for band in bands:
        lines: list[tuple[str, str]] = []  # (lifelines drawn, text on the right)
        for name, notes in band.annotations.items():
            lines.append((columns.row({columns.col[name]: "◆"}), paint(_about(short[name], notes), "change")))
        for arrow in band.arrows:
            drawn = columns.arrow(arrow, paint)
            if drawn is not None:
                lines.append((drawn, paint(arrow.label, arrow.kind)))
        lines += [(columns.row(), note) for note in band.notes]
        if not lines:
            lines.append((columns.row(), ""))
        for k, (drawn, text) in enumerate(lines):
            head = f"{band.number:>2} {band.label}" if k == 0 else ""
            out.append(f"{head:<{left}}{drawn}   {text}".rstrip())
        if band.mark is not None:
            out.append(f"{'':<{left}}{columns.row()}   " + paint(f"✗ {band.mark}", "mark"))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# HTML pages
# ---------------------------------------------------------------------------


@dataclass
class Section:
    """A part of an HTML page: a heading, then blocks in order. A block is
    ``("p", text)``, ``("h3", text)``, ``("pre", text)``, ``("trace",
    trace, mark)`` (a trace is drawn as its step table beside its chart) or
    ``("svg", markup)``, a picture drawn elsewhere (a history's, say)."""

    heading: str
    blocks: list[tuple] = field(default_factory=list)
    anchor: str | None = None


def html_page(title: str, sections: list[Section], intro: list[str] = ()) -> str:
    """One self-contained HTML page (no scripts, no external files)."""
    body = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(p)}</p>" for p in intro]
    if len(sections) > 1 and all(s.anchor for s in sections):
        items = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.heading)}</a></li>' for s in sections)
        body.append(f"<nav><ul>{items}</ul></nav>")
    for s in sections:
        anchor = f' id="{html.escape(s.anchor)}"' if s.anchor else ""
        body.append(f"<section{anchor}>")
        if s.heading and s.heading != title:
            body.append(f"<h2>{html.escape(s.heading)}</h2>")
        for kind, *rest in s.blocks:
            if kind == "trace":
                trace, mark = rest
                body.append(
                    f'<div class="side">\n<pre class="table">{html.escape(trace_table(trace, mark))}</pre>\n'
                    f'<div class="chart">\n{sequence_svg(trace, mark)}</div>\n</div>'
                )
            elif kind == "svg":
                body.append(f'<div class="chart">\n{rest[0]}</div>')
            elif kind in ("p", "h3", "pre"):
                body.append(f"<{kind}>{html.escape(rest[0])}</{kind}>")
            else:
                raise ValueError(f"unknown block {kind!r}")
        body.append("</section>")
    content = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 120em; }}
p {{ max-width: 50em; line-height: 1.45; }}
section {{ border-top: 1px solid #d0d5db; margin-top: 2em; }}
.side {{ display: flex; gap: 2em; align-items: flex-start; }}
pre {{ font-family: {FONT}; font-size: 12px; background: #f6f7f9; padding: 1em; border-radius: 4px; }}
.chart {{ overflow-x: auto; }}
</style>
</head>
<body>
{content}
</body>
</html>
"""


def trace_html(trace: Trace, title: str, mark: dict[int, str] | None = None) -> str:
    """A self-contained HTML page: the step table beside the chart."""
    return html_page(title, [Section(title, [("trace", trace, mark)])])


def _write(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # CI jobs write into reports/ and the like
    path.write_text(text, encoding="utf-8")
    return path


def write_svg(trace: Trace, path: str | Path, mark: dict[int, str] | None = None) -> Path:
    return _write(path, sequence_svg(trace, mark))


def write_html(trace: Trace, path: str | Path, title: str, mark: dict[int, str] | None = None) -> Path:
    return _write(path, trace_html(trace, title, mark))


def write_page(path: str | Path, title: str, sections: list[Section], intro: list[str] = ()) -> Path:
    return _write(path, html_page(title, sections, intro))

"""Pictures of traces: a message sequence chart as SVG, and an HTML page.

The chart is drawn from the one trace type and reads a spec only through
``variables(state)``, so any trace renders:

- a Paxos-family trace (a ``msgs`` variable holding 1a/1b/2a/2b records)
  gets one lifeline per proposer (one per ballot), one per acceptor and one
  for the learners; each step's new messages are arrows labelled with the
  message, and the acceptors' state changes are written beside their
  lifelines (``maxBal 0→1``);
- any other trace gets one lifeline per top-level variable, with each step's
  changes written beside it.

Time runs down the page: each step is a band with its number and action on
the left; a step given in ``mark`` (as for ``trace_table``) is highlighted.
The SVG is plain text built here, with no system package needed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

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

# A Paxos message is recognised by its fields, so that the explorer does not
# import the Paxos spec: 1a(bal), 1b(acc, bal, mbal, mval), 2a(bal, val), 2b(acc, bal, val).
KINDS = {
    ("bal",): "1a",
    ("acc", "bal", "mbal", "mval"): "1b",
    ("bal", "val"): "2a",
    ("acc", "bal", "val"): "2b",
}
COLOURS = {"1a": "#1f5fa8", "1b": "#2e7d32", "2a": "#b35c00", "2b": "#7b1fa2"}


def _kind(message: Any) -> str | None:
    return KINDS.get(tuple(getattr(message, "_fields", ())))


def _width(text: str) -> float:
    return len(text) * CHAR


@dataclass
class _Band:
    """What one step draws: its label, notes under it, and its rows."""

    number: int
    label: str
    notes: list[str] = field(default_factory=list)
    annotations: dict[str, list[str]] = field(default_factory=dict)  # lifeline -> lines beside it
    arrows: list[tuple[str, str, list[str], str, str]] = field(default_factory=list)  # kind, source, targets, label
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


def _is_paxos(variables: list[dict[str, Any]]) -> bool:
    if not variables or "msgs" not in variables[0]:
        return False
    for v in variables:
        msgs = v["msgs"]
        if not isinstance(msgs, (set, frozenset)) or any(_kind(m) is None for m in msgs):
            return False
    return any(isinstance(value, dict) for value in variables[0].values())


def _per_lifeline(before: dict[str, Any] | None, after: dict[str, Any], names: Iterable[str]) -> dict[str, list[str]]:
    """Per-acceptor changes of the dict-valued variables: ``{a1: ["maxBal 0→1"]}``."""
    out: dict[str, list[str]] = {}
    for var, new in after.items():
        if not isinstance(new, dict):
            continue
        old = before.get(var) if before is not None else None
        for key, value in new.items():
            if str(key) not in names:
                continue
            if before is None:
                out.setdefault(str(key), []).append(f"{var} = {show(value)}")
            elif not isinstance(old, dict) or old.get(key) != value:
                was = show(old.get(key)) if isinstance(old, dict) else "?"
                out.setdefault(str(key), []).append(f"{var} {was} → {show(value)}")
    return out


def _paxos_bands(trace: Trace, variables: list[dict[str, Any]]) -> tuple[list[str], list[_Band]]:
    every = set().union(*(v["msgs"] for v in variables))
    ballots = sorted({m.bal for m in every})
    acceptors: list[str] = []
    for value in variables[0].values():
        if isinstance(value, dict):
            acceptors += [str(k) for k in value if str(k) not in acceptors]
    acceptors += sorted({str(m.acc) for m in every if hasattr(m, "acc")} - set(acceptors))
    proposer = {b: f"proposer b{b}" for b in ballots}
    lifelines = [proposer[b] for b in ballots] + acceptors
    if any(_kind(m) == "2b" for m in every):
        lifelines.append("learners")
    bands = []
    previous: dict[str, Any] | None = None
    for i, (step, now) in enumerate(zip(trace.steps, variables), start=1):
        label = str(step.action) if step.action is not None else ("Init" if i == 1 else "(step)")
        band = _Band(i, label)
        band.annotations = _per_lifeline(previous, now, set(acceptors))
        before = previous or {}
        others = {k: v for k, v in now.items() if k != "msgs" and not isinstance(v, dict)}
        if previous is None:
            band.notes = [f"{k} = {show(v)}" for k, v in others.items()]
        else:
            band.notes = changes({k: before.get(k) for k in others}, others)
        new = sorted(now["msgs"] - (previous["msgs"] if previous else frozenset()), key=show)
        for m in new:
            kind = _kind(m)
            if kind in ("1a", "2a"):
                band.arrows.append((kind, proposer[m.bal], acceptors, str(m)))
            elif kind == "1b":
                band.arrows.append((kind, str(m.acc), [proposer[m.bal]], str(m)))
            else:
                band.arrows.append((kind, str(m.acc), ["learners"], str(m)))
        if previous is not None and not band.annotations and not band.notes and not band.arrows:
            band.notes = ["(nothing changes: a stutter)"]
        bands.append(band)
        previous = now
    return lifelines, bands


def _generic_bands(trace: Trace, variables: list[dict[str, Any]]) -> tuple[list[str], list[_Band]]:
    lifelines = list(dict.fromkeys(name for v in variables for name in v))
    bands = []
    previous: dict[str, Any] | None = None
    for i, (step, now) in enumerate(zip(trace.steps, variables), start=1):
        label = str(step.action) if step.action is not None else ("Init" if i == 1 else "(step)")
        band = _Band(i, label)
        for name in lifelines:
            if previous is None:
                lines = [f"= {show(now.get(name))}"] if name in now else []
            else:
                lines = [_strip(line, name) for line in changes({name: previous.get(name)}, {name: now.get(name)})]
            if lines:
                band.annotations[name] = lines
        if previous is not None and not band.annotations:
            band.notes = ["(nothing changes: a stutter)"]
        bands.append(band)
        previous = now
    return lifelines, bands


def _strip(line: str, name: str) -> str:
    return line[len(name) :].lstrip(": ") if line.startswith(name) else line


def _bands(trace: Trace, mark: dict[int, str] | None) -> tuple[list[str], list[_Band]]:
    variables = [trace.spec.variables(step.state) for step in trace.steps]
    if _is_paxos(variables):
        lifelines, bands = _paxos_bands(trace, variables)
    else:
        lifelines, bands = _generic_bands(trace, variables)
    for band in bands:
        if mark and band.number in mark:
            band.mark = mark[band.number]
    return lifelines, bands


def sequence_svg(trace: Trace, mark: dict[int, str] | None = None) -> str:
    """The trace as a message sequence chart: a self-contained SVG document."""
    lifelines, bands = _bands(trace, mark)

    # Horizontal layout: the step column, then lifelines far enough apart
    # that every label fits between two neighbours.
    indent = MARGIN + 4 * CHAR  # where a step's label starts, after its number
    left = indent + max(_width(s) for b in bands for s in [b.label, *b.notes, f"✗ {b.mark or ''}"]) + 2 * MARGIN
    labels = [a[3] for b in bands for a in b.arrows]
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
        for k, (kind, source, targets, label) in enumerate(band.arrows):
            colour = COLOURS[kind]
            ay = rows + k * ARROW + ARROW - 6
            xs = x[source]
            ends = [x[t] for t in targets if t in x]
            if not ends:
                continue
            far = max(ends, key=lambda e: abs(e - xs))
            direction = 1 if far > xs else -1
            c.line(xs, ay, far - 2 * direction, ay, stroke=colour, width=1.5)
            c.parts.append(f'<circle cx="{xs:.1f}" cy="{ay:.1f}" r="2.5" fill="{colour}"/>')
            for e in ends:
                c.head(e, ay, direction, colour)
            lx = min(xs, far) + 10
            c.text(lx, ay - 5, label, "message", fill=colour)
    c.line(0, height - MARGIN, width, height - MARGIN, stroke="#c4cbd3")

    title = f"Trace of {getattr(trace.spec, 'name', 'a spec')}: {len(trace)} steps"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)} font-size="{SIZE}">\n'
        f"<title>{escape(title)}</title>\n" + "\n".join(c.parts) + "\n</svg>\n"
    )


# ---------------------------------------------------------------------------
# The same chart as text, for a terminal
# ---------------------------------------------------------------------------

ANSI = {"1a": "34", "1b": "32", "2a": "33", "2b": "35", "mark": "1;31", "change": "36", "dim": "2"}
COLUMN = 5  # the least distance between two lifelines in the text chart


def _short(lifeline: str) -> str:
    return "L" if lifeline == "learners" else lifeline.removeprefix("proposer ")


def _about(name: str, notes: list[str]) -> str:
    """``a1: maxBal -1 → 0``; a variable's own lines read ``msgs + 1a(bal=0)``, ``rm[r1]: a → b``."""
    text = ", ".join(notes)
    if text[:1] == "[":
        return name + text
    if text[:2] in ("= ", "+ ", "- "):
        return f"{name} {text}"
    return f"{name}: {text}"


def sequence_text(trace: Trace, mark: dict[int, str] | None = None, colour: bool = False) -> str:
    """The message sequence chart as lines of text: the lifelines are columns
    (``b0`` the proposer of ballot 0, ``L`` the learners), each message an
    arrow from ``●`` to ``▶`` with its label on the right, and ``◆`` marks the
    lifeline whose state a line on the right describes."""

    def paint(text: str, what: str) -> str:
        return f"\x1b[{ANSI[what]}m{text}\x1b[0m" if colour and what in ANSI else text

    lifelines, bands = _bands(trace, mark)
    names = [_short(n) for n in lifelines]
    step = max(COLUMN, *(len(n) + 2 for n in names))
    left = max(len(f"{b.number:>2} {b.label}") for b in bands) + 2
    col = {name: i * step for i, name in enumerate(lifelines)}
    span = step * (len(lifelines) - 1) + 1

    def row(cells: dict[int, str] | None = None, fill: dict[int, str] | None = None) -> str:
        line = [" "] * span
        for name in lifelines:
            line[col[name]] = "│"
        for i, ch in (fill or {}).items():
            line[i] = ch
        for i, ch in (cells or {}).items():
            line[i] = ch
        return "".join(line)

    header = "".join(f"{n:<{step}}" for n in names).rstrip()
    out = [" " * left + header]
    about = []
    if any(n != s for n, s in zip(lifelines, names) if n.startswith("proposer ")):
        about.append("bN: the proposer of ballot N")
    if "learners" in lifelines:
        about.append("L: the learners")
    if about:
        out.append(" " * left + paint(" · ".join(about), "dim"))
    for band in bands:
        lines: list[tuple[str, str]] = []  # (lifelines drawn, text on the right)
        for name, notes in band.annotations.items():
            lines.append((row({col[name]: "◆"}), paint(_about(_short(name), notes), "change")))
        for kind, source, targets, label in band.arrows:
            ends = [col[t] for t in targets if t in col]
            if not ends:
                continue
            s = col[source]
            far = max(ends, key=lambda e: abs(e - s))
            lo, hi = min(s, far), max(s, far)
            fill = {i: "─" for i in range(lo, hi + 1)}
            fill.update({col[n]: "┼" for n in lifelines if lo < col[n] < hi})
            cells = {e: "▶" if far > s else "◀" for e in ends}
            cells[s] = "●"
            drawn = row(cells, fill)
            drawn = drawn[:lo] + paint(drawn[lo : hi + 1], kind) + drawn[hi + 1 :]
            lines.append((drawn, paint(label, kind)))
        lines += [(row(), note) for note in band.notes]
        if not lines:
            lines.append((row(), ""))
        for k, (drawn, text) in enumerate(lines):
            head = f"{band.number:>2} {band.label}" if k == 0 else ""
            out.append(f"{head:<{left}}{drawn}   {text}".rstrip())
        if band.mark is not None:
            out.append(f"{'':<{left}}{row()}   " + paint(f"✗ {band.mark}", "mark"))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# HTML pages
# ---------------------------------------------------------------------------


@dataclass
class Section:
    """A part of an HTML page: a heading, then blocks in order. A block is
    ``("p", text)``, ``("h3", text)``, ``("pre", text)`` or ``("trace",
    trace, mark)``; a trace is drawn as its step table beside its chart."""

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

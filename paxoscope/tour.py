"""``paxoscope tour``: a walk through the bug gallery for learners.

Each stop is one known-wrong variant of Paxos, shown five ways: the code
that was changed (a diff against the correct spec), why the change looks
harmless and how it goes wrong, the shortest run in which two values are
chosen (found by the explorer, drawn as a message sequence chart), the proof
obligation that the change breaks (found by Z3, with its counterexample to
induction), and the one-line fix. Everything but the prose is computed
afresh on each run, so the tour cannot drift from the code it describes.

In a terminal the tour pauses after each variant; ``--html DIR`` writes the
whole tour as one page, ``DIR/index.html``, with each chart also as
``DIR/NAME.svg``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the specs are imported when the tour runs, not when the command line is parsed
    from .explorer.trace import Trace
    from .spec.bugs import Bug

MAX_BALLOTS = 4  # the explorer looks for a counterexample with ballots 0..0, then 0..1, ... up to this
WIDTH = 88


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "tour",
        help="a guided tour of the bug gallery: the change, the counterexample, the broken proof, the fix",
        description="Walk through the gallery of known-wrong Paxos variants, one at a time: what was "
        "changed, why it looks harmless, the shortest counterexample as a message sequence chart, which "
        "proof obligation breaks, and the one-line fix. Every counterexample and proof is computed as the "
        "tour runs (about fifteen seconds for the whole gallery).",
        epilog="Exit codes: 0 every variant was caught as the gallery says, 1 a variant was not caught, 2 bad usage.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="only these variants (default: the whole gallery)")
    p.add_argument(
        "--html", metavar="DIR", help="write the tour as one HTML page, DIR/index.html, instead of printing it"
    )
    p.add_argument("--no-pause", action="store_true", help="do not wait for Enter between variants")
    p.add_argument("--no-color", action="store_true", help="no colours in the terminal chart (also: NO_COLOR=1)")


@dataclass
class Stop:
    """One variant, with everything the tour shows of it."""

    number: int
    bug: type[Bug]
    diff: str
    check_command: str
    trace: Trace | None
    explored: int  # distinct states the explorer visited to find the trace
    report: Any  # the proof report (proofs.obligations.Report)

    @property
    def name(self) -> str:
        return self.bug.name

    @property
    def mark(self) -> dict[int, str]:
        return {len(self.trace): "Consistency fails: two values are chosen"} if self.trace else {}

    @property
    def caught(self) -> bool:
        return self.trace is not None and self.report.verdict != "proven"


def run(args: argparse.Namespace, out: Any = print) -> int:
    from .console import stdout_closed
    from .spec.bugs import BUGS
    from .spec.constants import ConfigError

    unknown = [n for n in args.names if n not in BUGS]
    if unknown:
        raise ConfigError(f"unknown bug {unknown[0]!r}; the gallery has: {', '.join(BUGS)}")
    names = args.names or list(BUGS)
    if args.html and Path(args.html).exists() and not Path(args.html).is_dir():
        raise ConfigError(f"--html: {args.html} is a file; give a directory for index.html and the charts")
    colour = sys.stdout.isatty() and not args.no_color and not _no_color_env()
    pause = sys.stdin.isatty() and sys.stdout.isatty() and not args.no_pause and not args.html
    stops = []
    for number, name in enumerate(names, start=1):
        if args.html:
            out(f"{number}/{len(names)} {name} ...")
        stop = visit(number, BUGS[name], status=_status if sys.stderr.isatty() else None)
        stops.append(stop)
        if args.html:
            out(f"    {_verdicts(stop)}")
            continue
        out(stop_text(stop, len(names), colour))
        if stdout_closed():  # e.g. `paxoscope tour | head`: nobody reads the rest
            break
        if pause and number < len(names):
            try:
                answer = input("\npress Enter for the next variant, q then Enter to stop: ")
            except EOFError:
                answer = "q"
            if answer.strip().lower().startswith("q"):
                break
    if args.html:
        page = write_html(stops, Path(args.html))
        out(f"wrote the tour of {len(stops)} variant{'s' * (len(stops) != 1)} to {page}")
    missed = [s.name for s in stops if not s.caught]
    if missed:
        out(f"NOT CAUGHT: {', '.join(missed)}")
        return 1
    return 0


def _no_color_env() -> bool:
    import os

    return bool(os.environ.get("NO_COLOR"))


# ---------------------------------------------------------------------------
# What each stop computes
# ---------------------------------------------------------------------------


def _status(text: str) -> None:
    sys.stderr.write("\r\x1b[K" + (f"  {text}" if text else ""))
    sys.stderr.flush()


def visit(number: int, bug: type[Bug], status: Any = None) -> Stop:
    """Find the shortest counterexample of ``bug`` and prove it, reporting
    what is being done to ``status`` (which is called with "" at the end)."""
    from .explorer.bfs import check
    from .proofs.obligations import prove
    from .proofs.paxos import model_for

    status = status or (lambda text: None)
    trace, explored, command = None, 0, ""
    for ballots in range(1, MAX_BALLOTS + 1):  # the smallest configuration with a counterexample
        status(f"{bug.name}: exploring with ballots 0..{ballots - 1} ...")
        result = check(bug(ballots=ballots), ["Consistency"])
        explored = result.distinct_states
        command = f"paxoscope check --bug {bug.name} --ballots {ballots} --invariant Consistency"
        if result.violation is not None:
            trace = result.violation.trace
            break
    status(f"{bug.name}: proving with Z3 ...")
    report = prove(model_for(bug.name))
    status("")
    return Stop(number, bug, changed_code(bug), command, trace, explored, report)


def changed_code(bug: type[Bug]) -> str:
    """The methods of ``bug`` that carry a ``# BUG`` line, as a unified diff
    against the method of the correct spec (docstrings left out)."""
    from .spec.paxos import Paxos

    parts = []
    for name, member in vars(bug).items():
        if not inspect.isfunction(member):
            continue
        new = _code(member)
        if not any("# BUG" in line for line in new):
            continue
        base = getattr(Paxos, name, None)
        old = _code(base) if inspect.isfunction(base) else []
        where = f"Paxos.{name}  spec/paxos.py" if old else f"spec/paxos.py (Paxos has no {name})"
        diff = difflib.unified_diff(old, new, where, f"{bug.__name__}.{name}  spec/bugs.py", n=2)
        parts.append("\n".join(line.rstrip("\n") for line in diff))
    return "\n\n".join(parts)


def _code(function: Any) -> list[str]:
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source).body[0]
    lines = source.splitlines()
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if doc is not None and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
        del lines[doc.lineno - 1 : doc.end_lineno]
    return lines


def failed(stop: Stop) -> list[Any]:
    return [o for o in stop.report.outcomes if o.result != "proven"]


def obligation_sentence(o: Any) -> str:
    from .proofs.report import what_failed

    if o.result == "unknown":
        return f"{o.name}: Z3 could not decide it (unknown)"
    return f"{o.name}: {what_failed(o)}"


CTI = (
    "A counterexample to induction is a state that satisfies every conjunct of the invariant, and a "
    "step of the variant from it that breaks one: the invariant is no longer preserved, so the proof "
    "of safety fails at that step."
)


def reachability(cti: Any) -> str:
    if cti.reachable is True:
        return "Its first state is reachable from Init (prove prints the run), so this step really happens."
    if cti.reachable is False:
        return "Its first state is not reachable from Init; the explorer's counterexample above shows the real failure."
    return f"Whether its first state is reachable was not decided: {cti.reach_note}"


def _verdicts(stop: Stop) -> str:
    found = f"counterexample of {len(stop.trace)} states" if stop.trace else "NO counterexample"
    broken = ", ".join(o.name for o in failed(stop)) or "NO obligation fails"
    return f"{found}; proof: {broken}"


# ---------------------------------------------------------------------------
# What a stop says, once, for the terminal and the page
# ---------------------------------------------------------------------------


def stop_blocks(stop: Stop) -> list[tuple]:
    """The stop as blocks of ``explorer.chart.Section``: ``("p", text)``,
    ``("h3", text)``, ``("pre", text)`` and ``("trace", trace, mark)``."""
    from .proofs.report import mark_broken

    blocks: list[tuple] = [
        ("p", stop.bug.summary),
        ("h3", "What was changed"),
        ("pre", stop.diff),
        ("h3", "Why it looks harmless, and why it is not"),
        ("p", stop.bug.explanation),
        ("h3", "The shortest counterexample"),
    ]
    if stop.trace is None:
        blocks.append(("p", f"None found with up to {MAX_BALLOTS} ballots: the variant is NOT caught."))
    else:
        blocks.append(("pre", stop.check_command))
        blocks.append(("p", f"{len(stop.trace)} states, found among {stop.explored:,}:"))
        blocks.append(("trace", stop.trace, stop.mark))
    broken = failed(stop)
    sentences = "\n".join(obligation_sentence(o) for o in broken)
    blocks += [
        ("h3", "The proof obligation that breaks"),
        ("pre", f"paxoscope prove --bug {stop.name}\n{sentences or 'every obligation is proven: NOT caught'}"),
    ]
    cti = next((o.counterexample for o in broken if o.counterexample is not None), None)
    if cti is not None:
        blocks.append(("p", f"{CTI} The counterexample to induction of {broken[0].name}:"))
        blocks.append(("trace", cti.trace(), mark_broken(cti, cti.trace())))
        blocks.append(("p", reachability(cti)))
    blocks += [("h3", "The one-line fix"), ("p", stop.bug.fix)]
    return blocks


def stop_text(stop: Stop, total: int, colour: bool) -> str:
    """The stop for a terminal: each trace as a text chart."""
    from .explorer.chart import sequence_text

    def heading(text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if colour else text

    def indent(text: str) -> str:
        return textwrap.indent(text, "  ")

    rule = "━" * WIDTH
    summary, *rest = stop_blocks(stop)
    lines = [rule, heading(f"{stop.number}/{total} · {stop.name}"), summary[1], rule]
    previous = None
    for kind, *what in rest:
        if kind == "h3":
            lines += ["", heading(what[0])]
        else:
            if previous in ("p", "pre", "trace"):
                lines.append("")
            if kind == "p":
                lines.append(indent(_wrap(what[0])))
            elif kind == "pre":
                lines.append(indent(_paint_diff(what[0], colour)))
            else:
                lines.append(indent(sequence_text(*what, colour=colour)))
        previous = kind
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=WIDTH - 2)


def _paint_diff(diff: str, colour: bool) -> str:
    if not colour:
        return diff
    codes = {"+": "32", "-": "31", "@": "36"}
    painted = []
    for line in diff.splitlines():
        code = codes.get(line[:1]) if not line.startswith(("+++", "---")) else "1"
        painted.append(f"\x1b[{code}m{line}\x1b[0m" if code else line)
    return "\n".join(painted)


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------


def write_html(stops: list[Stop], directory: Path) -> Path:
    from .explorer.chart import write_page, write_svg

    directory.mkdir(parents=True, exist_ok=True)
    sections = [_section(stop) for stop in stops]
    for stop in stops:
        if stop.trace is not None:
            write_svg(stop.trace, directory / f"{stop.name}.svg", stop.mark)
    intro = [
        "Each variant below is Paxos with one small change that looks harmless, and each lets two different "
        "values be chosen. For each one: the change, why it looks harmless and why it is not, the shortest "
        "run that goes wrong (found by exhaustive search, drawn as a message sequence chart beside its step "
        "table), the proof obligation that the change breaks (found by Z3), and the fix.",
        "Written by: paxoscope tour --html DIR. In a terminal: paxoscope tour.",
    ]
    page = directory / "index.html"
    write_page(page, "A tour of the Paxos bug gallery", sections, intro)
    return page


def _section(stop: Stop):
    from .explorer.chart import Section

    return Section(f"{stop.number}. {stop.name}", stop_blocks(stop), anchor=stop.name)

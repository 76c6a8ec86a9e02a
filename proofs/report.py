"""The proof report: text, JSON, JUnit, charts, and ``--explain``, for any proof model.

``paxoscope prove`` (``paxoscope/commands/prove.py``) and the tour print
through these; a failed obligation is said once (``outcome_blocks``) and
shown as text, JUnit failure or HTML section from there.
"""

from __future__ import annotations

import re
from typing import Any


def gallery_proven(report: Any) -> str:
    """The failure of a proof of a gallery variant, or "" (no --bug, or not proven).

    Every variant of the gallery with a proof model breaks safety (the
    explorer shows how): a model of one that Z3 proves safe has lost the bug,
    so the proof says nothing about the variant and the run must not pass."""
    if report.bug is None or report.verdict != "proven":
        return ""
    return (
        f"FAILED: the gallery says {report.bug} is wrong ({report.variant_text}), so a proof of it means "
        "the proof model misses the bug"
    )


def write_junit(report: Any, path: str) -> None:
    """One test case per obligation; a failure carries its counterexample."""
    from ..explorer.junit import Case, write_junit

    label = _title(report.spec, report.bug)
    cases = []
    for o in report.outcomes:
        case = Case(o.name, f"paxoscope.prove.{label}", o.seconds)
        if o.result == "failed":
            case.failure = "\n".join(outcome_text(o))
        elif o.result == "unknown":
            case.failure = f"{o.name}: Z3 answered unknown (not proven)"
        cases.append(case)
    wrong = gallery_proven(report)
    if wrong:
        case = Case("the variant is refuted", f"paxoscope.prove.{label}", 0.0)
        case.failure = wrong
        cases.append(case)
    write_junit(path, f"paxoscope prove {label}", cases, report.seconds)


def write_charts(report: Any, svg: str | None, html: str | None) -> list[str]:
    """--svg: the first counterexample as a chart; --html: a page with every
    failed obligation. Returns what was not written, and why."""
    from ..explorer.chart import Section, write_page, write_svg

    if report.verdict == "proven":
        return ["every obligation proven, so no chart was written"]
    notes = []
    if svg:
        first = next((o.counterexample for o in report.failed if o.counterexample is not None), None)
        if first is None:
            notes.append(f"no failed obligation has a counterexample, so {svg} was not written")
        else:
            trace = first.trace()
            write_svg(trace, svg, mark=mark_broken(first, trace))
    if html:
        sections = []
        for o in report.failed:
            blocks = [("p", rest[0]) if kind == "aside" else (kind, *rest) for kind, *rest in outcome_blocks(o)]
            sections.append(Section(o.name, blocks, anchor="ob-" + re.sub(r"[^A-Za-z0-9]+", "-", o.name)))
        write_page(html, f"paxoscope prove {_title(report.spec, report.bug)}", sections, intro=_summary(report))
    return notes


def _title(spec: str, bug: str | None) -> str:
    return f"{spec}{' --bug ' + bug if bug else ''}"


def report_text(report: Any) -> str:
    """The table of obligations, then each failure's counterexample."""
    width = max(len("obligation"), *(len(o.name) for o in report.outcomes))
    header, verdict = _summary(report)
    lines = [header, "", f"{'obligation':<{width}}  {'result':<7}  seconds"]
    for o in report.outcomes:
        lines.append(f"{o.name:<{width}}  {o.result:<7}  {o.seconds:7.3f}")
    lines.append("")
    lines.append(verdict)
    for o in report.failed:
        lines.append("")
        lines.extend(outcome_text(o))
    return "\n".join(lines)


def _summary(report: Any) -> list[str]:
    """Two lines: what was proven with what, and the verdict."""
    header = f"prove {_title(report.spec, report.bug)} · every number of {report.sizes_text} · Z3 {report.z3_version}"
    n = len(report.outcomes)
    if report.verdict == "proven":
        return [
            header,
            f"PROVEN: all {n} obligations; the invariant holds initially, every action preserves it, "
            f"and it implies {report.safety_name} ({report.seconds:.2f} s)",
        ]
    failed = [o for o in report.outcomes if o.result == "failed"]
    unknown = [o for o in report.outcomes if o.result == "unknown"]
    parts = []
    if failed:
        parts.append(f"{len(failed)} failed ({', '.join(o.name for o in failed)})")
    if unknown:
        parts.append(f"{len(unknown)} unknown ({', '.join(o.name for o in unknown)})")
    return [header, f"FAILED: {' and '.join(parts)} of {n} obligations ({report.seconds:.2f} s)"]


def mark_broken(c: Any, trace: Any) -> dict[int, str]:
    """Where a counterexample's trace fails, for the trace table and the chart."""
    return {len(trace): f"{c.broken} fails here"}


def what_failed(o: Any) -> str:
    """What a failed obligation's counterexample is, in a few words."""
    broken = o.counterexample.broken if o.counterexample is not None else "Consistency"
    return {
        "initiation": "an initial state breaks the invariant",
        "safety": f"a state satisfying the invariant breaks {broken}",
        "consecution": f"a counterexample to induction: {o.action} breaks {o.conjunct}",
    }[o.kind]


def outcome_blocks(o: Any) -> list[tuple]:
    """What is said about a failed (or unknown) obligation, in order: ``("p",
    sentence)``, ``("aside", sentence)`` (a detail of what precedes it) and
    ``("trace", trace, mark)``. The text report, the JUnit failure and the
    HTML page all say it from here."""
    c = o.counterexample
    if c is None:
        return [("p", f"{o.name} is {o.result}: {o.detail}")]
    blocks: list[tuple] = [("p", f"{o.name} {o.result}: {what_failed(o)} ({c.where}):")]
    if o.detail:
        blocks.append(("aside", f"({o.detail})"))
    trace = c.trace()
    blocks.append(("trace", trace, mark_broken(c, trace)))
    if c.note:
        blocks.append(("aside", f"note: {c.note}"))
    if c.reachable is True:
        full = c.full_trace()
        blocks.append(
            ("p", f"reachable: this is a real bug, here is the trace from Init ({c.reach_note or 'it is Init'}):")
        )
        blocks.append(("trace", full, mark_broken(c, full)))
    elif c.reachable is False:
        blocks.append(
            ("p", f"unreachable: the invariant is too weak here (no run reaches this pre-state: {c.reach_note})")
        )
        if c.real is not None:
            blocks.append(
                (
                    "p",
                    f"but the explorer finds {o.name} failing on a reachable step of this configuration, "
                    "so the protocol is wrong all the same; the trace from Init:",
                )
            )
            blocks.append(("trace", c.real, mark_broken(c, c.real)))
    else:
        blocks.append(("p", f"reachability not decided: {c.reach_note}"))
    return blocks


def outcome_text(o: Any) -> list[str]:
    """``outcome_blocks`` as lines: a trace as its table, set off by blank lines."""
    from ..explorer.render import trace_table

    lines: list[str] = []
    previous = None
    for kind, *rest in outcome_blocks(o):
        if kind == "trace":
            lines.append("")
            lines.append(trace_table(*rest))
        elif kind == "aside":
            lines.append(f"  {rest[0]}")
        else:
            if previous in ("trace", "aside"):
                lines.append("")
            lines.append(rest[0])
        previous = kind
    return lines


def report_json(report: Any) -> dict[str, Any]:
    from ..explorer.render import trace_json

    def cex(o: Any) -> dict[str, Any] | None:
        c = o.counterexample
        if c is None:
            return None
        return {
            "obligation": o.name,
            "broken": c.broken,
            "config": c.spec.config,
            "trace": trace_json(c.trace()),
            "note": c.note,
            "reachable": c.reachable,
            "reachability": c.reach_note,
            "trace_from_init": trace_json(c.full_trace()) if c.reachable else None,
            "reachable_failure": trace_json(c.real) if c.real is not None else None,
        }

    return {
        "verdict": report.verdict,
        "spec": report.spec,
        "bug": report.bug,
        "obligations": [
            {"name": o.name, "result": o.result, "seconds": round(o.seconds, 4), "kind": o.kind, "detail": o.detail}
            for o in report.outcomes
        ],
        "failed": [o.name for o in report.failed],
        "counterexamples": [x for x in (cex(o) for o in report.failed) if x is not None],
        "seconds": round(report.seconds, 4),
        "z3_version": report.z3_version,
        # Why the run fails although every obligation was proven (a gallery variant), or None.
        "failure": gallery_proven(report) or None,
    }


# ---------------------------------------------------------------------------
# --explain
# ---------------------------------------------------------------------------


def explain_text(model: Any) -> str:
    import textwrap

    from .logic import show

    def wrap(text: str, indent: str) -> str:
        return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)

    pre = model.pre_view()
    lines = [
        f"The inductive invariant of {_title(model.name, model.bug)}, conjunct by conjunct.",
        "",
        *model.signature_text.splitlines(),
        "",
    ]
    for name, f in model.invariant(pre).items():
        lines.append(f"{name}")
        lines.append(wrap(model.explanations.get(name, ""), "  "))
        lines.append(wrap(show(f), "    "))
        lines.append("")
    lines.append("where")
    for name, text in model.definitions.items():
        lines.append(wrap(f"{name}: {text}", "  "))
    lines.append("")
    lines.append(f"{model.safety_name} (what the invariant must imply): {model.safety_text}.")
    lines.append(wrap(show(model.safety(pre)), "    "))
    lines.append("")
    lines.append("Axioms:")
    for name, f in model.axioms().items():
        lines.append(wrap(f"{name}: {show(f)}", "  "))
    return "\n".join(lines)


def explain_json(model: Any) -> dict[str, Any]:
    from .logic import show

    pre = model.pre_view()
    return {
        "spec": model.name,
        "bug": model.bug,
        "conjuncts": [
            {"name": n, "meaning": model.explanations.get(n, ""), "formula": show(f)}
            for n, f in model.invariant(pre).items()
        ],
        model.safety_name.lower(): show(model.safety(pre)),
        "axioms": {n: show(f) for n, f in model.axioms().items()},
    }

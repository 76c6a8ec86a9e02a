"""``paxoscope prove``: prove Paxos safe for every size, or show why not.

Wired into ``paxoscope/cli.py`` with ``add_parser(subparsers)`` and
``run(args)``; also runs on its own as ``python -m paxoscope.proofs.cli``
(the same options as ``paxoscope prove``).

A failed obligation's counterexample is printed as a trace table; ``--svg
FILE`` draws the first one as a message sequence chart and ``--html FILE``
writes a page with every failed obligation, its counterexample and (when the
pre-state is reachable) the run from Init, each as a table beside its chart.

Exit codes: 0 every obligation proven (or, with --crosscheck, the two
encodings agree; with --explain, always), 1 an obligation failed or is
unknown, a variant of the bug gallery (--bug) was proven (the model misses
the bug), or the cross-check found a difference, 2 bad usage.

This module imports nothing heavy at the top: ``paxoscope --help`` and
``paxoscope check`` must not pay for z3.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from ..spec.constants import positive_int as _positive
from ..spec.constants import positive_seconds as _seconds

EXIT_OK, EXIT_FAILED = 0, 1
# With --crosscheck, Z3 itself also evaluates the proof's terms on every
# Z3_EVERY-th state (about a tenth of a second each).
Z3_EVERY = 1000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prove`` subcommand to ``subparsers`` (argparse's)."""
    p = subparsers.add_parser(
        "prove",
        help="prove the spec safe for every number of acceptors, ballots and values (Z3)",
        description="Prove with Z3 that the inductive invariant of SPEC holds initially, is preserved by "
        "every action and implies Consistency, for every number of acceptors, ballots and values. Each "
        "obligation is reported on its own; a failed one is shown as a counterexample to induction, with "
        "the explorer's verdict on whether its pre-state is reachable (--svg and --html draw it as a message "
        "sequence chart).",
        epilog="SPEC: paxos (the only one with a proof model so far). Exit codes: 0 every obligation proven "
        "(with --crosscheck: the encodings agree), 1 an obligation failed or is unknown, a --bug variant was "
        "proven (the model misses the bug) or, with --crosscheck, a difference, 2 bad usage or input, 3 internal "
        "error.",
    )
    p.add_argument("spec", nargs="?", default="paxos", metavar="SPEC", help="the spec to prove (default: paxos)")
    p.add_argument("--bug", metavar="NAME", help="prove a variant from the bug gallery (it must fail)")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="Z3 time per query (default 2; if Z3 gives up and no small universe has a counterexample, "
        "one retry with twice as long)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    out.add_argument("--junit", metavar="FILE", help="write a JUnit XML report: one test case per obligation")
    out.add_argument(
        "--explain",
        action="store_true",
        help="print the invariant in readable math, a sentence per conjunct (no proof)",
    )
    out.add_argument(
        "--svg",
        metavar="FILE",
        help="draw the counterexample to induction of the first failed obligation as a message sequence chart "
        "(SVG); nothing is written when every obligation is proven",
    )
    out.add_argument(
        "--html",
        metavar="FILE",
        help="write a self-contained page with a section per failed obligation: what failed, its counterexample "
        "and the run from Init (or why it is unreachable), each as a step table beside its chart",
    )
    cross = p.add_argument_group("cross-check of the proof model against the executable spec")
    cross.add_argument(
        "--crosscheck",
        action="store_true",
        help="instead of proving: compare invariant values and successors on every reachable state of a configuration",
    )
    cross.add_argument("--acceptors", type=_positive, metavar="N", help="acceptors a1..aN (default 3)")
    cross.add_argument("--values", type=_positive, metavar="N", help="values v1..vN (default 2)")
    cross.add_argument("--ballots", type=_positive, metavar="N", help="ballots 0..N-1 (default 3)")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``paxoscope prove`` with parsed ``args``; returns the exit code.
    Bad input raises ``ConfigError``."""
    from .paxos import model_for

    if args.spec != "paxos":
        raise _config_error(f"prove has a proof model for the paxos spec only, not {args.spec!r}")
    model = model_for(args.bug)
    sizes = {"acceptors": args.acceptors, "values": args.values, "ballots": args.ballots}
    if not args.crosscheck:
        given = [k for k, v in sizes.items() if v is not None]
        if given:
            raise _config_error(f"--{given[0]} sets the configuration of --crosscheck; a proof covers every size")
    charts = [f"--{k}" for k in ("svg", "html") if getattr(args, k, None)]
    other = "--explain" if args.explain else "--crosscheck" if args.crosscheck else None
    if charts and other:
        raise _config_error(f"{charts[0]} draws a failed proof's counterexample, so it does not go with {other}")
    if args.explain:
        if args.json:
            _out(json.dumps(explain_json(model), indent=2))
        else:
            _out(explain_text(model))
        return EXIT_OK
    if args.crosscheck:
        return _crosscheck(model, args, {k: v for k, v in sizes.items() if v is not None})
    from .obligations import prove

    report = prove(model, timeout=args.timeout)
    # The verdict first: a file that cannot be written then costs the reader nothing.
    if args.json:
        _out(json.dumps(report_json(report), indent=2))
    else:
        _out(report_text(report))
    wrong = gallery_proven(report)
    if wrong:
        # On stderr beside --json, so that stdout stays one JSON document.
        if args.json:
            print(wrong, file=sys.stderr)
        else:
            _out(wrong)
    if getattr(args, "junit", None):
        _write_junit(report, args.junit)
    if charts:
        _write_charts(report, args)
    return EXIT_OK if report.verdict == "proven" and not wrong else EXIT_FAILED


def gallery_proven(report: Any) -> str:
    """The failure of a proof of a gallery variant, or "" (no --bug, or not proven).

    Every variant of the gallery lets two values be chosen (the explorer
    shows how): a model of one that Z3 proves safe has lost the bug, so the
    proof says nothing about the variant and the run must not pass."""
    if report.bug is None or report.verdict != "proven":
        return ""
    return (
        f"FAILED: the gallery says {report.bug} is wrong (two values can be chosen), so a proof of it means "
        "the proof model misses the bug"
    )


def _write_junit(report: Any, path: str) -> None:
    """One test case per obligation; a failure carries its counterexample."""
    from ..explorer.junit import Case, write_junit

    label = _title(report.spec, report.bug)
    cases = []
    for o in report.outcomes:
        case = Case(o.name, f"paxoscope.prove.{label}", o.seconds)
        if o.result == "failed":
            case.failure = "\n".join(_outcome_text(o))
        elif o.result == "unknown":
            case.failure = f"{o.name}: Z3 answered unknown (not proven)"
        cases.append(case)
    wrong = gallery_proven(report)
    if wrong:
        case = Case("the variant is refuted", f"paxoscope.prove.{label}", 0.0)
        case.failure = wrong
        cases.append(case)
    write_junit(path, f"paxoscope prove {label}", cases, report.seconds)


def _write_charts(report: Any, args: argparse.Namespace) -> None:
    """--svg: the first counterexample as a chart; --html: a page with every failed obligation."""
    from ..explorer.chart import Section, write_page, write_svg

    if report.verdict == "proven":
        print("paxoscope prove: every obligation proven, so no chart was written", file=sys.stderr)
        return
    if getattr(args, "svg", None):
        first = next((o.counterexample for o in report.failed if o.counterexample is not None), None)
        if first is None:
            print(
                f"paxoscope prove: no failed obligation has a counterexample, so {args.svg} was not written",
                file=sys.stderr,
            )
        else:
            trace = first.trace()
            write_svg(trace, args.svg, mark=mark_broken(first, trace))
    if getattr(args, "html", None):
        sections = []
        for o in report.failed:
            blocks = [("p", rest[0]) if kind == "aside" else (kind, *rest) for kind, *rest in _outcome_blocks(o)]
            sections.append(Section(o.name, blocks, anchor="ob-" + re.sub(r"[^A-Za-z0-9]+", "-", o.name)))
        write_page(args.html, f"paxoscope prove {_title(report.spec, report.bug)}", sections, intro=_summary(report))


def _config_error(message: str) -> Exception:
    # Imported here: the spec package is not otherwise needed for a proof.
    from ..spec.constants import ConfigError

    return ConfigError(message)


# ---------------------------------------------------------------------------
# The proof report
# ---------------------------------------------------------------------------


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
        lines.extend(_outcome_text(o))
    return "\n".join(lines)


def _summary(report: Any) -> list[str]:
    """Two lines: what was proven with what, and the verdict."""
    header = (
        f"prove {_title(report.spec, report.bug)} · every number of acceptors, ballots and values"
        f" · Z3 {report.z3_version}"
    )
    n = len(report.outcomes)
    if report.verdict == "proven":
        return [
            header,
            f"PROVEN: all {n} obligations; the invariant holds initially, every action preserves it, "
            f"and it implies Consistency ({report.seconds:.2f} s)",
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
    return {
        "initiation": "an initial state breaks the invariant",
        "safety": "a state satisfying the invariant breaks Consistency",
        "consecution": f"a counterexample to induction: {o.action} breaks {o.conjunct}",
    }[o.kind]


def _outcome_blocks(o: Any) -> list[tuple]:
    """What is said about a failed (or unknown) obligation, in order: ``("p",
    sentence)``, ``("aside", sentence)`` (a detail of what precedes it) and
    ``("trace", trace, mark)``. The text report, the JUnit failure and the
    HTML page all say it from here."""
    c = o.counterexample
    if c is None:
        return [("p", f"{o.name} is {o.result}: {o.detail}")]
    blocks: list[tuple] = [("p", f"{o.name} {o.result}: {what_failed(o)} ({_config(c.spec.config)}):")]
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


def _outcome_text(o: Any) -> list[str]:
    """``_outcome_blocks`` as lines: a trace as its table, set off by blank lines."""
    from ..explorer.render import trace_table

    lines: list[str] = []
    previous = None
    for kind, *rest in _outcome_blocks(o):
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


def _config(cfg: dict[str, Any]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'s' * (n != 1)}"

    quorums = "{" + ", ".join("{" + ",".join(q) + "}" for q in cfg["quorums"]) + "}"
    return (
        f"{plural(cfg['acceptors'], 'acceptor')}, {plural(cfg['values'], 'value')}, "
        f"ballots 0..{cfg['ballots'] - 1}, quorums {quorums}"
    )


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
    from .paxos import DEFINITIONS, EXPLANATIONS, pre_view

    def wrap(text: str, indent: str) -> str:
        return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)

    pre = pre_view()
    lines = [
        f"The inductive invariant of {_title(model.name, model.bug)}, conjunct by conjunct.",
        "",
        "Sorts: Acceptor, Ballot (totally ordered by ≤, with -1 below every ballot), Value (with None),",
        "Quorum (member(a, q); any two quorums share an acceptor). The variables are relations:",
        "maxBal(a, b) means maxBal[a] = b (so for maxVBal, maxVal), msg1a(b), msg1b(a, b, mbal, mval),",
        "msg2a(b, v) and msg2b(a, b, v) mean that message was sent.",
        "",
    ]
    for name, f in model.invariant(pre).items():
        lines.append(f"{name}")
        lines.append(wrap(EXPLANATIONS.get(name, ""), "  "))
        lines.append(wrap(show(f), "    "))
        lines.append("")
    lines.append("where")
    for name, text in DEFINITIONS.items():
        lines.append(wrap(f"{name}: {text}", "  "))
    lines.append("")
    lines.append("Consistency (what the invariant must imply): at most one value is chosen.")
    lines.append(wrap(show(model.consistency(pre)), "    "))
    lines.append("")
    lines.append("Axioms:")
    for name, f in model.axioms().items():
        lines.append(wrap(f"{name}: {show(f)}", "  "))
    return "\n".join(lines)


def explain_json(model: Any) -> dict[str, Any]:
    from .logic import show
    from .paxos import EXPLANATIONS, pre_view

    pre = pre_view()
    return {
        "spec": model.name,
        "bug": model.bug,
        "conjuncts": [
            {"name": n, "meaning": EXPLANATIONS.get(n, ""), "formula": show(f)} for n, f in model.invariant(pre).items()
        ],
        "consistency": show(model.consistency(pre)),
        "axioms": {n: show(f) for n, f in model.axioms().items()},
    }


# ---------------------------------------------------------------------------
# --crosscheck
# ---------------------------------------------------------------------------


def _crosscheck(model: Any, args: argparse.Namespace, sizes: dict[str, int]) -> int:
    from .crosscheck import crosscheck, report_json, report_text

    progress = None
    if sys.stderr.isatty() and not args.json:

        def progress(p: Any) -> None:
            sys.stderr.write(f"\r\x1b[K  {p.states:,} states · queue {p.queue:,} · {p.seconds:.0f} s")
            sys.stderr.flush()

    try:
        report = crosscheck(model, **sizes, z3_every=Z3_EVERY, progress=progress)
    finally:
        if progress is not None:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    _out(json.dumps(report_json(report), indent=2) if args.json else report_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _out(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m paxoscope.proofs.cli [SPEC] [options]``: ``paxoscope prove`` on its own."""
    parser = argparse.ArgumentParser(prog="paxoscope")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["prove", *argv])
    try:
        return run(args)
    except Exception as exc:
        from ..spec.constants import ConfigError

        if not isinstance(exc, ConfigError):
            raise
        print(f"paxoscope prove: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

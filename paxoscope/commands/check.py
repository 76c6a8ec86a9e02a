"""``paxoscope check``: explore every reachable state of a spec, or gate on pinned state spaces."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import console, registry
from ..console import EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATION, UsageError, out
from ..spec.constants import positive_int
from ..specs import DEFAULT
from . import add_arguments, add_command, arg, check_simulate, options, workers

EXIT_CODES = {"ok": EXIT_OK, "incomplete": EXIT_OK, "violation": EXIT_VIOLATION, "interrupted": EXIT_INTERRUPTED}


PARAM_HELP = (
    "a constructor parameter of your spec (file.py:Name or module:Name); repeatable. VALUE is read as a Python "
    "literal (3, 0.5, True, None, 'x', (1, 2)); a bare word that is not one is a string"
)

WHAT = [
    arg(
        "--invariant",
        action="append",
        metavar="NAME",
        help="check this property (invariant, step property, refinement or liveness under the spec's fairness); "
        "repeatable; "
        "default: the spec's default set. An unknown name lists the available ones.",
    ),
    arg(
        "--bug",
        metavar="NAME",
        help="check a variant from the bug gallery (see: paxoscope bugs); without SPEC, the spec it varies",
    ),
    arg(
        "--deadlock",
        action="store_true",
        help="also report a state with no enabled action (always on for a spec that asks for it, as multipaxos)",
    ),
    arg(
        "--strict",
        action="store_true",
        help="fail (exit 1) when the verdict may be vacuous: an action never enabled, a 'sometimes' "
        "situation never witnessed, or a search stopped by --max-states",
    ),
]

HOW = [
    arg(
        "--symmetry",
        action="store_true",
        help="reduce by symmetry (the names the spec declares interchangeable: acceptors and values, replicas, ...)",
    ),
    arg("--exact", action="store_true", help="store whole states instead of 64-bit fingerprints"),
    arg("--max-states", type=positive_int, metavar="N", help="stop after N distinct states"),
]

OUTPUT = [
    arg("--json", action="store_true", help="print one JSON report on stdout"),
    arg("--itf", metavar="FILE", help="write the counterexample in the Informal Trace Format"),
    arg("--graph", metavar="FILE", help="write the state graph (.graphml or .dot; small configs)"),
    arg("--junit", metavar="FILE", help="write a JUnit XML report: one test case per property"),
    arg("--svg", metavar="FILE", help="draw the counterexample as a message sequence chart (SVG)"),
    arg("--html", metavar="FILE", help="write the counterexample as a page: step table beside the chart"),
    arg(
        "--against",
        metavar="FILE",
        help="explore every configuration pinned in FILE (see: paxoscope pin) and fail if its verdict, "
        "state count, depth or reachable set moved; with SPEC, only that spec's pins",
    ),
]


def add_parser(sub: Any) -> None:
    others = ", ".join(name for name in registry.spec_names() if name != DEFAULT)
    check = add_command(
        sub,
        "check",
        "explore every reachable state of a spec and check its properties",
        "Explore every reachable state of SPEC breadth-first and check its invariants, step properties and "
        "refinement mappings. A violation is shown as the shortest trace that leads to it.",
        [arg("spec", nargs="?", default=None, metavar="SPEC", help=f"the spec to check (default: {DEFAULT})")],
        epilog=f"SPEC: {DEFAULT} (default), {others}, or your own as path/to/file.py:Name or module:Name (a Spec "
        "instance, class, or function returning one; a plain class with init, next and invariants will do; "
        "module:Name is looked up in the current directory too). See: paxoscope protocols. "
        "Exit codes: 0 verified (also when --max-states stopped the search early: the verdict then "
        "says 'incomplete'), 1 a property fails (or, with --strict, the verdict may be vacuous), "
        "2 bad usage or input, 3 internal error, 130 interrupted.",
    )
    options.add_size_flags(check)
    what = check.add_argument_group("what to check")
    add_arguments(what, WHAT)
    options.add_param_option(what, PARAM_HELP)
    add_arguments(check.add_argument_group("how to explore"), HOW)
    add_arguments(check.add_argument_group("on more cores"), workers.FLAGS)
    check_simulate.add_flags(check)
    add_arguments(check.add_argument_group("output"), OUTPUT)


def run(args: argparse.Namespace) -> int:
    from ..explorer.render import progress_text, result_json, result_text

    if args.against:
        return run_against(args)
    if check_simulate.asked(args):
        return check_simulate.run(args)
    spec, search = load_spec(args)
    return explore_and_report(
        args, lambda progress: _explore(spec, args, search, progress), progress_text, result_json, result_text
    )


def explore_and_report(
    args: argparse.Namespace,
    explore: Callable[[Any], Any],
    progress_text: Callable,
    as_json: Callable,
    as_text: Callable,
) -> int:
    """Run ``explore`` (given the progress line, or None off a terminal), print its
    result with ``as_json`` or ``as_text``, write the files asked for; the exit code."""
    from ..explorer.render import strict_failed

    progress = console.ProgressLine(progress_text) if console.ProgressLine.wanted() else None
    try:
        result = explore(progress)
    finally:
        if progress is not None:
            progress.clear()
    # The verdict first: a file that cannot be written then costs the reader nothing.
    out(json.dumps(as_json(result, args.spec, args.strict), indent=2) if args.json else as_text(result, args.strict))
    write_files(result, args)
    return EXIT_VIOLATION if strict_failed(result, args.strict) else EXIT_CODES[result.verdict]


def load_spec(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The spec the command line names, how to search it, and (without --json) its heading."""
    from ..specs import load, spec_name, wants_deadlock

    args.spec = spec_name(args.spec, args.bug)
    spec = load(
        args.spec,
        bug=args.bug,
        sizes=options.sizes_given(args),
        params=options.params(args.param),
        progress=_building_progress(),
        symmetry=args.symmetry,
    )
    search: dict[str, Any] = {
        "properties": args.invariant,
        "symmetry": args.symmetry,
        "exact": args.exact,
        "max_states": args.max_states,
        "deadlock": args.deadlock or wants_deadlock(spec),
    }
    if not args.json:
        about = spec.config_text()
        out(f"{args.spec}{' --bug ' + args.bug if args.bug else ''}{' · ' + about if about else ''}")
    return spec, search


def write_files(result: Any, args: argparse.Namespace) -> None:
    """The files asked for beside the report, written after it: one that
    cannot be written then costs the reader nothing."""
    if args.itf:
        _write_itf(result, args.itf)
    if args.junit:
        _write_junit(result, args)
    if args.svg or args.html:
        _write_chart(result, args)


def _explore(spec: Any, args: argparse.Namespace, search: dict[str, Any], progress: Any) -> Any:
    from ..explorer.liveness import check

    if workers.wanted(args):
        return workers.explore(spec, args, search, progress)
    if not args.graph:
        return check(spec, progress=progress, **search)
    from ..explorer.graph import state_graph, write_graph

    graph, result = state_graph(spec, progress=progress, **search)
    write_graph(graph, args.graph)
    if not args.json:
        out(
            f"wrote the state graph ({graph.number_of_nodes()} states, {graph.number_of_edges()} edges) to {args.graph}"
        )
    return result


# What the pins decide, so that a value given beside --against would be silently ignored.
_NOT_WITH_AGAINST = (
    "bug",
    "invariant",
    "itf",
    "graph",
    "svg",
    "html",
    "max_states",
    *check_simulate.FLAGS,
    *workers.DESTS,
)


def run_against(args: argparse.Namespace) -> int:
    from .. import pins

    given = options.given_flag(args, _NOT_WITH_AGAINST)
    if given:
        raise UsageError(f"--against explores what the pin file records; it takes no {given}")
    started = time.perf_counter()
    results = pins.compare(args.against, args.spec, options.params(args.param))
    seconds = time.perf_counter() - started
    if args.json:
        out(json.dumps(pins.report_json(args.against, results, args.strict, seconds), indent=2))
    else:
        out(pins.report_text(results, args.strict))
    if args.junit:
        _write_against_junit(args, results, seconds)
    failed = any(r.moved for r in results) or pins.vacuous(results, args.strict)
    return EXIT_VIOLATION if failed else EXIT_OK


def _write_against_junit(args: argparse.Namespace, results, seconds: float) -> None:
    from ..explorer.junit import Case, write_junit

    cases = []
    for r in results:
        case = Case(r.label, "paxoscope.pins", r.seconds)
        if r.moved:
            case.failure = "\n".join(r.moved) + "\n(re-pin with paxoscope pin if intended)"
            case.message = f"the pinned state space moved: {r.moved[0]}"
        elif args.strict and r.warnings:
            case.failure = "\n".join(r.warnings)
            case.message = f"--strict: {r.warnings[0]}"
        else:
            case.output = f"{r.measured['distinct_states']:,} states, depth {r.measured['depth']}, as pinned"
        cases.append(case)
    write_junit(args.junit, f"paxoscope check --against {args.against}", cases, seconds)


def _building_progress():
    """A line on stderr while big tables are built, on a terminal only."""
    if not sys.stderr.isatty():
        return None
    from ..sizing import BuildingLine

    return BuildingLine(sys.stderr)


def _no_counterexample(what: str) -> None:
    print(f"paxoscope check: no counterexample, so {what}", file=sys.stderr)


def _write_chart(result, args: argparse.Namespace) -> None:
    from ..explorer.chart import write_html, write_svg
    from ..explorer.render import violation_marks

    v = result.violation
    if v is None:
        _no_counterexample("no chart was written")
        return
    mark = violation_marks(v)
    if args.svg:
        write_svg(v.trace, args.svg, mark=mark)
    if args.html:
        write_html(v.trace, args.html, f"{args.spec}: {v.kind} {v.property} fails", mark=mark)


def _write_junit(result, args: argparse.Namespace) -> None:
    from ..explorer.junit import Case, check_cases, write_junit
    from ..explorer.render import result_text, strict_failed

    label = args.spec + (f".{args.bug}" if args.bug else "")
    text = result_text(result) if result.violation is not None else ""
    cases = check_cases(result, label, text)
    if strict_failed(result, args.strict):
        cases.append(Case("Strict", f"paxoscope.check.{label}", result.seconds, failure="\n".join(result.warnings)))
    write_junit(args.junit, f"paxoscope check {label}", cases, result.seconds)


def _write_itf(result, path: str) -> None:
    from ..explorer.render import trace_itf

    v = result.violation
    if v is None:
        _no_counterexample(f"{path} was not written")
        return
    if v.loop is None:
        doc = trace_itf(v.trace, f"paxoscope: {v.kind} {v.property} fails in the last state")
    else:
        doc = trace_itf(v.trace, f"paxoscope: {v.property} never holds on this lasso", v.loop)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)

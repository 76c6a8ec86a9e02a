"""``paxoscope``: the one command.

Exit codes: 0 verified (or nothing failed within --max-states), 1 a property
fails (with a trace) or, with --strict, the verdict may be vacuous (with the
reason), 2 bad usage or bad input (one line on stderr), 3 an internal error,
130 interrupted (partial statistics are printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import console
from .console import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATION,
    UsageError,
)
from .console import (
    Parser as _Parser,
)
from .console import out as _out
from .spec.constants import positive_int as _positive


def _refuse_what_cannot_fit(acceptors: int, values: int, ballots: int) -> None:
    """Refuse (ConfigError) Paxos sizes whose tables cannot fit, for a command that builds them itself."""
    from .sizing import check_fits

    with check_fits("paxos", {"acceptors": acceptors, "values": values, "ballots": ballots}):
        pass


def _quorum(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no acceptor (write e.g. a1,a2)")
    return names


def _param(text: str) -> tuple[str, str]:
    """NAME=VALUE, checked now (so a typo is a usage error naming it) and kept as text:
    the pin file records what the user wrote, and ``specs.param_value`` reads it."""
    from .specs import param_value

    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. n=3 or mode=fast)")
    try:
        param_value(name, value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, value


def _version() -> str:
    """The installed distribution's version (what pip reports), else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paxoscope")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="paxoscope",
        description="Check the correctness of consensus: explore specs exhaustively, walk through the "
        "gallery of known-wrong Paxos variants, check the real implementation against the spec, and run it.",
        epilog="Exit codes: 0 verified, 1 a property fails, 2 bad usage or input, 3 internal error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="explore every reachable state of a spec and check its properties",
        description="Explore every reachable state of SPEC breadth-first and check its invariants, "
        "step properties and refinement mappings. A violation is shown as the shortest trace that "
        "leads to it.",
        epilog="SPEC: paxos (default), voting, consensus, twophase, tcommit, or your own as "
        "path/to/file.py:Name or module:Name (a Spec instance, class, or function returning one; a plain "
        "class with init, next and invariants will do; module:Name is looked up in the current directory too). "
        "Exit codes: 0 verified (also when --max-states stopped the search early: the verdict then "
        "says 'incomplete'), 1 a property fails (or, with --strict, the verdict may be vacuous), "
        "2 bad usage or input, 3 internal error, 130 interrupted.",
    )
    check.add_argument("spec", nargs="?", default=None, metavar="SPEC", help="the spec to check (default: paxos)")
    size = check.add_argument_group("configuration (Paxos family; default 3 acceptors, 2 values, 3 ballots)")
    size.add_argument("--acceptors", type=_positive, metavar="N", help="acceptors a1..aN")
    size.add_argument("--values", type=_positive, metavar="N", help="values v1..vN")
    size.add_argument("--ballots", type=_positive, metavar="N", help="ballots 0..N-1")
    size.add_argument(
        "--quorum",
        action="append",
        type=_quorum,
        metavar="A,B,..",
        help="a quorum, as acceptor names (repeat for each; default: every majority). "
        "Quorums that do not intersect are allowed: a known bug to see fail",
    )
    size.add_argument(
        "--rms", type=_positive, metavar="N", help="resource managers r1..rN (twophase, tcommit; default 3)"
    )
    what = check.add_argument_group("what to check")
    what.add_argument(
        "--invariant",
        action="append",
        metavar="NAME",
        help="check this property (invariant, step property or refinement); repeatable; "
        "default: the spec's default set. An unknown name lists the available ones.",
    )
    what.add_argument("--bug", metavar="NAME", help="check a variant from the bug gallery (see: paxoscope bugs)")
    what.add_argument(
        "--param",
        action="append",
        type=_param,
        metavar="NAME=VALUE",
        help="a constructor parameter of your spec (file.py:Name or module:Name); repeatable. VALUE is read "
        "as a Python literal (3, 0.5, True, None, 'x', (1, 2)); a bare word that is not one is a string",
    )
    what.add_argument("--deadlock", action="store_true", help="also report a state with no enabled action")
    how = check.add_argument_group("how to explore")
    how.add_argument("--symmetry", action="store_true", help="reduce by symmetry (acceptors and values)")
    how.add_argument("--exact", action="store_true", help="store whole states instead of 64-bit fingerprints")
    how.add_argument("--max-states", type=_positive, metavar="N", help="stop after N distinct states")
    what.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when the verdict may be vacuous: an action never enabled, a 'sometimes' "
        "situation never witnessed, or a search stopped by --max-states",
    )
    out = check.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    out.add_argument("--itf", metavar="FILE", help="write the counterexample in the Informal Trace Format")
    out.add_argument("--graph", metavar="FILE", help="write the state graph (.graphml or .dot; small configs)")
    out.add_argument("--junit", metavar="FILE", help="write a JUnit XML report: one test case per property")
    out.add_argument("--svg", metavar="FILE", help="draw the counterexample as a message sequence chart (SVG)")
    out.add_argument("--html", metavar="FILE", help="write the counterexample as a page: step table beside the chart")
    out.add_argument(
        "--against",
        metavar="FILE",
        help="explore every configuration pinned in FILE (see: paxoscope pin) and fail if its verdict, "
        "state count, depth or reachable set moved; with SPEC, only that spec's pins",
    )

    pin = sub.add_parser(
        "pin",
        help="record state spaces (verdict, states, depth, digest) for check --against",
        description="Explore each CONFIG and record its verdict, distinct states, depth and a digest of the "
        "reachable set in FILE. `paxoscope check --against FILE` then fails when any of these moves.",
        epilog="CONFIG: SPEC or SPEC:key=value,... (keys: acceptors, values, ballots, rms, bug), e.g. "
        "paxos:ballots=2 twophase:rms=3; a user's spec: file.py:Name or module:Name, with its sizes and "
        "constructor parameters after @ (file.py:Name@ballots=2,mode=fast) or from --param. Default: the "
        "built-in specs at small sizes.",
    )
    pin.add_argument("file", metavar="FILE", help="the pin file to write (JSON)")
    pin.add_argument("configs", nargs="*", metavar="CONFIG", help="configurations to pin")
    pin.add_argument(
        "--param",
        action="append",
        type=_param,
        metavar="NAME=VALUE",
        help="a constructor parameter for every user's spec among the CONFIGs (as in check); repeatable",
    )

    bugs = sub.add_parser(
        "bugs",
        help="list the gallery of known-wrong Paxos variants",
        description="List the bug gallery; with a NAME, explain that variant.",
    )
    bugs.add_argument("name", nargs="?", metavar="NAME", help="explain this variant")
    bugs.add_argument("--json", action="store_true", help="print a JSON list of {name, summary}")

    from . import tour

    tour.add_parser(sub)
    from .commands import cluster, conform

    conform.add_parser(sub, _positive)
    cluster.add_parsers(sub)
    from .proofs import cli as prove_cli  # z3 is imported only when `prove` runs

    prove_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return console.run(f"paxoscope {args.command}", lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        return cmd_check(args)
    if args.command == "bugs":
        return cmd_bugs(args)
    if args.command == "pin":
        return cmd_pin(args)
    if args.command == "tour":
        from . import tour

        return tour.run(args, out=_out)
    if args.command == "conform":
        from .commands import conform

        # The random schedules run two ballots more than the walk unless told otherwise.
        schedule_ballots = args.schedule_ballots or args.ballots + 2
        _refuse_what_cannot_fit(args.acceptors, args.values, max(args.ballots, schedule_ballots))
        return conform.run(args, out=_out)
    if args.command == "prove":
        from .proofs import cli as prove_cli

        if args.crosscheck:  # the cross-check builds the executable spec of its sizes
            _refuse_what_cannot_fit(args.acceptors or 3, args.values or 2, args.ballots or 3)
        return prove_cli.run(args)
    if args.command in ("cluster", "propose"):
        from .commands import cluster

        return cluster.run(args, out=_out)
    raise AssertionError(args.command)


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from .explorer.bfs import check
    from .specs import load

    if args.against:
        return cmd_against(args)
    args.spec = args.spec or "paxos"
    sizes = {
        "acceptors": args.acceptors,
        "values": args.values,
        "ballots": args.ballots,
        "quorums": args.quorum,
        "rms": args.rms,
    }
    spec = load(
        args.spec,
        bug=args.bug,
        sizes=sizes,
        params=_params(args.param),
        progress=_building_progress(),
        symmetry=args.symmetry,
    )
    options: dict[str, Any] = {
        "properties": args.invariant,
        "symmetry": args.symmetry,
        "exact": args.exact,
        "max_states": args.max_states,
        "deadlock": args.deadlock,
    }
    progress = console.ProgressLine(_exploring) if console.ProgressLine.wanted() else None
    if not args.json:
        about = describe_config(spec.config)
        _out(f"{args.spec}{' --bug ' + args.bug if args.bug else ''}{' · ' + about if about else ''}")
    try:
        if args.graph:
            from .explorer.graph import state_graph, write_graph

            graph, result = state_graph(spec, progress=progress, **options)
            write_graph(graph, args.graph)
            if not args.json:
                _out(
                    f"wrote the state graph ({graph.number_of_nodes()} states, "
                    f"{graph.number_of_edges()} edges) to {args.graph}"
                )
        else:
            result = check(spec, progress=progress, **options)
    finally:
        if progress is not None:
            progress.clear()
    # The verdict first: a file that cannot be written then costs the reader nothing.
    if args.json:
        _out(json.dumps(result_json(result, args.spec, args.strict), indent=2))
    else:
        _out(result_text(result, args.strict))
    if args.itf:
        _write_itf(result, args.itf)
    if args.junit:
        _write_junit(result, args)
    if args.svg or args.html:
        _write_chart(result, args)
    if strict_failed(result, args.strict):
        return EXIT_VIOLATION
    return {
        "ok": EXIT_OK,
        "incomplete": EXIT_OK,
        "violation": EXIT_VIOLATION,
        "interrupted": EXIT_INTERRUPTED,
    }[result.verdict]


_NOT_WITH_AGAINST = ("acceptors", "values", "ballots", "quorum", "rms", "bug", "invariant", "itf", "graph", "svg")


def cmd_against(args: argparse.Namespace) -> int:
    from .pins import compare

    given = [name for name in (*_NOT_WITH_AGAINST, "html", "max_states") if getattr(args, name)]
    if given:
        # The pins say what to explore: a size given here would be silently ignored.
        raise UsageError(f"--against explores what the pin file records; it takes no --{given[0].replace('_', '-')}")
    started = time.perf_counter()
    results = compare(args.against, args.spec, _params(args.param))
    seconds = time.perf_counter() - started
    moved = [r for r in results if r.moved]
    vacuous = [r for r in results if args.strict and r.warnings]
    if args.json:
        _out(json.dumps(against_json(args, results, seconds), indent=2))
    else:
        for r in results:
            _out(f"{'MOVED' if r.moved else 'same '}  {r.label}")
            for line in r.moved:
                _out(f"       {line}")
            for line in r.warnings if args.strict else ():
                _out(f"       --strict: {line}")
        if moved:
            _out(f"\n{len(moved)} of {len(results)} pinned state spaces moved (re-pin with paxoscope pin if intended)")
        elif vacuous:
            _out(f"\nFAILED (--strict): {len(vacuous)} of {len(results)} pinned state spaces may be vacuous")
        else:
            _out(f"\nall {len(results)} pinned state spaces are as pinned")
    if args.junit:
        _write_against_junit(args, results, seconds)
    return EXIT_VIOLATION if moved or vacuous else EXIT_OK


def against_json(args: argparse.Namespace, results, seconds: float) -> dict[str, Any]:
    moved = sum(bool(r.moved) for r in results)
    vacuous = sum(bool(args.strict and r.warnings) for r in results)
    return {
        "verdict": "moved" if moved else "vacuous" if vacuous else "ok",
        "against": args.against,
        "pins": [
            {"label": r.label, "config": r.config, "moved": r.moved, "warnings": r.warnings, **r.measured}
            for r in results
        ],
        "moved": moved,
        "strict": args.strict,
        "seconds": round(seconds, 4),
    }


def _write_against_junit(args: argparse.Namespace, results, seconds: float) -> None:
    from .explorer.junit import Case, write_junit

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


def _params(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs or ():
        if name in out:
            raise UsageError(f"--param {name} is given twice")
        out[name] = value
    return out


def _building_progress():
    """A line on stderr while big tables are built, on a terminal only."""
    if not sys.stderr.isatty():
        return None
    from .specs import BuildingLine

    return BuildingLine(sys.stderr)


def cmd_pin(args: argparse.Namespace) -> int:
    from .pins import label, pin

    entries = pin(args.file, args.configs, _params(args.param))
    for e in entries:
        _out(f"{label(e['config'])}: {e['verdict']}, {e['distinct_states']:,} states, depth {e['depth']}")
    _out(f"pinned {len(entries)} state spaces in {args.file}; gate with: paxoscope check --against {args.file}")
    return EXIT_OK


def _write_chart(result, args: argparse.Namespace) -> None:
    from .explorer.chart import write_html, write_svg

    v = result.violation
    if v is None:
        print("paxoscope check: no counterexample, so no chart was written", file=sys.stderr)
        return
    mark = {len(v.trace): f"{v.property} fails here"}
    if args.svg:
        write_svg(v.trace, args.svg, mark=mark)
    if args.html:
        write_html(v.trace, args.html, f"{args.spec}: {v.kind} {v.property} fails", mark=mark)


def _write_junit(result, args: argparse.Namespace) -> None:
    from .explorer.junit import Case, check_cases, write_junit

    label = args.spec + (f".{args.bug}" if args.bug else "")
    text = result_text(result) if result.violation is not None else ""
    cases = check_cases(result, label, text)
    if strict_failed(result, args.strict):
        cases.append(Case("Strict", f"paxoscope.check.{label}", result.seconds, failure="\n".join(result.warnings)))
    write_junit(args.junit, f"paxoscope check {label}", cases, result.seconds)


def _write_itf(result, path: str) -> None:
    from .explorer.render import trace_itf

    if result.violation is None:
        print(f"paxoscope check: no counterexample, so {path} was not written", file=sys.stderr)
        return
    v = result.violation
    doc = trace_itf(v.trace, f"paxoscope: {v.kind} {v.property} fails in the last state")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)


def _exploring(p) -> str:
    rate = p.distinct_states / p.seconds if p.seconds > 0 else 0
    return (
        f"  {p.distinct_states:,} states · depth {p.depth} · {rate:,.0f} states/s · "
        f"queue {p.queue:,} · {p.seconds:.0f} s"
    )


def describe_config(config: dict[str, Any]) -> str:
    parts = []
    for key, value in config.items():
        if key == "ballots" and isinstance(value, int):
            parts.append(f"ballots 0..{value - 1}")
        elif key == "quorums":
            parts.append("majority quorums" if _is_majority(config, value) else f"quorums {_quorums(value)}")
        elif key == "bug":
            continue
        else:
            parts.append(f"{value} {key}")
    return ", ".join(parts)


def _is_majority(config: dict[str, Any], quorums: list[list[str]]) -> bool:
    from .spec.constants import majority_quorums

    n = config.get("acceptors")
    if not isinstance(n, int):
        return False
    from math import comb

    if len(quorums) != sum(comb(n, k) for k in range(n // 2 + 1, n + 1)):
        return False  # without listing 2^(n-1) majorities to find out
    names = tuple(f"a{i + 1}" for i in range(n))
    return sorted(map(sorted, majority_quorums(names))) == sorted(map(sorted, quorums))


def _quorums(quorums: list[list[str]]) -> str:
    return "{" + ", ".join("{" + ",".join(q) + "}" for q in quorums) + "}"


def result_text(result, strict: bool = False) -> str:
    from .explorer.render import trace_table

    lines = []
    rate = result.distinct_states / result.seconds if result.seconds > 0 else 0.0
    stats = (
        f"{result.distinct_states:,} distinct states, {result.states_generated:,} generated, "
        f"depth {result.depth}, {result.seconds:.2f} s ({rate:,.0f} states/s)"
    )
    checked = ", ".join(result.properties) or "nothing (no property selected)"
    if result.verdict == "violation":
        v = result.violation
        steps = len(v.trace) - 1
        lines.append(f"checked: {checked}")
        lines.append(f"VIOLATION: {v.kind} {v.property} fails after {steps} step{'s' * (steps != 1)}:")
        lines.append("")
        lines.append(trace_table(v.trace, {len(v.trace): f"{v.property} fails here"}))
        if v.detail:
            lines.append("")
            lines.append(f"  {v.detail}")
        lines.append("")
        lines.append(f"  {stats}")
        return "\n".join(lines)
    lines.append(f"checked: {checked}")
    warnings = result.warnings if result.verdict != "interrupted" else []
    if strict and warnings:
        lines.append(f"FAILED (--strict): {'; '.join(warnings)}")
    elif result.verdict == "ok" and warnings:
        # Not "OK": a property that holds where nothing happens proves nothing.
        lines.append(
            f"VACUOUS?: no property fails{' (up to symmetry)' * result.symmetry}, but "
            f"{'; '.join(warnings)} (--strict fails on this)"
        )
    elif result.verdict == "ok":
        lines.append(f"OK: every property holds in every reachable state{' (up to symmetry)' * result.symmetry}")
    elif result.verdict == "incomplete":
        lines.append("INCOMPLETE: stopped at --max-states; no violation among the states explored")
    else:
        lines.append("INTERRUPTED: partial statistics")
    lines.append(f"  {stats}")
    if result.collision_probability is not None:
        lines.append(
            f"  states kept as 64-bit fingerprints; chance of a collision ≈ {result.collision_probability:.1e} "
            "(--exact keeps whole states)"
        )
    if result.verdict != "interrupted":
        if result.never_enabled:
            lines.append(f"  never enabled (vacuous?): {', '.join(result.never_enabled)}")
        elif not result.actions_declared:
            lines.append("  actions not declared (list them in the spec's `actions` to have unused ones reported)")
        elif result.verdict == "ok":
            lines.append("  every action was enabled somewhere")
        for name, depth in result.witnesses.items():
            lines.append(f"  {name}: " + (f"witnessed at depth {depth}" if depth else "NEVER witnessed"))
    return "\n".join(lines)


def result_json(result, spec_name: str, strict: bool = False) -> dict[str, Any]:
    from .explorer.render import trace_json

    v = result.violation
    return {
        "verdict": result.verdict,
        "spec": spec_name,
        "config": result.config,
        "distinct_states": result.distinct_states,
        "states_generated": result.states_generated,
        "depth": result.depth,
        "seconds": round(result.seconds, 4),
        "states_per_second": round(result.distinct_states / result.seconds) if result.seconds > 0 else None,
        "violation": None
        if v is None
        else {"property": v.property, "kind": v.kind, "detail": v.detail, "trace": trace_json(v.trace)},
        "properties": result.properties,
        "symmetry": result.symmetry,
        "exact": result.exact,
        "collision_probability": result.collision_probability,
        "never_enabled": result.never_enabled,
        "witnesses": result.witnesses,
        "actions_declared": result.actions_declared,
        "warnings": result.warnings,
        "strict": strict,
        "strict_failed": strict_failed(result, strict),
    }


def strict_failed(result, strict: bool) -> bool:
    """Whether --strict turns this result into a failure (exit 1)."""
    return strict and result.verdict in ("ok", "incomplete") and bool(result.warnings)


# ---------------------------------------------------------------------------
# bugs
# ---------------------------------------------------------------------------


def cmd_bugs(args: argparse.Namespace) -> int:
    from .specs import bugs

    gallery = bugs()
    if args.name is not None:
        if args.name not in gallery:
            raise UsageError(f"unknown bug {args.name!r}; the gallery has: {', '.join(gallery)}")
        bug = gallery[args.name]
        if args.json:
            _out(json.dumps({"name": bug.name, "summary": bug.summary, "explanation": bug.explanation, "fix": bug.fix}))
        else:
            _out(f"{bug.name}: {bug.summary}\n\n{_wrap(bug.explanation)}\n\nfix: {bug.fix}")
            _out(f"\nsee it fail: paxoscope check --bug {bug.name}")
        return EXIT_OK
    if args.json:
        _out(json.dumps([{"name": b.name, "summary": b.summary} for b in gallery.values()], indent=2))
        return EXIT_OK
    width = max(len(name) for name in gallery)
    for name, bug in gallery.items():
        _out(f"{name:<{width}}  {bug.summary}")
    _out("\nexplain one: paxoscope bugs NAME · check one: paxoscope check --bug NAME")
    return EXIT_OK


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=88)


if __name__ == "__main__":
    sys.exit(main())

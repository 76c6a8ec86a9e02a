"""``paxoscope conform``: run the conformance suite from the command line."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any

from ..spec.constants import ConfigError
from .core import IMPL_BUGS
from .sim import SimConfig


def add_parser(sub: Any, positive: Any) -> None:
    p = sub.add_parser(
        "conform",
        help="check the implementation against the spec (simulated runs with faults, and coverage)",
        description="Run Hypothesis-generated schedules (reordering, drops, duplicates, crashes, restarts, "
        "timers) through the simulator and check every step of the implementation against the spec; then "
        "drive the implementation along every transition of the spec's state graph and report coverage.",
        epilog=f"Implementation bugs for --bug: {', '.join(IMPL_BUGS)}. Exit codes: 0 conforms, 1 a step "
        "leaves the spec (the shrunk schedule is printed), 2 bad usage.",
    )
    p.add_argument("--acceptors", type=positive, default=3, metavar="N", help="acceptors (default 3)")
    p.add_argument("--values", type=positive, default=2, metavar="N", help="values (default 2)")
    p.add_argument("--ballots", type=positive, default=2, metavar="N", help="ballots 0..N-1 (default 2)")
    p.add_argument("--examples", type=positive, default=200, metavar="N", help="schedules to run (default 200)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="Hypothesis seed (default 0)")
    p.add_argument("--bug", metavar="NAME", help="switch on a known implementation bug")
    p.add_argument("--replay", metavar="SCHEDULE", help="run one printed schedule instead")
    p.add_argument("--no-coverage", action="store_true", help="skip the spec -> implementation coverage walk")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report: one test case per batch of schedules")
    p.add_argument("--svg", metavar="FILE", help="draw the failing run as a message sequence chart (SVG)")
    p.add_argument(
        "--html", metavar="FILE", help="draw the failing run as a message sequence chart: a page with the step table"
    )


def run(args: argparse.Namespace, out: Any = print) -> int:
    """Run ``paxoscope conform``. Hypothesis keeps its caches in a temporary
    folder, not in ./.hypothesis: a command run in someone's project leaves
    nothing behind (HYPOTHESIS_STORAGE_DIRECTORY, if set, is honoured)."""
    import os
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return _run(args, out)
    with tempfile.TemporaryDirectory(prefix="paxoscope-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            return _run(args, out)
        finally:
            set_hypothesis_home_dir(None)


def _run(args: argparse.Namespace, out: Any) -> int:
    from .conformance import conform, coverage, run_schedule

    if args.bug is not None and args.bug not in IMPL_BUGS:
        raise ConfigError(f"unknown implementation bug {args.bug!r}; known: {', '.join(IMPL_BUGS)}")
    config = SimConfig(args.acceptors, args.values, args.ballots, frozenset([args.bug] if args.bug else []))
    if args.replay is not None:
        ops = parse_schedule(args.replay)
        outcome = run_schedule(config, ops)
        if args.json:
            out(json.dumps({"verdict": "ok" if outcome.ok else "violation", "failure": outcome.report or None}))
        else:
            out(outcome.report if not outcome.ok else f"ok: the schedule conforms; decisions {outcome.decisions}")
        if args.svg or args.html:
            _write_chart(args, outcome, ops)
        return 0 if outcome.ok else 1
    if not args.json:
        out(
            f"conform · {args.acceptors} acceptors, {args.values} values, ballots 0..{args.ballots - 1}"
            + (f" · bug {args.bug}" if args.bug else "")
        )
    report = conform(config, examples=args.examples, seed=args.seed)
    cov = cov_sym = None
    if not args.no_coverage and report.verdict == "ok":
        cov, cov_sym = coverage(config), coverage(config, symmetry=True)
    from .abstraction import spec_for

    reachable = cov.states[1] if cov else None
    # The verdict first: a file that cannot be written then costs the reader nothing.
    if args.json:
        out(json.dumps(_json(args, config, report, cov, cov_sym, reachable, spec_for(config)), indent=2))
    else:
        out(_text(report, cov, cov_sym, reachable, _flags(args)))
    if args.junit:
        _write_junit(args, report, cov, cov_sym)
    if args.svg or args.html:
        # the shrunk schedule runs again, deterministically, to the same failure
        failed = run_schedule(config, report.schedule) if report.schedule is not None else None
        _write_chart(args, failed, report.schedule)
    return 0 if report.verdict == "ok" else 1


def parse_schedule(text: str) -> list:
    """A schedule as printed (``[Request(node=0, value=0), Run(k=3)]``) back into operations."""
    from . import sim

    names = {
        cls.__name__: cls
        for cls in (sim.Deliver, sim.Run, sim.Drop, sim.Duplicate, sim.Crash, sim.Restart, sim.Fire, sim.Request)
    }
    try:
        tree = ast.parse(text.strip(), mode="eval").body
        if not isinstance(tree, ast.List):
            raise ValueError("not a list")
        ops = []
        for item in tree.elts:
            if not (isinstance(item, ast.Call) and isinstance(item.func, ast.Name) and item.func.id in names):
                raise ValueError(f"{ast.unparse(item)} is not an operation")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in item.keywords}
            posargs = [ast.literal_eval(a) for a in item.args]
            ops.append(names[item.func.id](*posargs, **kwargs))
        return ops
    except (SyntaxError, ValueError, TypeError) as exc:
        raise ConfigError(f"--replay: cannot read the schedule ({exc}); paste it as printed") from None


def _flags(args: argparse.Namespace) -> str:
    """The options that fix the configuration, so that a replay runs the same one."""
    flags = f"--acceptors {args.acceptors} --values {args.values} --ballots {args.ballots}"
    return flags + (f" --bug {args.bug}" if args.bug else "")


def _replay(flags: str, ops: list) -> str:
    from .sim import show_schedule

    return f"paxoscope conform {flags} --replay '{show_schedule(ops)}'"


def _write_chart(args: argparse.Namespace, outcome, ops: list | None) -> None:
    """Draw the failing run of ``outcome`` (the run of ``ops``) as --svg and --html ask."""
    from ..explorer.chart import Section, write_page, write_svg
    from .sim import show_schedule

    if outcome is None or outcome.ok:
        print("paxoscope conform: the runs conform, so no chart was written", file=sys.stderr)
        return
    if args.svg:
        write_svg(outcome.trace, args.svg, mark=outcome.mark)
    if args.html:
        what = outcome.report.splitlines()[0]
        title = f"paxoscope conform{' --bug ' + args.bug if args.bug else ''}: {what}"
        sections = [
            Section(
                "The failing run",
                [
                    ("trace", outcome.trace, outcome.mark),
                    ("p", "The spec allowed here: " + (", ".join(map(str, outcome.allowed)) or "nothing")),
                ],
            ),
            Section(
                "Reproduce it",
                [
                    ("p", f"The schedule ({len(ops)} operations):"),
                    ("pre", show_schedule(ops)),
                    ("p", "Replay it with:"),
                    ("pre", _replay(_flags(args), ops)),
                ],
            ),
        ]
        intro = [
            "The run of the implementation as the spec sees it: each step is labelled with the spec action it "
            "matched, a step that no spec action makes is labelled Implementation(), and the marked step is "
            "where the check failed, with the handler run that failed it and why."
        ]
        write_page(args.html, title, sections, intro=intro)


def _text(report, cov, cov_sym, reachable, flags: str) -> str:
    lines = [f"schedules run: {report.schedules:,} · faults injected: {report.faults:,}"]
    if report.verdict != "ok":
        from .sim import show_schedule

        lines += [
            "",
            "VIOLATION: " + report.failure,
            "",
            f"shrunk schedule ({len(report.schedule)} operations):",
            "  " + show_schedule(report.schedule),
            f"replay it: {_replay(flags, report.schedule)}",
        ]
        return "\n".join(lines)
    lines.append("OK: every step of every run was a step of the spec, and every decision was chosen")
    if reachable:
        lines.append(f"  spec states the random runs passed through: {len(report.visited):,} of {reachable:,}")
    if cov:
        lines.append(
            f"  spec -> implementation, states realised: {_ratio(cov.states)}; transitions: {_ratio(cov.transitions)}"
        )
        lines.append(
            f"  the same up to symmetry, states: {_ratio(cov_sym.states)}; transitions: {_ratio(cov_sym.transitions)}"
        )
        for miss in cov.missed:
            lines.append(f"  not realised: {miss}")
    return "\n".join(lines)


BATCH = 100


def _write_junit(args: argparse.Namespace, report, cov, cov_sym) -> None:
    """A case per batch of BATCH schedules (the failing one, if any, last),
    and one per coverage figure."""
    from ..explorer.junit import Case, write_junit

    label = f"{args.acceptors}a{args.values}v{args.ballots}b" + (f".{args.bug}" if args.bug else "")
    cls = f"paxoscope.conform.{label}"
    cases = []
    for start in range(0, report.schedules, BATCH):
        end = min(start + BATCH, report.schedules)
        case = Case(f"schedules {start + 1}-{end}", cls)
        if report.verdict != "ok" and end == report.schedules:
            case.failure = report.failure
        cases.append(case)
    for name, c in (("coverage", cov), ("coverage up to symmetry", cov_sym)):
        if c is not None:
            case = Case(name, cls, output=f"states {_ratio(c.states)}; transitions {_ratio(c.transitions)}")
            if c.states[0] < c.states[1] or c.transitions[0] < c.transitions[1]:
                case.failure = f"not every spec state and transition was realised: {case.output}"
            cases.append(case)
    write_junit(args.junit, f"paxoscope conform {label}", cases, 0.0)


def _ratio(pair: tuple[int, int]) -> str:
    done, total = pair
    return f"{done:,} / {total:,} ({100 * done / total:.1f}%)" if total else "0 / 0"


def _json(args, config, report, cov, cov_sym, reachable, spec) -> dict[str, Any]:
    from .sim import show_schedule

    return {
        "verdict": report.verdict,
        "config": {"acceptors": config.acceptors, "values": config.values, "ballots": config.ballots, "bug": args.bug},
        "schedules": report.schedules,
        "faults": report.faults,
        "seed": args.seed,
        "coverage": None if cov is None else {"states": list(cov.states), "transitions": list(cov.transitions)},
        "coverage_symmetry": None
        if cov_sym is None
        else {"states": list(cov_sym.states), "transitions": list(cov_sym.transitions)},
        "visited": None if reachable is None else [len(report.visited), reachable],
        "failure": None
        if report.verdict == "ok"
        else {"report": report.failure, "schedule": show_schedule(report.schedule)},
    }


if __name__ == "__main__":
    sys.exit("run: paxoscope conform")

"""``paxoscope conform``: run the conformance suite from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from .. import registry
from ..console import out as console_out
from ..impl.multipaxos import IMPL_BUGS as MULTIPAXOS_BUGS
from ..impl.paxos import IMPL_BUGS, SimConfig
from ..impl.report import ratio, replay_command, report_json, report_text, write_junit
from ..impl.sim import check_schedule, parse_schedule, show_schedule
from ..spec.constants import ConfigError


def add_parser(sub: Any, positive: Any) -> None:
    p = sub.add_parser(
        "conform",
        help="check the implementation against the spec (simulated runs with faults, and coverage)",
        description="Run Hypothesis-generated schedules (reordering, drops, duplicates, crashes, restarts, "
        "timers) through the simulator and check every step of the implementation against the spec; then "
        "drive the implementation along every transition of the spec's state graph and report coverage.",
        epilog=f"Implementation bugs for --bug: paxos: {', '.join(IMPL_BUGS)}; multipaxos: "
        f"{', '.join(MULTIPAXOS_BUGS)}. Exit codes: 0 conforms, 1 a step "
        "leaves the spec or breaks an obligation of the implementation (the shrunk schedule is printed), or with "
        "--strict the coverage is incomplete; 2 bad usage.",
    )
    counts = {"N": positive, "S": int}
    for flag, metavar, default, text in OPTIONS:
        if metavar is None:
            p.add_argument(flag, action="store_true", help=text)
        else:
            p.add_argument(flag, type=counts.get(metavar), default=default, metavar=metavar, help=text)


# The options, declared: (flag, metavar (None: a switch), default, help). An
# N is a positive count, an S any integer; the others are text.
OPTIONS: tuple[tuple[str, str | None, Any, str], ...] = (
    ("--protocol", "NAME", "paxos", "the implementation to check: paxos (the default) or multipaxos"),
    ("--replicas", "N", 3, "multipaxos: replicas (default 3)"),
    ("--writes", "N", 1, "multipaxos: client writes (default 1)"),
    ("--reads", "S", 1, "multipaxos: client reads (default 1)"),
    ("--max-ballot", "N", None, "multipaxos: ballots 1..N (default: twice the replicas)"),
    ("--acceptors", "N", 3, "acceptors (default 3)"),
    ("--values", "N", 2, "values (default 2)"),
    ("--ballots", "N", 3, "ballots 0..N-1 (default 3)"),
    (
        "--schedule-ballots",
        "N",
        None,
        "ballots 0..N-1 in the random schedules (default: --ballots + 2: they cost little more, and each "
        "proposer then runs several ballots and meets stale rejections); the coverage walk runs --ballots",
    ),
    (
        "--proposers",
        "N",
        None,
        "in the random schedules, the first N acceptors also propose, each owning every N-th ballot (default: "
        "--examples schedules with 2, then as many with 3); the coverage walk gives each ballot its own proposer",
    ),
    ("--examples", "N", 200, "schedules to run with each layout of proposers (default 200)"),
    ("--seed", "S", 0, "Hypothesis seed (default 0)"),
    ("--bug", "NAME", None, "switch on a known implementation bug"),
    ("--replay", "SCHEDULE", None, "run one printed schedule instead"),
    ("--no-coverage", None, None, "skip the spec -> implementation coverage walk"),
    (
        "--strict",
        None,
        None,
        "fail (exit 1) when the coverage walk realises less than every spec state and transition, or is skipped",
    ),
    ("--json", None, None, "print one JSON report on stdout"),
    ("--junit", "FILE", None, "write a JUnit XML report: one test case per batch of schedules"),
    ("--svg", "FILE", None, "draw the failing run as a message sequence chart (SVG)"),
    ("--html", "FILE", None, "draw the failing run as a message sequence chart: a page with the step table"),
)


def run(args: argparse.Namespace, out: Any = console_out) -> int:
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
    from ..impl.conformance import conform, coverage, run_schedule

    if args.protocol not in ("paxos", "multipaxos"):
        raise ConfigError(f"--protocol must be paxos or multipaxos, not {args.protocol!r}")
    if args.protocol == "multipaxos":
        from .conform_log import run_multipaxos

        return run_multipaxos(args, out)

    if args.bug is not None:
        registry.variant(args.bug, "paxos", part="impl")  # the one "unknown bug" message
    if args.proposers is not None and args.proposers > args.acceptors:
        raise ConfigError(f"--proposers {args.proposers}: the proposers are acceptors, and there are {args.acceptors}")
    bugs = frozenset([args.bug] if args.bug else [])
    if args.schedule_ballots is None:
        args.schedule_ballots = args.ballots + 2
    layouts = [args.proposers] if args.proposers else [p for p in PROPOSERS if p <= args.acceptors] or [args.acceptors]
    config = SimConfig(args.acceptors, args.values, args.schedule_ballots, bugs, proposers=layouts[0])
    args.layouts = layouts
    if args.replay is not None:
        args.proposers = layouts[0]
        ops, outcome = replay(args, config, out, lambda o: f"ok: the schedule conforms; decisions {o.decisions}")
        if args.svg or args.html:
            _write_chart(args, outcome, ops)
        return 0 if outcome.ok else 1
    if not args.json:
        out(
            f"conform · {args.acceptors} acceptors, {args.values} values, ballots 0..{args.ballots - 1}"
            f" (random schedules: 0..{args.schedule_ballots - 1}, {' then '.join(map(str, layouts))} proposers)"
            + (f" · bug {args.bug}" if args.bug else "")
        )
    report = None
    for proposers in layouts:  # each layout runs --examples schedules, until one fails
        config = replace(config, proposers=proposers)
        args.proposers = proposers  # what a replay must name
        one = conform(config, examples=args.examples, seed=args.seed)
        report = one if report is None else _merged(report, one)
        if one.verdict != "ok":
            break
    cov = cov_sym = None
    walk = replace(config, ballots=args.ballots, proposers=0)  # one proposer per ballot: every spec state is reachable
    if not args.no_coverage and report.verdict == "ok":
        cov_sym = coverage(walk, symmetry=True)
        if not cov_sym.failure and args.ballots <= FULL_WALK_BALLOTS:
            cov = coverage(walk)
    walked = cov or cov_sym
    failure = report.failure or (walked.failure if walked else "")
    incomplete = _incomplete(args, cov_sym) if not failure else None
    # The verdict first: a file that cannot be written then costs the reader nothing.
    if args.json:
        out(
            json.dumps(
                report_json(_config_json(args, config, report), args.seed, report, cov, cov_sym, incomplete), indent=2
            )
        )
    else:
        out(report_text(report, cov, cov_sym, _flags(args), incomplete))
    if args.junit:
        label = f"{args.acceptors}a{args.values}v{args.ballots}b" + (f".{args.bug}" if args.bug else "")
        write_junit(args.junit, label, report, cov, cov_sym)
    if args.svg or args.html:
        if report.schedule is not None:  # the shrunk schedule runs again, deterministically, to the same failure
            _write_chart(args, run_schedule(config, report.schedule), report.schedule)
        else:
            _write_chart(args, _walk_outcome(walked) if walked and walked.failure else None, None)
    return 1 if failure or incomplete else 0


def replay(args: argparse.Namespace, config: Any, out: Any, says_ok: Any) -> tuple[list, Any]:
    """Run the schedule of --replay and print its verdict (``says_ok(outcome)`` when it conforms)."""
    from ..impl.conformance import run_schedule

    ops = parse_schedule(args.replay)
    check_schedule(config, ops)
    outcome = run_schedule(config, ops)
    if args.json:
        out(json.dumps({"verdict": "ok" if outcome.ok else "violation", "failure": outcome.report or None}))
    else:
        out(outcome.report if not outcome.ok else says_ok(outcome))
    return ops, outcome


# The proposer layouts the random schedules run by default, one after the
# other: 2 proposers own ballots by parity, 3 (as many as the acceptors, as in
# a cluster) by thirds; ballot arithmetic that holds for one may fail the other.
PROPOSERS = (2, 3)


def _merged(first, then):
    """One report for two runs of schedules, ``then`` after ``first`` (its verdict decides)."""
    from ..impl.conformance import ConformReport

    return ConformReport(
        then.verdict,
        first.schedules + then.schedules,
        first.faults + then.faults,
        first.visited | then.visited,
        then.failure,
        then.schedule,
        first.visited_sym | then.visited_sym,
        max(first.depth, then.depth),
    )


# Above this many ballots the walk without symmetry is skipped by default: it
# grows fast (3,921 states at 2 ballots; benchmarks/conform.py walks 3).
FULL_WALK_BALLOTS = 2


def _incomplete(args: argparse.Namespace, cov_sym) -> str | None:
    """Under --strict, why the coverage is not complete (None: it is, or not strict)."""
    if not args.strict:
        return None
    if cov_sym is None:
        return "--strict: the coverage walk was skipped (--no-coverage), so coverage is not known to be complete"
    if cov_sym.states[0] < cov_sym.states[1] or cov_sym.transitions[0] < cov_sym.transitions[1]:
        shown = f"states {ratio(cov_sym.states)}, transitions {ratio(cov_sym.transitions)}"
        return f"--strict: the implementation did not realise every spec state and transition ({shown})"
    return None


def _flags(args: argparse.Namespace) -> str:
    """The options that fix the configuration, so that a replay runs the same one."""
    flags = f"--acceptors {args.acceptors} --values {args.values} --ballots {args.ballots}"
    flags += f" --schedule-ballots {args.schedule_ballots} --proposers {args.proposers}"
    return flags + (f" --bug {args.bug}" if args.bug else "")


def _write_chart(args: argparse.Namespace, outcome, ops: list | None) -> None:
    """Draw the failing run of ``outcome`` (the run of ``ops``, or None when the
    coverage walk found it) as --svg and --html ask."""
    from ..explorer.chart import Section, write_page, write_svg

    if outcome is None or outcome.ok:
        print("paxoscope conform: the runs conform, so no chart was written", file=sys.stderr)
        return
    if args.svg:
        write_svg(outcome.trace, args.svg, mark=outcome.mark)
    if args.html:
        what = outcome.report.splitlines()[0]
        title = f"paxoscope conform{' --bug ' + args.bug if args.bug else ''}: {what}"
        if ops is None:
            again = [("p", "The coverage walk found it; it finds it again with the same options:")]
            again.append(("pre", f"paxoscope conform {_flags(args)}"))
        else:
            again = [("p", f"The schedule ({len(ops)} operations):"), ("pre", show_schedule(ops))]
            again += [("p", "Replay it with:"), ("pre", replay_command(_flags(args), ops))]
        sections = [
            Section(
                "The failing run",
                [
                    ("trace", outcome.trace, outcome.mark),
                    ("p", "The spec allowed here: " + (", ".join(map(str, outcome.allowed)) or "nothing")),
                ],
            ),
            Section("Reproduce it", again),
        ]
        intro = [
            "The run of the implementation as the spec sees it: each step is labelled with the spec action it "
            "matched, a step that no spec action makes is labelled Implementation(), and the marked step is "
            "where the check failed, with the handler run that failed it and why."
        ]
        write_page(args.html, title, sections, intro=intro)


def _walk_outcome(walked):
    """The coverage walk's failure as an ``Outcome`` (what the charts draw)."""
    from ..impl.conformance import Outcome

    return Outcome(False, walked.failure, trace=walked.trace, mark=walked.mark, allowed=walked.allowed)


def _config_json(args: argparse.Namespace, config: SimConfig, report) -> dict[str, Any]:
    return {
        "acceptors": config.acceptors,
        "values": config.values,
        "ballots": args.ballots,
        "schedule_ballots": config.ballots,
        "proposers": args.proposers if report.verdict != "ok" or len(args.layouts) == 1 else args.layouts,
        "bug": args.bug,
    }

"""The conformance report as text, JSON and JUnit: what ``paxoscope conform`` prints.

The renderers live beside the engine that makes the report (as
``explorer/render.py`` and ``proofs/report.py`` do for theirs); the command
only names the configuration and where to write.
"""

from __future__ import annotations

from typing import Any

from .sim import show_schedule


def replay_command(flags: str, ops: list) -> str:
    """The command that runs the schedule ``ops`` again, under the options ``flags``."""
    return f"paxoscope conform {flags} --replay '{show_schedule(ops)}'"


def ratio(pair: tuple[int, int]) -> str:
    done, total = pair
    return f"{done:,} / {total:,} ({100 * done / total:.1f}%)" if total else "0 / 0"


def walked_failure(cov, cov_sym):
    """The coverage walk whose failure is reported (the one up to symmetry first), else the walk that ran."""
    return cov_sym if cov_sym is not None and cov_sym.failure else cov or cov_sym


def report_text(report, cov, cov_sym, flags: str, incomplete: str | None) -> str:
    """The report as ``conform`` prints it; ``flags`` fix the configuration a replay must name."""
    lines = [f"schedules run: {report.schedules:,} · faults injected: {report.faults:,}"]
    if report.verdict != "ok":
        lines += [
            "",
            "VIOLATION: " + report.failure,
            "",
            f"shrunk schedule ({len(report.schedule)} operations):",
            "  " + show_schedule(report.schedule),
            f"replay it: {replay_command(flags, report.schedule)}",
        ]
        return "\n".join(lines)
    walked = walked_failure(cov, cov_sym)
    if walked is not None and walked.failure:
        lines += ["", "VIOLATION (found by the coverage walk): " + walked.failure]
        lines += ["", f"the walk finds it again: paxoscope conform {flags}"]
        return "\n".join(lines)
    lines.append("OK: every step of every run was a step of the spec, and every decision was chosen")
    lines.append(
        f"  spec states the random runs passed through: {len(report.visited):,} ({len(report.visited_sym):,} up to "
        f"symmetry), the deepest {report.depth} steps from the initial state"
    )
    if cov:
        lines.append(
            f"  spec -> implementation, states realised: {ratio(cov.states)}; transitions: {ratio(cov.transitions)}"
        )
    if cov_sym:
        lines.append(
            f"  {'the same ' if cov else 'spec -> implementation, '}up to symmetry, states: {ratio(cov_sym.states)}; "
            f"transitions: {ratio(cov_sym.transitions)}"
        )
        lines.append(f"  handler runs driven beyond the spec's transitions, all checked: {cov_sym.handlers:,}")
        for miss in (cov or cov_sym).missed:
            lines.append(f"  not realised: {miss}")
    if incomplete:
        lines.append("FAIL " + incomplete)
    return "\n".join(lines)


BATCH = 100


def write_junit(path: str, label: str, report, cov, cov_sym) -> None:
    """A case per batch of BATCH schedules (the failing one, if any, last),
    and one per coverage figure."""
    from ..explorer.junit import Case
    from ..explorer.junit import write_junit as write

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
            case = Case(name, cls, output=f"states {ratio(c.states)}; transitions {ratio(c.transitions)}")
            if c.failure:
                case.failure = c.failure
            elif c.states[0] < c.states[1] or c.transitions[0] < c.transitions[1]:
                case.failure = f"not every spec state and transition was realised: {case.output}"
            cases.append(case)
    write(path, f"paxoscope conform {label}", cases, 0.0)


def report_json(config: dict[str, Any], seed: Any, report, cov, cov_sym, incomplete: str | None) -> dict[str, Any]:
    """The report as ``conform --json`` prints it; ``config`` is the configuration as the command names it."""
    walked = walked_failure(cov, cov_sym)
    if report.verdict != "ok":
        verdict, failure = "violation", {"report": report.failure, "schedule": show_schedule(report.schedule)}
    elif walked is not None and walked.failure:
        verdict, failure = "violation", {"report": walked.failure, "schedule": None}
    else:
        verdict, failure = ("incomplete" if incomplete else "ok"), ({"report": incomplete} if incomplete else None)
    return {
        "verdict": verdict,
        "config": config,
        "schedules": report.schedules,
        "faults": report.faults,
        "seed": seed,
        "coverage": None if cov is None else {"states": list(cov.states), "transitions": list(cov.transitions)},
        "coverage_symmetry": None
        if cov_sym is None
        else {"states": list(cov_sym.states), "transitions": list(cov_sym.transitions), "handlers": cov_sym.handlers},
        # [states the random runs passed through, of how many reachable]: they run more ballots than the
        # walk, whose space is not counted, so the second is null. Up to symmetry and depth on their own keys.
        "visited": [len(report.visited), None],
        "visited_symmetry": len(report.visited_sym),
        "depth": report.depth,
        "failure": failure,
    }

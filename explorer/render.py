"""The one renderer for traces and results: text, JSON and ITF.

A trace prints as a numbered table: the action of each step and only what it
changed (variables that moved, messages that appeared), so that a reader's
eye goes to the step that matters.
"""

from __future__ import annotations

import json
from typing import Any

from .trace import Trace, plain

ITF_FORMAT = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def show(value: Any) -> str:
    """A variable's value in the notation of the trace table."""
    if value is None:
        return "None"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(show(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_asdict"):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return str(value)


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What moved between two states' variables, one line per change."""
    lines = []
    for name, new in after.items():
        old = before.get(name)
        if old == new:
            continue
        if isinstance(new, dict) and isinstance(old, dict):
            lines += [f"{name}[{k}]: {show(old.get(k))} → {show(v)}" for k, v in new.items() if old.get(k) != v]
            lines += [f"{name}[{k}]: {show(v)} → (gone)" for k, v in old.items() if k not in new]
        elif isinstance(new, (set, frozenset)) and isinstance(old, (set, frozenset)):
            lines += [f"{name} + {show(v)}" for v in sorted(new - old, key=show)]
            lines += [f"{name} - {show(v)}" for v in sorted(old - new, key=show)]
        else:
            lines.append(f"{name}: {show(old)} → {show(new)}")
    return lines


def trace_table(trace: Trace, mark: dict[int, str] | None = None) -> str:
    """The numbered table; ``mark`` adds a note under chosen step numbers."""
    spec = trace.spec
    rows: list[tuple[str, str, list[str]]] = []
    previous: dict[str, Any] | None = None
    for i, step in enumerate(trace.steps, start=1):
        now = spec.variables(step.state)
        if previous is None:
            what = [f"{name} = {show(value)}" for name, value in now.items()]
            label = "Init" if step.action is None else str(step.action)
        else:
            moved = changes(previous, now)
            what = moved or ["(nothing changes: a stutter)"]
            label = str(step.action) if step.action is not None else "(step)" if moved else "(stutter)"
        if mark and i in mark:
            what = what + [f"<< {mark[i]}"]
        rows.append((str(i), label, what))
        previous = now
    width_n = max(len(r[0]) for r in rows)
    width_a = max(len("action"), *(len(r[1]) for r in rows))
    out = [f"{'#':>{width_n}}  {'action':<{width_a}}  changes"]
    for n, label, what in rows:
        out.append(f"{n:>{width_n}}  {label:<{width_a}}  {what[0]}")
        out += [f"{'':>{width_n}}  {'':<{width_a}}  {line}" for line in what[1:]]
    return "\n".join(out)


def trace_json(trace: Trace) -> list[dict[str, Any]]:
    return [
        {"action": None if step.action is None else str(step.action), "state": plain(trace.spec.variables(step.state))}
        for step in trace.steps
    ]


def itf_value(value: Any) -> Any:
    """A Python value in the Informal Trace Format's JSON encoding."""
    if isinstance(value, (bool, str)):
        return value
    if value is None:
        return "None"
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, dict):
        return {"#map": [[itf_value(k), itf_value(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        items = [itf_value(v) for v in value]
        return {"#set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if hasattr(value, "_asdict"):
        record = plain(value)
        return {k: itf_value(v) for k, v in record.items()}
    if isinstance(value, tuple):
        return {"#tup": [itf_value(v) for v in value]}
    if isinstance(value, list):
        return [itf_value(v) for v in value]
    return str(value)


def trace_itf(trace: Trace, description: str = "", loop: int | None = None) -> dict[str, Any]:
    """The trace in ITF; with ``loop``, a lasso whose last state equals state
    ``loop``: written without that repetition, and ITF's ``loop`` says where
    the last state goes on to."""
    states = []
    names: list[str] = []
    steps = trace.steps if loop is None else trace.steps[:-1]
    for i, step in enumerate(steps):
        variables = trace.spec.variables(step.state)
        names = list(variables)
        meta = {"index": i}
        if step.action is not None:
            meta["action"] = str(step.action)
        states.append({"#meta": meta, **{k: itf_value(v) for k, v in variables.items()}})
    return {
        "#meta": {
            "format": "ITF",
            "format-description": ITF_FORMAT,
            "source": trace.spec.name,
            "description": description or f"a trace of {trace.spec.name} written by paxoscope",
        },
        "vars": names,
        "states": states,
        **({} if loop is None else {"loop": loop}),
    }


# ---------------------------------------------------------------------------
# A search's result (explorer.bfs.Result): the verdict, in text and JSON
# ---------------------------------------------------------------------------


def progress_text(p: Any) -> str:
    """The progress line of a search (explorer.bfs.Progress)."""
    rate = p.distinct_states / p.seconds if p.seconds > 0 else 0
    return (
        f"  {p.distinct_states:,} states · depth {p.depth} · {rate:,.0f} states/s · "
        f"queue {p.queue:,} · {p.seconds:.0f} s"
    )


def strict_failed(result: Any, strict: bool) -> bool:
    """Whether --strict turns this result into a failure (exit 1)."""
    return strict and result.verdict in ("ok", "incomplete") and bool(result.warnings)


def _statistics(result: Any) -> str:
    rate = result.distinct_states / result.seconds if result.seconds > 0 else 0.0
    return (
        f"{result.distinct_states:,} distinct states, {result.states_generated:,} generated, "
        f"depth {result.depth}, {result.seconds:.2f} s ({rate:,.0f} states/s)"
    )


def violation_marks(v: Any) -> dict[int, str]:
    """The notes a violation's trace carries in its table and chart, by step
    number: where a property fails or, for a lasso, where its cycle starts
    and where it closes."""
    end = len(v.trace)
    if getattr(v, "loop", None) is None:
        return {end: f"{v.property} fails here"}
    start = v.loop + 1
    if v.trace.steps[-1].action is None and end == start + 1:
        return {start: f"the run stops here, forever; {v.property} never holds"}
    return {start: "the cycle starts here", end: f"back to step {start}: the cycle repeats forever"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def violation_text(result: Any, heading: str = "VIOLATION") -> list[str]:
    """A violation: what fails, the trace (or lasso) that shows it, and the detail."""
    v = result.violation
    steps = len(v.trace) - 1
    if getattr(v, "loop", None) is None:
        what = f"fails after {_plural(steps, 'step')}"
    else:
        what = f"fails: {_plural(v.loop, 'step')}, then a cycle of {_plural(steps - v.loop, 'step')} forever"
    lines = [f"{heading}: {v.kind} {v.property} {what}:", "", trace_table(v.trace, violation_marks(v))]
    if v.detail:
        lines += ["", f"  {v.detail}"]
    return lines


def result_text(result: Any, strict: bool = False) -> str:
    """The report ``paxoscope check`` prints: what was checked, the verdict, the statistics."""
    checked = ", ".join(result.properties) or "nothing (no property selected)"
    lines = [f"checked: {checked}"]
    if getattr(result, "fairness", None) is not None:
        lines.append(f"fairness assumed: {fairness_text(result.fairness)}")
    if result.verdict == "violation":
        return "\n".join([*lines, *violation_text(result), "", f"  {_statistics(result)}"])
    lines.append(_verdict_line(result, strict))
    lines.append(f"  {_statistics(result)}")
    if result.collision_probability is not None:
        lines.append(
            f"  states kept as 64-bit fingerprints; chance of a collision ≈ {result.collision_probability:.1e} "
            "(--exact keeps whole states)"
        )
    if result.verdict != "interrupted":
        lines += _vacuity_lines(result)
    return "\n".join(lines)


def fairness_text(fairness: list[str]) -> str:
    return ", ".join(fairness) or "none (a behaviour may stop in any state)"


def _verdict_line(result: Any, strict: bool) -> str:
    warnings = result.warnings if result.verdict != "interrupted" else []
    symmetry = " (up to symmetry)" * result.symmetry
    if strict and warnings:
        return f"FAILED (--strict): {'; '.join(warnings)}"
    if result.verdict == "ok" and warnings:
        # Not "OK": a property that holds where nothing happens proves nothing.
        return f"VACUOUS?: no property fails{symmetry}, but {'; '.join(warnings)} (--strict fails on this)"
    if result.verdict == "ok":
        fair = " and on every fair behaviour" * (getattr(result, "fairness", None) is not None)
        return f"OK: every property holds in every reachable state{symmetry}{fair}"
    if result.verdict == "incomplete":
        return "INCOMPLETE: stopped at --max-states; no violation among the states explored"
    return "INTERRUPTED: partial statistics"


def _vacuity_lines(result: Any) -> list[str]:
    lines = []
    if result.never_enabled:
        lines.append(f"  never enabled (vacuous?): {', '.join(result.never_enabled)}")
    elif not result.actions_declared:
        lines.append("  actions not declared (list them in the spec's `actions` to have unused ones reported)")
    elif result.verdict == "ok":
        lines.append("  every action was enabled somewhere")
    for name, depth in result.witnesses.items():
        lines.append(f"  {name}: " + (f"witnessed at depth {depth}" if depth else "NEVER witnessed"))
    return lines


def result_json(result: Any, spec_name: str, strict: bool = False) -> dict[str, Any]:
    """The report ``paxoscope check --json`` prints."""
    v = result.violation
    report = {
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
    if getattr(result, "fairness", None) is not None:
        report["fairness"] = result.fairness
    if v is not None and getattr(v, "loop", None) is not None:
        # The trace is a lasso: its steps from cycle_start on repeat forever.
        report["violation"]["cycle_start"] = v.loop
    return report

"""JUnit XML, the report every CI system reads: one test case per property,
proof obligation or schedule batch; a failure carries the counterexample as
text, so that it shows in the CI's own test view."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass
class Case:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # the counterexample, when the case failed
    skipped: str | None = None  # why it was not decided
    output: str = ""
    message: str = ""  # the failure's one-line summary (default: its first line)


def junit_xml(suite: str, cases: list[Case], seconds: float) -> str:
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(sum(c.failure is not None for c in cases)),
        errors="0",
        skipped=str(sum(c.skipped is not None for c in cases)),
        time=f"{seconds:.3f}",
    )
    for c in cases:
        case = ET.SubElement(node, "testcase", classname=c.classname, name=c.name, time=f"{c.seconds:.3f}")
        if c.failure is not None:
            first = c.failure.strip().splitlines()[0] if c.failure.strip() else "failed"
            ET.SubElement(case, "failure", message=c.message or first, type="paxoscope").text = c.failure
        elif c.skipped is not None:
            ET.SubElement(case, "skipped", message=c.skipped)
        if c.output:
            ET.SubElement(case, "system-out").text = c.output
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str, suite: str, cases: list[Case], seconds: float) -> None:
    import os

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)  # CI jobs write into reports/ and the like
    with open(path, "w", encoding="utf-8") as f:
        f.write(junit_xml(suite, cases, seconds))


def check_cases(result, spec_label: str, counterexample: str) -> list[Case]:
    """A case per property checked by the explorer."""
    cases = []
    v = result.violation
    for name in result.properties:
        case = Case(name, f"paxoscope.check.{spec_label}", result.seconds)
        if v is not None and v.property == name:
            case.failure = counterexample
            case.message = f"{v.kind} {v.property} fails after {len(v.trace) - 1} steps"
        elif result.verdict == "violation":
            case.skipped = f"not checked to the end: the search stopped at the violation of {v.property}"
        elif result.verdict != "ok":
            case.skipped = f"the search is {result.verdict}: {result.distinct_states:,} states explored"
        else:
            case.output = f"{result.distinct_states:,} states, depth {result.depth}"
        cases.append(case)
    if v is not None and v.property not in result.properties:  # e.g. Deadlock
        cases.append(Case(v.property, f"paxoscope.check.{spec_label}", result.seconds, failure=counterexample))
    return cases

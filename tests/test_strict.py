"""A verdict that cannot be vacuous: `check` says so when nothing happened, and `--strict` fails on it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from paxoscope.explorer.bfs import SpecError, check
from paxoscope.spec.base import Spec, action

# A counter to 3 that declares an action it never takes (Reset) and a
# situation it never reaches (ReachesTen), beside one it does (ReachesThree).
SPECS = textwrap.dedent(
    '''
    from paxoscope.spec.base import Spec, action


    class Lazy(Spec):
        name = "lazy"
        actions = ("Inc", "Reset")

        def init(self):
            yield 0

        def next(self, s):
            if s < 3:
                yield action("Inc"), s + 1

        @property
        def invariants(self):
            return {"Small": lambda s: s <= 3}

        @property
        def sometimes(self):
            return {"ReachesThree": lambda s: s == 3, "ReachesTen": lambda s: s == 10}


    class Busy(Lazy):
        """Every action taken, every situation reached."""

        name = "busy"

        def next(self, s):
            if s < 3:
                yield action("Inc"), s + 1
            else:
                yield action("Reset"), 0

        @property
        def sometimes(self):
            return {"ReachesThree": lambda s: s == 3}


    class Undeclared(Busy):
        """No `actions` listed: nothing can be said about unused ones."""

        actions = ()


    class Empty(Busy):
        def init(self):
            return iter(())
    '''
)


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lazy.py").write_text(SPECS, encoding="utf-8")
    return tmp_path


def test_an_action_never_enabled_and_a_situation_never_reached_are_not_ok(project):
    proc = run(project, "check", "lazy.py:Lazy")
    assert proc.returncode == 0, proc.stderr  # without --strict: a warning, not a failure
    assert "OK:" not in proc.stdout
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("VACUOUS?"))
    assert "Reset was never enabled" in verdict and "ReachesTen was never witnessed" in verdict
    assert "ReachesThree" not in verdict  # it was reached
    assert "every action was enabled" not in proc.stdout


def test_strict_fails_with_the_reasons(project):
    proc = run(project, "check", "lazy.py:Lazy", "--strict")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED (--strict): action Reset was never enabled; ReachesTen was never witnessed" in proc.stdout
    assert proc.stderr == ""


def test_strict_json_keeps_the_report_and_adds_the_reasons(project):
    proc = run(project, "check", "lazy.py:Lazy", "--strict", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "ok" and doc["violation"] is None  # the properties did hold
    assert doc["never_enabled"] == ["Reset"] and doc["witnesses"] == {"ReachesThree": 4, "ReachesTen": None}
    assert doc["warnings"] == ["action Reset was never enabled", "ReachesTen was never witnessed"]
    assert doc["strict"] is True and doc["strict_failed"] is True
    lenient = json.loads(run(project, "check", "lazy.py:Lazy", "--json").stdout)
    assert lenient["strict"] is False and lenient["strict_failed"] is False and lenient["warnings"] == doc["warnings"]


def test_strict_passes_a_spec_that_does_everything_it_declares(project):
    proc = run(project, "check", "lazy.py:Busy", "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: every property holds" in proc.stdout and "every action was enabled somewhere" in proc.stdout


def test_strict_fails_a_search_cut_short(project):
    proc = run(project, "check", "lazy.py:Busy", "--max-states", "2", "--strict")
    assert proc.returncode == 1
    assert "FAILED (--strict)" in proc.stdout and "--max-states" in proc.stdout
    assert run(project, "check", "lazy.py:Busy", "--max-states", "2").returncode == 0  # as documented without it


def test_strict_junit_has_a_failing_case(project):
    proc = run(project, "check", "lazy.py:Lazy", "--strict", "--junit", "r.xml")
    assert proc.returncode == 1
    cases = ET.parse(project / "r.xml").getroot().iter("testcase")
    failed = {c.get("name"): c.find("failure").text for c in cases if c.find("failure") is not None}
    assert list(failed) == ["Strict"] and "Reset was never enabled" in failed["Strict"]


def test_every_action_was_enabled_is_said_only_of_declared_actions(project):
    proc = run(project, "check", "lazy.py:Undeclared")
    assert proc.returncode == 0
    assert "every action was enabled" not in proc.stdout
    assert "actions not declared" in proc.stdout


def test_a_spec_with_no_initial_state_is_an_error(project):
    proc = run(project, "check", "lazy.py:Empty")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "no initial state" in lines[0] and "'busy'" in lines[0]
    assert "distinct states" not in proc.stdout and "OK" not in proc.stdout


def test_the_explorer_refuses_no_initial_state_and_reports_warnings():
    class Nothing(Spec):
        def init(self):
            return []

        def next(self, s):
            yield action("Step"), s

    with pytest.raises(SpecError, match="no initial state"):
        check(Nothing())


def test_paxos_default_properties_are_not_vacuous_at_two_ballots():
    from paxoscope.spec.paxos import Paxos

    r = check(Paxos(ballots=2))
    assert r.verdict == "ok" and r.warnings == []
    # At one ballot nothing is chosen after ballot 0, and the explorer says so.
    one = check(Paxos(ballots=1))
    assert one.warnings == ["ChosenAfterBallot0 was never witnessed", "ProposalAdoptsReportedVote was never witnessed"]

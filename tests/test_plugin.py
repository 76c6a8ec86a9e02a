"""The pytest plugin, as a user meets it.

The example project (``examples/lockservice``) is copied into ``tmp_path``
and run with a fresh ``pytest`` in a subprocess: no conftest, only the
``pytest11`` entry point that installing paxoscope registers. Then the
fixture's methods one at a time, through ``pytester``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lockservice"
TIMEOUT = 120


def run_example(tmp_path: Path, bug: bool) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "lockservice"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LOCKSERVICE_"))}
    if bug:
        env["LOCKSERVICE_BUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("paxoscope") == "paxoscope.pytest_plugin"


def test_loading_the_plugin_imports_no_engine():
    code = (
        "import sys, paxoscope.pytest_plugin\n"
        "heavy = [m for m in ('z3', 'hypothesis', 'paxoscope.explorer', 'paxoscope.proofs', 'paxoscope.impl')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_example_project_passes_without_the_bug(tmp_path):
    out = run_example(tmp_path, bug=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 passed" in out.stdout
    assert "MutualExclusion fails" not in out.stdout


def test_the_example_project_fails_with_the_counterexample_when_the_bug_is_seeded(tmp_path):
    out = run_example(tmp_path, bug=True)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert "2 failed, 2 passed" in text
    assert "FAILED test_lockservice.py::test_two_clients_never_share_the_lock" in text
    # The rendered table of the shortest counterexample, the failing property named on the last step.
    assert "paxoscope check lockservice: invariant MutualExclusion fails after 3 steps:" in text
    table = [
        "#  action         changes",
        "1  Init           clock = 0",
        "2  Acquire(c=c1)  owner: None → c1",
        "3  Tick()         clock: 0 → 1",
        "4  Acquire(c=c2)  owner: c1 → c2",
        "                  lease[c2]: None → 3",
        "                  << MutualExclusion fails here",
    ]
    positions = [text.find(line) for line in table]
    assert -1 not in positions, [line for line, at in zip(table, positions) if at == -1]
    assert positions == sorted(positions)
    # pytest.fail(..., pytrace=False): the user reads the trace, not the plugin's Python traceback.
    assert "pytest_plugin.py" not in text


SPEC = """
from paxoscope import Spec, action


class Counter(Spec):
    name = "counter"

    def __init__(self, limit=3, broken=False):
        self.limit, self.broken = limit, broken

    def init(self):
        yield (0,)

    def next(self, s):
        if s[0] < self.limit:
            yield action("Inc"), (s[0] + 1,)

    @property
    def invariants(self):
        return {"BelowLimit": lambda s: s[0] < self.limit if self.broken else s[0] <= self.limit}

    def variables(self, s):
        return {"n": s[0]}
"""


def test_check_returns_the_result_on_a_correct_spec(pytester):
    pytester.makepyfile(
        SPEC
        + """
def test_it(paxoscope):
    result = paxoscope.check(Counter(limit=3))
    assert result.verdict == "ok"
    assert result.distinct_states == 4
    assert result.properties == ["BelowLimit"]
    assert paxoscope.check("twophase").verdict == "ok"
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_check_fails_the_test_with_the_trace_on_a_violation(pytester):
    pytester.makepyfile(
        SPEC
        + """
def test_it(paxoscope):
    paxoscope.check(Counter(limit=2, broken=True))
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "paxoscope check counter: invariant BelowLimit fails after 2 steps:",
            "#  action  changes",
            "1  Init    n = 0",
            "2  Inc()   n: 0 → 1",
            "3  Inc()   n: 1 → 2",
            "           << BelowLimit fails here",
        ]
    )


def test_check_fails_a_search_cut_short_and_bad_options(pytester):
    pytester.makepyfile(
        SPEC
        + """
def test_cut(paxoscope):
    paxoscope.check(Counter(limit=10), max_states=3)

def test_no_symmetry(paxoscope):
    paxoscope.check(Counter(), symmetry=True)

def test_unknown_property(paxoscope):
    paxoscope.check(Counter(), ["NoSuchThing"])
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*paxoscope check counter: INCOMPLETE after * distinct states; no violation found, but not every*",
            "*paxoscope check: *symmetry*",
            "*paxoscope check: *NoSuchThing*",
        ],
        consecutive=False,
    )


def test_prove_returns_the_report_and_fails_a_gallery_bug_with_its_counterexample(pytester):
    pytester.makepyfile(
        """
def test_proven(paxoscope):
    assert paxoscope.prove().verdict == "proven"

def test_bug(paxoscope):
    paxoscope.prove(bug="non-intersecting-quorums")

def test_unknown_bug(paxoscope):
    paxoscope.prove(bug="no-such-bug")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert "FAILED: " in text
    assert "#  action" in text and "fails here" in text
    assert "Consistency" in text
    assert "paxoscope prove: unknown bug 'no-such-bug'" in text


def test_conform_returns_the_report_and_fails_a_broken_implementation(pytester):
    pytester.makepyfile(
        """
def test_conforms(paxoscope):
    report = paxoscope.conform(examples=20)
    assert report.verdict == "ok" and report.schedules == 20

def test_broken(paxoscope):
    paxoscope.conform(bug="accept-lower-ballot")

def test_unknown_bug(paxoscope):
    paxoscope.conform(bug="no-such-bug")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert "paxoscope conform: the implementation left the spec at step" in text
    assert "#  action" in text and "no action of the spec makes this step" in text
    assert "shrunk schedule: [" in text
    assert "paxoscope conform: unknown implementation bug 'no-such-bug'" in text


def test_conform_leaves_no_hypothesis_folder_in_the_users_project(pytester, monkeypatch):
    pytester.makepyfile(
        """
def test_conforms(paxoscope):
    assert paxoscope.conform(examples=5).verdict == "ok"
"""
    )
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)  # the subprocess inherits os.environ
    # In a fresh process whose working directory is the user's project, as `pytest` runs there.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / ".hypothesis").exists()


def test_check_takes_a_plain_class_and_strict_fails_a_vacuous_one(pytester):
    pytester.makepyfile(
        """
from paxoscope import action


class Toggle:  # no Spec base class
    actions = ("Flip", "Explode")

    def init(self):
        yield False

    def next(self, s):
        yield action("Flip"), not s

    invariants = {"Boolean": lambda s: s in (False, True)}


def test_plain(paxoscope):
    result = paxoscope.check(Toggle())
    assert result.verdict == "ok" and result.distinct_states == 2
    assert result.never_enabled == ["Explode"]

def test_strict(paxoscope):
    paxoscope.check(Toggle(), strict=True)
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*no property fails, but (strict) action Explode was never enabled*"])


def test_check_reports_the_deadlock_a_builtin_spec_asks_for(pytester):
    pytester.makepyfile(
        """
from paxoscope.specs import load


def test_silent_acceptor(paxoscope):
    paxoscope.check(load("multipaxos", bug="silent-acceptor", sizes={"replicas": 2, "reads": 0}))

def test_unless_told_otherwise(paxoscope):
    spec = load("multipaxos", bug="silent-acceptor", sizes={"replicas": 2, "reads": 0})
    assert paxoscope.check(spec, deadlock=False).verdict == "ok"

def test_prove_knows_which_protocols_have_a_proof(paxoscope):
    paxoscope.prove("twophase")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*paxoscope check silent-acceptor: deadlock Deadlock fails after * steps:",
            "*paxoscope prove: a proof model exists for the paxos, multipaxos and raft specs only, not 'twophase'*",
        ],
        consecutive=False,
    )

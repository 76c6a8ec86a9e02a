"""User specs as a user writes them: plain classes, constructor parameters, a module in the
current directory, pins of their own; and what the command refuses before it costs memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# No Spec base class, no `config`, `actions` or `sometimes`: only what the loader's message asks for.
PLAIN = textwrap.dedent(
    '''
    class Counter:
        """Counts from 0 to n in steps of `step`."""

        def __init__(self, n=5, step=1, mode="slow"):
            self.n, self.step, self.mode = n, step, mode

        def init(self):
            yield 0

        def next(self, s):
            from paxoscope import action

            if s + self.step <= self.n:
                yield action("Inc", by=self.step), s + self.step

        def invariants(self):  # a method, not a property: also what users write
            return {"Bounded": lambda s: s <= self.n, "FastIsEven": lambda s: self.mode != "fast" or s % 2 == 0}
    '''
)


def run(cwd: Path, *args: str, safe_path: bool = False) -> subprocess.CompletedProcess:
    # -P leaves the current directory off sys.path, as the installed `paxoscope` script does.
    flags = ["-P"] if safe_path else []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *flags, "-m", "paxoscope.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "counter.py").write_text(PLAIN, encoding="utf-8")
    return tmp_path


def test_a_plain_class_is_a_spec(project):
    proc = run(project, "check", "counter.py:Counter", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "ok" and doc["distinct_states"] == 6
    assert doc["properties"] == ["Bounded", "FastIsEven"]
    assert doc["actions_declared"] is False


def test_a_plain_class_violation_has_its_trace(project):
    proc = run(project, "check", "counter.py:Counter", "--param", "mode=fast")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "VIOLATION: invariant FastIsEven fails after 1 step" in proc.stdout
    assert "Inc(by=1)" in proc.stdout


def test_a_plain_class_may_name_its_actions_with_strings(tmp_path):
    (tmp_path / "lazy.py").write_text(
        textwrap.dedent(
            """
            class Lazy:
                actions = ("Inc", "Reset")

                def init(self):
                    yield 0

                def next(self, s):
                    if s < 3:
                        yield "Inc", s + 1

                invariants = {"Small": lambda s: s <= 2}
            """
        ),
        encoding="utf-8",
    )
    proc = run(tmp_path, "check", "lazy.py:Lazy")
    assert proc.returncode == 1 and "Inc" in proc.stdout and "Small fails" in proc.stdout, proc.stdout + proc.stderr
    proc = run(tmp_path, "check", "lazy.py:Lazy", "--invariant", "Small", "--max-states", "3", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["verdict"] == "incomplete" and doc["distinct_states"] == 3, proc.stderr
    assert any("Reset" in w for w in doc["warnings"])  # the name declared, never taken


def test_params_are_python_literals_and_bare_words(project):
    doc = json.loads(
        run(project, "check", "counter.py:Counter", "--param", "n=8", "--param", "step=2", "--json").stdout
    )
    assert doc["distinct_states"] == 5  # 0, 2, 4, 6, 8
    doc = json.loads(
        run(
            project,
            "check",
            "counter.py:Counter",
            "--param",
            "n=8",
            "--param",
            "step=2",
            "--param",
            "mode='fast'",
            "--json",
        ).stdout
    )
    assert doc["verdict"] == "ok"  # quoted or bare, fast is the string "fast"
    bare = run(project, "check", "counter.py:Counter", "--param", "n=8", "--param", "step=2", "--param", "mode=fast")
    assert bare.returncode == 0, bare.stdout + bare.stderr


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["--param", "size=3"], ["'size'", "n, step, mode"]),
        (["--param", "n=[1,"], ["--param n", "[1,"]),
        (["--param", "=3"], ["'=3'", "NAME=VALUE"]),
        (["--param", "n=3", "--param", "n=4"], ["--param n", "twice"]),
        (["--param", "n='x'"], ["TypeError"]),  # the constructor's own failure, named
    ],
)
def test_a_bad_param_is_one_line_naming_it(project, args, culprit):
    proc = run(project, "check", "counter.py:Counter", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc)
    for word in culprit:
        assert word in line, line


def test_a_param_is_refused_for_a_builtin_spec(project):
    proc = run(project, "check", "paxos", "--param", "ballots=2")
    assert proc.returncode == 2
    assert "--param ballots" in one_line(proc) and "--ballots" in one_line(proc)


def test_module_name_finds_a_file_in_the_current_directory(project):
    proc = run(project, "check", "counter:Counter", safe_path=True)
    assert proc.returncode == 0, proc.stderr
    assert "6 distinct states" in proc.stdout
    missing = run(project, "check", "nosuchmodule:Counter", safe_path=True)
    assert missing.returncode == 2 and "nosuchmodule" in one_line(missing)


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    proc = subprocess.run([sys.executable, "-m", "paxoscope.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"paxoscope {version('paxoscope')}"


# ---------------------------------------------------------------------------
# pins of a user's spec
# ---------------------------------------------------------------------------


def test_pin_accepts_a_users_spec_with_params_and_the_gate_verifies_it(project):
    pinned = run(
        project, "pin", "pins.json", "counter.py:Counter", "counter:Counter@n=9,mode=fast", "--param", "step=2"
    )
    assert pinned.returncode == 0, pinned.stderr
    configs = [p["config"] for p in json.loads((project / "pins.json").read_text())["pins"]]
    assert configs == [
        {"spec": "counter.py:Counter", "params": {"step": "2"}},
        {"spec": "counter:Counter", "params": {"n": "9", "mode": "fast", "step": "2"}},
    ]
    gate = run(project, "check", "--against", "pins.json")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "same   counter.py:Counter (step=2)" in gate.stdout
    # Only the pins of one spec with given parameters:
    one = run(
        project,
        "check",
        "--against",
        "pins.json",
        "counter:Counter",
        "--param",
        "n=9",
        "--param",
        "mode=fast",
        "--param",
        "step=2",
        "--json",
    )
    assert one.returncode == 0, one.stderr
    assert [p["label"] for p in json.loads(one.stdout)["pins"]] == ["counter:Counter (n=9,mode=fast,step=2)"]
    # An edit to the spec moves its pins.
    (project / "counter.py").write_text(PLAIN.replace("yield 0", "yield -1"))
    moved = run(project, "check", "--against", "pins.json")
    assert moved.returncode == 1 and moved.stdout.count("MOVED") == 2


def test_against_honours_json_and_junit(project):
    assert run(project, "pin", "pins.json", "counter.py:Counter", "counter.py:Counter@n=3").returncode == 0
    proc = run(project, "check", "--against", "pins.json", "--json", "--junit", "reports/pins.xml")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "ok" and doc["moved"] == 0 and doc["against"] == "pins.json"
    assert [(p["label"], p["distinct_states"], p["moved"]) for p in doc["pins"]] == [
        ("counter.py:Counter", 6, []),
        ("counter.py:Counter (n=3)", 4, []),
    ]
    suite = ET.parse(project / "reports" / "pins.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    (project / "counter.py").write_text(PLAIN.replace("yield 0", "yield -1"))
    proc = run(project, "check", "--against", "pins.json", "--json", "--junit", "reports/pins.xml")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "moved" and doc["moved"] == 2
    assert "distinct states: 6 → 7 (+1)" in doc["pins"][0]["moved"]
    failures = [c.find("failure") for c in ET.parse(project / "reports" / "pins.xml").getroot().iter("testcase")]
    assert all(f is not None and "distinct states" in f.text for f in failures)


def test_against_refuses_sizes_it_would_ignore_and_a_filter_that_matches_nothing(project):
    assert run(project, "pin", "pins.json", "counter.py:Counter").returncode == 0
    sized = run(project, "check", "--against", "pins.json", "--ballots", "2")
    assert sized.returncode == 2 and "--ballots" in one_line(sized)
    nothing = run(project, "check", "--against", "pins.json", "twophase")
    assert nothing.returncode == 2 and "twophase" in one_line(nothing)


# ---------------------------------------------------------------------------
# sizes that cannot fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, size",
    [
        (["--acceptors", "50"], "50 acceptors"),
        (["--ballots", "100000000"], "ballots 0..99,999,999"),
        (["voting", "--acceptors", "70"], "70 acceptors"),
        (["--bug", "non-intersecting-quorums", "--acceptors", "60", "--ballots", "400"], "60 acceptors"),
        (["twophase", "--rms", "100000000000"], "100,000,000,000 rms"),
        (["--values", "13", "--symmetry"], "value permutations"),
    ],
)
def test_a_size_that_cannot_fit_is_refused_at_once(tmp_path, args, size):
    proc = run(tmp_path, "check", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc)
    assert size in line and "available" in line
    assert "distinct states" not in proc.stdout


@pytest.mark.parametrize(
    "args, size",
    [(["--acceptors", "50"], "50 acceptors"), (["--ballots", "100000000"], "ballots 0..100,000,001")],
)
def test_conform_refuses_a_size_that_cannot_fit_at_once(tmp_path, args, size):
    proc = run(tmp_path, "conform", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc)
    assert size in line and "available" in line  # its random schedules run two ballots more
    assert "schedules run" not in proc.stdout


def test_the_crosscheck_refuses_a_size_that_cannot_fit_at_once(tmp_path):
    proc = run(tmp_path, "prove", "--crosscheck", "--acceptors", "50")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "50 acceptors" in one_line(proc) and "states" not in proc.stdout


@pytest.mark.parametrize("acceptors, values, ballots", [(3, 2, 40), (5, 3, 16), (13, 2, 3), (3, 9, 20)])
def test_the_estimate_is_within_a_factor_of_two_of_what_building_takes(acceptors, values, ballots):
    from paxoscope.spec.paxos import Paxos

    from paxoscope.sizing import paxos_bytes

    tracemalloc.start()
    try:
        Paxos(acceptors, values, ballots)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = paxos_bytes(acceptors, values, ballots)
    assert peak / 2 <= estimate <= peak * 2, (estimate, peak)


def test_building_big_tables_shows_a_line_that_is_then_cleared():
    import io

    from paxoscope.sizing import BuildingLine
    from paxoscope.specs import load

    stream = io.StringIO()
    spec = load("paxos", sizes={"ballots": 30}, progress=BuildingLine(stream, threshold=1, every=0.01))
    assert spec.k.ballots[-1] == 29
    text = stream.getvalue()
    assert "building the tables of paxos with 3 acceptors, 2 values, ballots 0..29" in text
    assert text.endswith("\r\x1b[K")  # the line is gone once the tables are built
    quiet = io.StringIO()
    load("paxos", sizes={"ballots": 2}, progress=BuildingLine(quiet))  # small: nothing to show
    assert quiet.getvalue() == ""


def test_a_size_option_the_class_does_not_take_names_its_parameters(project):
    proc = run(project, "check", "counter.py:Counter", "--ballots", "2")
    assert proc.returncode == 2
    line = one_line(proc)
    assert "--ballots" in line and "n, step, mode" in line and "--param" in line


def test_invariants_that_are_not_named_functions_are_one_line(project):
    (project / "odd.py").write_text(
        "class Odd:\n    invariants = [lambda s: True]\n    def init(self):\n        yield 0\n"
        "    def next(self, s):\n        return []\n"
    )
    for command in (["check", "odd:Odd"], ["pin", "pins.json", "odd:Odd"]):
        proc = run(project, *command)
        assert proc.returncode == 2, proc.stderr
        assert "invariants must map names to functions" in one_line(proc)
    assert not (project / "pins.json").exists()  # nothing half-written


def test_many_acceptors_with_quorums_given_are_not_refused(tmp_path):
    # Listing the majorities of 70 acceptors is what cannot fit; two quorums can.
    proc = run(
        tmp_path,
        "check",
        "--acceptors",
        "70",
        "--quorum",
        "a1,a2",
        "--quorum",
        "a2,a3",
        "--ballots",
        "1",
        "--max-states",
        "100",
    )
    assert proc.returncode == 0, proc.stderr
    assert "quorums {{a1,a2}, {a2,a3}}" in proc.stdout and "INCOMPLETE" in proc.stdout


def test_the_symmetry_estimate_is_within_a_factor_of_two_of_what_building_takes():
    from paxoscope.spec.paxos import Paxos

    from paxoscope.sizing import symmetry_bytes

    spec = Paxos(3, 6, 3)
    tracemalloc.start()
    try:
        spec.symmetry  # noqa: B018 -- built on first use
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / 2 <= symmetry_bytes(6, 3) <= peak * 2

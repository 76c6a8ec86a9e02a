"""The ``paxoscope`` command, run as a new user would run it.

Every test starts the real command in a fresh interpreter
(``python -m paxoscope.cli ...``) with its working directory in pytest's
``tmp_path``, and asserts what the user sees: the exit code (0 verified,
1 a property fails, 2 bad usage or input, 130 interrupted), stdout (text or
one JSON report) and stderr (one line naming the culprit on bad input).
Configurations are small (``--ballots 1`` or ``2``) so the file runs fast.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TIMEOUT = 60

BUG_NAMES = [
    "non-intersecting-quorums",
    "ignore-reported-values",
    "any-reported-value",
    "promise-not-kept",
    "accept-below-promise",
    "two-proposals-per-ballot",
    "amnesia-restart",
]

REPORT_KEYS = {"verdict", "spec", "config", "distinct_states", "states_generated", "depth", "seconds", "violation"}

# A user's own spec, in a file of theirs: a counter from 0 to 5.
USER_SPECS = textwrap.dedent(
    '''
    from paxoscope.spec.base import Spec, action


    class Counter(Spec):
        name = "counter"

        def init(self):
            yield 0

        def next(self, s):
            if s < 5:
                yield action("Inc"), s + 1

        @property
        def invariants(self):
            return {"Small": lambda s: s <= 5}


    class Tight(Counter):
        """The same counter with an invariant that fails once s reaches 4."""

        name = "tight"

        @property
        def invariants(self):
            return {"Small": lambda s: s <= 3}


    class Raises(Counter):
        """next() raises in state 3."""

        name = "raises"

        def next(self, s):
            if s == 3:
                raise ZeroDivisionError("boom")
            yield action("Inc"), s + 1


    class Unhashable(Counter):
        """next() yields a list (mutable, unhashable) as the successor of 2."""

        name = "unhashable"

        def next(self, s):
            if s == 2:
                yield action("Inc"), [s + 1]
            elif s < 5:
                yield action("Inc"), s + 1
    '''
)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "paxoscope.cli", *args]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )


def report(proc: subprocess.CompletedProcess) -> dict:
    """stdout must be exactly one JSON object (json.loads rejects anything extra)."""
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict), proc.stdout
    return doc


def one_line(stderr: str) -> str:
    """stderr must be exactly one non-empty line (no traceback, no usage block)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].strip(), "the one line on stderr is blank"
    return lines[0]


def trace_rows(text: str) -> list[tuple[int, str, list[str]]]:
    """Parse the numbered trace table into (number, action, [changes]) rows.

    A row is ``N  Action(...)  change``; continuation lines hold one more
    change and are blank before it. Columns are separated by two spaces or
    more (an action label never contains two spaces in a row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^\s*#\s+action\s+changes\s*$", line))
    rows: list[tuple[int, str, list[str]]] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        m = re.match(r"^\s*(\d+)  +(\S(?:.*?\S)?)  +(\S.*)$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), [m.group(3).strip()]))
        else:
            assert rows and line[:1] == " ", f"unexpected line in the trace table: {line!r}"
            rows[-1][2].append(line.strip())
    return rows


@pytest.fixture
def user_specs(tmp_path: Path) -> Path:
    (tmp_path / "counter.py").write_text(USER_SPECS, encoding="utf-8")
    (tmp_path / "broken.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    return tmp_path


# ---------------------------------------------------------------------------
# 1. check: the verified case, text and JSON
# ---------------------------------------------------------------------------


def test_check_ballots_2_text_reports_states_and_depth(tmp_path):
    proc = run(tmp_path, "check", "--ballots", "2")
    assert proc.returncode == 0, proc.stderr
    assert "3,921 distinct states" in proc.stdout
    assert "depth 17" in proc.stdout
    assert "OK" in proc.stdout
    assert proc.stderr == ""


def test_check_ballots_1_json_is_one_report(tmp_path):
    proc = run(tmp_path, "check", "--ballots", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = report(proc)
    assert REPORT_KEYS <= doc.keys()
    assert doc["verdict"] == "ok"
    assert doc["spec"] == "paxos"
    assert doc["config"]["acceptors"] == 3
    assert doc["config"]["values"] == 2
    assert doc["config"]["ballots"] == 1
    assert doc["distinct_states"] == 73
    assert doc["depth"] == 9
    assert isinstance(doc["states_generated"], int) and doc["states_generated"] >= doc["distinct_states"]
    assert isinstance(doc["seconds"], (int, float)) and doc["seconds"] >= 0
    assert doc["violation"] is None


# ---------------------------------------------------------------------------
# 2. a bug from the gallery: the counterexample, JSON and text
# ---------------------------------------------------------------------------


def test_bug_json_has_violation_with_trace(tmp_path):
    proc = run(tmp_path, "check", "--bug", "two-proposals-per-ballot", "--ballots", "2", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = report(proc)
    assert doc["verdict"] == "violation"
    assert doc["config"].get("bug") == "two-proposals-per-ballot"
    v = doc["violation"]
    assert isinstance(v["property"], str) and v["property"] in doc["properties"]
    trace = v["trace"]
    assert isinstance(trace, list) and len(trace) >= 2
    for step in trace:
        assert set(step) == {"action", "state"}
        assert isinstance(step["state"], dict)
        assert {"maxBal", "maxVBal", "maxVal", "msgs"} <= step["state"].keys()
    assert trace[0]["action"] is None
    assert all(isinstance(step["action"], str) and step["action"] for step in trace[1:])
    # The defect itself: one ballot carries two different proposals.
    assert sum(a.startswith("Phase2a(b=0") for a in (s["action"] for s in trace[1:])) == 2


def test_bug_text_table_shows_only_changes(tmp_path):
    proc = run(tmp_path, "check", "--bug", "two-proposals-per-ballot", "--ballots", "2")
    assert proc.returncode == 1, proc.stderr
    assert "VIOLATION" in proc.stdout
    rows = trace_rows(proc.stdout)
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1))
    # Row 1 is the initial state, in full.
    _, label, init = rows[0]
    assert label == "Init"
    assert [line.split(" = ")[0] for line in init] == ["maxBal", "maxVBal", "maxVal", "msgs"]
    # A Phase1a row shows the one message it sends, and nothing it left alone.
    phase1a = [r for r in rows if r[1].startswith("Phase1a(")]
    assert phase1a, proc.stdout
    for _, label, changed in phase1a:
        assert len(changed) == 1 and re.fullmatch(r"msgs \+ 1a\(bal=\d+\)", changed[0]), (label, changed)
        assert not any("maxBal" in c for c in changed)
    # No later row repeats an unchanged variable as a full assignment.
    for _, _, changed in rows[1:]:
        assert not any(re.match(r"^(maxBal|maxVBal|maxVal|msgs) = ", c) for c in changed), changed
    # The failing step is marked.
    assert any(c.startswith("<<") and "fails here" in c for c in rows[-1][2])


# ---------------------------------------------------------------------------
# 3. the bug gallery
# ---------------------------------------------------------------------------


def test_bugs_json_lists_the_gallery(tmp_path):
    proc = run(tmp_path, "bugs", "--json")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    assert isinstance(entries, list) and len(entries) >= 7
    for entry in entries:
        assert set(entry) == {"name", "summary", "protocol", "parts"}, entry
        assert entry["name"] and entry["summary"] and entry["protocol"] and entry["parts"]
    names = [(e["protocol"], e["name"]) for e in entries]
    assert len(names) == len(set(names))
    for name in BUG_NAMES:
        assert ("paxos", name) in names


def test_bugs_text_lists_every_name(tmp_path):
    proc = run(tmp_path, "bugs")
    assert proc.returncode == 0, proc.stderr
    for name in BUG_NAMES:
        assert name in proc.stdout


def test_bugs_explains_one(tmp_path):
    proc = run(tmp_path, "bugs", "promise-not-kept")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("promise-not-kept: ")
    assert "maxBal" in proc.stdout
    assert "fix:" in proc.stdout
    assert "check --bug promise-not-kept" in proc.stdout


def test_bugs_unknown_name_is_usage_error(tmp_path):
    proc = run(tmp_path, "bugs", "nope")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "'nope'" in line
    assert "promise-not-kept" in line  # lists what there is


# ---------------------------------------------------------------------------
# 4. bad input: exit 2, one line on stderr naming the culprit
# ---------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param(["--acceptors", "0"], ["--acceptors", "0"], id="acceptors-0"),
    pytest.param(["--ballots", "-1"], ["--ballots", "-1"], id="ballots-negative"),
    pytest.param(["--acceptors", "x"], ["--acceptors", "'x'"], id="acceptors-not-a-number"),
    pytest.param(["nosuchspec"], ["'nosuchspec'", "paxos"], id="unknown-spec"),
    pytest.param(["--ballots", "1", "--invariant", "Nope"], ["'Nope'", "Consistency"], id="unknown-invariant"),
    pytest.param(["--bug", "nope"], ["'nope'", "two-proposals-per-ballot"], id="unknown-bug"),
    pytest.param(["missing.py:Spec"], ["missing.py"], id="missing-file"),
    pytest.param(["counter.py:NoSuchName"], ["counter.py", "NoSuchName"], id="missing-name-in-file"),
    pytest.param(["counter.py:Raises"], ["ZeroDivisionError", "boom", "state 3"], id="spec-next-raises"),
    pytest.param(["counter.py:Unhashable"], ["hashable", "list"], id="spec-unhashable-state"),
    pytest.param(["broken.py:Spec"], ["broken.py", "SyntaxError"], id="spec-syntax-error"),
    pytest.param(["counter.py:Counter", "--ballots", "1"], ["--ballots"], id="size-option-spec-does-not-take"),
    pytest.param(["--ballots", "1", "--graph", "g.txt"], ["g.txt"], id="graph-unknown-format"),
    pytest.param(["--quorum", "a1,a9"], ["a9"], id="quorum-unknown-acceptor"),
    pytest.param(["twophase", "--quorum", "r1"], ["--quorum", "--rms"], id="quorum-for-twophase"),
]


@pytest.mark.parametrize("args, culprit", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(user_specs, args, culprit):
    proc = run(user_specs, "check", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = one_line(proc.stderr)
    for word in culprit:
        assert word in line, f"{word!r} not in {line!r}"
    # stdout may carry the header line, but never a result.
    assert "distinct states" not in proc.stdout
    assert "VIOLATION" not in proc.stdout and "OK:" not in proc.stdout


# ---------------------------------------------------------------------------
# 5. a user's own spec
# ---------------------------------------------------------------------------


def test_user_spec_from_file_verifies(user_specs):
    proc = run(user_specs, "check", "counter.py:Counter")
    assert proc.returncode == 0, proc.stderr
    assert "6 distinct states" in proc.stdout
    assert "Small" in proc.stdout  # the property it checked

    doc = report(run(user_specs, "check", "counter.py:Counter", "--json"))
    assert doc["verdict"] == "ok"
    assert doc["spec"] == "counter.py:Counter"
    assert doc["distinct_states"] == 6
    assert doc["violation"] is None


def test_user_spec_from_file_violation_has_trace(user_specs):
    proc = run(user_specs, "check", "counter.py:Tight")
    assert proc.returncode == 1, proc.stderr
    assert "VIOLATION" in proc.stdout and "Small" in proc.stdout
    rows = trace_rows(proc.stdout)
    assert [label for _, label, _ in rows] == ["Init"] + ["Inc()"] * 4
    assert rows[0][2] == ["state = 0"]
    assert rows[-1][2][0] == "state: 3 → 4"
    assert any("Small fails here" in c for c in rows[-1][2])
    assert "VIOLATION: invariant Small fails after 4 steps" in proc.stdout

    proc = run(user_specs, "check", "counter.py:Tight", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = report(proc)
    assert doc["verdict"] == "violation"
    assert doc["violation"]["property"] == "Small"
    trace = doc["violation"]["trace"]
    assert [step["state"] for step in trace] == [{"state": i} for i in range(5)]
    assert [step["action"] for step in trace] == [None] + ["Inc()"] * 4


def test_user_spec_module_name_with_pythonpath(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "usercounter.py").write_text(USER_SPECS, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(lib), os.environ.get("PYTHONPATH", "")) if p)

    proc = run(tmp_path, "check", "usercounter:Counter", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = report(proc)
    assert doc["verdict"] == "ok" and doc["distinct_states"] == 6

    proc = run(tmp_path, "check", "usercounter:Tight", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "VIOLATION" in proc.stdout

    # Without the PYTHONPATH the module is not found: a one-line usage error.
    env_without = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = run(tmp_path, "check", "usercounter:Counter", env=env_without)
    assert proc.returncode == 2
    assert "usercounter" in one_line(proc.stderr)


# ---------------------------------------------------------------------------
# 6. ITF and state graphs
# ---------------------------------------------------------------------------


def _no_bare_ints(value, where="state"):
    """In ITF every integer is {"#bigint": "..."}: no bare JSON number may appear."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    assert not isinstance(value, (int, float)), f"bare number {value!r} at {where}"
    if isinstance(value, dict):
        for k, v in value.items():
            _no_bare_ints(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_bare_ints(v, f"{where}[{i}]")


def test_itf_counterexample(tmp_path):
    proc = run(
        tmp_path, "check", "--bug", "two-proposals-per-ballot", "--ballots", "2", "--json", "--itf", "cex.itf.json"
    )
    assert proc.returncode == 1, proc.stderr
    trace = report(proc)["violation"]["trace"]  # --itf leaves stdout one JSON report

    doc = json.loads((tmp_path / "cex.itf.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    assert doc["vars"] == ["maxBal", "maxVBal", "maxVal", "msgs"]
    states = doc["states"]
    assert len(states) == len(trace)
    for i, state in enumerate(states):
        assert "#meta" in state
        assert state["#meta"]["index"] == i
        for var in doc["vars"]:
            assert var in state, (i, var)
        assert set(state) == {"#meta", *doc["vars"]}
        for var in doc["vars"]:
            _no_bare_ints(state[var], var)
        assert set(state["msgs"]) == {"#set"} and isinstance(state["msgs"]["#set"], list)
    # Actions agree with the JSON report's trace.
    assert "action" not in states[0]["#meta"]
    assert [s["#meta"].get("action") for s in states[1:]] == [step["action"] for step in trace[1:]]
    # Integers as #bigint: initially every maxBal is -1.
    init_bal = json.dumps(states[0]["maxBal"])
    assert '{"#bigint": "-1"}' in init_bal
    # The set of messages grows: the first state has none, the last has some.
    assert states[0]["msgs"]["#set"] == []
    assert len(states[-1]["msgs"]["#set"]) >= 1
    assert any(m.get("bal") == {"#bigint": "0"} for m in states[-1]["msgs"]["#set"] if isinstance(m, dict))


def test_graph_graphml_and_dot(tmp_path):
    import networkx  # a declared dependency of paxoscope

    proc = run(tmp_path, "check", "--ballots", "1", "--graph", "g.graphml")
    assert proc.returncode == 0, proc.stderr
    graph = networkx.read_graphml(tmp_path / "g.graphml")
    assert graph.number_of_nodes() == 73

    proc = run(tmp_path, "check", "--ballots", "1", "--graph", "g.dot")
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    nodes = re.findall(r"^\s*\d+ \[label=", dot, flags=re.MULTILINE)
    edges = re.findall(r"^\s*\d+ -> \d+ \[label=", dot, flags=re.MULTILINE)
    assert len(nodes) == 73
    assert len(edges) == graph.number_of_edges()


def test_graph_too_large_is_usage_error(tmp_path):
    proc = run(tmp_path, "check", "--graph", "big.dot")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = one_line(proc.stderr)
    assert "--graph" in line
    assert not (tmp_path / "big.dot").exists()


def test_graph_too_large_message_does_not_blame_the_spec(tmp_path):
    # The culprit is the --graph request, not the spec: the line must not read as if the
    # paxos spec had raised something in some state.
    proc = run(tmp_path, "check", "--graph", "big.dot")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "spec 'paxos' raised" not in line, line
    assert "in state" not in line, line


# ---------------------------------------------------------------------------
# 7. check does not pay for z3 or hypothesis
# ---------------------------------------------------------------------------


def test_check_imports_neither_z3_nor_hypothesis(tmp_path):
    code = (
        "import sys; from paxoscope.cli import main; rc = main(['check','--ballots','1']); "
        "assert 'z3' not in sys.modules and 'hypothesis' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('z3','hypothesis'))); print('clean', rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "clean 0"


# ---------------------------------------------------------------------------
# 8. Ctrl-C: partial statistics, exit 130
# ---------------------------------------------------------------------------


def _interrupt(tmp_path: Path, *extra: str, ready_line: bool) -> tuple[int, str, str]:
    """Start a run of several seconds, let it work ~1 s, send SIGINT."""
    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err_path, "w", encoding="utf-8") as err:
        # Only stdout is a pipe, so communicate() reads it through the same buffer as readline().
        proc = subprocess.Popen(
            command("check", "--ballots", "3", "--exact", *extra),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        try:
            head = ""
            if ready_line:
                head = proc.stdout.readline()  # the header: imports are done, the search starts
                assert head.startswith("paxos"), head
            # Without a header to wait for, long enough for the imports on a loaded machine, and well
            # within the run's seconds of search.
            deadline = time.monotonic() + (1.0 if ready_line else 2.0)
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before it could be interrupted"
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return proc.returncode, head + out, err_path.read_text(encoding="utf-8")


def test_ctrl_c_prints_partial_statistics(tmp_path):
    rc, out, err = _interrupt(tmp_path, ready_line=True)
    assert rc == 130, (out, err)
    assert "INTERRUPTED" in out
    assert "distinct states" in out
    assert "Traceback" not in err


def test_ctrl_c_json_verdict_interrupted(tmp_path):
    rc, out, err = _interrupt(tmp_path, "--json", ready_line=False)
    assert rc == 130, (out, err)
    doc = json.loads(out)
    assert doc["verdict"] == "interrupted"
    assert doc["distinct_states"] > 0
    assert doc["violation"] is None
    assert "Traceback" not in err


# ---------------------------------------------------------------------------
# 9. --max-states
# ---------------------------------------------------------------------------


def test_max_states_incomplete(tmp_path):
    proc = run(tmp_path, "check", "--max-states", "100", "--ballots", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = report(proc)
    assert doc["verdict"] == "incomplete"
    assert doc["distinct_states"] == 100
    assert doc["violation"] is None

    proc = run(tmp_path, "check", "--max-states", "100", "--ballots", "2")
    assert proc.returncode == 0, proc.stderr
    assert "INCOMPLETE" in proc.stdout
    assert "100 distinct states" in proc.stdout


# ---------------------------------------------------------------------------
# 10. twophase
# ---------------------------------------------------------------------------


def test_twophase_verifies(tmp_path):
    proc = run(tmp_path, "check", "twophase")
    assert proc.returncode == 0, proc.stderr
    assert "288 distinct states" in proc.stdout


def test_twophase_rejects_acceptors(tmp_path):
    proc = run(tmp_path, "check", "twophase", "--acceptors", "3")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "--acceptors" in line and "twophase" in line


def test_trace_table_columns_line_up_with_header(user_specs):
    # Every action label here ("Init", "Inc()") is shorter than the header word "action":
    # the header's "changes" must still sit above the changes column.
    proc = run(user_specs, "check", "counter.py:Tight")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^\s*#\s+action\s+changes\s*$", line))
    col = lines[start].index("changes")
    first = lines[start + 1]
    assert first.lstrip().startswith("1")
    assert first[col:].startswith("state = 0"), f"{lines[start]!r} vs {first!r}"
    assert first[col - 1] == " "


# ---------------------------------------------------------------------------
# statistics of a run that finds a violation
# ---------------------------------------------------------------------------


def test_violation_statistics_count_every_state_generated(user_specs):
    # Every distinct state was generated, so generated >= distinct, also when the search
    # stops at a violation in the middle of expanding a state.
    doc = report(run(user_specs, "check", "counter.py:Tight", "--json"))
    assert doc["verdict"] == "violation"
    assert doc["distinct_states"] == 5
    assert doc["states_generated"] >= doc["distinct_states"], doc


def test_violation_depth_reaches_the_violating_state(user_specs):
    # Depth counts the states on the longest path (the initial state is depth 1); a search
    # that stops at a violation has reached at least the depth of the violating state.
    ok = report(run(user_specs, "check", "counter.py:Counter", "--json"))
    assert ok["depth"] == 6  # the convention: number of states on the longest path
    doc = report(run(user_specs, "check", "counter.py:Tight", "--json"))
    assert doc["depth"] >= len(doc["violation"]["trace"]), doc


def test_quorums_that_do_not_intersect_break_consistency(tmp_path):
    proc = run(tmp_path, "check", "--ballots", "2", "--quorum", "a1", "--quorum", "a2,a3", "--invariant", "Consistency")
    assert proc.returncode == 1, proc.stderr
    assert "quorums {{a1}, {a2,a3}}" in proc.stdout
    assert "VIOLATION: invariant Consistency" in proc.stdout
    ok = run(tmp_path, "check", "--ballots", "2", "--quorum", "a1,a2", "--quorum", "a1,a3")
    assert ok.returncode == 0, ok.stderr


def test_a_closed_pipe_ends_the_output_not_the_verdict(tmp_path):
    # `paxoscope check ... | head -1`: the reader leaves early; the exit code still tells the verdict.
    for args, code in ((["--ballots", "2"], 0), (["--bug", "promise-not-kept", "--ballots", "2"], 1)):
        proc = subprocess.Popen(
            command("check", *args), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        proc.stdout.readline()
        proc.stdout.close()
        assert proc.wait(timeout=60) == code
        assert "Traceback" not in proc.stderr.read()


def test_an_output_file_that_cannot_be_written_comes_after_the_verdict(tmp_path):
    args = ("--bug", "promise-not-kept", "--ballots", "2", "--invariant", "Consistency", "--svg", str(tmp_path))
    r = run(tmp_path, "check", *args)
    assert r.returncode == 2
    assert "VIOLATION: invariant Consistency fails" in r.stdout  # the reader still gets the verdict
    assert r.stderr.count("\n") == 1 and str(tmp_path) in r.stderr

"""Linearizability checking: Porcupine's verdicts on real histories, each model both ways, :info, bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paxoscope.explorer.lincheck import (
    LINEARIZABLE,
    MODELS,
    NOT_LINEARIZABLE,
    UNKNOWN,
    Operation,
    check,
)

from paxoscope.cli import main

HISTORIES = Path(__file__).parent / "data" / "histories"


def porcupine_verdicts() -> list[tuple[str, str, bool]]:
    """(file, model, linearizable) from the table in the histories' README."""
    rows = re.findall(r"^\| (\S+) \| (\S+) \| (yes|no) \|$", (HISTORIES / "README.md").read_text(), re.M)
    assert len(rows) >= 12
    return [(name, model, verdict == "yes") for name, model, verdict in rows]


@pytest.mark.parametrize(("name", "model", "linearizable"), porcupine_verdicts())
def test_porcupine_verdict_through_the_cli(name, model, linearizable, capsys):
    code = main(["lincheck", str(HISTORIES / name), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == model  # inferred from the file
    assert report["verdict"] == (LINEARIZABLE if linearizable else NOT_LINEARIZABLE)
    assert code == (0 if linearizable else 1)
    if not linearizable:
        failure = report["failure"]
        ops = [{k: v for k, v in o.items() if k != "states"} for o in failure["operations"]]
        assert failure["unplaceable"] in ops
        # The operation that cannot be placed fits in no state the search reached before it returned.
        assert failure["operations"][ops.index(failure["unplaceable"])]["states"] == []
        assert len(failure["linearizable_prefix"]) < len(failure["operations"])


def test_several_files_one_verdict_each_and_exit_1_if_any_fails(capsys):
    files = [str(HISTORIES / "c01-ok.txt"), str(HISTORIES / "c01-bad.txt")]
    assert main(["lincheck", *files, "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in reports] == [LINEARIZABLE, NOT_LINEARIZABLE]


def test_text_report_names_the_failing_operations(capsys):
    assert main(["lincheck", str(HISTORIES / "c01-bad.txt")]) == 1
    text = capsys.readouterr().out
    assert "not-linearizable" in text
    assert "longest linearizable prefix" in text
    assert "cannot be placed: client 0: get '7' -> 'x 0 0 y'" in text
    # The failing sub-history: the two appends and the read that sees only the first, which fits nowhere.
    assert (
        "smallest failing sub-history: 3 operations (leaving out any read or failed operation makes it linearizable)"
        in text
    )
    assert "client 0: append '7' 'x 0 0 y' -> 'ok'   in: ()" in text
    assert "client 0: get '7' -> 'x 0 0 y'   in: none" in text


def op(i, f, value, output, call, ret, key=None, client=None):
    return Operation(i, i if client is None else client, (f, key, value), output, call, ret)


# Each model, a linearizable history and a non-linearizable one: (model, ops, linearizable).
CASES = [
    ("register", [op(0, "write", 1, "ok", 0, 2), op(1, "read", None, 1, 1, 3)], True),
    ("register", [op(0, "write", 1, "ok", 0, 1), op(1, "read", None, None, 2, 3)], False),
    (
        "cas-register",
        [op(0, "write", 1, "ok", 0, 1), op(1, "cas", (1, 2), "ok", 2, 3), op(2, "read", None, 2, 4, 5)],
        True,
    ),
    ("cas-register", [op(0, "write", 1, "ok", 0, 1), op(1, "cas", (1, 2), "fail", 2, 3)], False),
    (
        "kv",
        [
            op(0, "put", "a", "ok", 0, 1, key="x"),
            op(1, "append", "b", "ok", 2, 3, key="x"),
            op(2, "get", None, "ab", 4, 5, key="x"),
            op(3, "get", None, "", 0, 5, key="y"),
        ],
        True,
    ),
    ("kv", [op(0, "append", "a", "ok", 0, 1, key="x"), op(1, "get", None, "", 2, 3, key="x")], False),
    (
        "lock",
        [op(0, "acquire", 1, "ok", 0, 1), op(1, "acquire", 2, "fail", 2, 3), op(2, "release", 1, "ok", 4, 5)],
        True,
    ),
    ("lock", [op(0, "acquire", 1, "ok", 0, 1), op(1, "acquire", 2, "ok", 2, 3)], False),
]


@pytest.mark.parametrize(("model", "ops", "linearizable"), CASES)
def test_each_model_both_ways(model, ops, linearizable):
    assert check(MODELS[model], ops).verdict == (LINEARIZABLE if linearizable else NOT_LINEARIZABLE)


def test_kv_is_checked_per_key():
    ops = [op(0, "put", "a", "ok", 0, 1, key="x"), op(1, "put", "b", "ok", 0, 1, key="y")]
    assert len(check(MODELS["kv"], ops).partitions) == 2


@pytest.mark.parametrize("seen", [0, 5])
def test_an_info_write_may_or_may_not_have_happened(seen):
    """A write whose client timed out may take effect at any time after its call, or never."""
    ops = [
        op(0, "write", 0, "ok", 0, 1),
        op(1, "write", 5, UNKNOWN, 2, math.inf),
        op(2, "read", None, seen, 3, 4),
        op(3, "read", None, 5, 10, 11),
    ]
    assert check(MODELS["register"], ops).verdict == LINEARIZABLE
    # ... but only after its call.
    early = [op(0, "write", 5, UNKNOWN, 2, math.inf), op(1, "read", None, 5, 0, 1)]
    assert check(MODELS["register"], early).verdict == NOT_LINEARIZABLE


def test_info_in_the_edn_form_stays_pending(tmp_path, capsys):
    history = tmp_path / "h.edn"
    history.write_text(
        "{:process 0, :type :invoke, :f :write, :value 3}\n"
        "{:process 0, :type :info, :f :write, :value 3}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        "{:process 1, :type :ok, :f :read, :value 3}\n"
        "{:process 2, :type :invoke, :f :read, :value nil}\n"
        "{:process 2, :type :ok, :f :read, :value 3}\n"
    )
    assert main(["lincheck", str(history), "--model", "register"]) == 0
    assert "linearizable" in capsys.readouterr().out


def test_a_log_whose_tabs_became_spaces_reads_the_same(tmp_path, capsys):
    spaced = tmp_path / "etcd_000.log"
    spaced.write_text((HISTORIES / "etcd_000.log").read_text().replace("\t", "   "))
    assert main(["lincheck", str(spaced), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == NOT_LINEARIZABLE


def test_json_form(tmp_path, capsys):
    events = [
        {"process": 0, "type": "invoke", "f": "cas", "value": [None, 1]},
        {"process": 0, "type": "ok", "f": "cas", "value": [None, 1]},
        {"process": 1, "type": "invoke", "f": "read"},
        {"process": 1, "type": "ok", "f": "read", "value": None},
    ]
    history = tmp_path / "h.json"
    history.write_text(json.dumps(events))
    assert main(["lincheck", str(history), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == NOT_LINEARIZABLE


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "{:process 0, :type :invoke, :f :write, :value 3}\n{:process 0, :type :ok, :f :write, :value\n",
            2,
            "malformed",
        ),
        ("{:process 0, :type :ok, :f :write, :value 3}\n", 1, "no call"),
        ("{:process 0, :type :invoke, :f :frobnicate, :value 3}\n", 1, "unknown function"),
        ("{:process 0, :type :invoke, :f :write, :value 3}\n\ngarbage\n", 3, "malformed"),
        ("{:process 0, :type :maybe, :f :write, :value 3}\n", 1, "malformed"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_file_and_line(tmp_path, capsys, text, line, reason):
    history = tmp_path / "bad.edn"
    history.write_text(text)
    assert main(["lincheck", str(history), "--model", "register"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"{history}:{line}:" in err and reason in err


# Sequential runs, widened: each operation takes effect at slot 10*i+5 and its interval still contains that point.
REGISTER_INPUTS = st.one_of(
    st.tuples(st.just("read"), st.none()),
    st.tuples(st.just("write"), st.integers(0, 3)),
    st.tuples(st.just("cas"), st.tuples(st.integers(0, 3), st.integers(0, 3))),
)


def run_and_widen(model, inputs, widths, key=None):
    state, ops = model.init, []
    for i, ((f, value), (before, after)) in enumerate(zip(inputs, widths, strict=True)):
        output, state = model.step(state, (f, key, value))
        ops.append(op(i, f, value, output, 10 * i + 5 - before, 10 * i + 5 + after, key=key))
    return ops


WIDTHS = st.tuples(st.integers(1, 25), st.integers(1, 25))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_widened_sequential_runs_are_linearizable_and_a_foreign_read_is_not(data):
    inputs = data.draw(st.lists(REGISTER_INPUTS, min_size=1, max_size=9))
    ops = run_and_widen(
        MODELS["cas-register"], inputs, data.draw(st.lists(WIDTHS, min_size=len(inputs), max_size=len(inputs)))
    )
    assert check(MODELS["cas-register"], ops).verdict == LINEARIZABLE
    reads = [o for o in ops if o.input[0] == "read"]
    if reads:
        flipped = data.draw(st.sampled_from(reads))
        ops[flipped.index] = op(flipped.index, "read", None, 99, flipped.call, flipped.ret)  # 99 is never written
        assert check(MODELS["cas-register"], ops).verdict == NOT_LINEARIZABLE


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_widened_kv_runs_are_linearizable(data):
    inputs = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["get", "put", "append"]), st.sampled_from(["a", "b"])), min_size=1, max_size=9
        )
    )
    inputs = [(f, None if f == "get" else v) for f, v in inputs]
    widths = data.draw(st.lists(WIDTHS, min_size=len(inputs), max_size=len(inputs)))
    ops = run_and_widen(MODELS["kv"], inputs, widths, key="k")
    assert check(MODELS["kv"], ops).verdict == LINEARIZABLE


def test_timeout_gives_unknown_which_fails_only_when_strict(capsys):
    history = str(HISTORIES / "etcd_002.log")  # its search takes many thousands of steps
    assert main(["lincheck", history, "--timeout", "1e-9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "unknown"
    assert main(["lincheck", history, "--timeout", "1e-9", "--strict"]) == 1
    assert "unknown" in capsys.readouterr().out


def linearizable_by_brute_force(model, ops) -> bool:
    """Every order of every subset holding all the completed operations, checked directly."""
    from itertools import combinations, permutations

    done = [o for o in ops if o.ret != math.inf]
    pending = [o for o in ops if o.ret == math.inf]
    for k in range(len(pending) + 1):
        for chosen in combinations(pending, k):
            for order in permutations(done + list(chosen)):
                if _explains(model, order):
                    return True
    return False


def _explains(model, order) -> bool:
    state = model.init
    for at, o in enumerate(order):
        if any(later.ret < o.call for later in order[at + 1 :]):
            return False  # a later operation returned before this one was called
        output, state = model.step(state, o.input)
        if o.output is not UNKNOWN and output != o.output:
            return False
    return True


SMALL_OP = st.tuples(REGISTER_INPUTS, st.integers(0, 3), st.integers(0, 8), st.integers(1, 6), st.booleans())


def small_history(drawn) -> list[Operation]:
    ops = [
        op(
            i,
            f,
            value,
            UNKNOWN if timed_out else (output if f == "read" else ("ok", "fail")[output % 2]),
            call,
            math.inf if timed_out else call + length,
        )
        for i, ((f, value), output, call, length, timed_out) in enumerate(drawn)
    ]
    ops = [
        o if o.input[0] != "write" or o.output is UNKNOWN else op(o.index, "write", o.input[2], "ok", o.call, o.ret)
        for o in ops
    ]
    return ops


@settings(max_examples=300, deadline=None)
@given(st.lists(SMALL_OP, min_size=1, max_size=6))
def test_agrees_with_brute_force_on_small_histories_with_pending_operations(drawn):
    model = MODELS["cas-register"]
    ops = small_history(drawn)
    expected = linearizable_by_brute_force(model, ops)
    assert (check(model, ops).verdict == LINEARIZABLE) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(SMALL_OP, min_size=2, max_size=6))
def test_the_failing_sub_history_fails_and_no_read_in_it_can_be_left_out(drawn):
    model = MODELS["cas-register"]
    ops = small_history(drawn)
    result = check(model, ops)
    if result.verdict != NOT_LINEARIZABLE:
        return
    sub = result.failure.operations
    assert set(sub) <= set(ops)
    assert not linearizable_by_brute_force(model, sub)
    assert result.failure.minimal
    for o in sub:
        if o.input[0] == "read" or o.output == "fail":
            assert linearizable_by_brute_force(model, [other for other in sub if other is not o])


COUNTER = '''
class Counter:
    """A counter: inc adds one, read returns the count."""

    init = 0
    functions = ("inc", "read")
    reads = ("read",)

    def step(self, state, inp):
        f, _, _ = inp
        return (state, state) if f == "read" else ("ok", state + 1)
'''


@pytest.mark.parametrize(("seen", "code"), [(1, 0), (2, 1)])
def test_a_users_model_from_a_file(tmp_path, capsys, seen, code):
    (tmp_path / "counter.py").write_text(COUNTER)
    history = tmp_path / "h.edn"
    history.write_text(
        "{:process 0, :type :invoke, :f :inc, :value nil}\n"
        "{:process 0, :type :ok, :f :inc, :value nil}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        f"{{:process 1, :type :ok, :f :read, :value {seen}}}\n"
    )
    assert main(["lincheck", str(history), "--model", f"{tmp_path / 'counter.py'}:Counter"]) == code
    assert ("not-linearizable" in capsys.readouterr().out) == bool(code)


def test_an_unknown_model_is_bad_usage(capsys):
    assert main(["lincheck", str(HISTORIES / "c01-ok.txt"), "--model", "queue"]) == 2
    assert "unknown model 'queue'" in capsys.readouterr().err


def test_the_picture_marks_the_prefix_and_the_operation_that_cannot_be_placed(tmp_path, capsys):
    import resvg_py
    from paxoscope.explorer.linchart import PREFIX, STUCK

    svg, page = tmp_path / "h.svg", tmp_path / "h.html"
    assert main(["lincheck", str(HISTORIES / "etcd_001.log"), "--svg", str(svg), "--html", str(page), "--json"]) == 1
    failure = json.loads(capsys.readouterr().out)["failure"]
    drawing = svg.read_text()
    assert drawing.count(f'fill="{STUCK}"') == 1
    assert drawing.count(f'fill="{PREFIX}"') == len(failure["linearizable_prefix"])
    assert drawing.count("<rect") == len(failure["operations"]) + 1  # one bar each, and the background
    png = bytes(resvg_py.svg_to_bytes(svg_string=drawing))
    assert png.startswith(b"\x89PNG")
    assert "<svg" in page.read_text() and "cannot be placed" in page.read_text()


def test_one_picture_for_one_file(tmp_path, capsys):
    files = [str(HISTORIES / "c01-ok.txt"), str(HISTORIES / "c01-bad.txt")]
    assert main(["lincheck", *files, "--svg", str(tmp_path / "h.svg")]) == 2
    assert "one FILE" in capsys.readouterr().err


PLUGIN_TEST = """
def test_ok(paxoscope):
    paxoscope.lincheck([
        {"process": 0, "type": "invoke", "f": "write", "value": 1},
        {"process": 0, "type": "ok", "f": "write", "value": 1},
        {"process": 1, "type": "invoke", "f": "read"},
        {"process": 1, "type": "ok", "f": "read", "value": 1},
    ], "register")

def test_stale_read(paxoscope):
    paxoscope.lincheck([
        {"process": 0, "type": "invoke", "f": "write", "value": 1},
        {"process": 0, "type": "ok", "f": "write", "value": 1},
        {"process": 1, "type": "invoke", "f": "read"},
        {"process": 1, "type": "ok", "f": "read", "value": None},
    ], "register")

def test_a_file(paxoscope):
    paxoscope.lincheck(HISTORY, "kv")
"""


def test_the_pytest_plugin_fails_a_test_on_a_history_that_is_not_linearizable(tmp_path):
    import subprocess
    import sys

    (tmp_path / "test_histories.py").write_text(f"HISTORY = {str(HISTORIES / 'c01-ok.txt')!r}\n" + PLUGIN_TEST)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_histories.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 failed, 2 passed" in run.stdout, run.stdout
    assert "cannot be placed: client 1: read -> 1" not in run.stdout
    assert "cannot be placed: client 1: read -> None" in run.stdout


def test_the_nemesis_is_not_a_client(tmp_path, capsys):
    history = tmp_path / "h.edn"
    history.write_text(
        "{:type :info, :f :start, :process :nemesis, :time 10, :value nil}\n"
        "{:type :invoke, :f :write, :process 0, :time 11, :value 3, :index 1}\n"
        '{:type :info, :f :start, :process :nemesis, :time 12, :value [:isolated {"n1" #{"n2"}}]}\n'
        "{:type :ok, :f :write, :process 0, :time 13, :value 3, :index 2}\n"
    )
    assert main(["lincheck", str(history)]) == 0, capsys.readouterr().err


def test_a_long_check_tells_how_far_it_got():
    # Twelve concurrent writes and a read of a value none wrote: every order of the writes is tried.
    ops = [op(i, "write", i, "ok", 0, 10) for i in range(12)] + [op(12, "read", None, 99, 11, 12)]
    seen = []
    result = check(MODELS["cas-register"], ops, progress=lambda p: seen.append((p.partition, p.phase, p.steps)))
    assert result.verdict == NOT_LINEARIZABLE
    searched = [steps for partition, phase, steps in seen if phase == "search"]
    assert searched and searched == sorted(searched) and all(partition == 1 for partition, _, _ in seen)


def independent_history(tmp_path, files: dict[str, str]) -> Path:
    """The etcd logs given, one per key, as one EDN history with Jepsen's independent [key value] pairs."""
    from paxoscope.explorer.histories import read_events

    def edn(value):
        if value is None:
            return "nil"
        if isinstance(value, tuple):
            return "[" + " ".join(edn(v) for v in value) + "]"
        return f":{value}" if isinstance(value, str) else str(value)

    lines = []
    for offset, (key, name) in enumerate(files.items()):
        for e in read_events(HISTORIES / name):
            value = edn((key, e.value)) if e.type != "info" else edn(e.value)
            lines.append(
                (e.line, offset, f"{{:process {e.process + 100 * offset}, :type :{e.type}, :f :{e.f}, :value {value}}}")
            )
    path = tmp_path / "independent.edn"
    path.write_text("\n".join(text for _, _, text in sorted(lines)) + "\n")
    return path


def test_jepsen_independent_keys_are_one_register_each(tmp_path, capsys):
    good = independent_history(tmp_path, {"x": "etcd_002.log", "y": "etcd_005.log"})
    assert main(["lincheck", str(good), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["verdict"], report["model"], report["partitions"]) == (LINEARIZABLE, "cas-register", 2)
    bad = independent_history(tmp_path, {"x": "etcd_002.log", "y": "etcd_000.log"})
    assert main(["lincheck", str(bad), "--json"]) == 1
    failure = json.loads(capsys.readouterr().out)["failure"]
    assert {op["key"] for op in failure["operations"]} == {"y"}

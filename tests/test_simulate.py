"""Random simulation (``check --simulate``): behaviours drawn from a seed, every step checked."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from paxoscope.explorer.bfs import SpecError, check
from paxoscope.explorer.simulate import SimulateOptions, simulate
from paxoscope.explorer.trace import validate
from paxoscope.spec.base import Spec, action
from paxoscope.spec.constants import ConfigError

from paxoscope.cli import main
from paxoscope.specs import load


def paxos(ballots: int = 2, bug: str | None = None) -> Spec:
    return load("paxos", bug=bug, sizes={"ballots": ballots})


def figures(r) -> tuple:
    """What a simulation reports, timing left out."""
    trace = None if r.violation is None else [str(step.action) for step in r.violation.trace]
    return r.verdict, r.traces, r.steps, r.distinct_states, r.states_generated, r.depth, r.behaviour, trace


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class Counter(Spec):
    """0, 1, 2, ... up to ``top``; a user's spec with a bound to break."""

    name = "counter"
    actions = ("Inc", "Reset")

    def __init__(self, top: int = 10, limit: int = 100, start: int = 0):
        self.top, self.limit, self.start = top, limit, start

    def init(self):
        yield self.start

    def next(self, s):
        if s < self.top:
            yield action("Inc"), s + 1
        if s > 0:
            yield action("Reset"), 0

    @property
    def invariants(self):
        return {"BelowLimit": lambda s: s < self.limit}


# -- the engine ---------------------------------------------------------------


def test_a_correct_spec_passes_and_says_what_it_drew():
    r = simulate(paxos(), seed=5, traces=200)
    assert r.verdict == "ok" and r.violation is None
    assert r.traces == 200 and r.seed == 5
    assert r.steps > 0 and 1 < r.distinct_states <= r.states_generated
    assert r.properties == check(paxos(), max_states=1).properties


def test_the_same_seed_draws_the_same_behaviours_and_another_seed_others():
    first, again, other = (simulate(paxos(), seed=s, traces=100) for s in (11, 11, 12))
    assert figures(first) == figures(again)
    assert figures(first) != figures(other)


def test_a_seed_is_drawn_when_none_is_given_and_reproduces_the_run():
    r = simulate(paxos(), traces=30)
    assert figures(simulate(paxos(), seed=r.seed, traces=30)) == figures(r)


@pytest.mark.parametrize("bug", ["ok", "non-intersecting-quorums"])
def test_workers_report_what_one_worker_does(bug):
    """Behaviour n is drawn from (seed, n) whoever runs it, and the report stops
    at the first violating behaviour: the same figures for any worker count."""
    spec = paxos(bug=None if bug == "ok" else bug)
    runs = [simulate(spec, properties=["Consistency"], seed=1, traces=300, workers=w) for w in (1, 2, 3)]
    assert figures(runs[0]) == figures(runs[1]) == figures(runs[2])
    assert runs[0].verdict == ("ok" if bug == "ok" else "violation")
    if bug != "ok":
        assert runs[0].behaviour > 1  # found by a later behaviour, so that the workers' shares mattered


def test_no_behaviour_is_longer_than_the_depth():
    r = simulate(Counter(top=50), seed=3, traces=40, depth=7)
    assert r.depth == 7  # reached: Inc is always enabled below 50
    assert r.steps == 40 * 6  # and every behaviour stops there
    bad = simulate(Counter(top=50, limit=9), seed=3, traces=40, depth=7)
    assert bad.verdict == "ok"  # 9 is 9 steps away: beyond the bound
    found = simulate(Counter(top=50, limit=6), seed=3, traces=40, depth=7)
    assert found.verdict == "violation" and len(found.violation.trace) <= 7


@pytest.mark.parametrize("bug", ["two-proposals-per-ballot", "non-intersecting-quorums"])
def test_a_gallery_bug_is_found_and_its_trace_is_a_behaviour_of_the_spec(bug):
    spec = paxos(bug=bug)
    r = simulate(spec, properties=["Consistency"], seed=1, traces=2000)
    assert r.verdict == "violation" and r.violation.property == "Consistency"
    trace = r.violation.trace
    assert validate(spec, trace) is None
    assert not spec.invariants["Consistency"](trace.states[-1])
    assert all(spec.invariants["Consistency"](s) for s in trace.states[:-1])
    assert r.found_length == len(trace)


@pytest.mark.parametrize("bug", ["two-proposals-per-ballot", "non-intersecting-quorums"])
def test_shortening_reaches_the_shortest_trace_the_exhaustive_search_finds(bug):
    spec = paxos(bug=bug)
    r = simulate(spec, properties=["Consistency"], seed=1, traces=2000, shorten=True)
    shortest = check(spec, ["Consistency"]).violation.trace
    assert 0 < r.shorten_states < SimulateOptions().shorten_states  # every search finished
    assert len(r.violation.trace) == len(shortest) < r.found_length
    assert validate(spec, r.violation.trace) is None
    assert not spec.invariants["Consistency"](r.violation.trace.states[-1])


def test_a_step_property_is_checked_on_every_step():
    r = simulate(paxos(), seed=2, traces=50, action_properties={"NoVote": lambda s, a, t: a.name != "Phase2b"})
    assert r.verdict == "violation"
    assert (r.violation.property, r.violation.kind) == ("NoVote", "action property")
    assert r.violation.trace.actions[-1].name == "Phase2b"
    assert [a.name for a in r.violation.trace.actions[:-1]].count("Phase2b") == 0


def test_a_failing_initial_state_needs_no_behaviour():
    r = simulate(Counter(start=5, limit=5), seed=1, traces=10)
    assert r.verdict == "violation" and len(r.violation.trace) == 1
    assert r.behaviour is None and r.traces == 0


def test_symmetry_draws_the_same_behaviours_and_counts_fewer_states():
    plain = simulate(paxos(), seed=4, traces=100)
    reduced = simulate(paxos(), seed=4, traces=100, symmetry=True)
    assert (reduced.traces, reduced.steps, reduced.states_generated) == (
        plain.traces,
        plain.steps,
        plain.states_generated,
    )
    assert reduced.distinct_states < plain.distinct_states and reduced.symmetry


def test_a_deadlock_is_reported_when_asked():
    r = simulate(Counter(top=3), seed=1, traces=5, deadlock=True)
    assert r.verdict == "ok"  # Reset is always enabled above 0
    stuck = simulate(_Stuck(), seed=1, traces=5, deadlock=True, shorten=True)
    assert stuck.verdict == "violation" and stuck.violation.kind == "deadlock"
    assert stuck.violation.trace.states[-1] == 3


class _Stuck(Counter):
    def next(self, s):
        if s < 3:
            yield action("Inc"), s + 1


@pytest.mark.parametrize(
    "options",
    [dict(depth=0), dict(traces=-1), dict(workers=0), dict(max_states=10)],
)
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        simulate(paxos(), **options)


# -- the command ----------------------------------------------------------------


def test_check_simulate_prints_the_seed_and_the_figures(capsys):
    code, out, _ = cli(capsys, "check", "--simulate", "--ballots", "2", "--seed", "9", "--traces", "40")
    assert code == 0
    assert "seed 9" in out and "OK: no property fails in 40 random behaviours" in out
    assert "40 behaviours" in out and "distinct states" in out


def test_check_simulate_prints_a_violation_as_check_does(capsys, tmp_path):
    html, itf = tmp_path / "bug.html", tmp_path / "bug.itf.json"
    args = ["--ballots", "2", "--bug", "two-proposals-per-ballot", "--invariant", "Consistency"]
    code, out, _ = cli(capsys, "check", "--simulate", "--seed", "1", *args, "--html", str(html), "--itf", str(itf))
    assert code == 1
    assert "VIOLATION: invariant Consistency fails after" in out and "found in behaviour" in out
    assert "<svg" in html.read_text() and json.loads(itf.read_text())["states"]


def test_check_simulate_json_has_checks_keys_and_the_simulations(capsys):
    argv = ["check", "--ballots", "2", "--json"]
    _, exhaustive, _ = cli(capsys, *argv)
    code, simulated, _ = cli(capsys, *argv, "--simulate", "--seed", "3", "--traces", "20", "--workers", "2")
    report = json.loads(simulated)
    assert code == 0 and set(json.loads(exhaustive)) < set(report)
    assert report["simulation"]["seed"] == 3 and report["simulation"]["traces"] == 20
    assert report["simulation"]["workers"] == 2


def test_check_simulate_takes_a_users_spec(capsys, tmp_path, monkeypatch):
    (tmp_path / "myspec.py").write_text(
        textwrap.dedent(
            """
            class Walk:
                def init(self):
                    return [0]

                def next(self, s):
                    return [("Up", s + 1), ("Down", s - 1)]

                invariants = {"Near": lambda s: abs(s) < 4}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "check", "myspec:Walk", "--simulate", "--seed", "1", "--traces", "50", "--shorten")
    assert code == 1 and "Near fails after 4 steps" in out


@pytest.mark.parametrize(
    "argv, culprit",
    [
        (["--simulate", "--depth", "0"], "--depth"),
        (["--simulate", "--traces", "-1"], "--traces"),
        (["--simulate", "--workers", "0"], "--workers"),
        (["--simulate", "--seed", "x"], "--seed"),
        (["--simulate", "--max-states", "5"], "--max-states"),
        (["--simulate", "--graph", "g.dot"], "--graph"),
        (["--depth", "5"], "--depth"),
        (["--shorten"], "--shorten"),
        (["--against", "pins.toml", "--simulate"], "--simulate"),
        (["--simulate", "--invariant", "Nope"], "Nope"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, argv, culprit):
    code, _, err = cli(capsys, "check", *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and culprit in err


class _Fragile(Counter):
    def next(self, s):
        if s == 3:
            raise ZeroDivisionError("three")
        yield from super().next(s)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_spec_that_raises_is_named_in_one_line(workers):
    with pytest.raises(SpecError, match="ZeroDivisionError: three.* in state 3"):
        simulate(_Fragile(), seed=1, traces=50, workers=workers)


def test_ctrl_c_stops_every_worker_and_prints_the_partial_figures(tmp_path):
    argv = ["check", "--simulate", "--ballots", "4", "--traces", "1000000", "--workers", "2", "--seed", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "paxoscope.cli", *argv],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout.readline().startswith("paxos")  # the heading: the behaviours are being drawn
        time.sleep(1.0)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "INTERRUPTED: partial statistics" in out and "behaviours" in out


def test_the_readmes_simulate_example_runs_as_written():
    text = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = text.index("```python\nfrom paxoscope import Paxos, simulate")
    code = text[start + len("```python\n") : text.index("```", start + 3)]
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})

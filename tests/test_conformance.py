"""The implementation against the spec: the core's rules, the simulator, and
conformance in both directions, with the known-wrong implementations."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from paxoscope.explorer.render import trace_table
from paxoscope.impl.conformance import conform, coverage, run_schedule
from paxoscope.impl.paxos import SimConfig
from paxoscope.impl.paxos.core import (
    IMPL_BUGS,
    AcceptorState,
    ClientRequest,
    Node,
    NodeConfig,
    Receive,
    Timeout,
)
from paxoscope.impl.paxos.mapping import Checker, abstract_state, spec_for
from paxoscope.impl.paxos.messages import (
    MAX_FRAME,
    Accept,
    Accepted,
    MalformedMessage,
    Prepare,
    Promise,
    Propose,
    Rejected,
    StatusReply,
    decode,
    encode,
)
from paxoscope.impl.sim import (
    Crash,
    Deliver,
    Request,
    Restart,
    Run,
    Simulator,
    parse_schedule,
    show_schedule,
)
from paxoscope.spec.base import action

ACC = ("a1", "a2", "a3")
QUORUMS = tuple(frozenset(q) for q in (("a1", "a2"), ("a1", "a3"), ("a2", "a3"), ACC))


def node(name: str, bugs=frozenset(), stored: AcceptorState | None = None) -> Node:
    config = NodeConfig(name, ACC, ("p1", "p2"), ACC + ("p1", "p2"), QUORUMS, ballots=4, bugs=bugs)
    return Node(config, stored)


# -- the core's rules ----------------------------------------------------------


def test_acceptor_promises_only_above_and_persists_before_answering():
    a = node("a1", stored=AcceptorState(1, 0, "v1"))
    assert a.handle(Receive("p1", Prepare(0))).send == [("p1", Rejected("a1", 0, 1))]  # no Promise
    effects = a.handle(Receive("p2", Prepare(3)))
    assert effects.persist == AcceptorState(3, 0, "v1") and effects.durable_first
    assert effects.send == [("p2", Promise("a1", 3, 0, "v1"))]
    # a ballot already promised is refused, as Paxos.tla refuses it (b > maxBal only)
    again = a.handle(Receive("p2", Prepare(3)))
    assert again.persist is None and again.send == [("p2", Rejected("a1", 3, 3))]


def test_acceptor_votes_at_or_above_its_promise_only():
    a = node("a1", stored=AcceptorState(2, -1, None))
    assert a.handle(Receive("p1", Accept(1, "v1"))).send == [("p1", Rejected("a1", 1, 2))]  # no vote
    effects = a.handle(Receive("p1", Accept(2, "v2")))
    assert effects.persist == AcceptorState(2, 2, "v2")
    assert {dst for dst, _ in effects.send} == set(ACC + ("p1", "p2"))
    assert all(m == Accepted("a1", 2, "v2") for _, m in effects.send)
    # once voted in 2, it does not promise 2 again: that 1b would hide its vote
    assert a.handle(Receive("p1", Prepare(2))).send == [("p1", Rejected("a1", 2, 2))]


def test_proposer_proposes_the_highest_reported_vote():
    p = node("p2")  # owns ballots 1, 3
    start = p.handle(ClientRequest("v2"))
    assert {m for _, m in start.send} == {Prepare(1)} and start.timer
    assert p.handle(Receive("a1", Promise("a1", 1, 0, "v1"))).send == []
    effects = p.handle(Receive("a3", Promise("a3", 1, -1, None)))
    assert {m for _, m in effects.send} == {Accept(1, "v1")}  # the reported vote, not the client's v2
    retry = p.handle(Timeout())
    assert {m for _, m in retry.send} == {Prepare(3)}


def test_acceptor_refusing_a_ballot_says_what_it_promised():
    a = node("a1", stored=AcceptorState(3, 1, "v1"))
    assert a.handle(Receive("p1", Prepare(2))).send == [("p1", Rejected("a1", 2, 3))]
    refused = a.handle(Receive("p2", Accept(1, "v2")))
    assert refused.send == [("p2", Rejected("a1", 1, 3))] and refused.persist is None
    assert a.acceptor.state == AcceptorState(3, 1, "v1")  # a refusal changes nothing


def test_a_rejected_proposer_jumps_above_the_promise_in_one_step():
    p = node("p1")  # owns ballots 0, 2, 4, ... (ballots bounded at 4: 0 and 2)
    p.handle(ClientRequest("v1"))
    assert p.handle(Receive("a1", Rejected("a1", 0, 0))).send == []  # not above: nothing to learn
    assert p.handle(Receive("a1", Rejected("a1", 2, 1))).send == []  # about another ballot
    jump = p.handle(Receive("a1", Rejected("a1", 0, 1)))
    assert {m for _, m in jump.send} == {Prepare(2)} and jump.timer
    assert p.handle(Receive("a2", Rejected("a2", 2, 3))).send == []  # the next owned ballot, 4, is out of bounds


def test_a_rejection_is_a_stutter_for_the_spec():
    config = SimConfig(3, 2, 2)
    spec = spec_for(config)
    sim = Simulator(config)
    checker = Checker(spec, sim)
    sim.run([Request(1, 0), Deliver(0), Request(0, 0)])  # a1 promises ballot 1, then p1 asks it for 0
    before = len(checker.trace.steps)
    assert sim.deliver_to("a1", lambda m: isinstance(m, Prepare) and m.bal == 0)
    assert any(isinstance(m, Rejected) for m in sim.sent)
    assert len(checker.trace.steps) == before and abstract_state(spec, sim) == checker.trace.steps[-1].state


def test_proposer_proposes_its_own_value_when_nothing_was_voted():
    p = node("p1")
    p.handle(ClientRequest("v2"))
    p.handle(Receive("a2", Promise("a2", 0, -1, None)))
    effects = p.handle(Receive("a3", Promise("a3", 0, -1, None)))
    assert {m for _, m in effects.send} == {Accept(0, "v2")}


def test_learner_decides_on_a_quorum_of_votes_in_one_ballot():
    n = node("p1")
    assert n.handle(Receive("a1", Accepted("a1", 0, "v1"))).decide is None
    assert n.handle(Receive("a2", Accepted("a2", 1, "v1"))).decide is None  # another ballot
    assert n.handle(Receive("a3", Accepted("a3", 0, "v1"))).decide == "v1"
    assert n.decided == "v1"


# -- the wire format --------------------------------------------------------------


@pytest.mark.parametrize(
    "msg",
    [
        Prepare(3),
        Promise("a1", 2, 1, "v1"),
        Promise("a2", 0, -1, None),
        Accept(1, "x"),
        Accepted("a3", 1, "y"),
        Rejected("a1", 0, 5),
        Propose("hello"),
        StatusReply("n1", 1, 0, "v", None),
    ],
)
def test_messages_round_trip(msg):
    frame = encode(msg)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert decode(frame[4:]) == msg


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"[1, 2]",
        b'{"v": 2, "type": "1a", "bal": 1}',
        b'{"v": 1, "type": "9z", "bal": 1}',
        b'{"v": 1, "type": "1a"}',
        b'{"v": 1, "type": "1a", "bal": "one"}',
        b'{"v": 1, "type": "1a", "bal": true}',
        b'{"v": 1, "type": "1a", "bal": -7}',
        b'{"v": 1, "type": "2a", "bal": 1, "val": 5}',
        b'{"v": 1, "type": "1a", "bal": 1, "extra": 0}',
        b"x" * (MAX_FRAME + 1),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload):
    with pytest.raises(MalformedMessage):
        decode(payload)


# -- the simulator and the mapping ---------------------------------------------


def test_a_plain_run_decides_and_maps_step_by_step_onto_the_spec():
    config = SimConfig(3, 2, 2)
    spec = spec_for(config)
    sim = Simulator(config)
    checker = Checker(spec, sim)
    sim.run([Request(0, 1), Run(30)])
    assert set(sim.decisions.values()) == {"v2"}
    names = [str(step.action).split("(")[0] for step in checker.trace.steps[1:]]
    assert names[:4] == ["Phase1a", "Phase1b", "Phase1b", "Phase1b"]
    assert "Phase2a" in names and names.count("Phase2b") == 3
    assert spec.chosen(abstract_state(spec, sim).msgs) == {"v2"}


def test_a_crash_loses_nothing_durable():
    config = SimConfig(3, 2, 2)
    sim = Simulator(config)
    sim.run([Request(0, 0), Deliver(0)])  # a1 promises ballot 0
    assert sim.disk["a1"].max_bal == 0
    sim.run([Crash(0), Restart(0)])
    assert sim.nodes["a1"].acceptor.state.max_bal == 0


def test_schedules_print_and_parse_back():
    ops = [Request(node=1, value=0), Run(k=3), Deliver(i=7), Crash(node=2), Restart(node=2)]
    assert parse_schedule(show_schedule(ops)) == ops


# -- implementation -> spec ---------------------------------------------------------


def test_the_implementation_conforms_under_faults():
    report = conform(SimConfig(3, 2, 2), examples=300, seed=1)
    assert report.verdict == "ok", report.failure
    assert report.schedules == 300
    assert report.faults > 100  # crashes, restarts, drops and duplicates were really injected
    assert len(report.visited) > 50


@pytest.mark.parametrize("bug", sorted(IMPL_BUGS))
def test_each_implementation_bug_is_caught_with_a_short_schedule(bug):
    config = SimConfig(3, 2, 2, frozenset([bug]))
    report = conform(config, examples=3000, seed=0)
    assert report.verdict == "violation", bug
    # short: a few operations (Hypothesis shrinks within a time budget, so allow some slack)
    assert 1 <= len(report.schedule) <= 16, show_schedule(report.schedule)
    # the report is the explorer's picture: a numbered table, the bad step marked, the allowed actions
    assert "#  action" in report.failure and "<<" in report.failure and "the spec allowed here" in report.failure
    # and the shrunk schedule replays to the same failure, while the correct core passes it
    assert not run_schedule(config, report.schedule).ok
    assert run_schedule(SimConfig(3, 2, 2), report.schedule).ok


# -- spec -> implementation -----------------------------------------------------------


@pytest.mark.parametrize("ballots", [1, 2])
def test_the_implementation_realises_every_spec_state_and_transition(ballots):
    full = coverage(SimConfig(3, 2, ballots))
    assert full.states[0] == full.states[1] and full.transitions[0] == full.transitions[1], full.missed
    assert full.states[1] == {1: 73, 2: 3921}[ballots]
    reduced = coverage(SimConfig(3, 2, ballots), symmetry=True)
    assert reduced.states[0] == reduced.states[1] < full.states[1]
    assert reduced.transitions[0] == reduced.transitions[1]


def test_the_walk_checks_every_step_it_drives():
    # with ballot reuse, ballot 1's proposer starts ballot 0, which it does not own: the walk stops there
    cov = coverage(SimConfig(3, 2, 2, frozenset(["reuse-ballot"])))
    assert "p2 starts ballot 0, but it does not own it" in cov.failure
    assert "#  action" in cov.failure and cov.trace is not None and cov.mark


def test_coverage_notices_what_an_implementation_cannot_do(monkeypatch):
    # a walk that cannot make the implementation take Phase2b is incomplete (and nothing it drove was wrong)
    from paxoscope.impl import paxos

    real = paxos.PROTOCOL.realise
    blind = dataclasses.replace(
        paxos.PROTOCOL, realise=lambda spec, sim, s, act: act.name != "Phase2b" and real(spec, sim, s, act)
    )
    monkeypatch.setattr(paxos, "PROTOCOL", blind)
    cov = coverage(SimConfig(3, 2, 1), symmetry=True)
    assert not cov.failure and cov.states[0] < cov.states[1] and cov.transitions[0] < cov.transitions[1]
    assert cov.missed and all("Phase2b" in m for m in cov.missed)


def test_conform_cli_json(tmp_path):
    args = ["conform", "--ballots", "1", "--examples", "50", "--json"]
    proc = subprocess.run([sys.executable, "-m", "paxoscope.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "ok" and doc["schedules"] == 100  # 50 with each layout of proposers
    assert doc["coverage"] == {"states": [73, 73], "transitions": [141, 141]}
    bad = subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", "conform", "--bug", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


# -- the failing run as a chart -------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"
CHART_BUG = "reply-before-durable"  # caught within a few schedules


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    proc = subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert not (Path(cwd) / ".hypothesis").exists()  # the command leaves nothing in the user's folder
    return proc


def _texts(svg: ET.Element, cls: str) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == cls]


@pytest.fixture(scope="module")
def failing_chart(tmp_path_factory):
    """One failing ``conform`` run drawn as --svg and --html; the schedule it printed."""
    where = tmp_path_factory.mktemp("chart")
    args = ["conform", "--bug", CHART_BUG, "--examples", "100", "--no-coverage"]
    proc = _cli(*args, "--svg", "run.svg", "--html", "run.html", cwd=where)
    lines = proc.stdout.splitlines()
    printed = next(lines[i + 1] for i, line in enumerate(lines) if line.startswith("shrunk schedule ("))
    return proc, where, parse_schedule(printed)


def test_conform_cli_draws_the_failing_run_as_a_chart(failing_chart):
    proc, where, ops = failing_chart
    assert proc.returncode == 1, proc.stderr
    # the printed schedule, replayed, fails the same way: that failure is what the chart must show
    outcome = run_schedule(
        SimConfig(3, 2, 5, frozenset([CHART_BUG]), proposers=2), ops
    )  # the random schedules' defaults
    assert not outcome.ok and outcome.trace is not None
    mark = outcome.mark[len(outcome.trace)]
    assert mark in proc.stdout
    svg = ET.parse(where / "run.svg").getroot()
    assert svg.tag == f"{SVG}svg"
    steps = _texts(svg, "step")
    assert len(steps) == len(outcome.trace) and steps[0] == "Init"
    assert steps[-1] == str(action("Implementation"))
    assert _texts(svg, "mark") == [f"✗ {mark}"]
    page = (where / "run.html").read_text(encoding="utf-8")
    assert html.escape(trace_table(outcome.trace, outcome.mark)) in page
    assert html.escape(f"--bug {CHART_BUG} --replay '{show_schedule(ops)}'") in page
    assert page.count("<svg") == 1
    assert outcome.allowed and html.escape(", ".join(map(str, outcome.allowed))) in page


def test_conform_cli_replay_draws_the_same_chart(failing_chart):
    _, where, ops = failing_chart
    proc = _cli("conform", "--bug", CHART_BUG, "--replay", show_schedule(ops), "--svg", "replay.svg", cwd=where)
    assert proc.returncode == 1, proc.stderr
    assert (where / "replay.svg").read_bytes() == (where / "run.svg").read_bytes()
    # the correct implementation passes the same schedule, and a passing replay draws nothing
    ok = _cli("conform", "--replay", show_schedule(ops), "--svg", "ok.svg", cwd=where)
    assert ok.returncode == 0 and not (where / "ok.svg").exists()


def test_conform_cli_draws_no_chart_when_the_runs_conform(tmp_path):
    args = ["conform", "--ballots", "1", "--examples", "20", "--no-coverage", "--svg", "f.svg", "--html", "h.html"]
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "f.svg").exists() and not (tmp_path / "h.html").exists()
    assert proc.stderr.strip() == "paxoscope conform: the runs conform, so no chart was written"
    assert run_schedule(SimConfig(3, 2, 1), [Request(0, 0), Run(30)]).trace is None

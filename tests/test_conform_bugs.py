"""The default ``paxoscope conform`` catches real implementation bugs: the
built-in variants on several seeds, and realistic bugs made by hand in the
core (tests/handmade_bugs.py), each of which an earlier conform missed; and
it reaches the same verdict in an editable and a regular install."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from handmade_bugs import HANDMADE
from paxoscope.impl.conformance import run_schedule
from paxoscope.impl.paxos import SimConfig
from paxoscope.impl.paxos.core import IMPL_BUGS, AcceptorState
from paxoscope.impl.paxos.walk import restart_ladders
from paxoscope.impl.sim import Crash, Deliver, Drop, Request, Restart, Run, Simulator, parse_schedule

from paxoscope.cli import main

ROOT = Path(__file__).resolve().parent.parent


def conform(capsys, *args: str) -> tuple[int, str]:
    code = main(["conform", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("bug", sorted(IMPL_BUGS))
def test_each_builtin_bug_is_caught_by_the_default_conform(capsys, bug, seed):
    code, out = conform(capsys, "--bug", bug, "--seed", str(seed))
    assert code == 1 and "VIOLATION" in out, out


@pytest.mark.parametrize("name", sorted(HANDMADE))
def test_each_handmade_bug_is_caught_by_the_default_conform(capsys, monkeypatch, name):
    cls, method, replacement = HANDMADE[name]
    monkeypatch.setattr(cls, method, replacement)
    code, out = conform(capsys)
    assert code == 1 and "VIOLATION" in out and "<<" in out, out


def test_the_correct_core_passes_the_default_conform_and_walks_three_ballots(capsys):
    code, out = conform(capsys, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "ok", doc["failure"]
    assert doc["config"]["ballots"] == 3 and doc["config"]["proposers"] == [2, 3]
    assert doc["schedules"] == 400  # 200 with each layout of proposers
    walked = doc["coverage_symmetry"]
    assert walked["states"][0] == walked["states"][1] > 10_000  # every state, up to symmetry, of ballots 0..2
    assert walked["transitions"][0] == walked["transitions"][1]
    assert walked["handlers"] > walked["transitions"][1]  # timeouts, rejections, learners and restarts besides
    assert doc["visited"][0] > 50  # the random schedules go beyond the first few states
    assert doc["visited_symmetry"] <= doc["visited"][0] and doc["depth"] > 10


def test_a_restarted_proposer_cannot_send_a_second_2a_in_its_ballot():
    # p1 sends 2a(0, v1), one acceptor votes, p1 restarts and runs ballot 0 again for v2: the acceptors that
    # promised 0 refuse it (promising a ballot twice would let p1 propose v2 in ballot 0)
    config = SimConfig(3, 2, 2)
    ops = [Request(0, 0), Run(3), Run(3), Deliver(0), Drop(0), Drop(0), Crash(3), Restart(3), Request(0, 1), Run(20)]
    assert run_schedule(config, ops).ok


def test_a_proposer_jumps_above_a_high_promise_in_one_round_trip():
    # a1 and a3 promised ballot 31 before a restart; a2 (proposing ballots 1, 3, ...) does not know it, asks
    # for ballot 1, is rejected with 31, and runs ballot 33 next, not 3, 5, ..., 33 one timeout at a time
    config = SimConfig(3, 1, 40, proposers=2)
    sim = Simulator(config)
    for name in ("a1", "a3"):
        sim.disk[name] = AcceptorState(31, -1, None)
        sim.step(Crash(config.node_names.index(name)))
        sim.step(Restart(config.node_names.index(name)))
    sim.run([Request(1, 0), Run(40)])
    ballots = list(dict.fromkeys(m.bal for m in sim.sent if m.type == "1a"))  # each 1a went to 3 acceptors
    assert ballots == [1, 33] and set(sim.decisions.values()) == {"v1"}


@pytest.mark.parametrize("proposers", [2, 3])
def test_the_restart_ladders_ask_each_rebooted_proposer_again_from_every_promise(proposers):
    # each proposing acceptor is rebooted and asked to propose with each ballot of the schedules as its promise
    config = SimConfig(3, 2, 5, proposers=proposers)
    ladders = restart_ladders(config)
    assert len(ladders) == proposers
    for name, ops in zip(config.proposer_names, ladders, strict=True):
        sim, rebooted, floors = Simulator(config), False, set()
        for op in ops:
            sim.step(op)
            if isinstance(op, Restart) and config.node_names[op.node] == name:
                rebooted = True
            elif isinstance(op, Request) and config.proposer_names[op.node] == name and rebooted:
                floors.add(sim.disk[name].max_bal)
                rebooted = False
        assert floors == set(range(config.ballots)), (name, floors)
        assert run_schedule(config, ops).ok  # the correct core climbs every ladder


# -- conform --replay and --strict -----------------------------------------------------


@pytest.mark.parametrize(
    "schedule, named",
    [
        ("[Request(node=2, value=0)]", "proposer 2"),
        ("[Request(node=0, value=5)]", "value 5"),
        ("[Crash(node=9)]", "node 9"),
        ("[Fire(node=-1)]", "node -1"),
    ],
)
def test_replay_refuses_a_schedule_naming_what_the_configuration_lacks(capsys, schedule, named):
    code = main(["conform", "--replay", schedule])
    err = capsys.readouterr().err.strip()
    assert code == 2 and named in err and len(err.splitlines()) == 1, err


def test_strict_fails_when_coverage_is_incomplete_or_skipped(capsys, monkeypatch):
    from paxoscope.impl import paxos

    code, out = conform(capsys, "--ballots", "1", "--examples", "20", "--no-coverage", "--strict")
    assert code == 1 and "--strict: the coverage walk was skipped" in out
    real = paxos.PROTOCOL.realise
    blind = dataclasses.replace(
        paxos.PROTOCOL, realise=lambda spec, sim, s, a: a.name != "Phase2b" and real(spec, sim, s, a)
    )
    monkeypatch.setattr(paxos, "PROTOCOL", blind)
    code, out = conform(capsys, "--ballots", "1", "--examples", "20", "--strict")
    assert code == 1 and "did not realise every spec state and transition" in out
    code, out = conform(capsys, "--ballots", "1", "--examples", "20")  # without --strict: reported, exit 0
    assert code == 0 and "not realised: Phase2b" in out


# -- one verdict for one seed, wherever paxoscope is installed ------------------------------


def test_the_same_seed_gives_the_same_verdict_in_an_editable_and_a_regular_install(tmp_path):
    # The tests run against the editable install; a regular one (built and installed into a folder of
    # its own, without its dependencies, which the running interpreter already has) is the other. Before
    # Hypothesis was kept from mining constants from local source files, this very command found the bug
    # in a regular install and reported OK in an editable one.
    target, source = tmp_path / "site-packages", tmp_path / "source"
    # built from a copy: pip builds in the source folder, and the working tree is not the place for that
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    # (README's command runs 3,000 schedules; 300 draw enough to tell two generations apart, and cost less)
    args = ["conform", "--bug", "ignore-reported-votes", "--no-coverage", "--examples", "300", "--json"]
    reports = {}
    for install, path in (("editable", None), ("regular", str(target))):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYPOTHESIS_STORAGE_DIRECTORY")}
        if path:
            env["PYTHONPATH"] = path
        where = subprocess.run(
            [sys.executable, "-c", "import paxoscope.impl.paxos.core as c; print(c.__file__)"],
            capture_output=True, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert (str(target) in where.stdout) == (install == "regular"), where.stdout
        proc = subprocess.run(
            [sys.executable, "-m", "paxoscope.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        reports[install] = json.loads(proc.stdout)
    assert reports["editable"] == reports["regular"]  # the same schedules: the same faults, verdict and failure
    if reports["regular"]["failure"] is not None:
        assert parse_schedule(reports["regular"]["failure"]["schedule"])

"""Conformance of the Multi-Paxos core with every feature on (catch-up,
snapshots with truncation, noops in holes, candidates standing again) and the
faults of the simulator, to MultiPaxos.tla extended with the steps it lacks
(impl/multipaxos/extended.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.impl.conformance import run_schedule
from paxoscope.impl.multipaxos.config import SimConfig, directed_schedules
from paxoscope.impl.multipaxos.core import Node
from paxoscope.impl.multipaxos.extended import NOOP, ExtendedMultiPaxos
from paxoscope.impl.multipaxos.mapping import Checker, spec_for
from paxoscope.impl.multipaxos.messages import CatchUp
from paxoscope.impl.sim import Crash, Fire, Heal, Isolate, Request, Restart, Run, Simulator
from paxoscope.spec.multipaxos import COMMITTED, MultiPaxos

from paxoscope.commands.conform_log import reachable

BEYOND = {"StandAgain", "FillHole", "Learn"}
BEHIND_A_SNAPSHOT = [Fire(0), Run(4), Crash(2), Request(0, 1), Run(10), Restart(2), Fire(0), Run(10)]


def mapped_run(ops: list, config: SimConfig | None = None) -> tuple[Simulator, Checker]:
    config = config or SimConfig()
    sim = Simulator(config)
    checker = Checker(spec_for(config), sim)
    sim.run(ops)
    return sim, checker


def taken(checker: Checker) -> set[str]:
    return {step.action.name for step in checker.trace.steps[1:]}


def test_the_extended_spec_keeps_the_safety_of_multipaxos_and_every_state_of_it():
    small = {"replicas": 2, "writes": 1, "reads": 1, "max_ballot": 2}
    extended = check(ExtendedMultiPaxos(**small), ["TypeOK", "Linearizability", "CommittedIsChosen"])
    # With two replicas a majority is both, so no new leader lacks a slot below one it fills: FillHole needs three
    # (test_a_hole_is_filled_with_a_noop_that_acknowledges_no_one)
    assert extended.verdict == "ok" and BEYOND & set(extended.never_enabled) == {"FillHole"}
    tla, ext = MultiPaxos(**small), ExtendedMultiPaxos(**small)
    states = reachable(tla)
    assert extended.distinct_states > len(states) == check(tla).distinct_states
    for s in states:  # each step of MultiPaxos.tla is one of the extended spec
        assert {t for _a, t in tla.next(s)} <= {t for _a, t in ext.next(s)}


def test_a_run_with_the_features_off_is_checked_against_multipaxos_tla_itself():
    assert type(spec_for(SimConfig(faithful=True))) is MultiPaxos
    assert type(spec_for(SimConfig())) is ExtendedMultiPaxos
    config = SimConfig(faithful=True).node_config("s1")
    assert not (config.catch_up or config.fill_holes or config.restand or config.snapshot_every)


@pytest.mark.parametrize("ops", directed_schedules(SimConfig()), ids=lambda ops: f"{len(ops)} ops")
def test_each_directed_schedule_conforms_with_every_feature_on(ops):
    outcome = run_schedule(SimConfig(), ops)
    assert outcome.ok, outcome.report


def test_the_directed_schedules_take_each_step_beyond_the_tla():
    steps = set()
    for ops in directed_schedules(SimConfig()):
        steps |= taken(mapped_run([*ops, Run(200)])[1])
    assert BEYOND <= steps


def test_a_replica_behind_a_snapshot_learns_the_commands_the_leader_truncated():
    sim, checker = mapped_run(BEHIND_A_SNAPSHOT)
    assert [s.action.name for s in checker.trace.steps[-2:]] == ["Learn", "Learn"]
    for name in ("s1", "s3"):
        assert sim.disk[name].snapshot_index == 2 and not sim.disk[name].insts  # the log truncated on disk
    last = checker.trace.steps[-1].state
    for node in last.node:  # the ghost: every slot committed, with the command chosen there
        assert [(i.status, i.cmd) for i in node.insts] == [(COMMITTED, "w1"), (COMMITTED, "r1")]
        assert node.kvalue == "w1" and node.commit_up_to == 2
    assert last.node[2].insts[0].voted.bal == 0  # s3 learned w1 without voting for it


def test_a_hole_is_filled_with_a_noop_that_acknowledges_no_one():
    ops = directed_schedules(SimConfig())[3]
    sim, checker = mapped_run([*ops, Run(200)])
    filled = [s for s in checker.trace.steps if s.action and s.action.name == "FillHole"]
    assert filled and filled[0].state.node[1].insts[0].cmd == NOOP
    assert all(e.cmd != NOOP for e in checker.trace.steps[-1].state.observed)


def test_a_snapshot_that_lies_about_the_state_is_caught(monkeypatch):
    send = Node._send_catch_up

    def lying(self, peer, their_commit):  # the snapshot sent holds another value than the commands committed
        send(self, peer, their_commit)
        for _dst, msg in self._send:
            if getattr(msg, "snapshot", None):
                msg.snapshot["state"] = {**msg.snapshot["state"], "kv": {"x": "w9"}}

    monkeypatch.setattr(Node, "_send_catch_up", lying)
    outcome = run_schedule(SimConfig(), BEHIND_A_SNAPSHOT)
    assert not outcome.ok and "no sequence of the spec's steps" in outcome.report


def test_catch_up_with_a_command_never_chosen_is_caught(monkeypatch):
    # s2 is behind without a snapshot (none is taken): the CatchUp carries the commands, one of them swapped
    config = dataclasses.replace(SimConfig(), snapshot_every=0)
    send = Node._send_catch_up

    def swapped(self, peer, their_commit):  # the commands in the wrong slots
        send(self, peer, their_commit)
        for _dst, msg in self._send:
            if isinstance(msg, CatchUp):
                msg.cmds.reverse()

    assert run_schedule(config, BEHIND_A_SNAPSHOT).ok
    monkeypatch.setattr(Node, "_send_catch_up", swapped)
    outcome = run_schedule(config, BEHIND_A_SNAPSHOT)
    assert not outcome.ok and "no sequence of the spec's steps" in outcome.report


def test_a_candidate_that_restarts_still_counts_its_own_promise():
    # Its vote for w1 is in its log: forgetting it, it resumed slot 1 with a noop where the spec adopts w1
    ops = directed_schedules(SimConfig())[-1]
    sim, checker = mapped_run([*ops, Run(200)])
    assert sim.nodes["s1"].role == "leader" and sim.nodes["s1"].state.bal_max_known == 4
    assert "Accept(s1, bal=4, slot=1, cmd=w1)" in {str(m) for m in checker.trace.steps[-1].state.msgs}
    assert run_schedule(SimConfig(), ops).ok


def test_a_leader_that_restarts_goes_on_from_its_log_and_a_restart_is_a_stutter():
    ops = directed_schedules(SimConfig())[-2]
    assert ops[4:6] == [Crash(0), Restart(0)]
    sim, checker = mapped_run(ops[:5])  # s1 led, logged w1 and r1, s2 voted for w1; s1 crashed
    crashed = list(checker.trace.steps)
    sim.step(ops[5])
    assert checker.trace.steps == crashed  # the restart: a stutter
    assert sim.nodes["s1"].role == "leader" and not sim.nodes["s1"].acks  # what it gathered is gone, its log is not
    sim.run([*ops[6:], Run(200)])
    assert {"HandleAcceptReplies", "HandleCommitNotice"} <= {s.action.name for s in checker.trace.steps[len(crashed) :]}


def test_the_default_conform_runs_every_fault_and_reports_the_steps_beyond_the_tla(capsys):
    from paxoscope.cli import main

    assert main(["conform", "--protocol", "multipaxos", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "ok" and doc["faults"] > doc["schedules"]
    assert set(doc["steps_beyond_tla"]) == BEYOND and doc["steps_beyond_tla"]["StandAgain"] > 0
    assert doc["depth"] > 20 and doc["states_visited"] > 200


def test_a_partition_loses_the_messages_across_it_until_it_heals():
    sim, checker = mapped_run([Fire(0), Run(4), Isolate(2), Request(0, 1), Run(6)])
    assert sim.nodes["s1"].state.commit == 2 and not sim.disk["s3"].insts  # s3 cut off: s1 and s2 commit alone
    sim.run([Heal(), Fire(0), Run(10)])
    assert sim.disk["s3"].commit == 2 and "Learn" in taken(checker)  # healed, s3 catches up from a snapshot
    assert run_schedule(SimConfig(), [Fire(0), Run(4), Isolate(2), Request(0, 1), Run(6), Heal(), Fire(0)]).ok

"""The Multi-Paxos implementation: its state machine, its core in the simulator
(safety under faults, catch-up, snapshots), its durable log, and conformance
to spec/multipaxos.py, each known-wrong variant caught."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paxoscope.impl.conformance import conform, run_schedule
from paxoscope.impl.multipaxos.config import SimConfig, command_request, directed_schedules
from paxoscope.impl.multipaxos.core import IMPL_BUGS, LogState, Node, NodeConfig
from paxoscope.impl.multipaxos.kvstate import Command, KVState
from paxoscope.impl.multipaxos.messages import CODEC, NOT_LEADER, OK, REFUSED, Accept, Reply
from paxoscope.impl.multipaxos.store import LogStore
from paxoscope.impl.protocol import ClientRequest, Receive, Timeout
from paxoscope.impl.sim import Crash, Deliver, Drop, Duplicate, Fire, Request, Restart, Run, Simulator
from paxoscope.impl.storage import CorruptStorage

# -- the state machine ------------------------------------------------------------


def apply_all(machine: KVState, *cmds: tuple) -> list:
    return [machine.apply(Command(client, rid, op, tuple(args), t)) for client, rid, op, args, t in cmds]


def test_the_key_value_operations_and_their_results():
    results = apply_all(
        KVState(),
        ("c", 1, "put", ["k", "a"], 0),
        ("c", 2, "put", ["k", "b"], 0),
        ("c", 3, "cas", ["k", "a", "z"], 0),
        ("c", 4, "cas", ["k", "b", "c"], 0),
        ("c", 5, "get", ["k"], 0),
        ("c", 6, "delete", ["k"], 0),
        ("c", 7, "delete", ["k"], 0),
        ("c", 8, "get", ["k"], 0),
    )
    assert results == [None, "a", False, True, "c", True, False, None]


def test_a_retried_request_is_applied_once_and_answered_with_its_first_result():
    machine = KVState()
    first = apply_all(machine, ("c", 1, "put", ["k", "a"], 0), ("d", 1, "put", ["k", "b"], 0))
    again = apply_all(machine, ("c", 1, "put", ["k", "a"], 0))  # c's retry, after d's write
    assert first == [None, "a"] and again == [None] and machine.kv == {"k": "b"}


def test_a_session_that_stops_renewing_loses_its_lock_at_the_same_command_everywhere():
    cmds = [
        ("a", 1, "acquire", ["L", 5.0], 100.0),
        ("b", 1, "acquire", ["L", 5.0], 103.0),  # held by a
        ("a", 2, "keepalive", [], 104.0),  # renewed until 109
        ("b", 2, "acquire", ["L", 5.0], 108.0),  # still a's
        ("b", 3, "acquire", ["L", 5.0], 109.5),  # a stopped renewing: expired
        ("a", 3, "release", ["L"], 110.0),
    ]
    one, two = KVState(), KVState()
    assert apply_all(one, *cmds) == [True, False, ["L"], False, True, False]
    assert apply_all(two, *cmds) == apply_all(KVState(), *cmds)
    assert one.to_json() == two.to_json()


def test_a_snapshot_restores_the_same_machine():
    machine = KVState()
    apply_all(machine, ("a", 1, "put", ["k", "v"], 1.0), ("a", 2, "acquire", ["L", 3.0], 2.0))
    twin = KVState.from_json(machine.to_json())
    assert twin.to_json() == machine.to_json()
    assert apply_all(twin, ("a", 2, "acquire", ["L", 3.0], 2.0)) == [True]  # the session's last answer came along


# -- the core in the simulator: safety under faults, catch-up, snapshots ---------------


def full(replicas: int = 3, **kw) -> SimConfig:
    """Every feature on: catch-up, snapshots every 2 commands, noops in holes, candidates standing again."""
    return SimConfig(replicas=replicas, writes=2, reads=2, snapshot_every=2, max_ballot=60, unbounded_log=True, **kw)


def committed(node: Node) -> dict[int, Command]:
    s = node.state
    return {slot: inst.cmd for slot, inst in s.insts.items() if slot <= s.commit}


def assert_replicas_agree(sim: Simulator) -> None:
    """No two replicas commit different commands in a slot; those that applied as far hold one state."""
    by_slot: dict[int, Command] = {}
    for node in sim.nodes.values():
        for slot, cmd in committed(node).items():
            assert by_slot.setdefault(slot, cmd) == cmd, f"slot {slot}: {by_slot[slot]} and {cmd}"
    states = {}
    for node in sim.nodes.values():
        states.setdefault(node.applied, node.kv.to_json())
        assert states[node.applied] == node.kv.to_json()


def heal(sim: Simulator, rounds: int = 12) -> None:
    """Every replica up, every message delivered, timers fired until the leader has told everyone."""
    for i in range(len(sim.names)):
        sim.step(Restart(i))
    for _ in range(rounds):
        sim.step(Run(200))
        for i in range(len(sim.names)):
            sim.step(Fire(i))
    sim.step(Run(400))


ops = st.one_of(
    st.builds(Run, st.integers(1, 10)),
    st.builds(Deliver, st.integers(0, 2**16)),
    st.builds(Drop, st.integers(0, 2**16)),
    st.builds(Duplicate, st.integers(0, 2**16)),
    st.builds(Crash, st.integers(0, 2)),
    st.builds(Restart, st.integers(0, 2)),
    st.builds(Fire, st.integers(0, 2)),
    st.builds(Request, st.integers(0, 2), st.integers(0, 3)),
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ops, min_size=5, max_size=60))
def test_under_crashes_loss_duplication_and_elections_replicas_never_disagree_and_catch_up(schedule):
    sim = Simulator(full())
    sim.run(schedule)
    assert_replicas_agree(sim)
    heal(sim)
    assert_replicas_agree(sim)
    applied = {n.applied for n in sim.nodes.values()}
    assert len(applied) == 1, f"after healing, replicas applied {applied}"
    answers = {}
    for _node, _client, reply in sim.replies:
        if reply.status == OK:  # a command answered twice (a retry) is answered alike
            assert answers.setdefault(reply.client, reply.result) == reply.result


def test_a_replica_behind_a_snapshot_catches_up_from_it():
    sim = Simulator(full())
    sim.run([Fire(0), Run(6), Crash(2), Request(0, 3), Run(40), Fire(0), Run(20)])
    leader = sim.nodes["s1"]
    assert leader.role == "leader" and leader.state.snapshot_index >= 2 and leader.state.commit == 4
    assert 1 not in leader.state.insts  # truncated
    sim.run([Restart(2), Fire(0), Run(20), Fire(0), Run(20)])
    behind = sim.nodes["s3"]
    assert behind.applied == 4 and behind.kv.to_json() == leader.kv.to_json()
    assert behind.state.snapshot_index >= 2


def test_a_candidate_climbs_above_a_rejecting_ballot_in_one_round_trip():
    config = full()
    sim = Simulator(config)
    sim.run([Fire(2), Deliver(1), Deliver(1), Drop(0)])  # s3 leads with ballot 3; s1 never heard of it
    assert sim.nodes["s3"].role == "leader" and sim.nodes["s1"].state.bal_max_known == 0
    sim.run([Crash(2), Fire(0), Run(1)])  # s1 stands with ballot 1: s2 refuses it, naming ballot 3
    assert sim.nodes["s1"].state.bal_max_known == 1
    sim.run([Run(10)])
    s1 = sim.nodes["s1"]
    assert s1.role == "leader" and s1.state.bal_max_known == 4  # its least ballot above 3, with no timeout


def test_a_malformed_client_request_is_refused_and_the_replica_keeps_serving():
    sim = Simulator(full())
    sim.run([Fire(0), Run(6)])
    leader = sim.nodes["s1"]
    bad = leader.handle(ClientRequest(client="c", request_id=1, command=("launch", ("x",)), src="c1"))
    assert [(dst, r.status) for dst, r in bad.reply] == [("c1", REFUSED)] and "unknown operation" in bad.reply[0][
        1
    ].result
    assert not bad.send and bad.persist is None
    sim.run([Request(0, 3), Run(30)])
    assert {r.client for _, _, r in sim.replies if r.status == OK} == {"w1", "w2", "r1", "r2"}


def test_a_follower_redirects_to_the_leader_and_a_deposed_leader_answers_no_read():
    sim = Simulator(full())
    sim.run([Fire(0), Run(6)])
    redirect = sim.nodes["s2"].handle(command_request("r1"))
    assert redirect.reply[0][1] == Reply("r1", 1, NOT_LEADER, None, "s1")
    sim.run([Fire(1), Drop(0), Run(2)])  # s2 stands with s3's promise; its Prepare to s1 is lost
    assert sim.nodes["s2"].role == "leader"
    old = sim.nodes["s1"]
    assert old.role == "leader"  # as far as it knows
    fx = old.handle(command_request("r1"))
    assert not fx.reply  # a read goes through the log: s1 cannot answer it from its own state
    assert all(isinstance(m, Accept) for _, m in fx.send)


def test_a_peer_message_from_no_replica_of_the_cluster_is_ignored():
    node = Node(NodeConfig("n1", ("n1", "n2", "n3")), LogState())
    fx = node.handle(Receive("x", Accept("intruder", 99, 1, [["c", 1, "put", ["k", "v"], 0.0]], 1)))
    assert fx.persist is None and not fx.send and node.state.bal_max_known == 0
    assert node.handle(Timeout(5.0)).persist is None  # one tick: not yet an election


# -- the durable log ----------------------------------------------------------------


def test_the_log_is_replayed_as_written_with_a_torn_tail_cut_off(tmp_path):
    store = LogStore(tmp_path)
    node = Node(NodeConfig("n1", ("n1",), election_ticks=1, snapshot_every=3), store.load())
    for event in [Timeout(1.0), *(command_request(c) for c in ("w1", "w2", "r1", "w3"))]:
        fx = node.handle(event)
        if fx.persist:
            store.save_batch([fx.persist])
    assert node.state.snapshot_index == 3 and (tmp_path / "snapshot.json").exists()
    with open(tmp_path / "log.wal", "ab") as f:
        f.write(b'0badc0de ["inst", 9')  # a crash in the middle of an append
    again = LogStore(tmp_path).load()
    assert (again.commit, again.snapshot_index, again.bal_max_known) == (4, 3, 1)
    assert Node(NodeConfig("n1", ("n1",)), again).kv.to_json() == node.kv.to_json()
    assert (tmp_path / "log.wal").read_bytes().endswith(b"\n")


def test_a_batch_is_one_line_of_the_log_read_back_whole_or_not_at_all(tmp_path):
    store = LogStore(tmp_path)
    node = Node(NodeConfig("n1", ("n1",), election_ticks=1), store.load())
    writes = [fx.persist for fx in (node.handle(e) for e in [Timeout(1.0), command_request("w1")]) if fx.persist]
    store.save_batch(writes)  # group commit: the events' records together
    first = (tmp_path / "log.wal").read_bytes()
    assert first.count(b"\n") == 1 and sum(map(len, writes)) > 2
    after_first = LogStore(tmp_path).load().records()
    assert after_first == node.state.records()
    # A batch torn by a crash before its sync is lost whole: none of its records were acknowledged,
    # and none is replayed.
    store.save_batch([node.handle(command_request("w2")).persist])
    both = (tmp_path / "log.wal").read_bytes()
    (tmp_path / "log.wal").write_bytes(both[: len(first) + (len(both) - len(first)) // 2])
    assert LogStore(tmp_path).load().records() == after_first


@pytest.mark.parametrize("damaged", ["log.wal", "snapshot.json"])
def test_a_damaged_log_or_snapshot_is_refused_naming_the_file(tmp_path, damaged):
    store = LogStore(tmp_path)
    node = Node(NodeConfig("n1", ("n1",), election_ticks=1, snapshot_every=1), store.load())
    for event in [Timeout(1.0), command_request("w1"), command_request("w2")]:
        fx = node.handle(event)
        if fx.persist:
            store.save_batch([fx.persist])
    path = tmp_path / damaged
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptStorage, match=str(path)):
        LogStore(tmp_path).load()


# -- conformance to spec/multipaxos.py --------------------------------------------------


def test_every_step_of_random_runs_is_a_step_of_the_spec():
    report = conform(SimConfig(), examples=150, seed=1)
    assert report.verdict == "ok", report.failure
    assert report.depth >= 10 and len(report.visited) >= 30


def test_a_candidate_that_adopts_the_votes_it_received_conforms_with_replies_still_in_flight():
    for ops in directed_schedules(SimConfig()):
        outcome = run_schedule(SimConfig(), ops)
        assert outcome.ok, outcome.report


# Each bug and a short run that shows it (found by conform; kept here so the suite stays fast).
LED = [Fire(0), Run(4), Request(0, 1)]
CAUGHT_BY = {
    "commit-on-too-few-replies": ([Fire(0), Run(3), Request(0, 1)], "no sequence of the spec's steps"),
    "silent-acceptor": ([*LED, Run(2)], "no sequence of the spec's steps"),
    "ignore-prepare-votes": ([*LED, Deliver(0), Fire(2), Deliver(5), Deliver(5)], "no sequence of the spec's steps"),
    "stale-leader-read": ([Fire(0), Run(3), Request(0, 1)], "which no leader has committed"),
    "accept-below-promise": ([*LED, Fire(1), Deliver(5), Deliver(1)], "no sequence of the spec's steps"),
}


@pytest.mark.parametrize("bug", sorted(IMPL_BUGS))
def test_each_known_wrong_variant_leaves_the_spec_where_the_correct_core_does_not(bug):
    schedule, reason = CAUGHT_BY[bug]
    assert run_schedule(SimConfig(), schedule).ok
    caught = run_schedule(SimConfig(bugs=frozenset([bug])), schedule)
    assert not caught.ok and reason in caught.report


def test_wire_messages_round_trip_and_a_bad_field_is_refused():
    msg = Accept("n1", 3, 1, [["c", 1, "put", ["k", "v"], 2.5]], 0)
    assert CODEC.decode(CODEC.encode(msg)[4:]) == msg
    with pytest.raises(ValueError, match="cmds"):
        CODEC.decode(b'{"v":1,"type":"accept","src":"n1","bal":3,"first":1,"cmds":[["c",1,"fly",[],0]],"commit":0}')


def test_conform_checks_the_multipaxos_implementation_and_catches_a_bug_from_the_command_line(capsys):
    from paxoscope.cli import main

    assert (
        main(["conform", "--protocol", "multipaxos", "--replicas", "2", "--max-ballot", "2", "--examples", "60"]) == 0
    )
    text = capsys.readouterr().out
    assert "every step a step of the spec" in text and "of the 1163 reachable" in text
    walked = re.search(r"walk along every spec transition: (\d+) of 1163 states", text)
    assert walked and int(walked.group(1)) > 100  # the core driven along the spec's transitions, each step checked
    assert main(["conform", "--protocol", "multipaxos", "--bug", "accept-below-promise", "--examples", "20"]) == 1
    caught = capsys.readouterr().out
    assert "no sequence of the spec's steps" in caught and "--replay '[" in caught
    assert main(["conform", "--protocol", "multipaxos", "--bug", "reuse-ballot"]) == 2  # a Paxos bug


def test_a_command_whose_slot_another_command_took_is_proposed_again_when_retried():
    sim = Simulator(full())
    sim.run([Fire(0), Run(4), Request(0, 0), Drop(0), Drop(0), Crash(0)])  # s1 logged w1 alone, then crashed
    assert sim.nodes["s1"].state.insts[1].cmd.client == "w1"
    sim.run([Fire(1), Run(4)])  # s2 leads with s3 and puts w2 in slot 1
    sim._handle("s2", command_request("w2"), "client w2 asks s2")
    sim.run([Run(10), Restart(0), Fire(0), Run(20)])  # s1 back: refused, it climbs and leads, slot 1 is w2's
    s1 = sim.nodes["s1"]
    assert s1.role == "leader" and s1.state.insts[1].cmd.client == "w2"
    sim._handle("s1", command_request("w1"), "w1's client retries at s1")
    sim.run([Run(20), Fire(0), Run(20)])
    assert "w1" in {r.client for _, _, r in sim.replies if r.status == OK}
    assert_replicas_agree(sim)

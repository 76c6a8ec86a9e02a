"""What the Multi-Paxos core does beyond the spec's steps, checked exactly:
batches and the pipeline window, snapshots, catch-up, noops in holes, a
candidate standing again. ``conform`` runs the core as the spec has it (one
command a slot, none of these), so these fast checks are the rest of the
test that ``benchmarks/mutants.py --target multipaxos`` runs on each mutant."""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paxoscope.impl.multipaxos import messages as wire
from paxoscope.impl.multipaxos.config import SimConfig
from paxoscope.impl.multipaxos.core import ACCEPTING, Inst, LogState, Node, NodeConfig, record_problem
from paxoscope.impl.multipaxos.kvstate import NOOP, Command, KVState, command_problem, request_problem
from paxoscope.impl.multipaxos.messages import CODEC, NOT_LEADER, OK, REFUSED, UNKNOWN
from paxoscope.impl.protocol import ClientRequest, ClientRequests, Effects, Receive, Timeout
from paxoscope.impl.sim import Fire, Request, Restart, Run, Simulator
from test_multipaxos_impl import ops

NAMES = ("s1", "s2", "s3")


class Net:
    """Three replicas and a FIFO network between them; ``replies`` keeps every answer to a client. Messages
    cross it encoded and decoded, as between processes, and the replicas start past ballot 300, as in a
    cluster that has lived: a ballot read from the wire is then a new int object (a comparison by identity,
    which holds for CPython's small ints, fails for ballots above 256)."""

    def __init__(self, ballot: int = 300, **config) -> None:
        self.nodes = {
            n: Node(NodeConfig(n, NAMES, election_ticks=1, **config), LogState(bal_max_known=ballot)) for n in NAMES
        }
        self.flight: deque[tuple[str, str, object]] = deque()
        self.sent: list[tuple[str, str, object]] = []
        self.replies: list = []

    def handle(self, name: str, event) -> Effects:
        fx = self.nodes[name].handle(event)
        for dst, msg in fx.send:
            msg = CODEC.decode(CODEC.encode(msg)[4:])
            self.flight.append((name, dst, msg))
            self.sent.append((name, dst, msg))
        self.replies.extend(reply for _, reply in fx.reply)
        return fx

    def settle(self, down: frozenset[str] | set[str] = frozenset()) -> None:
        """Deliver every message, and the messages they cause; those to a replica in ``down`` are lost."""
        while self.flight:
            src, dst, msg = self.flight.popleft()
            if dst not in down:
                self.handle(dst, Receive(src, msg))

    def lead(self, name: str = "s1") -> Node:
        self.handle(name, Timeout(1.0))
        self.settle()
        assert self.nodes[name].role == "leader"
        return self.nodes[name]

    def put(self, name: str, client: str, key: str, value: str, rid: int = 1) -> Effects:
        request = ClientRequest(client=client, request_id=rid, command=("put", (key, value)), src=client)
        return self.handle(name, request)


def accepts(sent: list, src: str, dst: str) -> list[wire.Accept]:
    return [m for s, d, m in sent if s == src and d == dst and isinstance(m, wire.Accept) and m.cmds]


def test_commands_waiting_for_room_in_the_window_go_out_together_in_batches_of_at_most_batch():
    net = Net(batch=2, window=2)
    net.lead()
    net.sent.clear()
    for i in range(7):
        net.put("s1", f"c{i}", "k", str(i))
    # Two batches in flight fill the window: the other five wait, none is sent
    assert [len(m.cmds) for m in accepts(net.sent, "s1", "s2")] == [1, 1]
    net.settle()
    sizes = [len(m.cmds) for m in accepts(net.sent, "s1", "s2")]
    assert sizes == [1, 1, 2, 2, 1]
    firsts = [m.first for m in accepts(net.sent, "s1", "s2")]
    assert firsts == [1, 2, 3, 5, 7]
    assert [(r.client, r.status) for r in net.replies] == [(f"c{i}", OK) for i in range(7)]
    states = {n: node.kv.to_json() for n, node in net.nodes.items()}
    assert states["s1"]["kv"] == {"k": "6"} and net.nodes["s1"].state.commit == 7


def test_requests_read_together_are_handled_as_each_in_turn_with_the_window_filled_once():
    def request(i: int, op: str = "put") -> ClientRequest:
        return ClientRequest(client=f"c{i}", request_id=1, command=(op, ("k", str(i))), src=f"c{i}")

    one_by_one, together = Net(batch=4, window=2), Net(batch=4, window=2)
    for net in (one_by_one, together):
        net.lead()
        net.sent.clear()
    batch = [request(i) for i in range(6)] + [request(6, "fly"), request(0)]  # a refusal, a retry
    for r in batch:
        one_by_one.handle("s1", r)
    fx = together.handle("s1", ClientRequests(tuple(batch)))
    # One event: the refusal answered at once, the rest proposed in batches that fill the window at once
    assert [(r.client, r.status) for _, r in fx.reply] == [("c6", REFUSED)]
    assert [len(m.cmds) for m in accepts(together.sent, "s1", "s2")] == [4, 2]
    assert [len(m.cmds) for m in accepts(one_by_one.sent, "s1", "s2")] == [1, 1]
    for net in (one_by_one, together):
        net.settle()
    assert sorted((r.client, r.status) for r in together.replies) == sorted(
        (r.client, r.status) for r in one_by_one.replies
    )
    assert together.nodes["s1"].state.commit == one_by_one.nodes["s1"].state.commit == 6
    assert together.nodes["s1"].kv.to_json() == one_by_one.nodes["s1"].kv.to_json()
    assert together.nodes["s1"].kv.to_json()["kv"] == {"k": "5"}


# -- every feature on, under faults: what the replicas store, answer and agree on ----------------------------


def full_config(**kw) -> SimConfig:
    return SimConfig(replicas=3, writes=3, reads=2, faithful=False, snapshot_every=3, batch=2, max_ballot=90, **kw)


class Watch:
    """Checks each handler run of a simulated cluster: what a replica holds in memory is what its records
    rebuild, a leader keeps at most ``window`` batches in flight, stamps never
    decrease along a log, and no two replicas commit different commands in a slot (``chosen``, read from the
    records as they are written: a snapshot may truncate a slot in the event that commits it)."""

    def __init__(self) -> None:
        self.chosen: dict[int, Command] = {}
        self.written: dict[str, dict[int, Command | None]] = {}
        self.marks: dict[str, tuple[int, int]] = {}  # replica -> (commit, snapshot index) after its last event

    def __call__(self, sim: Simulator, run) -> None:
        node = sim.nodes[run.node]
        assert sim.disk.get(run.node, LogState()) == node.state, f"{run.describe}: memory and records differ"
        assert len(node.in_flight) <= node.config.window
        s = node.state
        stamps = [inst.cmd.t for _, inst in sorted(s.insts.items()) if inst.cmd is not None and inst.cmd.op != "noop"]
        assert stamps == sorted(stamps), f"{run.describe}: stamps decrease along the log"
        commit, truncated = self.marks.get(run.node, (0, 0))
        self._committed(run.node, commit, truncated, run.effects.persist or [])
        self.marks[run.node] = (s.commit, s.snapshot_index)

    def _committed(self, name: str, commit: int, truncated: int, records: list) -> None:
        log = self.written.setdefault(name, {})
        for rec in records:
            if rec[0] == "inst" and rec[1] > truncated:
                log[rec[1]] = Command.from_json(rec[3]) if rec[3] is not None else None
            elif rec[0] in ("commit", "snapshot"):
                for slot in range(commit + 1, rec[1] + 1):
                    if log.get(slot) is not None:
                        assert self.chosen.setdefault(slot, log[slot]) == log[slot], f"slot {slot} committed twice"
                commit = max(commit, rec[1])


def settle_all(sim: Simulator, config: SimConfig) -> None:
    """Every replica up and every command asked again until each is answered."""
    for i in range(config.replicas):
        sim.step(Restart(i))
    for _ in range(30):
        sim.run([Run(300), Fire(0), Run(300), Request(0, len(config.commands) - 1), Run(300)])
        if all(n.applied == sim.nodes["s1"].state.commit for n in sim.nodes.values()) and answered(sim) == set(
            config.commands
        ):
            return


def answered(sim: Simulator) -> set[str]:
    return {r.client for _, _, r in sim.replies if r.status == OK}


@settings(max_examples=80, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(ops, min_size=5, max_size=80))
def test_under_faults_every_command_is_answered_once_with_the_result_of_the_agreed_log(schedule):
    config = full_config()
    watch = Watch()
    sim = Simulator(config, observer=watch)
    sim.run(schedule)
    settle_all(sim, config)
    leader = sim.nodes["s1"]
    assert answered(sim) == set(config.commands), "a command was never answered once the cluster healed"
    assert {n.applied for n in sim.nodes.values()} == {leader.state.commit}
    assert all(n.kv.to_json() == leader.kv.to_json() for n in sim.nodes.values())
    # The answers are those of the agreed log applied in order, each command once
    reference, results = KVState(), {}
    for slot in range(1, leader.state.commit + 1):
        cmd = watch.chosen[slot]
        result = reference.apply(cmd)
        if cmd.op != "noop":
            assert cmd.client not in results, f"{cmd.client} logged twice"
            results[cmd.client] = result
    assert reference.to_json() == leader.kv.to_json()
    for _node, _client, reply in sim.replies:
        if reply.status == OK:
            assert reply.result == results[reply.client], f"{reply.client} answered {reply.result!r}"


# -- one replica alone: every command is chosen at once, so the machine's path is seen exactly ------------------


def solo(**config) -> Node:
    node = Node(NodeConfig("n1", ("n1",), election_ticks=1, **config), LogState())
    node.handle(Timeout())
    assert node.role == "leader"
    return node


def ask(node: Node, client: str, op: str, *args, rid: int = 1, src: str = "c") -> list[wire.Reply]:
    fx = node.handle(ClientRequest(client=client, request_id=rid, command=(op, args), src=src))
    return [reply for _, reply in fx.reply]


def test_each_tick_is_one_second_of_the_leaders_clock_and_a_lease_is_measured_in_it():
    node = solo()  # its first tick made it leader: its clock reads 1
    assert ask(node, "a", "acquire", "L", 5.0)[0].result is True  # held until 6
    for _ in range(4):
        node.handle(Timeout())
    assert ask(node, "b", "acquire", "L", 5.0)[0].result is False  # at 5: still a's
    node.handle(Timeout())
    assert ask(node, "b", "acquire", "L", 5.0, rid=2)[0].result is True  # at 6: expired
    node.handle(Timeout(100.0))  # a clock reading moves it forward, never back
    node.handle(Timeout(50.0))
    assert ask(node, "c", "put", "k", "v")[0].status == OK and node.state.insts[node.state.commit].cmd.t == 100.0


def test_a_retry_is_answered_with_the_first_result_and_not_logged_again():
    node = solo()
    assert [r.result for r in ask(node, "a", "put", "k", "1")] == [None]
    assert [r.result for r in ask(node, "b", "put", "k", "2")] == ["1"]
    commit = node.state.commit
    again = ask(node, "a", "put", "k", "1", src="elsewhere")
    assert [(r.status, r.result, r.leader) for r in again] == [(OK, None, "n1")]
    assert node.state.commit == commit


def test_a_malformed_request_is_refused_with_its_id_when_it_has_a_valid_one():
    node = solo()

    def refused(command, rid=7, client="c") -> wire.Reply:
        [(src, reply)] = node.handle(ClientRequest(client=client, request_id=rid, command=command, src="from")).reply
        assert src == "from" and reply.status == REFUSED
        return reply

    assert refused(("get",)).rid == 7 and "get takes 1 argument" in refused(("get", ())).result
    assert "unknown operation" in refused(("get", ("k",), "extra")).result
    assert "unknown operation" in refused("get k").result
    assert refused(("get", ("k",)), rid=-1).rid == 0 and refused(("get", ("k",)), rid=2**63).rid == 0
    assert refused(("get", ("k",)), rid=2**64).rid == 0
    assert refused(("get", ("k",)), rid=2**63 - 1, client="").rid == 2**63 - 1
    assert refused(("put", ("k", "v")), client="x" * 5000).client == "x" * 256
    assert node.state.commit == 0 and not node.queue


def test_a_follower_redirects_a_request_to_the_leader_it_knows_and_a_candidate_to_none():
    net = Net()
    net.lead("s1")
    [(_, reply)] = net.put("s2", "c", "k", "v").reply
    assert (reply.status, reply.leader) == (NOT_LEADER, "s1")
    candidate = Node(NodeConfig("s3", NAMES, election_ticks=1), LogState())
    candidate.handle(Timeout())  # stands; no promise has come back
    assert candidate.role == "candidate"
    [(_, reply)] = candidate.handle(ClientRequest(client="c", request_id=1, command=("get", ("k",)), src="c")).reply
    assert (reply.status, reply.leader) == (NOT_LEADER, None)


def test_a_follower_stands_after_its_election_ticks_staggered_by_its_position():
    for index, expected in enumerate([10, 13, 16]):  # 10 ticks, plus 10 * position // 3
        node = Node(NodeConfig(NAMES[index], NAMES, election_ticks=10), LogState())
        ticks = 0
        while node.role == "follower":
            node.handle(Timeout())
            ticks += 1
        assert ticks == expected
    follower = Node(NodeConfig("s1", NAMES, election_ticks=2), LogState())
    for _ in range(10):  # a leader's heartbeat every tick keeps it from standing
        follower.handle(Receive("s2", wire.Accept("s2", 2, 1, [], 0)))
        follower.handle(Timeout())
    assert follower.role == "follower" and follower.state.bal_max_known == 0


def test_a_deposed_leader_answers_queued_commands_not_leader_and_logged_ones_unknown():
    for name, usurper in [("s1", "s2"), ("s3", "s1")]:
        net = Net(batch=1, window=1)
        leader = net.lead(name)
        net.put(name, "a", "k", "1")  # logged, in flight
        net.put(name, "b", "k", "2")  # waits for room in the window
        net.flight.clear()
        fx = net.handle(name, Receive(usurper, wire.Prepare(usurper, 900, 1)))
        answers = {reply.client: (reply.status, reply.leader) for _, reply in fx.reply}
        assert answers == {"a": (UNKNOWN, usurper), "b": (NOT_LEADER, usurper)}
        assert leader.role == "follower" and not leader.queue and not leader.waiting and not leader.in_flight


def test_a_retransmitted_accept_is_acknowledged_again_and_commits_when_the_first_answer_was_lost():
    net = Net()
    net.lead()
    net.put("s1", "a", "k", "1")
    net.flight = deque((s, d, m) for s, d, m in net.flight if d != "s3")  # s3 never hears of it
    to_s2 = [(s, d, m) for s, d, m in net.flight if d == "s2"]
    net.handle("s2", Receive("s1", to_s2[0][2]))
    net.flight.clear()  # s2's wire.Accepted lost
    assert net.nodes["s1"].state.commit == 0
    net.handle("s1", Timeout())  # the heartbeat sends the unvoted slot again
    assert {d for _, d, m in net.flight if isinstance(m, wire.Accept) and m.cmds} == {"s2", "s3"}
    net.settle(down={"s3"})  # only s2, which voted already, can make the majority
    assert net.nodes["s1"].state.commit == 1 and [r.client for r in net.replies] == ["a"]
    net.handle("s1", Timeout())
    net.settle()
    assert {n.state.commit for n in net.nodes.values()} == {1}  # the heartbeat tells the followers


def test_a_leader_fills_a_hole_below_its_last_slot_with_a_noop():
    net = Net()
    net.lead("s2")
    # s2 leads ballot 2 and learns of a vote in slot 3 only: slots 1 and 2 are holes
    vote = Inst(ACCEPTING, Command("a", 1, "put", ("k", "v"), 1.0), 250, Command("a", 1, "put", ("k", "v"), 1.0))
    s1 = net.nodes["s1"]
    s1.state.insts[3] = vote
    net.handle("s1", Timeout())
    net.handle("s1", Timeout())  # s1 stands above 2 with its vote in slot 3
    net.settle()
    assert s1.role == "leader" and s1.state.insts[3].cmd == vote.cmd
    net.handle("s1", Timeout())
    net.settle()
    assert [s1.state.insts[slot].cmd.op for slot in (1, 2, 3)] == ["noop", "noop", "put"]
    assert s1.state.commit == 3 and s1.kv.kv == {"k": "v"}


# -- commit notices, catch-up and snapshots, exactly -----------------------------------------------------------


def put_cmd(client: str, value: str, t: float = 1.0) -> Command:
    return Command(client, 1, "put", ("k", value), t)


def test_followers_learn_the_commit_index_from_the_leaders_accepts_and_a_heartbeat_teaching_nothing_writes_nothing():
    net = Net(catch_up=False)
    leader = net.lead()
    for i in range(3):
        net.put("s1", f"c{i}", "k", str(i))
    net.settle()
    net.sent.clear()
    assert net.handle("s1", Timeout()).persist is None  # a leader's heartbeat writes nothing
    heartbeat = next(m for s, d, m in net.sent if d == "s2")
    assert heartbeat == wire.Accept("s1", leader.state.bal_prepared, 4, [], 3)
    net.settle()
    [reply] = [m for s, d, m in net.sent if s == "s2"]
    assert isinstance(reply, wire.Accepted) and (reply.bal, reply.first, reply.last) == (
        leader.state.bal_prepared,
        4,
        3,
    )
    assert all(n.state.commit == n.applied == 3 and n.kv.kv == {"k": "2"} for n in net.nodes.values())
    again = net.nodes["s2"].handle(Receive("s1", heartbeat))
    assert again.persist is None
    # A second command of the same leader: the follower writes its vote, nothing else
    net.put("s1", "c3", "k", "3")
    accept = next(m for s, d, m in net.flight if d == "s2")
    fx = net.nodes["s2"].handle(Receive("s1", accept))
    assert [rec[:2] for rec in fx.persist] == [["inst", 4]]


def test_a_follower_commits_a_slot_from_a_commit_notice_only_when_its_vote_there_is_of_that_ballot():
    older = put_cmd("a", "1")
    node = Node(NodeConfig("s3", NAMES), LogState(bal_max_known=1, insts={1: Inst(ACCEPTING, older, 1, older)}))
    node.handle(
        Receive("s2", wire.Accept("s2", 2, 2, [], 1))
    )  # ballot 2 committed slot 1: s3's vote there is of ballot 1
    assert node.state.commit == 0
    node.handle(Receive("s2", wire.Accept("s2", 2, 1, [older.to_json()], 1)))
    assert node.state.commit == node.applied == 1 and node.kv.kv == {"k": "1"}


def test_a_replica_behind_gets_the_chosen_commands_it_lacks_a_batch_a_tick_then_a_snapshot_when_truncated():
    for snapshot_every, expected in [(0, [(None, 1, 2, 2), (None, 3, 2, 4), (None, 5, 1, 5)]), (2, [(4, 5, 1, 5)])]:
        net = Net(batch=2, snapshot_every=snapshot_every)
        leader = net.lead()
        for i in range(5):
            net.put("s1", f"c{i}", "k", str(i))
            net.settle(down={"s3"})
        assert leader.state.commit == 5 and net.nodes["s3"].state.commit == 0
        net.sent.clear()
        for _ in range(4):
            net.handle("s1", Timeout())
            net.settle()
        catch_ups = [m for s, d, m in net.sent if isinstance(m, wire.CatchUp) and d == "s3"]
        assert [(c.snapshot and c.snapshot["index"], c.first, len(c.cmds), c.commit) for c in catch_ups] == expected
        behind = net.nodes["s3"]
        assert behind.applied == 5 and behind.kv.to_json() == leader.kv.to_json()
        assert behind.state.snapshot_index == leader.state.snapshot_index


def test_a_replica_whose_next_slot_is_the_leaders_last_snapshotted_one_gets_the_snapshot():
    net = Net(batch=2, snapshot_every=2)
    leader = net.lead()
    for i in range(5):
        net.put("s1", f"c{i}", "k", str(i))
        net.settle(down={"s3"} if i >= 3 else set())
        if i == 2:
            net.handle("s1", Timeout())  # s3 learns that slot 3 is committed
            net.settle()
    assert (net.nodes["s3"].state.commit, leader.state.snapshot_index, leader.state.commit) == (3, 4, 5)
    net.sent.clear()
    net.handle("s1", Timeout())
    net.settle()
    [catch_up] = [m for s, d, m in net.sent if isinstance(m, wire.CatchUp) and d == "s3"]
    assert (catch_up.snapshot["index"], catch_up.first, len(catch_up.cmds)) == (4, 5, 1)
    assert net.nodes["s3"].kv.to_json() == leader.kv.to_json()


def test_a_catch_up_older_than_what_a_replica_committed_changes_nothing():
    cmds = [put_cmd(f"c{i}", str(i)) for i in range(1, 6)]
    log = LogState(bal_max_known=1, leader="s1", insts={i: Inst("Committed", c, 1, c) for i, c in enumerate(cmds, 1)})
    log.apply(["commit", 5])
    node = Node(NodeConfig("s3", NAMES, snapshot_every=4), log)
    assert node.applied == node.state.snapshot_index == 5
    old = KVState()
    for c in cmds[:3]:
        old.apply(c)
    stale = wire.CatchUp("s1", 1, {"index": 3, "state": old.to_json()}, 4, [c.to_json() for c in cmds[3:]], 5)
    assert node.handle(Receive("s1", stale)).persist is None
    assert node.applied == 5 and node.kv.kv == {"k": "5"}
    ahead = wire.CatchUp("s1", 1, None, 7, [put_cmd("c7", "7").to_json()], 7)  # slot 6 missing: not usable
    assert node.handle(Receive("s1", ahead)).persist is None and node.state.commit == 5
    now = KVState()
    for c in cmds:
        now.apply(c)
    same = wire.CatchUp("s1", 1, {"index": 5, "state": now.to_json()}, 6, [], 5)  # a snapshot at its commit index
    behind = wire.CatchUp("s1", 1, None, 4, [cmds[3].to_json()], 4)  # a commit index below its own
    for catch_up in (same, behind):
        assert node.handle(Receive("s1", catch_up)).persist is None and node.state.commit == 5


def test_a_candidate_prepares_from_its_first_uncommitted_slot_and_counts_no_promise_truncated_past_it():
    done = put_cmd("a", "1")
    log = LogState(bal_max_known=1, leader="s2", insts={1: Inst("Committed", done, 1, done)}, commit=1)
    node = Node(NodeConfig("s1", NAMES, election_ticks=1), log)
    fx = node.handle(Timeout())
    b = node.state.bal_max_known
    assert {m for _, m in fx.send} == {wire.Prepare("s1", b, 2)}
    node.handle(Receive("s2", wire.Promise("s2", b, [], 3, 2)))  # s2's log starts after slot 2: it lacks slot 2
    assert node.role == "candidate"
    node.handle(Receive("s3", wire.Promise("s3", b, [], 1, 1)))
    assert node.role == "leader"


def test_an_accept_far_past_the_commit_index_is_not_taken():
    node = Node(NodeConfig("s2", NAMES), LogState())
    limit = 64 * node.config.window * node.config.batch
    for first, taken in [(limit, True), (limit + 1, False)]:
        fx = node.handle(Receive("s1", wire.Accept("s1", 1, first, [put_cmd("a", "1").to_json()], 0)))
        assert (first in node.state.insts) == taken and bool(fx.send) == taken


# -- the records a replica writes ----------------------------------------------------------------------------


def test_a_record_is_checked_kind_by_kind_and_an_unknown_kind_is_named_in_twenty_characters():
    good = [
        ["follow", 3, "s1", True],
        ["follow", 0, None, False],
        ["prepared", 2],
        ["commit", 7],
        ["inst", 1, "Accepting", put_cmd("a", "1").to_json(), 2, put_cmd("a", "1").to_json()],
        ["snapshot", 4, KVState().to_json()],
    ]
    assert [record_problem(rec) for rec in good] == [None] * len(good)
    assert [record_problem(rec) for rec in json.loads(json.dumps(good))] == [None] * len(good)  # as a store reads them
    bad = {
        "a record is a non-empty list": [[], "commit", ("commit", 1)],
        "reset: a bool": [["follow", 3, "s1", 1]],
        "bal:": [["follow", -1, "s1", True], ["prepared", "2"], ["commit", None]],
        "leader:": [["follow", 3, "", True]],
        "slot": [["inst", 0, "Accepting", None, 0, None]],
        "a snapshot is": [["snapshot", -1, {}]],
        "not a key-value state": [["snapshot", 4, {"kv": {}}]],
        "unknown record": [
            ["follow", 3, "s1"],
            ["prepared", 1, 2],
            ["commit"],
            ["snapshot", 4],
            ["snapshot", 4, {}, 1],
            ["commit", 3, "s1", True],  # a follow's fields under other kinds, before and after it in order
            ["abc", 3, "s1", True],
            ["prepared", 3, "s1", True],
            ["zzz", 4, KVState().to_json()],  # a snapshot's fields under a kind that sorts after it
        ],
    }
    for problem, recs in bad.items():
        for rec in recs:
            assert problem in (record_problem(rec) or ""), rec
    assert record_problem(["x" * 30]) == f"unknown record {'x' * 20!r}"


def test_a_compacted_log_rebuilds_the_same_state():
    net = Net(batch=2, snapshot_every=3)
    net.lead()
    for i in range(7):
        net.put("s1", f"c{i}", "k", str(i))
        net.settle()
    for node in net.nodes.values():
        records = node.state.records()
        assert LogState().after(records) == node.state
        assert [rec[0] for rec in records][:3] == ["snapshot", "follow", "prepared"]
    assert LogState().records() == [["follow", 0, None, False], ["prepared", 0], ["commit", 0]]


def test_a_candidate_restarted_while_standing_resumes_its_own_unchosen_slots_with_the_promises_it_gathers():
    net = Net()
    net.lead()
    for client in ("a", "b"):
        net.put("s1", client, "k", client)
        net.settle()
    net.put("s1", "c", "k", "c")  # slot 3, voted by s1 alone: its Accepts are lost
    net.flight.clear()
    net.handle("s1", Receive("s2", wire.Prepare("s2", 305, 3)))  # s1 follows ballot 305: its slot 3 is Preparing again
    net.flight.clear()
    net.handle("s1", Timeout())  # and stands above it
    s1 = net.nodes["s1"]
    assert s1.role == "candidate" and s1.state.commit == 2
    net.nodes["s1"] = s1 = Node(s1.config, s1.state.after(()))  # restarted: its own promise is forgotten
    net.settle()
    net.put("s1", "d", "k", "d")
    net.settle()
    # slot 3 is settled, with a noop or with the candidate's own vote (c's put, chosen now by no one else)
    assert s1.role == "leader" and s1.state.commit == 4 and s1.state.insts[3].cmd.client in ("", "c")
    assert [r.client for r in net.replies if r.status == OK] == ["a", "b", "d"]


def test_a_leader_restarted_from_its_records_sends_again_the_slots_a_peer_has_not_acknowledged():
    net = Net()
    net.lead()
    net.put("s1", "a", "k", "a")
    net.flight.clear()  # its Accepts are lost
    s1 = net.nodes["s1"]
    records = json.loads(json.dumps(s1.state.records()))  # as read back from disk: ballots are new int objects
    net.nodes["s1"] = s1 = Node(s1.config, LogState().after(records))
    assert s1.role == "leader"
    net.handle("s1", Timeout())
    net.settle()
    assert s1.state.commit == 1 and {n.state.insts[1].cmd.client for n in net.nodes.values()} == {"a"}


def test_a_retry_of_a_logged_command_takes_no_new_slot_and_is_answered_where_it_was_last_asked():
    net = Net()
    net.lead()
    net.put("s1", "a", "k", "1", rid=1)
    net.put("s1", "a", "k", "1", rid=1)  # the client retried before the answer
    request = ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="again")
    net.handle("s1", request)
    net.settle()
    s1 = net.nodes["s1"]
    assert s1.state.commit == 1 and [r.client for r in net.replies] == ["a"]
    assert s1.handle(request).reply == [("again", wire.Reply("a", 1, OK, None, "s1"))]


def test_a_restarted_leader_stamps_no_command_below_the_clock_its_snapshot_reached():
    node = solo(snapshot_every=1)
    node.handle(Timeout(100.0))
    ask(node, "a", "put", "k", "1")
    assert node.state.snapshot_index == node.state.commit and not node.state.insts  # the log is all snapshot
    again = Node(node.config, node.state.after(()))
    assert again.role == "leader"
    fx = again.handle(ClientRequest(client="b", request_id=1, command=("put", ("k", "2")), src="c"))
    assert [Command.from_json(rec[3]).t for rec in fx.persist if rec[0] == "inst"] == [100.0]


def test_a_candidate_stands_again_above_a_rejection_unless_told_not_to_and_never_past_the_last_ballot():
    for restand, expected in [(True, 4), (False, 1)]:
        node = Node(NodeConfig("s1", NAMES, election_ticks=1, restand=restand), LogState())
        node.handle(Timeout())
        assert node.state.bal_max_known == 1
        node.handle(Receive("s2", wire.Reject("s2", 1, 1)))  # names no higher ballot: nothing to climb above
        node.handle(Receive("s2", wire.Reject("s2", 0, 3)))  # about a ballot it no longer runs
        assert node.state.bal_max_known == 1
        node.handle(Receive("s2", wire.Reject("s2", 1, 3)))
        assert node.state.bal_max_known == expected
    last = Node(NodeConfig("s1", NAMES, election_ticks=1, max_ballot=4), LogState(bal_max_known=2))
    last.handle(Timeout())
    assert last.state.bal_max_known == 4
    assert last.handle(Receive("s2", wire.Reject("s2", 4, 5))).persist is None and last.state.bal_max_known == 4


def test_a_replica_refuses_a_lower_ballot_naming_its_own_and_ignores_the_same_ballot_again():
    node = Node(NodeConfig("s2", NAMES), LogState())
    fx = node.handle(Receive("s1", wire.Prepare("s1", 4, 1)))
    assert fx.send == [("s1", wire.Promise("s2", 4, [], 0, 0))] and node.state.leader == "s1"
    again = node.handle(Receive("s1", wire.Prepare("s1", 4, 1)))
    assert again.send == [] and again.persist is None
    lower = node.handle(Receive("s3", wire.Prepare("s3", 3, 1)))
    assert lower.send == [("s3", wire.Reject("s2", 3, 4))] and lower.persist is None
    accept = node.handle(Receive("s3", wire.Accept("s3", 3, 1, [put_cmd("a", "1").to_json()], 0)))
    assert accept.send == [("s3", wire.Reject("s2", 3, 4))] and 1 not in node.state.insts


# -- the key-value machine --------------------------------------------------------------------------------------


def test_the_machine_refuses_a_request_it_cannot_log_saying_why():
    long = "é" * 2049  # 4098 bytes of UTF-8 in 2049 characters
    cases = {
        "the client id must be a string": [(1, 1, "get", ["k"])],
        "the client id is longer than 4096 bytes": [(long, 1, "get", ["k"])],
        "the client id is empty": [("", 1, "get", ["k"])],
        "the request id must be a whole number from 1": [("c", 0, "get", ["k"]), ("c", True, "get", ["k"])]
        + [("c", 2**63, "get", ["k"]), ("c", 2**63 + 1, "get", ["k"]), ("c", 1.0, "get", ["k"])],
        "unknown operation 'noop' (one of get, put, delete, cas, acquire, release, keepalive)": [("c", 1, "noop", [])],
        "unknown operation 'fly' (one of get, put, delete, cas, acquire, release, keepalive)": [("c", 1, "fly", [])],
        "get takes 1 argument": [("c", 1, "get", []), ("c", 1, "get", "k")],
        "put takes 2 arguments": [("c", 1, "put", ["k"])],
        "a lease's ttl must be a number of seconds in (0, 86400]": [("c", 1, "acquire", ["L", t]) for t in (0, -1)]
        + [("c", 1, "acquire", ["L", t]) for t in (86400.5, True, "5", float("nan"), float("inf"))],
        "argument 2 of put must be a string": [("c", 1, "put", ["k", 5])],
        "argument 1 of get is longer than 4096 bytes": [("c", 1, "get", [long])],
    }
    for problem, requests in cases.items():
        for request in requests:
            assert request_problem(*request) == problem, request
    fine = [("c" * 4096, 2**63 - 1, "get", ["é" * 2048]), ("c", 1, "acquire", ["L", 86400]), ("c", 1, "keepalive", [])]
    fine.append(("c" * 2000, 1, "put", ["k" * 1025, "é" * 1500]))  # measured, and within the limit
    assert [request_problem(*r) for r in fine] == [None] * len(fine)
    assert request_problem("c", 1, "acquire", ["L", 0.001]) is None
    arities = {"get": 1, "put": 2, "delete": 1, "cas": 3, "acquire": 1, "release": 1, "keepalive": 0}
    for op, n in arities.items():  # each operation with as many arguments as it takes (acquire: and a ttl)
        assert request_problem("c", 1, op, ["x"] * n + [5.0] * (op == "acquire")) is None, op
    # Bytes, not characters, are limited: 1,025 characters of 4 bytes each are too many, 1,024 are not.
    assert request_problem("c", 1, "get", ["\U0001f600" * 1025]) == "argument 1 of get is longer than 4096 bytes"
    assert request_problem("c", 1, "get", ["\U0001f600" * 1024]) is None
    assert request_problem("c", 1, "keepalive", ["x"]) == "keepalive takes 0 arguments"
    assert request_problem("c", 1, "o" * 50, []).startswith(f"unknown operation '{'o' * 40}' (one of")
    assert request_problem("c", 1, ["get"], ["k"]).startswith("unknown operation \"['get']\" (one of")


def test_the_machine_compares_names_by_value_not_by_identity():
    # What a replica reads from the wire or its log are new string objects, never the literals of this
    # module nor one another: an operation, a client or a lock's owner must match by value.
    def fresh(text: str) -> str:
        return "".join(list(text))  # equal, and not the same object (for two characters or more)

    assert fresh("noop") is not "noop"  # noqa: F632 - the point of the test
    assert request_problem("c", 1, fresh("noop"), []).startswith("unknown operation 'noop'")
    assert request_problem("c", 1, fresh("acquire"), ["L", 5.0]) is None
    machine = KVState()
    assert machine.apply(Command("", 0, fresh("noop"))) is None and machine.sessions == {}
    assert fresh("ann") is not fresh("ann")
    assert machine.apply(Command(fresh("ann"), 1, "acquire", ("L", 10.0), 1.0)) is True
    assert machine.apply(Command(fresh("ann"), 2, "keepalive", (), 8.0)) == ["L"]  # renewed: held until 18
    assert machine.apply(Command(fresh("bob"), 1, "acquire", ("L", 1.0), 15.0)) is False


def test_the_machine_reads_a_logged_command_only_in_its_json_form():
    assert command_problem(NOOP.to_json()) is None and command_problem(put_cmd("c", "v", 3.5).to_json()) is None
    assert command_problem(["c", 1, "get", ["k"]]) == "a command is [client, rid, op, args, t]"
    assert command_problem(("c", 1, "get", ["k"], 0)) == "a command is [client, rid, op, args, t]"
    assert command_problem(["c", 1, "get", ["k"], 0, 0]) == "a command is [client, rid, op, args, t]"
    assert command_problem(["", 0, "noop", "", 0]) == "a noop has no client, id or arguments"
    for t in (-1, "1", float("nan"), float("inf"), True):
        assert command_problem(["c", 1, "get", ["k"], t]) == "a command's time must be a number of seconds"
    for noop in (["c", 0, "noop", [], 0], ["", 1, "noop", [], 0], ["", -1, "noop", [], 0], ["", 0, "noop", ["x"], 0]):
        assert command_problem(noop) == "a noop has no client, id or arguments"
    assert command_problem(["c", 1, "get", ["k", "x"], 0]) == "get takes 1 argument"
    assert command_problem([5, 0, "noop", [], 0]) == "a noop has no client, id or arguments"


def test_the_machine_remembers_each_clients_last_request_and_ignores_older_ones():
    machine = KVState()
    machine.apply(Command("z", 1000, "put", ("k", "0")))
    assert machine.duplicate(Command("z", int("1000"), "put", ("k", "0"))) == (True, None)  # an id read back
    assert machine.apply(Command("z", 1001, "put", ("k", "1"))) == "0"
    assert machine.duplicate(Command("z", int("1001"), "put", ("k", "1"))) == (True, "0")
    machine = KVState()
    assert machine.duplicate(put_cmd("a", "1")) == (False, None)
    assert machine.apply(Command("a", 2, "put", ("k", "1"))) is None
    assert machine.duplicate(Command("a", 2, "get", ("k",))) == (True, None)  # its first result: None
    assert machine.apply(Command("a", 3, "put", ("k", "2"))) == "1"
    assert machine.duplicate(Command("a", 3, "put", ("k", "2"))) == (True, "1")
    assert machine.apply(Command("a", 2, "put", ("k", "9"))) is None and machine.kv == {"k": "2"}  # given up on
    assert machine.duplicate(Command("a", 4, "get", ("k",))) == (False, None)
    assert machine.apply(NOOP) is None and machine.sessions == {"a": (3, "1")}
    assert machine.read("get", ("k",)) == "2" and machine.read("put", ("k", "x")) is None


def test_compare_and_set_sets_only_when_the_key_holds_the_old_value():
    machine = KVState()
    assert machine.apply(Command("a", 1, "cas", ("k", "b", "z"))) is False and machine.kv == {}
    machine.apply(Command("a", 2, "put", ("k", "a")))
    assert machine.apply(Command("a", 3, "cas", ("k", "b", "z"))) is False and machine.kv == {"k": "a"}
    assert machine.apply(Command("a", 4, "cas", ("k", "0", "z"))) is False and machine.kv == {"k": "a"}
    assert machine.apply(Command("a", 5, "cas", ("k", "a", "z"))) is True and machine.kv == {"k": "z"}
    machine.apply(Command("v", 1, "put", ("k", "".join(["va", "lue"]))))  # a value read from the wire
    assert machine.apply(Command("v", 2, "cas", ("k", "value", "new"))) is True and machine.kv == {"k": "new"}
    assert machine.apply(Command("b", 1, "acquire", ("L", 5.0))) is True
    assert machine.apply(Command("a", 6, "acquire", ("L", 5.0))) is False  # held by b
    assert machine.apply(Command("c", 1, "acquire", ("L", 5.0))) is False and machine.locks["L"].owner == "b"
    owner = "".join(["ow", "ner"])  # a client id as read from the wire: equal, not the same object
    assert machine.apply(Command("owner", 1, "acquire", ("M", 5.0))) is True
    assert machine.apply(Command(owner, 2, "acquire", ("M", 9.0))) is True and machine.locks["M"].ttl == 9.0
    assert machine.apply(Command("".join(["ow", "ner"]), 3, "release", ("M",))) is True and "M" not in machine.locks


def test_the_machine_frees_a_lock_when_its_lease_runs_out_and_renews_a_holders_leases_on_each_command():
    machine = KVState()
    steps = [
        (Command("a", 1, "acquire", ("L", 5.0), 10.0), True),  # until 15
        (Command("a", 2, "acquire", ("M", 2.0), 10.0), True),  # until 12
        (Command("a", 3, "get", ("k",), 11.5), None),  # any command renews: L until 16.5, M until 13.5
        (Command("b", 1, "acquire", ("M", 5.0), 13.0), False),
        (Command("b", 2, "acquire", ("M", 5.0), 13.5), True),  # expired exactly now
        (Command("a", 4, "keepalive", (), 14.0), ["L"]),  # L until 19
        (Command("b", 3, "release", ("L",), 14.0), False),
        (Command("a", 5, "acquire", ("L", 1.0), 14.0), True),  # renewed with a shorter lease: until 15
        (Command("b", 4, "acquire", ("L", 5.0), 15.0), True),
        (Command("b", 5, "keepalive", (), 3.0), ["L", "M"]),  # a stamp behind the clock does not move it back
        (Command("a", 6, "release", ("L",), 15.0), False),
        (Command("b", 6, "release", ("M",), 15.0), True),
    ]
    for cmd, expected in steps:
        assert machine.apply(cmd) == expected, cmd
    assert machine.clock == 15.0
    assert {n: (lk.owner, lk.ttl, lk.expires) for n, lk in machine.locks.items()} == {"L": ("b", 5.0, 20.0)}
    machine.apply(Command("c", 1, "acquire", ("N", 1.0), 20.0))  # until 21
    machine.apply(Command("a", 7, "get", ("k",), 20.5))  # another client's command renews nothing of c's
    machine.apply(Command("a", 8, "get", ("k",), 21.0))
    assert "N" not in machine.locks


def test_the_machines_snapshot_form_is_sorted_and_a_bad_one_is_refused():
    machine = KVState()
    for cmd in [Command("b", 1, "put", ("z", "1"), 1.0), Command("a", 1, "put", ("y", "2"), 2.0)]:
        machine.apply(cmd)
    machine.apply(Command("a", 2, "acquire", ("L", 3.0), 2.5))
    doc = machine.to_json()
    assert list(doc["kv"]) == ["y", "z"] and list(doc["sessions"]) == ["a", "b"]
    assert doc == {
        "kv": {"y": "2", "z": "1"},
        "locks": {"L": ["a", 3.0, 5.5]},
        "sessions": {"a": [2, True], "b": [1, None]},
        "clock": 2.5,
    }
    twin = machine.copy()
    assert twin == machine and twin is not machine and twin.locks["L"] is not machine.locks["L"]
    for bad in [None, {}, {**doc, "kv": []}, {**doc, "locks": {"L": ["a"]}}, {**doc, "clock": "x"}]:
        with pytest.raises(ValueError, match="not a key-value state"):
            KVState.from_json(bad)
    assert str(Command("c", 2, "put", ("k", "v"))) == "c#2 put k v" and str(NOOP) == "#0 noop"


def test_a_leaders_heartbeat_goes_to_every_other_replica_and_not_to_itself():
    for name in NAMES:
        net = Net()
        net.lead(name)
        net.sent.clear()
        net.handle(name, Timeout())
        assert sorted(d for _, d, m in net.sent) == sorted(n for n in NAMES if n != name)


def test_a_catch_up_commits_no_slot_past_the_commands_it_carries():
    stale = put_cmd("old", "x")
    node = Node(NodeConfig("s3", NAMES), LogState(bal_max_known=1, insts={2: Inst(ACCEPTING, stale, 1, stale)}))
    node.handle(Receive("s1", wire.CatchUp("s1", 2, None, 1, [put_cmd("a", "1").to_json()], 5)))
    assert node.state.commit == node.applied == 1 and node.state.insts[2].status == ACCEPTING
    two = [put_cmd("b", "2").to_json(), put_cmd("c", "3").to_json()]  # slots 2 and 3 of a batch from slot 2
    node.handle(Receive("s1", wire.CatchUp("s1", 2, None, 2, two, 9)))
    assert node.state.commit == node.applied == 3


def test_a_replica_restarted_from_its_log_as_read_back_resets_its_votes_when_it_follows_a_new_candidate():
    net = Net()
    net.lead()
    net.put("s1", "a", "k", "1")
    net.flight.clear()
    s1 = net.nodes["s1"]
    records = json.loads(json.dumps(s1.state.records()))  # statuses read back are new string objects
    s1 = Node(s1.config, LogState().after(records))
    assert s1.state.insts[1].status == ACCEPTING
    fx = s1.handle(Receive("s2", wire.Prepare("s2", 305, 1)))
    assert s1.state.insts[1].status == "Preparing"
    [(_, promise)] = fx.send
    assert [inst[1] for inst in promise.insts] == ["Preparing"]


def test_a_replicas_defaults_are_those_the_readme_states():
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"up to ([\d,]+) a batch and (\d+) KiB of their JSON, (\d+) batches in flight", readme)
    every = re.search(r"Every ([\d,]+) applied commands", readme).group(1)
    config = NodeConfig("n1", ("n1",))
    batch, kib, window = (int(x.replace(",", "")) for x in found.groups())
    assert [config.batch, config.batch_bytes, config.window] == [batch, kib * 1024, window]
    assert config.snapshot_every == int(every.replace(",", ""))
    assert (config.catch_up, config.fill_holes, config.restand) == (True, True, True) and not config.bugs
    assert (config.max_ballot, config.max_slots) == (None, None)


def test_a_candidate_whose_commit_index_moved_while_it_stood_resumes_the_slots_past_it():
    a, b = put_cmd("a", "1"), put_cmd("b", "2")
    node = Node(NodeConfig("s3", NAMES, election_ticks=1), LogState())
    node.handle(Timeout())
    ballot = node.state.bal_max_known
    node.handle(Receive("s1", wire.CatchUp("s1", 1, None, 1, [a.to_json()], 1)))
    assert node.role == "candidate" and node.state.commit == 1
    votes = [[1, "Committed", a.to_json(), 1, a.to_json()], [2, "Accepting", b.to_json(), 1, b.to_json()]]
    fx = node.handle(Receive("s1", wire.Promise("s1", ballot, votes, 1, 0)))
    assert node.role == "leader" and node.state.insts[2].cmd == b
    assert {(m.first, len(m.cmds), m.cmds[0][0]) for _, m in fx.send if isinstance(m, wire.Accept)} == {(2, 1, "b")}


def test_a_candidate_restarted_from_its_log_as_read_back_climbs_above_a_rejection():
    node = Node(NodeConfig("s1", NAMES, election_ticks=1), LogState(bal_max_known=300))
    node.handle(Timeout())
    ballot = node.state.bal_max_known
    node = Node(node.config, LogState().after(json.loads(json.dumps(node.state.records()))))
    assert node.role == "candidate"
    node.handle(Receive("s2", wire.Reject("s2", ballot, 500)))
    assert node.state.bal_max_known > 500


def test_a_candidate_behind_every_snapshot_catches_up_from_the_promises_and_then_leads():
    net = Net(snapshot_every=2)
    net.lead("s2")
    for i in range(5):
        net.put("s2", f"c{i}", "k", str(i))
        net.settle(down={"s1"})
    net.handle("s2", Timeout())
    net.settle(down={"s1"})
    assert [net.nodes[n].state.snapshot_index for n in NAMES] == [0, 4, 4]
    for _ in range(2):  # s2 is gone: s1 stands, is caught up by s3's answer, and stands again
        net.handle("s1", Timeout())
        net.settle(down={"s2"})
    net.put("s1", "f", "k", "f")
    net.settle(down={"s2"})
    s1 = net.nodes["s1"]
    assert s1.role == "leader" and s1.state.commit == 6 and s1.kv.kv == {"k": "f"}


def test_a_new_leader_resumes_votes_in_scattered_slots_each_in_its_own_slot():
    a, b, c = put_cmd("a", "1"), put_cmd("b", "2"), put_cmd("c", "3")
    node = Node(NodeConfig("s3", NAMES, election_ticks=1), LogState())
    node.handle(Timeout())
    votes = [[slot, "Accepting", cmd.to_json(), 1, cmd.to_json()] for slot, cmd in [(2, a), (4, b), (5, c)]]
    fx = node.handle(Receive("s1", wire.Promise("s1", node.state.bal_max_known, votes, 0, 0)))
    sent = {(m.first, tuple(doc[0] for doc in m.cmds)) for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds}
    assert sent == {(2, ("a",)), (4, ("b", "c"))}


def test_a_replica_sends_a_candidate_its_snapshot_when_the_first_slot_asked_for_is_in_it():
    done = put_cmd("e", "5")
    for snapshot_index, first in [(4, 4), (1, 1), (4, 1)]:
        log = LogState(bal_max_known=1, snapshot_index=snapshot_index, snapshot=KVState().to_json())
        log.commit = snapshot_index
        log.insts[snapshot_index + 1] = Inst("Committed", done, 1, done)
        log.apply(["commit", snapshot_index + 1])
        node = Node(NodeConfig("s3", NAMES), log)
        fx = node.handle(Receive("s1", wire.Prepare("s1", 3, first)))
        [catch_up] = [m for _, m in fx.send if isinstance(m, wire.CatchUp)]
        assert (catch_up.snapshot["index"], catch_up.first) == (snapshot_index, snapshot_index + 1)
        assert len(catch_up.cmds) == 1


def test_a_leader_restarted_with_unchosen_commands_stamps_none_below_them():
    net = Net()
    net.lead()
    net.handle("s1", Timeout(100.0))
    net.settle()
    net.put("s1", "a", "k", "a")
    net.flight.clear()  # not chosen
    s1 = net.nodes["s1"]
    net.nodes["s1"] = s1 = Node(s1.config, s1.state.after(()))
    assert s1.role == "leader"
    fx = net.put("s1", "b", "k", "b")
    assert {Command.from_json(m.cmds[0]).t for _, m in fx.send if isinstance(m, wire.Accept)} == {100.0}


def test_a_replica_bounded_to_a_few_slots_fills_each_of_them_and_no_more():
    node = solo(max_slots=2)
    assert [r.status for r in ask(node, "a", "put", "k", "1")] == [OK]
    assert [r.status for r in ask(node, "b", "put", "k", "2")] == [OK]
    assert ask(node, "c", "put", "k", "3") == [] and node.state.commit == 2 and len(node.queue) == 1


def test_a_follower_that_votes_again_below_its_commit_index_keeps_that_slot_accepting_as_the_spec_does():
    a, b = put_cmd("a", "1"), put_cmd("b", "2")
    log = LogState(bal_max_known=1, leader="s1", insts={1: Inst("Committed", a, 1, a)})
    log.apply(["commit", 1])
    node = Node(NodeConfig("s2", NAMES), log)
    node.handle(Receive("s3", wire.Accept("s3", 3, 1, [a.to_json(), b.to_json()], 0)))  # s3 resumes slot 1
    assert node.state.insts[1].status == ACCEPTING and node.state.commit == 1
    node.handle(Receive("s3", wire.Accept("s3", 3, 3, [], 2)))
    assert node.state.commit == 2 and [node.state.insts[s].status for s in (1, 2)] == [ACCEPTING, "Committed"]


def test_a_replica_takes_no_vote_for_a_slot_its_snapshot_holds():
    done = put_cmd("e", "5")
    log = LogState(bal_max_known=1, snapshot_index=4, snapshot=KVState().to_json(), commit=4)
    node = Node(NodeConfig("s3", NAMES), log)
    fx = node.handle(Receive("s1", wire.Accept("s1", 3, 3, [done.to_json()] * 3, 4)))
    assert [rec[1] for rec in fx.persist if rec[0] == "inst"] == [5]
    assert [(m.first, m.last) for _, m in fx.send] == [(5, 5)]


def test_a_log_record_marks_committed_the_slots_it_holds_up_to_the_index_and_drops_what_a_snapshot_covers():
    a = put_cmd("a", "1")
    far = LogState(insts={5: Inst(ACCEPTING, a, 1, a), 9: Inst(ACCEPTING, a, 1, a)})
    far.apply(["commit", 7])  # far past what the log holds
    assert (far.commit, far.insts[5].status, far.insts[9].status) == (7, "Committed", ACCEPTING)
    log = LogState()
    log.apply(["snapshot", 4, KVState().to_json()])
    log.apply(["inst", 2, "Accepting", a.to_json(), 1, a.to_json()])
    log.apply(["inst", 5, "Accepting", a.to_json(), 1, a.to_json()])
    assert list(log.insts) == [5]
    with pytest.raises(ValueError, match="unknown record 'zzz'"):
        log.apply(["zzz", 9, {}])


def test_keepalive_names_only_the_callers_locks_and_a_noop_leaves_the_clock_alone():
    machine = KVState()
    machine.apply(Command("a", 1, "acquire", ("X", 0.5)))
    machine.apply(Command("b", 1, "acquire", ("Y", 0.5)))
    assert machine.apply(Command("b", 2, "keepalive", ())) == ["Y"]
    machine.apply(NOOP)
    assert machine.clock == 0.0 and set(machine.locks) == {"X", "Y"}


# -- exact edges: majorities of five, byte budgets, resend periods, records read back ------------------------------


def _json_size(doc) -> int:
    """Bytes of a JSON document as the wire writes it (compact, UTF-8)."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())


def elected(log: LogState | None = None, votes: list | None = None, **config) -> tuple[Node, Effects]:
    """s1, from ``log``, stands and is elected with s2's Promise (which reports ``votes``): the leader, and what
    the Promise made it send."""
    node = Node(NodeConfig("s1", NAMES, election_ticks=1, **config), log or LogState())
    node.handle(Timeout(1.0))
    fx = node.handle(Receive("s2", wire.Promise("s2", node.state.bal_max_known, votes or [], 0, 0)))
    assert node.role == "leader"
    return node, fx


def test_a_leader_of_five_is_made_by_three_promises_and_commits_on_three_votes():
    names = ("s1", "s2", "s3", "s4", "s5")
    node = Node(NodeConfig("s1", names, election_ticks=1), LogState())
    node.handle(Timeout(1.0))
    b = node.state.bal_max_known
    node.handle(Receive("s2", wire.Promise("s2", b, [], 0, 0)))
    assert node.role == "candidate"  # itself and one: two of five
    node.handle(Receive("s3", wire.Promise("s3", b, [], 0, 0)))
    assert node.role == "leader"
    fx = node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    accept = next(m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds)
    fx = node.handle(Receive("s2", wire.Accepted("s2", b, accept.first, accept.first, 0)))
    assert node.state.commit == 0 and not fx.reply
    fx = node.handle(Receive("s4", wire.Accepted("s4", b, accept.first, accept.first, 0)))
    assert node.state.commit == accept.first and [r.status for _, r in fx.reply] == [OK]


def _replica_with(values: list[str], committed: int) -> Node:
    """s2, following s1, its log ``values`` put in slots 1.. (the first ``committed`` known chosen)."""
    cmds = [put_cmd(f"c{i}", v) for i, v in enumerate(values, 1)]
    insts = {i: Inst("Committed" if i <= committed else ACCEPTING, c, 1, c) for i, c in enumerate(cmds, 1)}
    return Node(
        NodeConfig("s2", NAMES, snapshot_every=0), LogState(bal_max_known=1, leader="s1", insts=insts, commit=committed)
    )


def _promise(node: Node, first: int) -> tuple[wire.Promise, list]:
    fx = node.handle(Receive("s3", wire.Prepare("s3", 5, first)))
    return next(m for _, m in fx.send if isinstance(m, wire.Promise)), [
        m for _, m in fx.send if isinstance(m, wire.CatchUp)
    ]


def test_a_promise_carries_the_chosen_slots_while_their_bound_is_a_quarter_frame_and_not_a_byte_more():
    from paxoscope.impl.framing import MAX_FRAME

    def bound(values: list[str]) -> int:  # each instance: 48 bytes and its two commands (here one, twice)
        return sum(48 + 2 * _json_size(put_cmd(f"c{i}", v).to_json()) for i, v in enumerate(values, 1))

    values = ["v" * 3900] * 33
    gap = MAX_FRAME // 4 - bound(values)
    at = 0
    while gap > 0:  # lengthen values, each within the 4096-byte limit, until the bound is exactly a quarter frame
        grow = min(gap // 2, 4096 - len(values[at]))
        values[at] += "v" * grow
        gap -= 2 * grow
        at += 1
    assert bound(values) == MAX_FRAME // 4
    promise, catch_ups = _promise(_replica_with(values, committed=len(values)), first=1)
    assert len(promise.insts) == len(values) and promise.truncated == 0 and not catch_ups
    values[-1] += "v"  # two bytes more: over the bound
    promise, catch_ups = _promise(_replica_with(values, committed=len(values)), first=1)
    assert (promise.insts, promise.truncated) == ([], len(values)) and catch_ups


def test_a_promise_is_cut_only_when_the_candidate_asks_for_slots_this_replica_knows_chosen():
    values = ["x" * 4000] * 43  # 3 chosen, 40 accepted: over a quarter frame from either slot asked
    for first, cut in [(3, True), (4, False)]:
        promise, catch_ups = _promise(_replica_with(values, committed=3), first=first)
        if cut:
            assert (promise.insts, promise.truncated) == ([], 3) and [c.first for c in catch_ups] == [3]
        else:
            assert [doc[0] for doc in promise.insts] == list(range(4, 44)) and promise.truncated == 0


def test_a_follower_that_comes_to_lead_stamps_no_command_below_those_it_voted_for():
    node = Node(NodeConfig("s2", NAMES, election_ticks=1), LogState())
    voted = put_cmd("a", "1", t=100.0)
    node.handle(Receive("s1", wire.Accept("s1", 1, 1, [voted.to_json()], 0)))
    while node.role == "follower":  # s1 falls silent; s2's clock reads 5
        node.handle(Timeout(5.0))
    node.handle(Receive("s3", wire.Promise("s3", node.state.bal_max_known, [], 0, 0)))
    assert node.role == "leader"
    fx = node.handle(ClientRequest(client="b", request_id=1, command=("put", ("k", "2")), src="c"))
    stamps = [doc[4] for _, m in fx.send if isinstance(m, wire.Accept) for doc in m.cmds if doc[0] == "b"]
    assert stamps and min(stamps) >= 100.0


def test_a_record_of_an_unknown_kind_is_refused_by_the_state_wherever_its_name_sorts():
    for kind in ("bogus", "zzz"):  # before and after "snapshot"
        with pytest.raises(ValueError, match="unknown record"):
            LogState().apply([kind, 1, {}])


def test_an_instance_whose_vote_differs_from_its_command_is_written_and_read_back_as_it_was():
    from paxoscope.impl.multipaxos.core import InstRecord

    c1, c2 = put_cmd("a", "1"), put_cmd("b", "2")
    for inst in (
        Inst(ACCEPTING, c1, 3, c2),
        Inst(ACCEPTING, c1, 3, c1),
        Inst(ACCEPTING, NOOP, 0, None),
        Inst("Preparing", None, 2, c2),
    ):
        state = LogState()
        state.apply(json.loads(json.dumps(InstRecord(7, inst))))
        assert state.insts[7] == inst


def test_a_leader_resends_unanswered_accepts_every_resend_ticks_heartbeats():
    for period in (2, 3):
        net = Net(resend_ticks=period)
        net.lead()
        net.put("s1", "a", "k", "1")
        net.flight.clear()  # nobody hears of it
        resent = []
        for _ in range(7):
            net.sent.clear()
            net.handle("s1", Timeout())
            net.flight.clear()
            resent.append(bool(accepts(net.sent, "s1", "s2")))
        assert [beat for beat, again in enumerate(resent, 1) if again] == list(range(period, 8, period))


def test_a_command_a_new_leader_finds_in_two_slots_still_waits_when_one_of_them_goes_to_another():
    c, d = put_cmd("a", "1"), put_cmd("b", "2")
    log = LogState(bal_max_known=1, leader="s2", insts={1: Inst(ACCEPTING, c, 1, c), 2: Inst(ACCEPTING, c, 1, c)})
    node, _ = elected(log, votes=[[2, ACCEPTING, d.to_json(), 2, d.to_json()]])
    assert node.role == "leader" and node.state.insts[2].cmd == d  # slot 2 goes to s2's later vote
    fx = node.handle(ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="again"))
    assert not [m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds]  # slot 1 still holds it
    assert node.state.last_slot == 2 and node.waiting[("a", 1)] == "again"


def test_a_batch_takes_commands_up_to_exactly_its_byte_budget():
    def batches(budget: int) -> list[list]:
        node, _ = elected(batch_bytes=budget)
        requests = tuple(
            ClientRequest(client=f"c{i}", request_id=1, command=("put", ("k", "v" * 50)), src="c") for i in range(3)
        )
        fx = node.handle(ClientRequests(requests))
        return [m.cmds for dest, m in fx.send if dest == "s2" and isinstance(m, wire.Accept) and m.cmds]

    [whole] = batches(10**6)
    exact = sum(_json_size(doc) for doc in whole)
    assert [len(cmds) for cmds in batches(exact)] == [3]
    assert [len(cmds) for cmds in batches(exact - 1)] == [2, 1]


def test_a_leader_resends_no_slot_its_commit_index_covers():
    c = put_cmd("a", "1")
    node, fx = elected(LogState(bal_max_known=1, leader="s2", insts={1: Inst(ACCEPTING, c, 1, c)}))
    b = node.state.bal_max_known  # it leads: slot 1 resumed, an Accept to all
    own = next(m for dest, m in fx.send if dest == "s1" and isinstance(m, wire.Accept))
    for peer in ("s2", "s3"):  # both vote before its own Accept reaches it
        node.handle(Receive(peer, wire.Accepted(peer, b, 1, 1, 0)))
    assert node.state.commit == 1
    node.handle(Receive("s1", own))  # its own vote, late: slot 1 Accepting again below the commit index, as the spec
    fx = node.handle(Timeout(2.0))  # a heartbeat that resends what is unanswered
    assert [m.first for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds] == []


def test_a_leader_keeps_no_count_of_votes_for_slots_it_has_committed():
    net = Net()
    leader = net.lead()
    for i in range(3):
        net.put("s1", f"c{i}", "k", str(i))
    late = [(s, d, m) for s, d, m in net.flight if d == "s3"]
    net.flight = deque((s, d, m) for s, d, m in net.flight if d != "s3")
    net.settle()  # s2's votes commit slots 1..3
    assert leader.state.commit == 3
    net.flight.extend(late)  # then s3's Accepts arrive, and its votes come back late
    net.settle()
    assert not [slot for slot in leader.acks if slot <= leader.state.commit]


def test_a_catch_up_from_an_even_slot_carries_one_batch():
    net = Net(batch=2)
    leader = net.lead()
    net.put("s1", "c0", "k", "0")
    net.settle()
    net.handle("s1", Timeout())  # s3 learns that slot 1 is committed
    net.settle()
    for i in range(1, 6):
        net.put("s1", f"c{i}", "k", str(i))
        net.settle(down={"s3"})
    assert (net.nodes["s3"].state.commit, leader.state.commit) == (1, 6)
    net.sent.clear()
    net.handle("s1", Timeout())
    net.settle()
    catch_ups = [m for s, d, m in net.sent if isinstance(m, wire.CatchUp) and d == "s3"]
    assert [(c.first, len(c.cmds)) for c in catch_ups] == [(2, 2)]


def test_a_leader_restarted_from_its_log_read_back_counts_what_its_log_holds():
    records = json.loads(json.dumps([["follow", 4, "s1", False], ["prepared", 4]]))  # its names: new strings
    node = Node(NodeConfig("s1", NAMES), LogState().after(records))
    assert node.role == "leader"
    request = ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="c")
    node.handle(request)
    node.handle(request)  # a retry before it is chosen: it waits for the slot that holds it
    assert node.state.last_slot == 1


def test_a_candidate_restarted_with_an_empty_instance_read_back_resumes_the_vote_a_promise_reports():
    c = put_cmd("a", "1")
    records = json.loads(json.dumps([["follow", 1, "s2", False], ["inst", 1, "Empty", None, 0, None]]))
    node, _ = elected(LogState().after(records), votes=[[1, ACCEPTING, c.to_json(), 1, c.to_json()]])
    assert node.role == "leader" and (node.state.insts[1].status, node.state.insts[1].cmd) == (ACCEPTING, c)


def test_a_catch_up_logs_a_slot_only_when_the_replica_does_not_already_hold_it_accepting():
    c4, c5, c6, other = put_cmd("a", "4"), put_cmd("b", "5"), put_cmd("c", "6"), put_cmd("x", "x")
    chosen = {i: Inst("Committed", put_cmd(f"c{i}", str(i)), 1, None) for i in range(1, 4)}
    held = {
        **chosen,
        4: Inst(ACCEPTING, c4, 1, c4),
        5: Inst("Preparing", c5, 1, c5),
        6: Inst(ACCEPTING, other, 1, other),
    }
    node = Node(NodeConfig("s3", NAMES), LogState(bal_max_known=1, leader="s1", insts=held, commit=3))
    fx = node.handle(Receive("s1", wire.CatchUp("s1", 1, None, 4, [c.to_json() for c in (c4, c5, c6)], 6)))
    logged = [rec[1] for rec in fx.persist if rec[0] == "inst"]
    assert logged == [5, 6]  # slot 4 it held Accepting already; slot 5 only Preparing; slot 6 with another command
    assert [node.state.insts[slot].cmd for slot in (4, 5, 6)] == [c4, c5, c6] and node.state.commit == 6


def test_a_commit_record_marks_committed_only_the_slots_past_the_old_index_however_far_it_goes():
    c = put_cmd("a", "1")
    # slots 2 and 3 Accepting again at and below the commit index, as the spec has it
    held = {1: Inst("Committed", c, 1, c), **{slot: Inst(ACCEPTING, c, 2, c) for slot in (2, 3, 4, 20)}}
    for upto in (5, 20, 1000):  # slot by slot, and far past what the log holds (to a slot it holds, and beyond)
        state = LogState(insts=dict(held), commit=3)
        state.apply(["commit", upto])
        expected = {slot: "Committed" if 3 < slot <= upto else inst.status for slot, inst in held.items()}
        assert {slot: inst.status for slot, inst in state.insts.items()} == expected


def test_no_replica_is_sent_a_catch_up_when_none_is_behind():
    net = Net()
    net.lead()
    for i in range(5):
        net.put("s1", f"c{i}", "k", str(i))
        net.settle()
    assert net.nodes["s1"].state.commit == 5
    assert not [m for _, _, m in net.sent if isinstance(m, wire.CatchUp)]


def test_the_next_batch_goes_out_as_soon_as_the_oldest_in_flight_is_chosen():
    net = Net(batch=1, window=2)
    net.lead()
    for i in range(3):  # two in flight, the third waits for room
        net.put("s1", f"c{i}", "k", str(i))
    first = [(s, d, m) for s, d, m in net.flight if isinstance(m, wire.Accept) and m.first == 1]
    net.flight.clear()
    net.sent.clear()
    net.flight.extend(first)  # only slot 1's answers come back; slot 2 stays in flight
    net.settle(down={"s3"})
    assert net.nodes["s1"].state.commit == 1
    assert [m.first for m in accepts(net.sent, "s1", "s2")] == [3]


def test_a_candidate_restarted_while_standing_resumes_its_own_vote_past_a_commit_index_of_two():
    c = put_cmd("c", "3")
    chosen = {i: Inst("Committed", put_cmd(f"c{i}", str(i)), 1, None) for i in (1, 2)}
    log = LogState(leader="s1", bal_max_known=7, insts={**chosen, 3: Inst("Preparing", c, 4, c)}, commit=2)
    node = Node(NodeConfig("s1", NAMES), log)  # restarted while standing for ballot 7
    assert node.role == "candidate"
    node.handle(Receive("s2", wire.Promise("s2", 7, [], 2, 0)))  # s2 holds no vote past slot 2
    assert node.role == "leader" and (node.state.insts[3].status, node.state.insts[3].cmd) == (ACCEPTING, c)


def test_the_too_few_replies_variant_commits_on_one_vote_fewer_than_a_majority_of_five():
    names = ("s1", "s2", "s3", "s4", "s5")
    node = Node(NodeConfig("s1", names, election_ticks=1, bugs=frozenset({"commit-on-too-few-replies"})), LogState())
    node.handle(Timeout(1.0))
    b = node.state.bal_max_known
    for peer in ("s2", "s3"):
        node.handle(Receive(peer, wire.Promise(peer, b, [], 0, 0)))
    fx = node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    accept = next(m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds)
    assert node.state.commit == 0  # its own vote alone: one of five
    node.handle(Receive("s2", wire.Accepted("s2", b, accept.first, accept.first, 0)))
    assert node.state.commit == accept.first  # two of five: a majority less one


def test_a_candidate_restarted_from_a_compacted_log_read_back_resumes_a_preparing_slot():
    c = put_cmd("a", "1")
    records = json.loads(
        json.dumps([["follow", 1, "s2", False], ["inst", 1, "Preparing", c.to_json(), 1, c.to_json()]])
    )
    node, _ = elected(LogState().after(records))
    assert node.role == "leader" and (node.state.insts[1].status, node.state.insts[1].cmd) == (ACCEPTING, c)


def test_a_new_leader_fills_no_slot_at_once_that_no_promise_reports_a_vote_for():
    node, _ = elected(votes=[[1, "Preparing", None, 0, None]])
    assert node.role == "leader" and 1 not in node.state.insts
    fx = node.handle(ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="c"))
    assert [m.first for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds] == [1, 1]  # to s2 and s3


def test_a_retry_queued_beside_its_first_copy_does_not_hold_back_the_commands_after_it():
    node, _ = elected()
    a = ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="c")
    b = ClientRequest(client="b", request_id=1, command=("put", ("k", "2")), src="c")
    fx = node.handle(ClientRequests((a, a, b)))
    [cmds] = [m.cmds for dest, m in fx.send if dest == "s2" and isinstance(m, wire.Accept) and m.cmds]
    assert [doc[0] for doc in cmds] == ["a", "b"]


def test_a_replica_that_promised_a_candidate_waits_its_whole_election_ticks_before_standing():
    node = Node(NodeConfig("s1", NAMES, election_ticks=3), LogState())
    node.handle(Receive("s2", wire.Prepare("s2", 2, 1)))
    ticks = 0
    while node.state.leader != "s1":
        node.handle(Timeout())
        ticks += 1
    assert ticks == 3


def test_a_follower_ignores_promises_for_its_candidates_ballot_that_reach_it():
    node = Node(NodeConfig("s1", NAMES), LogState())
    node.handle(Receive("s2", wire.Prepare("s2", 5, 1)))  # s1 promises s2's ballot 5
    for peer in ("s2", "s3"):  # stray Promises of that ballot
        fx = node.handle(Receive(peer, wire.Promise(peer, 5, [], 0, 0)))
        assert fx.persist is None and not fx.send
    assert (node.role, node.state.bal_prepared) == ("follower", 0)


def test_a_leader_counts_no_vote_of_an_older_ballot():
    node, _ = elected(LogState(bal_max_known=3))
    b = node.state.bal_max_known
    fx = node.handle(ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="c"))
    slot = next(m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds).first
    node.handle(Receive("s2", wire.Accepted("s2", 1, slot, slot, 0)))  # a vote of ballot 1, long gone
    assert node.state.commit == 0
    node.handle(Receive("s2", wire.Accepted("s2", b, slot, slot, 0)))
    assert node.state.commit == slot


def test_a_new_leaders_heartbeat_resends_no_slot_before_its_own_vote_there():
    c = put_cmd("a", "1")
    node, fx = elected(LogState(bal_max_known=1, leader="s2", insts={1: Inst(ACCEPTING, c, 1, c)}))
    assert node.role == "leader" and [m.first for d, m in fx.send if d == "s2" and isinstance(m, wire.Accept)] == [1]
    fx = node.handle(Timeout(2.0))  # before its own Accept of slot 1 reached it: slot 1 is in flight already
    assert not [m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds]


def test_the_last_slot_follows_the_log_through_a_snapshot_that_truncates_it():
    c = put_cmd("a", "1").to_json()
    state = LogState()
    for slot in range(1, 11):
        state.apply(["inst", slot, ACCEPTING, c, 1, c])
    assert state.last_slot == 10
    state.apply(["snapshot", 5, KVState().to_json()])
    for slot in range(11, 16):
        state.apply(["inst", slot, ACCEPTING, c, 1, c])
    assert len(state.insts) == 10 and state.last_slot == 15  # as many slots as before, the last one further on


def test_a_replica_that_leads_again_proposes_a_retry_whose_slot_another_leader_took_meanwhile():
    c, d = ("put", ("k", "c")), put_cmd("b", "d")
    node = Node(NodeConfig("s2", NAMES, election_ticks=1), LogState())
    while node.role == "follower":
        node.handle(Timeout(1.0))
    node.handle(Receive("s3", wire.Promise("s3", node.state.bal_max_known, [], 0, 0)))
    assert node.role == "leader"
    node.handle(ClientRequest(client="a", request_id=1, command=c, src="x"))  # slot 1; its Accepts are lost
    node.handle(Receive("s1", wire.Prepare("s1", 4, 1)))  # s1 takes over and puts d in slot 1
    node.handle(Receive("s1", wire.Accept("s1", 4, 1, [d.to_json()], 0)))
    while node.role == "follower":  # s1 falls silent: s2 stands again and leads, slot 1 holding d
        node.handle(Timeout(2.0))
    node.handle(Receive("s3", wire.Promise("s3", node.state.bal_max_known, [], 0, 0)))
    assert node.role == "leader" and node.state.insts[1].cmd == d
    fx = node.handle(ClientRequest(client="a", request_id=1, command=c, src="x"))  # the client tries again
    assert [doc[0] for _, m in fx.send if isinstance(m, wire.Accept) for doc in m.cmds] == ["a", "a"]


def test_a_follower_writes_its_vote_once_when_an_accept_above_ballot_256_comes_again():
    node = Node(NodeConfig("s2", NAMES), LogState(bal_max_known=300))
    accept = CODEC.encode(wire.Accept("s1", 301, 1, [put_cmd("a", "1").to_json()], 0))
    assert node.handle(Receive("s1", CODEC.decode(accept[4:]))).persist
    again = node.handle(Receive("s1", CODEC.decode(accept[4:])))  # the same, read anew: a new int object
    assert again.persist is None and [type(m) for _, m in again.send] == [wire.Accepted]


def test_a_candidate_stands_again_only_above_a_rejection_that_names_a_higher_promise():
    node = Node(NodeConfig("s1", NAMES, election_ticks=1), LogState())
    node.handle(Timeout(1.0))
    b = node.state.bal_max_known
    fx = node.handle(Receive("s2", wire.Reject("s2", b, b - 1)))  # a confused peer: a promise below the ballot
    assert not fx.send and node.state.bal_max_known == b
    fx = node.handle(Receive("s2", wire.Reject("s2", b, b + 5)))
    assert {m.bal for _, m in fx.send if isinstance(m, wire.Prepare)} == {
        node.state.bal_max_known
    } and node.state.bal_max_known > b + 5


def test_a_command_a_new_leader_finds_in_three_slots_still_waits_when_two_of_them_go_to_others():
    c, d, e = put_cmd("a", "1"), put_cmd("b", "2"), put_cmd("c", "3")
    log = LogState(bal_max_known=1, leader="s2", insts={slot: Inst(ACCEPTING, c, 1, c) for slot in (1, 2, 3)})
    node, _ = elected(
        log, votes=[[2, ACCEPTING, d.to_json(), 2, d.to_json()], [3, ACCEPTING, e.to_json(), 2, e.to_json()]]
    )
    assert node.role == "leader" and [node.state.insts[slot].cmd for slot in (1, 2, 3)] == [c, d, e]
    fx = node.handle(ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="again"))
    assert not [m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds]  # slot 1 still holds it


def test_a_snapshot_record_read_back_from_json_is_applied():
    state = LogState()
    state.apply(json.loads(json.dumps(["snapshot", 4, KVState().to_json()])))
    assert (state.snapshot_index, state.commit) == (4, 4)


def test_a_replica_whose_log_lacks_a_slot_below_its_commit_index_applies_up_to_it_and_waits():
    import threading

    c = put_cmd("a", "1")
    log = LogState(bal_max_known=1, leader="s2", insts={1: Inst("Committed", c, 1, c), 3: Inst("Committed", c, 1, c)})
    log.apply(["commit", 3])  # slot 2 not learned: a snapshot or a catch-up brings it
    made: list[Node] = []
    start = threading.Thread(target=lambda: made.append(Node(NodeConfig("s1", NAMES), log)), daemon=True)
    start.start()
    start.join(30)
    assert made and made[0].applied == 1


def test_a_replica_answers_a_prepare_of_the_ballot_it_promised_above_256_again_with_nothing():
    node = Node(NodeConfig("s2", NAMES), LogState(bal_max_known=300))
    prepare = CODEC.encode(wire.Prepare("s1", 301, 1))
    assert [type(m) for _, m in node.handle(Receive("s1", CODEC.decode(prepare[4:]))).send] == [wire.Promise]
    again = node.handle(Receive("s1", CODEC.decode(prepare[4:])))  # the same, read anew: a new int object
    assert not again.send and again.persist is None


def test_requests_beyond_what_the_window_holds_wait_in_the_queue():
    import threading

    node, _ = elected(batch=1, window=2)
    requests = tuple(
        ClientRequest(client=f"c{i}", request_id=1, command=("put", ("k", str(i))), src="c") for i in range(3)
    )
    done: list[Effects] = []
    handling = threading.Thread(target=lambda: done.append(node.handle(ClientRequests(requests))), daemon=True)
    handling.start()
    handling.join(30)
    assert done, "handling the requests did not end"
    assert [m.first for dest, m in done[0].send if dest == "s2" and m.cmds] == [1, 2] and len(node.queue) == 1


def test_a_replica_with_the_default_configuration_stands_after_ten_quiet_ticks():
    node = Node(NodeConfig("s1", NAMES), LogState())  # the first replica: no stagger
    for _ in range(9):
        node.handle(Timeout())
    assert node.role == "follower"
    node.handle(Timeout())
    assert node.role == "candidate"


def test_a_replica_offers_the_runtime_its_state_as_what_is_durable_and_no_single_decision():
    node, _ = elected()
    assert node.durable is node.state and node.decided is None


def test_a_leaders_clock_starts_at_zero_and_its_first_tick_makes_it_one():
    node = solo()  # elected on its first tick
    ask(node, "a", "put", "k", "1")
    assert node.state.insts[node.state.commit].cmd.t == 1.0


def test_a_catch_up_read_against_a_log_read_back_logs_only_what_the_replica_lacks():
    c = [put_cmd(f"c{i}", str(i)) for i in range(1, 6)]
    records = [
        ["follow", 1, "s1", False],
        *(["inst", i, ACCEPTING, c[i - 1].to_json(), 1, c[i - 1].to_json()] for i in range(1, 5)),
    ]
    node = Node(NodeConfig("s3", NAMES), LogState().after(json.loads(json.dumps([*records, ["commit", 3]]))))
    assert node.state.commit == 3
    # From slot 2, before its commit index: slot 4 it holds Accepting, slot 5 it lacks
    fx = node.handle(Receive("s1", wire.CatchUp("s1", 1, None, 2, [x.to_json() for x in c[1:]], 5)))
    assert [rec[1] for rec in fx.persist if rec[0] == "inst"] == [5] and node.state.commit == node.applied == 5


def test_nothing_is_written_when_nothing_is_learned_past_slot_256():
    snapshot = ["snapshot", 300, KVState().to_json()]
    follower = Node(NodeConfig("s2", NAMES), LogState(bal_max_known=4, leader="s1").after([snapshot]))
    beat = CODEC.encode(wire.Accept("s1", 4, 301, [], 300))
    assert follower.handle(Receive("s1", CODEC.decode(beat[4:]))).persist is None  # a heartbeat teaching nothing
    leader, _ = elected(LogState().after([snapshot]))
    b = leader.state.bal_max_known
    stale = CODEC.encode(wire.Accepted("s2", b, 301, 301, 300))
    assert leader.handle(Receive("s2", CODEC.decode(stale[4:]))).persist is None  # a vote for no slot it holds


def test_a_follower_answers_a_batch_from_slot_two_with_the_range_it_voted():
    node = Node(NodeConfig("s2", NAMES), LogState())
    cmds = [put_cmd(f"c{i}", str(i)).to_json() for i in range(3)]
    fx = node.handle(Receive("s1", wire.Accept("s1", 1, 2, cmds, 0)))
    assert [(m.first, m.last) for _, m in fx.send if isinstance(m, wire.Accepted)] == [(2, 4)]


def test_a_candidate_told_not_to_stand_again_does_not_when_restarted_from_its_log_read_back():
    records = json.loads(json.dumps([["follow", 4, "s1", False]]))  # it stood for ballot 4; its name: a new string
    node = Node(NodeConfig("s1", NAMES, election_ticks=1, restand=False), LogState().after(records))
    assert node.role == "candidate"
    sent = [m for _ in range(5) for _, m in node.handle(Timeout()).send]
    assert not [m for m in sent if isinstance(m, wire.Prepare)] and node.state.bal_max_known == 4


def test_a_leader_counts_each_command_once_for_each_slot_that_holds_it():
    from collections import Counter

    node, _ = elected()
    for i in range(3):
        fx = node.handle(ClientRequest(client=f"c{i}", request_id=1, command=("put", ("k", str(i))), src="c"))
        for dest, msg in fx.send:
            if dest == "s1":  # its own vote, as the host delivers it
                node.handle(Receive("s1", msg))
    held = Counter(inst.cmd.key for inst in node.state.insts.values() if inst.cmd is not None)
    assert dict(node.logged) == dict(held) and sum(held.values()) == 2  # the window holds two; the third waits


def test_a_leader_takes_no_promise_after_it_has_prepared_late_or_again():
    node, _ = elected()
    b = node.state.bal_max_known
    late_vote = [[5, "Accepting", put_cmd("a", "1").to_json(), 1, put_cmd("a", "1").to_json()]]
    for peer, votes in (("s3", late_vote), ("s2", [])):  # s3's late Promise, then s2's again: a majority anew
        fx = node.handle(Receive(peer, wire.Promise(peer, b, votes, 0, 0)))
        assert fx.persist is None and not fx.send
    assert 5 not in node.state.insts and node.state.bal_prepared == b


def test_the_too_few_replies_variant_alone_in_its_cluster_still_waits_for_its_own_vote():
    c = put_cmd("a", "1")
    log = LogState(bal_max_known=1, insts={1: Inst(ACCEPTING, c, 1, c)})
    node = Node(NodeConfig("s1", ("s1",), election_ticks=1, bugs=frozenset({"commit-on-too-few-replies"})), log)
    sent = node.handle(Timeout(1.0)).send  # slot 1 resumed: its vote of the new ballot is on its way to itself
    sent += node.handle(ClientRequest(client="b", request_id=1, command=("put", ("k", "2")), src="b")).send
    assert node.role == "leader" and node.state.commit == 0
    while sent:
        sent = [out for _, msg in sent for out in node.handle(Receive("s1", msg)).send]
    assert node.state.commit == 2


def test_the_bound_on_an_accepts_slot_is_counted_from_the_commit_index():
    node = Node(NodeConfig("s2", NAMES, window=1, batch=1), LogState(commit=64, snapshot_index=64))
    for first, taken in [(128, True), (129, False)]:  # the bound: 64 slots past the commit index
        fx = node.handle(Receive("s1", wire.Accept("s1", 1, first, [put_cmd("a", "1").to_json()], 64)))
        assert (first in node.state.insts) == taken and bool(fx.send) == taken


def test_a_leader_that_stands_again_above_a_rejection_keeps_its_clients_waiting_and_answers_them_once_elected():
    node, _ = elected()
    fx = node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    slot = next(m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds).first
    b = node.state.bal_max_known
    fx = node.handle(Receive("s3", wire.Reject("s3", b, b + 5)))
    assert node.role == "candidate" and not fx.reply
    b2 = node.state.bal_max_known
    fx = node.handle(Receive("s2", wire.Promise("s2", b2, [], 0, 0)))  # the slot resumed: its own vote comes back
    replies, own = [], [msg for dst, msg in fx.send if dst == "s1"]
    while own:
        fx = node.handle(Receive("s1", own.pop()))
        replies += [r for _, r in fx.reply]
        own += [msg for dst, msg in fx.send if dst == "s1"]
    replies += [r for _, r in node.handle(Receive("s2", wire.Accepted("s2", b2, slot, slot, 0))).reply]
    assert [(r.status, r.rid) for r in replies] == [(OK, 1)]


def test_a_replica_restands_only_on_a_rejection_of_a_ballot_it_leads():
    node = Node(NodeConfig("s2", NAMES), LogState())
    node.handle(Receive("s1", wire.Prepare("s1", 4, 1)))  # s2 follows s1's ballot 4
    fx = node.handle(Receive("s3", wire.Reject("s3", 4, 9)))  # a rejection of s1's ballot, astray
    assert (node.state.leader, node.state.bal_max_known, fx.send) == ("s1", 4, [])


def test_the_last_slot_is_found_again_when_a_log_with_holes_gains_slots():
    c = put_cmd("a", "1")
    state = LogState(insts={slot: Inst(ACCEPTING, c, 1, c) for slot in (1, 2, 5)})
    assert state.last_slot == 5
    state.insts[6] = state.insts[7] = Inst(ACCEPTING, c, 1, c)  # as a replica adds a slot (Node._set_inst)
    assert state.last_slot == 7


def test_a_replica_behind_gets_one_catch_up_a_tick_however_late_the_clock():
    node, _ = elected()
    b = node.state.bal_max_known
    fx = node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    slot = next(m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds).first
    node.handle(Receive("s2", wire.Accepted("s2", b, slot, slot, 0)))
    node.handle(Timeout(1000.0))  # a tick past 256 (an int object of its own each time it is made)
    assert node.state.commit == slot == node.commit_last_tick
    sent = []
    for _ in range(2):  # s3 says twice in that tick that it is behind
        sent += node.handle(Receive("s3", wire.Accepted("s3", b, slot + 1, slot, 0))).send
    assert [d for d, m in sent if isinstance(m, wire.CatchUp)] == ["s3"]


def test_a_leader_sends_the_noops_for_the_holes_it_fills_on_the_same_tick():
    c = put_cmd("a", "1")
    node, _ = elected(LogState(bal_max_known=3), votes=[[3, "Accepting", c.to_json(), 1, c.to_json()]], resend_ticks=5)
    fx = node.handle(Timeout())  # slots 1 and 2 are holes below slot 3
    noops = {(d, m.first, len(m.cmds)) for d, m in fx.send if isinstance(m, wire.Accept) and m.cmds and m.first < 3}
    assert noops == {("s2", 1, 2), ("s3", 1, 2)}


def test_a_command_a_new_leader_finds_in_two_slots_is_proposed_again_when_both_go_to_others():
    c, d, e = put_cmd("a", "1"), put_cmd("b", "2"), put_cmd("c", "3")
    log = LogState(bal_max_known=1, leader="s2", insts={1: Inst(ACCEPTING, c, 1, c), 2: Inst(ACCEPTING, c, 1, c)})
    node, _ = elected(
        log, votes=[[1, ACCEPTING, d.to_json(), 2, d.to_json()], [2, ACCEPTING, e.to_json(), 2, e.to_json()]]
    )
    assert [node.state.insts[slot].cmd for slot in (1, 2)] == [d, e]
    fx = node.handle(ClientRequest(client="a", request_id=1, command=("put", ("k", "1")), src="again"))
    assert [(m.first, m.cmds[0][0]) for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds] == [(3, "a")] * 2


def requests(*pairs: tuple[str, int]) -> ClientRequests:
    return ClientRequests(
        tuple(ClientRequest(client=c, request_id=rid, command=("put", ("k", c)), src=c) for c, rid in pairs)
    )


def test_a_follower_acknowledges_again_a_retransmitted_accept_of_a_small_ballot():
    node = Node(NodeConfig("s2", NAMES), LogState())
    accept = wire.Accept("s1", 4, 1, [put_cmd("a", "1").to_json()], 0)
    for _ in range(2):
        fx = node.handle(Receive("s1", accept))
        assert [(m.bal, m.first, m.last) for _, m in fx.send if isinstance(m, wire.Accepted)] == [(4, 1, 1)]


def test_a_window_of_more_than_256_batches_is_kept():
    node, _ = elected(window=300, batch=1)
    fx = node.handle(requests(*((f"c{i}", 1) for i in range(301))))
    assert len([m for d, m in fx.send if d == "s2" and isinstance(m, wire.Accept) and m.cmds]) == 300
    assert len(node.queue) == 1


def test_a_leader_standing_again_proposes_nothing_from_its_queue_until_it_has_prepared():
    node, _ = elected(window=1, batch=1)
    node.handle(requests(("c1", 1), ("c2", 1)))  # c2 waits for room in the window
    b = node.state.bal_max_known
    node.handle(Receive("s3", wire.Reject("s3", b, b + 5)))
    fx = node.handle(requests(("c3", 1)))
    assert not [m for _, m in fx.send if isinstance(m, wire.Accept)]
    assert [(r.client, r.status) for _, r in fx.reply] == [("c3", NOT_LEADER)]


def test_a_batch_stays_in_flight_until_its_last_slot_is_chosen():
    node, _ = elected(window=1, batch=2)
    b = node.state.bal_max_known
    node.handle(requests(("c1", 1), ("c2", 1)))  # one batch: slots 1 and 2
    node.handle(requests(("c3", 1)))  # waits: the window is full
    fx = node.handle(Receive("s2", wire.Accepted("s2", b, 1, 1, 0)))
    assert node.state.commit == 1 and not [m for _, m in fx.send if isinstance(m, wire.Accept) and m.cmds]
    fx = node.handle(Receive("s2", wire.Accepted("s2", b, 2, 2, 0)))
    assert [(m.first, len(m.cmds)) for d, m in fx.send if d == "s2" and isinstance(m, wire.Accept) and m.cmds] == [
        (3, 1)
    ]


def test_a_leaders_resend_carries_commands_up_to_its_byte_budget_and_no_more():
    size = Command("c1", 1, "put", ("k", "c1"), 1.0).json_size
    for spare in (0, 1, size - 1):
        node, _ = elected(window=5, batch=10, batch_bytes=2 * size + spare, resend_ticks=1)
        node.handle(requests(*((f"c{i}", 1) for i in range(1, 7))))  # three batches of two, unanswered
        fx = node.handle(Timeout())
        resent = [(m.first, len(m.cmds)) for d, m in fx.send if d == "s2" and isinstance(m, wire.Accept) and m.cmds]
        assert resent == [(1, 2)], spare


def test_a_follow_record_with_a_field_too_many_is_refused_with_a_reason():
    assert record_problem(["follow", 1, "s1", False, "more"]) == "unknown record 'follow'"


def test_a_leader_fills_holes_only_when_told_to_and_with_no_command_waiting():
    c = put_cmd("a", "1")
    vote = [[3, "Accepting", c.to_json(), 1, c.to_json()]]
    for fill_holes, waiting, filled in [(False, False, False), (True, True, False), (True, False, True)]:
        node, _ = elected(LogState(bal_max_known=3), votes=vote, fill_holes=fill_holes, window=1, batch=1)
        if waiting:  # one command in flight, the next waiting for room in the window
            node.handle(requests(("c1", 1), ("c2", 1)))
            assert node.queue
        node.handle(Timeout())
        noops = [slot for slot, inst in node.state.insts.items() if inst.cmd.op == "noop"]
        assert bool(noops) == filled, (fill_holes, waiting)


def test_a_candidate_restarted_from_its_log_as_read_back_is_elected_by_the_promises_it_gathers():
    leader = json.loads('"s1"')  # the name as the store reads it back: equal to the replica's, not the same object
    node = Node(NodeConfig("s1", NAMES, election_ticks=1), LogState(leader=leader, bal_max_known=4))
    assert node.role == "candidate"
    node.handle(Receive("s2", wire.Promise("s2", 4, [], 0, 0)))
    assert node.role == "leader"


def test_a_leaders_resend_starts_at_the_first_slot_past_its_commit_index():
    node, _ = elected(window=5, batch=1, resend_ticks=1)
    b = node.state.bal_max_known
    node.handle(requests(*((f"c{i}", 1) for i in range(1, 5))))  # slots 1 to 4
    node.handle(Receive("s2", wire.Accepted("s2", b, 1, 2, 0)))
    assert node.state.commit == 2
    fx = node.handle(Timeout())
    assert [m.first for d, m in fx.send if d == "s3" and isinstance(m, wire.Accept) and m.cmds] == [3]


def test_a_follower_ignores_promises_for_its_leaders_ballot_whatever_the_leaders_name():
    node = Node(NodeConfig("s2", NAMES), LogState())
    node.handle(Receive("s1", wire.Prepare("s1", 4, 1)))  # s2 promises s1's ballot 4 (s1 sorts before s2)
    for peer in ("s1", "s3"):
        fx = node.handle(Receive(peer, wire.Promise(peer, 4, [], 0, 0)))
        assert fx.persist is None and not fx.send
    assert (node.role, node.state.leader, node.state.bal_prepared) == ("follower", "s1", 0)


def test_a_candidate_of_a_cluster_of_600_is_elected_by_301_promises():
    names = tuple(f"n{i}" for i in range(600))
    node = Node(NodeConfig("n0", names, election_ticks=1), LogState())
    node.handle(Timeout(1.0))
    b = node.state.bal_max_known
    for peer in names[1:300]:
        node.handle(Receive(peer, wire.Promise(peer, b, [], 0, 0)))
    assert node.role == "candidate"  # 300 of 600
    node.handle(Receive("n300", wire.Promise("n300", b, [], 0, 0)))
    assert node.role == "leader"


def test_a_restarted_candidate_names_no_leader_to_a_client_even_with_its_name_read_back():
    node = Node(NodeConfig("s1", NAMES), LogState(leader=json.loads('"s1"'), bal_max_known=4))
    fx = node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    assert [(r.status, r.leader) for _, r in fx.reply] == [(NOT_LEADER, None)]


def test_a_replica_restarted_past_slot_256_applies_its_log_up_to_the_commit_index_and_no_further():
    c = put_cmd("a", "1")
    log = LogState(bal_max_known=1, leader="s2", insts={slot: Inst(ACCEPTING, c, 1, c) for slot in range(1, 302)})
    log.apply(["commit", 300])
    node = Node(NodeConfig("s1", NAMES), log)
    assert node.applied == 300 and node.state.insts[301].status == ACCEPTING


def test_a_replica_named_by_a_string_read_back_sends_nothing_to_itself():
    name = json.loads('"s1"')  # equal to NAMES[0], another object
    node = Node(NodeConfig(name, NAMES, election_ticks=1), LogState())
    fx = node.handle(Timeout(1.0))
    assert sorted(d for d, m in fx.send if isinstance(m, wire.Prepare)) == ["s2", "s3"]


def test_by_default_a_follower_promises_no_lease_and_carries_no_stamp_back():
    node = Node(NodeConfig("s2", NAMES), LogState())
    accept = wire.Accept("s1", 4, 1, [put_cmd("a", "1").to_json()], 0, sent=3.0)
    fx = node.handle(Receive("s1", accept), 5.0)  # the host's clock reads 5.0
    assert [m.sent for _, m in fx.send if isinstance(m, wire.Accepted)] == [0.0] and not node.lease.binds()


def test_a_candidate_without_promises_stands_again_after_its_whole_election_ticks():
    node = Node(NodeConfig("s1", NAMES, election_ticks=3), LogState())
    while node.state.leader != "s1":
        node.handle(Timeout())
    first, ticks = node.state.bal_max_known, 0
    while node.state.bal_max_known == first:
        node.handle(Timeout())
        ticks += 1
    assert ticks == 3


def test_a_follower_restarted_from_its_log_as_read_back_commits_from_the_leaders_notice():
    c = put_cmd("a", "1")
    log = LogState()
    for rec in (["follow", 4, "s1", False], ["inst", *Inst(ACCEPTING, c, 4, c).to_json(1)]):
        log.apply(json.loads(json.dumps(rec)))  # names and statuses as the store reads them back
    node = Node(NodeConfig("s2", NAMES), log)
    node.handle(Receive("s1", wire.Accept("s1", 4, 2, [], 1)))
    assert node.state.commit == 1 and node.applied == 1


def test_a_leader_that_stood_again_and_then_follows_another_answers_every_client_it_held():
    node, _ = elected(window=1, batch=1)
    for rid in (1, 2):  # the first is logged; the second waits for room in the window
        node.handle(ClientRequest(client=f"c{rid}", request_id=rid, command=("put", ("k", "v")), src=f"c{rid}"))
    b = node.state.bal_max_known
    assert not node.handle(Receive("s3", wire.Reject("s3", b, b + 5))).reply  # it stands again, its clients held
    fx = node.handle(Receive("s3", wire.Prepare("s3", b + 10, 1)))  # and loses to s3
    assert node.role == "follower"
    assert sorted((r.rid, r.status) for _, r in fx.reply) == [(1, UNKNOWN), (2, NOT_LEADER)]


def test_a_leader_restarted_from_its_log_as_read_back_answers_its_clients_when_it_follows_another():
    log = LogState()
    for rec in (["follow", 4, "s1", False], ["prepared", 4]):
        log.apply(json.loads(json.dumps(rec)))  # its own name as the store reads it back
    node = Node(NodeConfig("s1", NAMES), log)
    assert node.role == "leader"
    node.handle(ClientRequest(client="c", request_id=1, command=("put", ("k", "v")), src="c"))
    fx = node.handle(Receive("s3", wire.Prepare("s3", 9, 1)))
    assert [(r.rid, r.status) for _, r in fx.reply] == [(1, UNKNOWN)]

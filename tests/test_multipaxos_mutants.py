"""What the Multi-Paxos core does beyond the spec's steps, checked exactly:
batches and the pipeline window, snapshots, catch-up, noops in holes, a
candidate standing again. ``conform`` runs the core as the spec has it (one
command a slot, none of these), so these fast checks are the rest of the
test that ``benchmarks/mutants.py --target multipaxos`` runs on each mutant."""

from __future__ import annotations

from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paxoscope.impl.multipaxos.config import SimConfig
from paxoscope.impl.multipaxos.core import ACCEPTING, Inst, LogState, Node, NodeConfig
from paxoscope.impl.multipaxos.kvstate import Command, KVState
from paxoscope.impl.multipaxos.messages import NOT_LEADER, OK, REFUSED, UNKNOWN, Accept, Prepare, Reply
from paxoscope.impl.protocol import ClientRequest, Effects, Receive, Timeout
from paxoscope.impl.sim import Crash, Deliver, Drop, Duplicate, Fire, Request, Restart, Run, Simulator

NAMES = ("s1", "s2", "s3")


class Net:
    """Three replicas and a FIFO network between them; ``replies`` keeps every answer to a client."""

    def __init__(self, **config) -> None:
        self.nodes = {n: Node(NodeConfig(n, NAMES, election_ticks=1, **config), LogState()) for n in NAMES}
        self.flight: deque[tuple[str, str, object]] = deque()
        self.sent: list[tuple[str, str, object]] = []
        self.replies: list = []

    def handle(self, name: str, event) -> Effects:
        fx = self.nodes[name].handle(event)
        for dst, msg in fx.send:
            self.flight.append((name, dst, msg))
            self.sent.append((name, dst, msg))
        self.replies.extend(reply for _, reply in fx.reply)
        return fx

    def settle(self) -> None:
        while self.flight:
            src, dst, msg = self.flight.popleft()
            self.handle(dst, Receive(src, msg))

    def lead(self, name: str = "s1") -> Node:
        self.handle(name, Timeout(1.0))
        self.settle()
        assert self.nodes[name].role == "leader"
        return self.nodes[name]

    def put(self, name: str, client: str, key: str, value: str, rid: int = 1) -> Effects:
        request = ClientRequest(client=client, request_id=rid, command=("put", (key, value)), src=client)
        return self.handle(name, request)


def accepts(sent: list, src: str, dst: str) -> list[Accept]:
    return [m for s, d, m in sent if s == src and d == dst and isinstance(m, Accept) and m.cmds]


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


fault_ops = st.one_of(
    st.builds(Run, st.integers(1, 12)),
    st.builds(Deliver, st.integers(0, 2**16)),
    st.builds(Drop, st.integers(0, 2**16)),
    st.builds(Duplicate, st.integers(0, 2**16)),
    st.builds(Crash, st.integers(0, 2)),
    st.builds(Restart, st.integers(0, 2)),
    st.builds(Fire, st.integers(0, 2)),
    st.builds(Request, st.integers(0, 2), st.integers(0, 4)),
)


@settings(max_examples=80, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(fault_ops, min_size=5, max_size=80))
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


def ask(node: Node, client: str, op: str, *args, rid: int = 1, src: str = "c") -> list[Reply]:
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

    def refused(command, rid=7, client="c") -> Reply:
        [(src, reply)] = node.handle(ClientRequest(client=client, request_id=rid, command=command, src="from")).reply
        assert src == "from" and reply.status == REFUSED
        return reply

    assert refused(("get",)).rid == 7 and "get takes 1 argument" in refused(("get", ())).result
    assert "unknown operation" in refused(("get", ("k",), "extra")).result
    assert "unknown operation" in refused("get k").result
    assert refused(("get", ("k",)), rid=-1).rid == 0 and refused(("get", ("k",)), rid=2**63).rid == 0
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
        follower.handle(Receive("s2", Accept("s2", 2, 1, [], 0)))
        follower.handle(Timeout())
    assert follower.role == "follower" and follower.state.bal_max_known == 0


def test_a_deposed_leader_answers_queued_commands_not_leader_and_logged_ones_unknown():
    net = Net(batch=1, window=1)
    leader = net.lead()
    net.put("s1", "a", "k", "1")  # logged, in flight
    net.put("s1", "b", "k", "2")  # waits for room in the window
    net.flight.clear()
    fx = net.handle("s1", Receive("s2", Prepare("s2", 5, 1)))
    answers = {reply.client: (reply.status, reply.leader) for _, reply in fx.reply}
    assert answers == {"a": (UNKNOWN, "s2"), "b": (NOT_LEADER, "s2")}
    assert leader.role == "follower" and not leader.queue and not leader.waiting and not leader.in_flight


def test_a_retransmitted_accept_is_acknowledged_again_and_commits_when_the_first_answer_was_lost():
    net = Net()
    net.lead()
    net.put("s1", "a", "k", "1")
    net.flight = deque((s, d, m) for s, d, m in net.flight if d != "s3")  # s3 never hears of it
    to_s2 = [(s, d, m) for s, d, m in net.flight if d == "s2"]
    net.handle("s2", Receive("s1", to_s2[0][2]))
    net.flight.clear()  # s2's Accepted lost
    assert net.nodes["s1"].state.commit == 0
    net.handle("s1", Timeout())  # the heartbeat sends the unvoted slot again
    assert {d for _, d, m in net.flight if isinstance(m, Accept) and m.cmds} == {"s2", "s3"}
    net.settle()
    assert net.nodes["s1"].state.commit == 1 and [r.client for r in net.replies] == ["a"]
    net.handle("s1", Timeout())
    net.settle()
    assert {n.state.commit for n in net.nodes.values()} == {1}  # the heartbeat tells the followers


def test_a_leader_fills_a_hole_below_its_last_slot_with_a_noop():
    net = Net()
    net.lead("s2")
    # s2 leads ballot 2 and learns of a vote in slot 3 only: slots 1 and 2 are holes
    vote = Inst(ACCEPTING, Command("a", 1, "put", ("k", "v"), 1.0), 1, Command("a", 1, "put", ("k", "v"), 1.0))
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

"""Reads under a leader lease (impl/multipaxos/lease.py): answered from the
leader's state while a majority promised to help no other leader, and never
from stale state by a leader that was deposed, partitioned away or paused.
Sans-I/O: every event is handed its time, nothing sleeps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paxoscope.impl.clusterfile import HOST, ClusterDescription, ClusterError, NodeInfo, load_cluster, write_cluster
from paxoscope.impl.multipaxos.config import cluster_config
from paxoscope.impl.multipaxos.core import LogState, Node, NodeConfig
from paxoscope.impl.multipaxos.kvstate import Command
from paxoscope.impl.multipaxos.lease import DRIFT, LEASE, Lease, held
from paxoscope.impl.multipaxos.messages import CODEC, OK, Accept, Accepted, Prepare, Reply
from paxoscope.impl.multipaxos.runtime import PROTOCOL, lease_left, status_fields
from paxoscope.impl.protocol import ClientRequest, Effects, Receive, Timeout

from paxoscope.cli import main

NAMES = ("n1", "n2", "n3")
START = 100.0  # every replica's clock at its first event; a replica then helps no leader for LEASE
ELECTED = START + 0.2  # n1 stands (and is elected) then


@dataclass
class Cluster:
    """Three replicas wired by hand: each event is handled at an explicit time; a cut link loses what it carries."""

    lease: float = LEASE
    nodes: dict[str, Node] = field(default_factory=dict)
    disks: dict[str, LogState] = field(default_factory=dict)
    wire: list[tuple[str, str, object]] = field(default_factory=list)
    cut: set[tuple[str, str]] = field(default_factory=set)
    rid: int = 0

    def __post_init__(self) -> None:
        for name in NAMES:
            self.disks[name] = LogState()
            self.nodes[name] = Node(self.config(name), LogState())
            self.tick(name, START)

    def config(self, name: str) -> NodeConfig:
        return NodeConfig(name=name, nodes=NAMES, election_ticks=1, lease=self.lease)

    def handle(self, name: str, event: object, at: float) -> Effects:
        fx = self.nodes[name].handle(event, at)
        self.disks[name] = self.disks[name].after(fx.persist or [])
        self.wire += [(name, dest, msg) for dest, msg in fx.send]
        return fx

    def tick(self, name: str, at: float) -> Effects:
        return self.handle(name, Timeout(), at)

    def flush(self, at: float, among: tuple[str, ...] = NAMES) -> None:
        """Deliver every message between replicas of ``among`` over a link not cut, at ``at``, until none is left."""
        while True:
            ready = [w for w in self.wire if w[0] in among and w[1] in among and (w[0], w[1]) not in self.cut]
            if not ready:
                return
            self.wire = [w for w in self.wire if w not in ready]
            for src, dest, msg in ready:
                self.handle(dest, Receive(src, msg), at)

    def partition(self, name: str) -> None:
        self.cut |= {(name, other) for other in NAMES} | {(other, name) for other in NAMES}
        self.cut -= {(name, name)}
        self.wire = [w for w in self.wire if (w[0], w[1]) not in self.cut]

    def ask(self, name: str, op: str, args: tuple, at: float) -> Effects:
        self.rid += 1
        return self.handle(name, ClientRequest(client="c", request_id=self.rid, command=(op, args), src="c"), at)

    def restart(self, name: str) -> None:
        self.nodes[name] = Node(self.config(name), self.disks[name])


def answer(fx: Effects) -> Reply | None:
    return next((msg for _, msg in fx.reply if msg.status == OK), None)


class Unleased(Cluster):
    """Replicas configured with the defaults, which name no lease."""

    def config(self, name: str) -> NodeConfig:
        return NodeConfig(name=name, nodes=NAMES, election_ticks=1)


def elected(lease: float = LEASE, cluster: type[Cluster] = Cluster) -> Cluster:
    """n1 leads, with ``k = v`` committed and a heartbeat every replica acknowledged at ELECTED + 0.01."""
    c = cluster(lease)
    c.tick("n1", ELECTED)  # stands
    c.flush(ELECTED)
    assert c.nodes["n1"].role == "leader"
    fx = c.ask("n1", "put", ("k", "v"), ELECTED)
    c.flush(ELECTED)
    assert c.nodes["n1"].state.commit == 1 and answer(fx) is None  # answered once durable, by the host
    c.tick("n1", ELECTED + 0.01)
    c.flush(ELECTED + 0.01)
    return c


# -- the lease answers reads without the log ------------------------------------------------


def test_a_read_under_a_lease_that_holds_is_answered_at_once_without_a_log_round_trip():
    c = elected()
    fx = c.ask("n1", "get", ("k",), ELECTED + 0.05)
    assert answer(fx) == Reply("c", c.rid, OK, "v", "n1")
    assert not fx.send and fx.persist is None  # no Accept, no record: the log is not involved


def test_without_a_lease_the_same_read_goes_through_the_log():
    c = elected(lease=0.0)
    fx = c.ask("n1", "get", ("k",), ELECTED + 0.05)
    assert answer(fx) is None and any(isinstance(m, Accept) and m.cmds for _, m in fx.send)
    c.flush(ELECTED + 0.05)
    assert c.nodes["n1"].state.commit == 2  # the read took a slot


def test_a_replica_configured_with_the_defaults_reads_through_the_log():
    c = elected(cluster=Unleased)
    fx = c.ask("n1", "get", ("k",), ELECTED + 0.05)
    assert answer(fx) is None and any(isinstance(m, Accept) and m.cmds for _, m in fx.send)


def test_the_lease_ends_when_no_majority_acknowledged_it_lately_and_reads_go_back_to_the_log():
    c = elected()
    acked = ELECTED + 0.01
    end = acked + held(LEASE)
    assert answer(c.ask("n1", "get", ("k",), end - 0.001)) is not None
    fx = c.ask("n1", "get", ("k",), end)
    assert answer(fx) is None and any(isinstance(m, Accept) and m.cmds for _, m in fx.send)


def test_an_accept_broadcast_to_every_replica_is_stamped_once():
    c = elected()
    fx = c.ask("n1", "put", ("k", "w"), ELECTED + 0.02)
    accepts = [m for _, m in fx.send if isinstance(m, Accept)]
    assert len(accepts) == 2 and accepts[0] is accepts[1] and accepts[0].sent == ELECTED + 0.02


def test_the_leader_counts_from_when_it_sent_not_from_when_the_acknowledgement_came():
    c = elected()
    sent = ELECTED + 0.02
    c.tick("n1", sent)  # the heartbeat leaves at `sent`; its acknowledgements come back late
    c.flush(sent + 0.1)
    assert c.nodes["n1"].lease.expires(2) == pytest.approx(sent + held(LEASE))


# -- a deposed leader never answers from stale state -------------------------------------------


def depose_n1(c: Cluster, at: float) -> None:
    """n1 cut off; n2 stands at ``at`` with n3's promise and commits ``k = w2``."""
    c.partition("n1")
    c.tick("n2", at)
    c.flush(at)
    assert c.nodes["n2"].role == "leader"
    c.ask("n2", "put", ("k", "w2"), at)
    c.flush(at)
    assert c.nodes["n2"].state.commit == 2 and c.nodes["n2"].kv.kv == {"k": "w2"}


def test_a_partitioned_leader_is_not_replaced_while_its_lease_holds():
    c = elected()
    c.cut.add(("n1", "n2"))
    heartbeat = ELECTED + 0.05
    c.tick("n1", heartbeat)  # n3 takes it (promised until heartbeat + LEASE), n2 does not
    c.flush(heartbeat)
    c.partition("n1")
    during = ELECTED + 0.01 + LEASE + 0.001  # n2's own promise is over, n3's and n1's lease are not
    assert c.nodes["n1"].lease.remaining(c.nodes["n1"].state.bal_prepared, 2, during) is not None
    c.tick("n2", during)
    c.flush(during)
    assert c.nodes["n2"].role == "candidate"  # n3 refused its Prepare
    assert c.nodes["n3"].state.leader == "n1"
    c.tick("n2", heartbeat + LEASE)  # the promise ran out: n2 stands again and is elected
    c.flush(heartbeat + LEASE)
    assert c.nodes["n2"].role == "leader"


def test_a_partitioned_leader_answers_no_read_from_stale_state_once_another_leads():
    c = elected()
    later = ELECTED + 0.01 + LEASE  # the promises have run out: n2 is elected and writes
    depose_n1(c, later)
    old = c.nodes["n1"]
    assert old.role == "leader"  # as far as it knows
    fx = c.ask("n1", "get", ("k",), later)
    assert answer(fx) is None  # not "v": the read waits for the log, where n1 can gather no majority


@pytest.mark.parametrize("n2_missed_the_last_heartbeat", [True, False])
def test_at_no_time_does_the_cut_off_leader_answer_a_read_once_another_committed_a_write(n2_missed_the_last_heartbeat):
    c = elected()
    if n2_missed_the_last_heartbeat:
        c.cut.add(("n1", "n2"))
    c.tick("n1", ELECTED + 0.05)
    c.flush(ELECTED + 0.05)
    c.partition("n1")
    for k in range(2, 60):  # every 10 ms: n2 tries to take over and write; n1 is asked to read
        t = ELECTED + k * 0.01
        c.tick("n2", t)
        c.flush(t)
        if c.nodes["n2"].role == "leader" and c.nodes["n2"].state.commit < 2:
            c.ask("n2", "put", ("k", "w2"), t)
            c.flush(t)
        if answer(c.ask("n1", "get", ("k",), t)) is not None:
            assert c.nodes["n2"].state.commit < 2, f"n1 answered from stale state at {t:.2f}"
    assert c.nodes["n2"].kv.kv == {"k": "w2"}  # the takeover did happen


def test_a_paused_leader_resumes_with_an_expired_lease():
    c = elected()
    c.tick("n1", ELECTED + 0.02)  # a heartbeat out just before the pause; n1 handles nothing until it resumes
    c.flush(ELECTED + 0.02, among=("n2", "n3"))  # they take it: promised until ELECTED + 0.02 + LEASE
    depose_n1(c, ELECTED + 0.02 + LEASE)  # while n1 is stopped, the links to it are as good as cut
    c.cut.clear()
    fx = c.ask("n1", "get", ("k",), ELECTED + 5.0)  # its first event once resumed: a read that waited
    assert answer(fx) is None


def test_a_late_acknowledgement_after_a_pause_does_not_renew_the_lease():
    c = elected()
    c.tick("n1", ELECTED + 0.02)
    heartbeat_acks = []
    for src, dest, msg in list(c.wire):  # the followers take the heartbeat; their answers are held back
        c.wire.remove((src, dest, msg))
        fx = c.nodes[dest].handle(Receive(src, msg), ELECTED + 0.02)
        heartbeat_acks += [(dest, m) for _, m in fx.send]
    resumed = ELECTED + 5.0
    for src, msg in heartbeat_acks:
        c.handle("n1", Receive(src, msg), resumed)
    assert answer(c.ask("n1", "get", ("k",), resumed)) is None


# -- promises, restarts, and the leader's first commit ---------------------------------------


def test_a_restarted_replica_helps_no_leader_for_a_lease_after_it_starts():
    c = elected()
    c.restart("n3")  # it forgot the promise it made to n1
    back = ELECTED + 1.0
    c.tick("n3", back)  # its first event: from here it waits LEASE
    c.partition("n1")
    c.tick("n2", back + 0.01)
    c.flush(back + 0.01)
    assert c.nodes["n2"].role == "candidate"
    c.tick("n2", back + LEASE + 0.01)
    c.flush(back + LEASE + 0.01)
    assert c.nodes["n2"].role == "leader"


def test_a_follower_under_its_promise_does_not_stand():
    c = elected()
    fx = c.tick("n2", ELECTED + 0.05)
    assert not any(isinstance(m, Prepare) for _, m in fx.send)
    fx = c.tick("n2", ELECTED + 0.01 + LEASE)
    assert any(isinstance(m, Prepare) for _, m in fx.send)


def test_a_new_leader_reads_under_its_lease_only_once_it_committed_what_it_took_over():
    lease = Lease(LEASE)
    lease.clock(10.0)
    lease.lead("n1", 4, last_slot=7)
    lease.acknowledged("n2", 4, 10.0)
    assert lease.remaining(4, 2) == pytest.approx(held(LEASE))
    assert not lease.readable(4, 2, commit=6, applied=6)  # slot 7 may hold a command chosen before
    assert not lease.readable(4, 2, commit=7, applied=6)  # committed, not yet applied
    assert lease.readable(4, 2, commit=7, applied=7)
    assert not lease.readable(5, 2, commit=7, applied=7)  # another ballot's lease


def test_acknowledgements_count_only_in_the_leaders_ballot_and_with_a_stamp():
    lease = Lease(LEASE)
    lease.clock(10.0)
    lease.lead("n1", 4, last_slot=0)
    lease.acknowledged("n2", 3, 10.0)  # an older ballot's
    lease.acknowledged("n3", 4, 0.0)  # promised nothing
    assert lease.expires(2) is None
    lease.acknowledged("n3", 4, 9.9)
    lease.acknowledged("n3", 4, 9.5)  # an older Accept's, late: the later stamp stands
    assert lease.expires(2) == pytest.approx(9.9 + held(LEASE))
    assert lease.expires(3) is None  # five replicas would need two acknowledgements
    lease.acknowledged("n2", 4, 10.5)  # ahead of this clock: sent before a reboot, when it read more
    assert lease.expires(2) == pytest.approx(9.9 + held(LEASE))


def test_the_drift_allowance_leaves_the_leader_a_shorter_lease_than_any_promise_in_real_time():
    leader_rate, follower_rate = 1 - DRIFT, 1 + DRIFT  # the leader's clock slow, a follower's fast
    assert held(LEASE) / leader_rate <= LEASE / follower_rate + 1e-12
    assert held(LEASE) < LEASE


def test_a_lease_off_promises_nothing_and_stamps_nothing():
    c = elected(lease=0.0)
    c.tick("n1", ELECTED + 0.02)
    assert all(m.sent == 0.0 for _, _, m in c.wire)
    assert not c.nodes["n2"].lease.binds()


# -- the wire and the status ------------------------------------------------------------------


def test_stamps_cross_the_wire_and_a_bad_one_is_refused():
    for msg in (Accept("n1", 3, 1, [], 0, 12.5), Accepted("n2", 3, 1, 0, 0, 12.5)):
        assert CODEC.decode(CODEC.encode(msg)[4:]) == msg
    frame = CODEC.encode(Accept("n1", 3, 1, [], 0, 12.5))[4:].replace(b"12.5", b"-1")
    with pytest.raises(ValueError, match="sent"):
        CODEC.decode(frame)


def test_status_shows_the_leaders_lease_and_no_lease_for_a_follower():
    c = elected()
    leader, follower = c.nodes["n1"], c.nodes["n2"]
    acked = ELECTED + 0.01
    assert lease_left(leader, acked + 0.1) == pytest.approx(held(LEASE) - 0.1, abs=0.001)
    assert lease_left(leader, acked + held(LEASE)) is None  # ran out
    assert lease_left(follower, acked + 0.1) is None
    reply = PROTOCOL.status_reply("n2", follower, None, None)
    assert status_fields(reply)["lease"] is None and status_fields(reply)["role"] == "follower"
    assert CODEC.decode(CODEC.encode(replace(reply, lease=0.05))[4:]).lease == 0.05


# -- any schedule: an answer given at once is never stale ---------------------------------------

steps = st.lists(
    st.tuples(
        st.sampled_from(["tick", "deliver", "drop", "cut", "heal", "put", "get", "restart"]),
        st.sampled_from(NAMES),
        st.floats(0.0, 0.12),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_under_any_timing_a_read_answered_at_once_reflects_every_committed_write(schedule):
    c = Cluster()
    now = START
    for kind, name, dt in schedule:
        now += dt
        if kind == "tick":
            c.tick(name, now)
        elif kind in ("deliver", "drop"):
            mine = [w for w in c.wire if w[1] == name and (w[0], w[1]) not in c.cut]
            if mine:
                c.wire.remove(mine[0])
                if kind == "deliver":
                    c.handle(name, Receive(mine[0][0], mine[0][2]), now)
        elif kind == "cut":
            c.partition(name)
        elif kind == "heal":
            c.cut.clear()
        elif kind == "put":
            c.ask(name, "put", ("k", f"v{c.rid}"), now)
        elif kind == "restart":
            c.restart(name)
        else:
            fx = c.ask(name, "get", ("k",), now)
            got = answer(fx)
            if got is not None:
                reader = c.nodes[name]
                newest = max(c.nodes.values(), key=lambda n: n.state.commit)
                assert reader.applied >= newest.state.commit, "answered from stale state"
                assert got.result == newest_value(newest)


def newest_value(node: Node) -> str | None:
    value = None
    for slot in range(1, node.state.commit + 1):
        cmd: Command | None = node.state.insts[slot].cmd if slot in node.state.insts else None
        if cmd is not None and cmd.op == "put":
            value = cmd.args[1]
    return value


# -- the switch: cluster start --reads lease|log ----------------------------------------------------


def test_a_cluster_reads_under_the_lease_by_default_and_through_the_log_when_told(tmp_path):
    nodes = tuple(NodeInfo(n, HOST, 1, tmp_path / n) for n in NAMES)
    default = ClusterDescription(nodes, protocol="multipaxos")
    assert cluster_config(default, "n1").lease == LEASE
    path = tmp_path / "cluster.json"
    write_cluster(path, replace(default, reads="log"))
    assert load_cluster(path).reads == "log" and cluster_config(load_cluster(path), "n1").lease == 0.0
    write_cluster(path, default)
    assert "reads" not in json.loads(path.read_text())  # a default cluster.json is as it was
    path.write_text(path.read_text().replace('"bugs"', '"reads": "quorum", "bugs"'))
    with pytest.raises(ClusterError, match="'reads' must be one of lease, log, not 'quorum'"):
        load_cluster(path)


def test_reads_are_refused_for_a_protocol_that_serves_none(tmp_path, capsys):
    assert main(["cluster", "start", "--protocol", "paxos", "--reads", "log", "--data", str(tmp_path / "c")]) == 2
    assert "paxos serves no reads" in capsys.readouterr().err
    assert not (tmp_path / "c" / "cluster.json").exists()

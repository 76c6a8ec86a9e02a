"""The nemesis: link proxies, process faults, the fault schedule, client histories and their verdicts."""

from __future__ import annotations

import json
import os
import random
import socket
import socketserver
import threading
import time
from pathlib import Path

import pytest
from paxoscope.explorer.histories import load
from paxoscope.explorer.lincheck import LINEARIZABLE, NOT_LINEARIZABLE, check
from paxoscope.impl.clusterfile import HOST, ClusterDescription, NodeInfo, load_cluster, write_cluster
from paxoscope.impl.framing import HEADER
from paxoscope.impl.nemesis import run as nemesis
from paxoscope.impl.nemesis.faults import KILL, KINDS, LEADER, PARTITION, Fault, schedule
from paxoscope.impl.nemesis.history import FAIL, INFO, INVOKE, OK, History
from paxoscope.impl.nemesis.proxy import LinkProxies
from paxoscope.impl.nemesis.workload import Refused, lost_writes

from paxoscope.cli import main

# -- proxies --------------------------------------------------------------------------------


class _Echo(socketserver.BaseRequestHandler):
    """Sends every frame back; counts the frames it got."""

    received: list[bytes]

    def handle(self) -> None:
        sock = self.request
        try:
            while True:
                header = _exactly(sock, HEADER.size)
                payload = _exactly(sock, HEADER.unpack(header)[0])
                self.server.received.append(payload)  # type: ignore[attr-defined]
                sock.sendall(header + payload)
        except ConnectionError:
            pass


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError
        data += chunk
    return data


def _frame(text: str) -> bytes:
    return HEADER.pack(len(text)) + text.encode()


def _wait_for(condition, what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer((HOST, 0), _Echo)
    server.daemon_threads = True
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_cut_drops_whole_frames_one_way_and_a_heal_lets_them_through_on_the_same_connection(echo):
    address = echo.server_address
    with LinkProxies(["a", "b"], lambda name: address) as proxies:
        with socket.create_connection(proxies.address("a", "b"), timeout=10) as sock:
            sock.sendall(_frame("one"))
            assert _exactly(sock, 7) == _frame("one")

            proxies.cut("b", "a")  # b's answers to a are lost; a's requests still reach b
            sock.sendall(_frame("two"))
            _wait_for(lambda: proxies.dropped == 1, "the answer was not dropped")
            assert echo.received == [b"one", b"two"]

            proxies.heal()
            proxies.cut("a", "b")  # now a's requests are lost before they reach b
            sock.sendall(_frame("three"))
            _wait_for(lambda: proxies.dropped == 2, "the request was not dropped")
            assert echo.received == [b"one", b"two"]

            proxies.heal()
            sock.sendall(_frame("four"))
            assert _exactly(sock, 8) == _frame("four")  # the stream is still in step
            assert echo.received == [b"one", b"two", b"four"]


def test_isolating_a_node_cuts_its_links_both_ways_and_no_other():
    with LinkProxies(["a", "b", "c"], lambda name: (HOST, 1)) as proxies:
        proxies.isolate("a")
        assert proxies.cuts == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")}
        proxies.heal()
        proxies.split(["a", "b"])
        assert proxies.cuts == {("a", "c"), ("c", "a"), ("b", "c"), ("c", "b")}


def test_a_nodes_dial_entry_survives_cluster_json_and_routes_only_its_own_peer_traffic(tmp_path):
    nodes = (
        NodeInfo("n1", HOST, 5001, tmp_path / "n1", dial=(("n2", HOST, 6012),)),
        NodeInfo("n2", HOST, 5002, tmp_path / "n2"),
    )
    write_cluster(tmp_path / "cluster.json", ClusterDescription(nodes))
    cluster = load_cluster(tmp_path / "cluster.json")
    assert [(n.name, n.port) for n in cluster.peers_of("n1")] == [("n1", 5001), ("n2", 6012)]
    assert [(n.name, n.port) for n in cluster.peers_of("n2")] == [("n1", 5001), ("n2", 5002)]
    assert "dial" not in json.loads((tmp_path / "cluster.json").read_text())["nodes"][1]


# -- the schedule -----------------------------------------------------------------------------


def test_a_schedule_is_drawn_from_its_seed_bounded_in_count_and_healed_before_the_end():
    nodes = ("n1", "n2", "n3")
    first = schedule(7, 60, nodes)
    assert first == schedule(7, 60, nodes)
    assert first != schedule(8, 60, nodes)
    assert {f.kind for f in first} == set(KINDS)
    assert all(f.until <= 60 for f in first)
    assert all(a.until < b.at for a, b in zip(first, first[1:]))  # one fault at a time
    assert len(schedule(7, 60, nodes, max_faults=3)) == 3
    assert {f.kind for f in schedule(7, 60, nodes, kinds=[KILL])} == {KILL}


# -- histories ---------------------------------------------------------------------------------


def _two_clients(stale: bool) -> History:
    """Client 0 writes x then y; client 1 then reads, and once a stale value if ``stale``."""
    h = History()
    h.add(0, INVOKE, "put", "k", "x")
    h.add(0, OK, "put", "k", "x")
    h.add(0, INVOKE, "cas", "k", ("x", "y"))
    h.add(0, OK, "cas", "k", ("x", "y"))
    h.add(1, INVOKE, "get", "k")
    h.add(1, OK, "get", "k", "x" if stale else "y")
    h.add(0, INVOKE, "cas", "k", ("x", "z"))
    h.add(0, FAIL, "cas", "k", ("x", "z"))
    h.add(2, INVOKE, "delete", "k")
    h.add(2, INFO, "delete", "k")
    h.add("nemesis", "info", "kill", value="kill n1")
    return h


@pytest.mark.parametrize("stale", [False, True])
def test_the_recorded_edn_is_read_back_by_lincheck_with_the_right_verdict(tmp_path, stale):
    path = _two_clients(stale).write_edn(tmp_path / "history.edn")
    model, ops = load(path)  # the model inferred from the file: keys with cas and delete
    assert model.name == "kv-store"
    assert check(model, ops).verdict == (NOT_LINEARIZABLE if stale else LINEARIZABLE)
    code = main(["lincheck", str(path), "--html", str(tmp_path / "h.html")])
    assert code == (1 if stale else 0)
    assert "<svg" in (tmp_path / "h.html").read_text()


def test_a_write_acknowledged_and_then_missing_from_the_final_state_is_lost():
    h = History()
    h.add(0, INVOKE, "put", "k", "a")
    h.add(0, OK, "put", "k", "a")
    h.add(1, INVOKE, "put", "k", "b")  # unknown outcome: it may land after c
    h.add(1, INFO, "put", "k", "b")
    h.add(0, INVOKE, "put", "k", "c")
    h.add(0, OK, "put", "k", "c")
    assert lost_writes(h, {"k": "c"}) == []
    assert lost_writes(h, {"k": "b"}) == []  # b was still in flight when c was called
    assert [e.value for e in lost_writes(h, {"k": "a"})] == ["c"]
    assert [e.value for e in lost_writes(h, {"k": None})] == ["a", "c"]


# -- whole runs against a service in this process --------------------------------------------


class _Service:
    """A key-value store behind one lock; while its leader is down a call is refused, except the first
    two, which time out after they were applied. ``forgets``: the leader, killed, comes back at once without
    the writes it acknowledged since it last came back, as one that answered before its writes were
    durable would."""

    def __init__(self, target: _FakeCluster, number: int):
        self.target, self.rng = target, random.Random(number)

    def _do(self, apply):
        time.sleep(self.rng.uniform(0, 0.003))
        with self.target.lock:
            if self.target.down:
                if self.target.timeouts_left == 0:
                    raise Refused("no leader")
                self.target.timeouts_left -= 1  # a few calls time out after all, and were applied
                apply(self.target.table)
                raise TimeoutError("no answer")
            result = apply(self.target.table)
        time.sleep(self.rng.uniform(0, 0.003))
        return result

    def get(self, key):
        return self._do(lambda t: t.get(key))

    def put(self, key, value):
        self._do(lambda t: t.__setitem__(key, value))

    def delete(self, key):
        self._do(lambda t: t.pop(key, None))

    def cas(self, key, old, new):
        def swap(t):
            if t.get(key) != old:
                return False
            t[key] = new
            return True

        return self._do(swap)

    def close(self):
        pass


class _FakeCluster:
    nodes = ("n1", "n2", "n3")

    def __init__(self, forgets: bool = False):
        self.forgets = forgets
        self.lock = threading.Lock()
        self.table: dict = {}
        self.durable: dict = {}
        self.down = False
        self.timeouts_left = 0
        self.stopped = False

    def start(self):
        pass

    def stop(self):
        self.stopped = True

    def connect(self, number):
        return _Service(self, number)

    def leader(self):
        return "n1"

    def kill(self, node):
        with self.lock:
            if node == "n1" and self.forgets:  # it comes back at once, with what it had made durable
                self.table = dict(self.durable)
            else:
                self.down = node == "n1"
                self.timeouts_left = 2

    def revive(self, node):
        with self.lock:
            self.down = False
            self.durable = dict(self.table)

    pause, resume = kill, revive

    def restart(self, node):
        pass

    def partition(self, fault, node):
        self.kill(node)

    def heal(self):
        self.revive("n1")

    def stored_states(self):
        return None

    def replica_states(self):
        with self.lock:
            return dict.fromkeys(self.nodes, tuple(sorted(self.table.items())))


LEADER_KILLS = [
    Fault(0.3, KILL, LEADER, 0.6),
    Fault(0.9, KILL, LEADER, 1.2),
    Fault(1.5, PARTITION, "n2", 1.7, "isolate"),
]


def test_a_run_against_a_correct_service_is_linearizable_with_nothing_lost_and_stops_its_target():
    target = _FakeCluster()
    result = nemesis.run(target, seconds=2.0, clients=4, seed=1, faults=LEADER_KILLS)
    assert target.stopped
    assert result.check.verdict == LINEARIZABLE
    assert result.lost == [] and result.replicas_equal and result.ok
    assert [f.node for f in result.faults] == ["n1", "n1", "n2"]
    assert {"put:ok", "get:ok", "put:fail", "get:fail"} <= set(result.counts)
    assert any(outcome.endswith(":info") for outcome in result.counts)
    assert [kind for kind, _ in result.unavailable] == [KILL, KILL]


def test_a_service_that_forgets_acknowledged_writes_is_caught(tmp_path):
    target = _FakeCluster(forgets=True)
    history = tmp_path / "history.edn"
    result = nemesis.run(target, seconds=2.0, clients=4, seed=1, faults=LEADER_KILLS, history_file=history)
    assert result.check.verdict == NOT_LINEARIZABLE and not result.ok
    assert main(["lincheck", str(history)]) == 1  # the file written says so too


# -- a real local cluster: its peers through the proxies, its processes killed and paused ------------


def test_a_local_clusters_peer_traffic_goes_through_the_proxies_and_its_processes_take_signals(tmp_path):
    from paxoscope.impl.client import NoDecision, cluster_status, propose
    from paxoscope.impl.nemesis.cluster import LocalCluster

    cluster = LocalCluster(tmp_path, "paxos")
    try:
        cluster.start()
        pids = {name: cluster.pid(name) for name in cluster.nodes}
        cluster.proxies.isolate("n1")  # n1 alone cannot reach a quorum: nothing is chosen through it
        with pytest.raises(NoDecision):
            propose(tmp_path, "v1", timeout=2.0, patience=5.0)
        assert cluster.proxies.dropped > 0
        cluster.heal()
        cluster.kill("n3")
        assert cluster.pid("n3") is None
        assert propose(tmp_path, "v2", timeout=10.0)[0] == "v2"  # a majority is left
        cluster.revive("n3")
        cluster.pause("n2")
        answered = {info.name: reply is not None for info, reply in cluster_status(tmp_path, timeout=0.5)}
        assert answered == {"n1": True, "n2": False, "n3": True}
        assert cluster.pid("n3") not in (None, pids["n3"])
    finally:
        cluster.stop()
    assert all(n.pid is None for n in load_cluster(Path(tmp_path) / "cluster.json").nodes)
    assert cluster.paused == set()


# -- the replicated key-value service under the nemesis ---------------------------------------------


def test_a_short_nemesis_run_against_the_key_value_service_is_linearizable_and_loses_nothing(tmp_path):
    from paxoscope.impl.nemesis.faults import ISOLATE, PAUSE
    from paxoscope.impl.nemesis.service import local_cluster

    faults = [
        Fault(0.5, KILL, LEADER, 1.5),
        Fault(2.0, PARTITION, LEADER, 3.0, ISOLATE),
        Fault(3.3, PAUSE, "n2", 4.0),
    ]
    target = local_cluster(tmp_path / "cluster", "multipaxos")
    # Five clients: the odd ones talk to one replica each; the final reads find the leader wherever it is.
    result = nemesis.run(target, seconds=5.0, clients=5, seed=5, faults=faults, history_file=tmp_path / "h.edn")
    assert [f.fault.kind for f in result.faults] == [KILL, PARTITION, PAUSE]
    assert result.faults[0].was_leader and result.faults[1].was_leader
    assert result.check.verdict == LINEARIZABLE
    assert result.lost == [] and result.replicas_equal
    assert result.counts.get("put:ok", 0) > 0 and result.answered_after_heal  # before and after the faults
    assert not any(load_cluster(tmp_path / "cluster" / "cluster.json").nodes[i].pid for i in range(3))
    assert main(["lincheck", str(tmp_path / "h.edn")]) == 0


def test_the_nemesis_command_reports_in_json_and_refuses_what_it_cannot_attack(tmp_path, capsys):
    code = main(
        ["nemesis", "--data", str(tmp_path / "c"), "--seconds", "2", "--clients", "2", "--faults", "", "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["verdict"] == LINEARIZABLE
    assert report["faults"] == [] and report["lost_writes"] == [] and report["replicas_equal"]
    assert sum(report["operations"]["put"].values()) > 0
    assert main(["nemesis", "--data", str(tmp_path / "c"), "--seconds", "1"]) == 2  # holds a cluster already
    assert "holds a cluster already" in capsys.readouterr().err
    assert main(["nemesis", "--data", str(tmp_path / "p"), "--protocol", "paxos"]) == 2
    assert "serves no key-value store" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["nemesis", "--data", str(tmp_path / "q"), "--faults", "kill,flood"])
    assert exit.value.code == 2


def test_a_leader_that_answers_reads_alone_is_caught_once_it_is_cut_off(tmp_path):
    from paxoscope.impl.nemesis.faults import ISOLATE
    from paxoscope.impl.nemesis.service import local_cluster

    # Cut off for 6 s: well past the failure detector's half second and the election after it, so the
    # new leader has committed writes while the old one still answers its clients' reads. Whether a
    # client reads a key there after the new leader wrote it, before its own next write moves it to
    # the new leader, is up to the run's timing (about four runs in five): as benchmarks/nemesis.py
    # --until-caught does, another seed is tried when a run shows nothing.
    faults = [Fault(1.0, PARTITION, LEADER, 7.0, ISOLATE)]
    for seed in (2, 3, 4):
        target = local_cluster(tmp_path / f"cluster{seed}", "multipaxos", bugs=frozenset({"stale-leader-read"}))
        result = nemesis.run(target, seconds=8.0, clients=10, seed=seed, faults=faults)
        assert result.faults[0].was_leader
        if result.check.verdict == NOT_LINEARIZABLE:
            break
    assert result.check.verdict == NOT_LINEARIZABLE and not result.ok
    assert any(op.input[0] == "get" for op in result.check.failure.operations)


def test_an_interrupted_nemesis_stops_every_process_it_started(tmp_path):
    import signal
    import subprocess
    import sys

    data = tmp_path / "c"
    command = [sys.executable, "-m", "paxoscope.cli", "nemesis", "--data", str(data), "--seconds", "60"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "replicas up" in line:
                break
        pids = [n.pid for n in load_cluster(data / "cluster.json").nodes]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    assert all(n.pid is None for n in load_cluster(data / "cluster.json").nodes)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _verdict(events: list[tuple]) -> str:
    from paxoscope.explorer.histories import from_records

    records = [{"process": p, "type": t, "f": f, "key": "k", "value": v} for p, t, f, v in events]
    return check(*from_records(records, "kv-store")).verdict


def test_the_kv_store_model_reads_nil_after_a_delete_and_a_failed_cas_changes_nothing():
    put = [(0, "invoke", "put", "a"), (0, "ok", "put", "a")]
    delete = [(0, "invoke", "delete", None), (0, "ok", "delete", None)]
    assert _verdict(put + delete + [(1, "invoke", "get", None), (1, "ok", "get", None)]) == LINEARIZABLE
    assert _verdict(put + delete + [(1, "invoke", "get", None), (1, "ok", "get", "a")]) == NOT_LINEARIZABLE
    cas = [(1, "invoke", "cas", ["a", "b"]), (1, "ok", "cas", ["a", "b"])]
    assert _verdict(put + cas + [(2, "invoke", "get", None), (2, "ok", "get", "b")]) == LINEARIZABLE
    assert _verdict(delete + cas) == NOT_LINEARIZABLE  # nothing there to compare with
    failed = [(1, "invoke", "cas", ["a", "b"]), (1, "fail", "cas", ["a", "b"])]
    assert _verdict(put + failed + [(2, "invoke", "get", None), (2, "ok", "get", "a")]) == LINEARIZABLE

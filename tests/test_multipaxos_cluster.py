"""The replicated key-value and lock service as real processes: the commands,
fail-over when the leader is killed, catch-up of a restarted replica, bad
frames, and a damaged log refused at start. Every process is stopped in a
``finally``; every wait is bounded; nothing asserts how long anything took."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from paxoscope.impl.client import cluster_status
from paxoscope.impl.clusterfile import ClusterError, load
from paxoscope.impl.multipaxos import PROTOCOL
from paxoscope.impl.multipaxos.client import Indeterminate, KVClient
from paxoscope.impl.supervise import restart_node, start_cluster, stop_cluster


def paxoscope(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def leader_of(data) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leaders = [r.name for _, r in cluster_status(data) if r is not None and r.role == "leader"]
        if len(leaders) == 1:
            return leaders[0]
        time.sleep(0.05)
    raise AssertionError("no single leader within 10 s")


def wait_applied(data, count: int) -> list:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        replies = [r for _, r in cluster_status(data)]
        if all(r is not None and r.applied >= count for r in replies):
            return replies
        time.sleep(0.05)
    raise AssertionError(f"not every replica applied {count} commands within 10 s: {replies}")


def test_the_commands_on_a_three_replica_cluster(tmp_path):
    data = str(tmp_path / "c")
    started = paxoscope("cluster", "start", "--protocol", "multipaxos", "--nodes", "3", "--data", data)
    try:
        assert started.returncode == 0, started.stderr
        assert load(data).protocol == "multipaxos"
        assert paxoscope("kv", "put", "k", "a", "--data", data).stdout == "ok (new key)\n"
        assert paxoscope("kv", "cas", "k", "a", "b", "--data", data).returncode == 0
        failed = paxoscope("kv", "cas", "k", "a", "c", "--data", data)
        assert failed.returncode == 1 and "does not hold 'a'" in failed.stdout
        assert paxoscope("kv", "get", "k", "--data", data).stdout == "b\n"
        assert paxoscope("kv", "delete", "k", "--data", data).returncode == 0
        assert paxoscope("kv", "get", "k", "--data", data).returncode == 1
        assert paxoscope("lock", "acquire", "L", "--ttl", "30", "--data", data).returncode == 0
        held = paxoscope("lock", "acquire", "L", "--session", "other", "--data", data)
        assert held.returncode == 1 and "held by another session" in held.stdout
        assert paxoscope("lock", "release", "L", "--data", data).returncode == 0
        assert paxoscope("lock", "acquire", "L", "--session", "other", "--json", "--data", data).returncode == 0
        status = json.loads(paxoscope("cluster", "status", "--json", "--data", data).stdout)
        roles = sorted(n["role"] for n in status["nodes"])
        assert roles == ["follower", "follower", "leader"] and status["leader"] in {"n1", "n2", "n3"}
        assert all({"name", "pid", "committed", "applied", "snapshot"} <= n.keys() for n in status["nodes"])
    finally:
        stop_cluster(data)


@contextlib.contextmanager
def running(data):
    """A three-replica cluster in ``data``, and a client of it; stopped however the test ends."""
    cluster = start_cluster(data, 3, None, (), 10, PROTOCOL)
    try:
        with KVClient(data, timeout=10) as kv:
            yield cluster, kv
    finally:
        stop_cluster(data)


def test_the_leader_killed_the_client_fails_over_and_the_restarted_replica_catches_up(tmp_path):
    data = tmp_path / "c"
    with running(data) as (cluster, kv):
        for i in range(20):
            kv.put(f"k{i}", str(i))
        leader = leader_of(data)
        os.kill(cluster.node(leader).pid, signal.SIGKILL)
        for i in range(20, 40):
            kv.put(f"k{i}", str(i))  # the client finds the new leader itself
        assert leader_of(data) != leader
        # A garbage frame to a replica: that connection is closed, the replica keeps serving.
        survivor = next(n for n in load(data).nodes if n.name != leader)
        with socket.create_connection((survivor.host, survivor.port), timeout=2) as sock:
            sock.sendall(b"\x00\x00\x00\x05hello")
            assert sock.recv(1) == b""
        assert [kv.get(f"k{i}") for i in (0, 39)] == ["0", "39"]
        restart_node(data, leader, 2, 10)
        wait_applied(data, 40)
    # A damaged log is refused at start, the file named in one line.
    wal = data / "n1" / "log.wal"
    damaged = bytearray(wal.read_bytes())
    damaged[len(damaged) // 3] ^= 0x01
    wal.write_bytes(bytes(damaged))
    with pytest.raises(ClusterError, match=str(wal)):
        start_cluster(data, None, None, (), 10, PROTOCOL)
    stop_cluster(data)


def test_with_no_leader_reachable_a_write_is_not_done_and_says_so(tmp_path):
    with running(tmp_path / "c") as (cluster, kv):
        kv.put("k", "v")
        for n in cluster.nodes[1:]:
            os.kill(n.pid, signal.SIGSTOP)
        try:
            with pytest.raises(Indeterminate):
                KVClient(tmp_path / "c", timeout=1.5, attempt_timeout=0.5).put("k", "w")
        finally:
            for n in cluster.nodes[1:]:
                os.kill(n.pid, signal.SIGCONT)

"""The cluster under hostile input and operator mistakes, on real processes.

Each test reproduces a failure seen in the field (two starts at once, a
deleted store, forged frames, a paused node, a store that cannot be
written, a FIFO where a file belongs, idle connections, a closed pipe) and
asserts what the cluster does instead. Every process is stopped in a
``finally`` (the ``data`` fixture, or the test's own), every wait is
bounded, and nothing asserts how long anything took.

What a test cannot observe: that ``fsync`` reached the disk. Only a power
cut (or a file system that drops unsynced writes, such as dm-flakey) shows
it, and neither fits a test suite. What is tested instead is that the
store calls ``fsync`` on the new file before renaming it and on the
directory after, and that a failing write or ``fsync`` makes the node send
nothing for that step.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import test_net
from hypothesis import given, settings
from hypothesis import strategies as st
from paxoscope.impl import client
from paxoscope.impl.client import propose
from paxoscope.impl.clusterfile import CLUSTER_FILE, HOST, ClusterDescription, NodeInfo, load_cluster, write_cluster
from paxoscope.impl.net import NodeRuntime, RetryPolicy
from paxoscope.impl.paxos.config import cluster_config
from paxoscope.impl.paxos.core import AcceptorState, Node, Receive, Timeout
from paxoscope.impl.paxos.messages import (
    HEADER,
    MAX_FRAME,
    TYPES,
    VALUE_LIMIT,
    Accept,
    Decided,
    MalformedMessage,
    Prepare,
    Propose,
    Status,
    StatusReply,
    decode,
    encode,
    request,
    value_problem,
)
from paxoscope.impl.paxos.store import AcceptorStore
from paxoscope.impl.storage import CorruptStorage
from paxoscope.impl.supervise import start_cluster, stop_cluster
from test_net import TIMEOUT, cli, exchange, free_port, send_and_wait_for_close, statuses, wait_all_decided

data = test_net.data  # the fixture: a cluster directory whose processes are stopped afterwards

WAIT = 10.0  # seconds: the bound on a wait for something that should happen at once


def node_processes(directory: Path) -> set[int]:
    """Pids of every live node process serving the cluster in ``directory`` (started by anyone)."""
    marker = str(directory / CLUSTER_FILE)
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "paxoscope.impl.net" in argv and any(marker in a for a in argv):
            pids.add(int(proc.name))
    return pids


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def run_node(cluster_file: Path, name: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.impl.net", "--name", name, "--cluster", str(cluster_file), *flags],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def stopped_cluster(directory: Path, n: int = 3) -> tuple[NodeInfo, ...]:
    """A cluster that ran once and was stopped: cluster.json and a store per node."""
    directory.mkdir()
    nodes = tuple(NodeInfo(f"n{i}", HOST, free_port(), directory / f"n{i}", started=True) for i in range(1, n + 1))
    write_cluster(directory / CLUSTER_FILE, ClusterDescription(nodes))
    for node in nodes:
        AcceptorStore(node.data).save(AcceptorState())
    return nodes


# ---------------------------------------------------------------------------
# Two starts at once, two processes on one store
# ---------------------------------------------------------------------------


def test_starts_racing_on_one_directory_start_one_cluster(data):
    starters = [
        subprocess.Popen(
            [sys.executable, "-m", "paxoscope.cli", "cluster", "start", "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.returncode, out, err) for p in starters for out, err in [p.communicate(timeout=TIMEOUT)]]
    assert sorted(code for code, _, _ in results) == [0, 2, 2, 2], results
    for code, _, err in results:
        if code == 2:
            line = one_line(err)
            assert "another paxoscope command" in line or "already running" in line, line
    recorded = load_cluster(data / CLUSTER_FILE).nodes
    # Exactly the three recorded nodes run on these stores: no orphan shares them.
    assert node_processes(data) == {n.pid for n in recorded}
    assert client.propose(data, "once", timeout=TIMEOUT)[0] == "once"


def test_a_second_process_on_a_running_nodes_store_refuses_to_start(data):
    n1 = start_cluster(data, 3).nodes[0]
    store_file = n1.data / "acceptor.json"
    before = store_file.read_bytes()
    run = run_node(data / CLUSTER_FILE, "n1")
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert str(n1.data) in line and "another process holds this acceptor store" in line
    assert request(n1.host, n1.port, Status(), StatusReply, timeout=TIMEOUT).name == "n1"
    assert store_file.read_bytes() == before


# ---------------------------------------------------------------------------
# A deleted store
# ---------------------------------------------------------------------------


def test_a_lost_store_is_refused_and_the_node_rejoins_as_a_learner(data):
    nodes = {n.name: n for n in start_cluster(data, 3).nodes}
    # The test runs ballot 5 with n1 and n2 only: "apple" is chosen by {n1, n2},
    # and n3 never heard of it. Forgetting n1's vote would leave {n1, n3}, a
    # quorum that knows nothing, free to choose another value.
    for name in ("n1", "n2"):
        *_, status = exchange(nodes[name], Prepare(5), Accept(5, "apple"))
        assert (status.max_vbal, status.max_val) == (5, "apple")
    stop_cluster(data)
    store_file = nodes["n1"].data / "acceptor.json"
    store_file.unlink()

    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert str(store_file) in line and "missing" in line and "change a value already chosen" in line
    assert "paxoscope cluster rejoin n1" in line
    assert all(n.pid is None for n in load_cluster(data / CLUSTER_FILE).nodes)  # nothing started
    run = run_node(data / CLUSTER_FILE, "n1")  # the node itself refuses too
    assert run.returncode == 2 and str(store_file) in one_line(run.stderr)

    run = cli("cluster", "rejoin", "n1", "--data", str(data))
    assert run.returncode == 0, run.stderr
    assert [n.role for n in load_cluster(data / CLUSTER_FILE).nodes] == ["learner", "acceptor", "acceptor"]
    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 0, run.stderr
    # Asked first, the learner proposes nothing; the next node does, and its
    # quorum {n2, n3} reports n2's vote: apple stays chosen.
    run = cli("propose", "banana", "--data", str(data))
    assert (run.returncode, run.stdout) == (0, "apple\n"), run.stderr
    assert {r.decided for r in wait_all_decided(data).values()} == {"apple"}
    run = cli("cluster", "status", "--data", str(data))
    assert run.returncode == 0 and "n1" in run.stdout and "up (learner)" in run.stdout
    assert not store_file.exists()  # a learner never writes a promise


# ---------------------------------------------------------------------------
# Forged frames
# ---------------------------------------------------------------------------

FORGED = [
    b'{"v":1,"type":"2a","bal":-1,"val":"forged"}',
    b'{"v":1,"type":"1a","bal":' + str(10**4300 - 1).encode() + b"}",
    b'{"v":1,"type":"1a","bal":' + str(2**63).encode() + b"}",
    b'{"v":1,"type":"2a","bal":9223372036854775808,"val":"forged"}',
    b'{"v":1,"type":"1b","acc":"n2","bal":3,"mbal":-1,"mval":"forged"}',
    b'{"v":1,"type":"1b","acc":"n2","bal":3,"mbal":3,"mval":"forged"}',
    b'{"v":1,"type":"2b","acc":"","bal":1,"val":"forged"}',
    b'{"v":1,"type":"nack","acc":"n2","bal":4,"max_bal":3}',
    b'{"v":1,"type":"nack","acc":"n2","bal":4,"max_bal":' + str(2**63).encode() + b"}",
]


@pytest.mark.parametrize("payload", FORGED)
def test_the_decoder_refuses_forged_frames(payload):
    with pytest.raises(MalformedMessage):
        decode(payload)


def test_forged_frames_are_refused_and_the_cluster_still_decides(data):
    nodes = start_cluster(data, 3).nodes
    for node in nodes:
        for payload in FORGED:
            send_and_wait_for_close(node, frame(payload))
    assert all(r.max_bal == -1 for r in statuses(data).values())  # nothing forged reached an acceptor
    assert propose(data, "real", timeout=TIMEOUT)[0] == "real"
    assert {r.decided for r in wait_all_decided(data).values()} == {"real"}
    stop_cluster(data)
    # Every store still loads: the cluster starts again on them.
    start_cluster(data)
    assert propose(data, "later", timeout=TIMEOUT)[0] == "real"
    log = (nodes[0].data / "node.log").read_text()
    assert "dropped a malformed frame" in log and "Traceback" not in log


# Field values near every boundary the validation draws, and beyond them.
FIELD_VALUES = (
    st.sampled_from([-2, -1, 0, 1, 2, 3, 2**63 - 1, 2**63, 10**4300 - 1, None, "", "v1", "v2", True])
    | st.integers(-5, 10)
    | st.text(max_size=4)
)


@st.composite
def frames(draw) -> bytes:
    cls = draw(st.sampled_from(sorted(TYPES.values(), key=lambda c: c.type)))
    names = [f for f in cls.__dataclass_fields__]
    doc = {"v": 1, "type": cls.type, **{name: draw(FIELD_VALUES) for name in names}}
    return json.dumps(doc).encode()


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.integers(0, 2))
def test_any_frame_the_decoder_accepts_leaves_a_state_the_loader_accepts(tmp_path_factory, payloads, start):
    """Whatever sequence of frames an acceptor takes, its store loads afterwards."""
    config = cluster_config(ClusterDescription(tuple(NodeInfo(f"n{i}", HOST, 1, Path("/")) for i in (1, 2, 3))), "n1")
    node = Node(config, AcceptorState(start, start - 1, "v0" if start else None))
    directory = tmp_path_factory.mktemp("store")
    with mock.patch("os.fsync"):  # durability is not the question here, and 300 examples of fsyncs are slow
        for payload in payloads:
            try:
                msg = decode(payload)
            except MalformedMessage:
                continue
            node.handle(Receive("x", msg))
            AcceptorStore(directory).save(node.acceptor.state)
            assert AcceptorStore(directory).load() == node.acceptor.state


def test_a_failing_handler_drops_its_event_and_the_node_keeps_its_timers(tmp_path):
    """A bug in one handler (the core raising) costs one event, not the node.

    In one process, on real sockets: n1's core fails on one Prepare and on
    its first retry timer. The Prepare is dropped (the connection goes on,
    the acceptor is back to its durable state); the retry timer keeps
    running, so once the peers come up the proposal is decided."""
    infos = tuple(NodeInfo(f"n{i}", HOST, free_port(), tmp_path / f"n{i}") for i in (1, 2, 3))
    cluster = ClusterDescription(infos)
    fast = RetryPolicy(base=0.05, factor=1.0, cap=0.05)

    def runtime(info: NodeInfo) -> NodeRuntime:
        store = AcceptorStore(info.data)
        return NodeRuntime(cluster_config(cluster, info.name), infos, store, port=info.port, retry=fast)

    async def frame_reply(reader: asyncio.StreamReader):
        (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        return decode(await reader.readexactly(length))

    async def scenario() -> None:
        n1, n2, n3 = (runtime(info) for info in infos)
        faults: list[object] = []
        handle = n1.node.handle

        def flaky(event):
            if isinstance(event, Receive) and event.msg == Prepare(77):
                faults.append(event)
                handle(event)  # the acceptor moves to 77 in memory, then the handler fails
                raise RuntimeError("a bug in the handler")
            if isinstance(event, Timeout) and not any(isinstance(f, Timeout) for f in faults):
                faults.append(event)
                raise RuntimeError("a bug in the retry")
            return handle(event)

        n1.node.handle = flaky
        await n1.start()
        try:
            reader, writer = await asyncio.open_connection(HOST, n1.port)
            writer.write(encode(Prepare(77)) + encode(Status()))
            reply = await asyncio.wait_for(frame_reply(reader), WAIT)
            assert isinstance(reply, StatusReply) and reply.max_bal == -1  # no Promise, and the connection lives
            assert n1.node.acceptor.state == AcceptorState()

            writer.write(encode(Propose("v")))  # the peers are down: the first ballot fails
            for _ in range(int(WAIT / 0.02)):
                if any(isinstance(f, Timeout) for f in faults):
                    break
                await asyncio.sleep(0.02)
            assert any(isinstance(f, Timeout) for f in faults)
            await n2.start()
            await n3.start()
            decided = await asyncio.wait_for(frame_reply(reader), WAIT)
            assert decided == Decided("v")
            writer.close()
        finally:
            for rt in (n1, n2, n3):
                await rt.stop()

    asyncio.run(scenario())


# ---------------------------------------------------------------------------
# Failover and unknown outcomes
# ---------------------------------------------------------------------------


def test_propose_fails_over_from_a_paused_node_and_says_when_the_outcome_is_unknown(data):
    nodes = start_cluster(data, 3).nodes
    paused: list[int] = []
    try:
        os.kill(nodes[0].pid, signal.SIGSTOP)
        paused.append(nodes[0].pid)
        run = cli("propose", "x", "--data", str(data), "--json")
        assert run.returncode == 0, run.stderr
        answer = json.loads(run.stdout)
        assert answer["value"] == "x" and answer["node"] != "n1"

        for node in nodes[1:]:
            os.kill(node.pid, signal.SIGSTOP)
            paused.append(node.pid)
        run = cli("propose", "y", "--data", str(data), "--timeout", "1.5")
        assert run.returncode == 1
        line = one_line(run.stderr)
        assert "outcome is unknown" in line and "may still be chosen" in line and "no decision:" not in line
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


# ---------------------------------------------------------------------------
# Restarting one node
# ---------------------------------------------------------------------------


def test_cluster_restart_restarts_one_node_and_leaks_no_process(data):
    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 0, run.stderr
    old = {n.name: n.pid for n in load_cluster(data / CLUSTER_FILE).nodes}

    run = cli("cluster", "restart", "n2", "--data", str(data))
    assert run.returncode == 0, run.stderr
    new = {n.name: n.pid for n in load_cluster(data / CLUSTER_FILE).nodes}
    assert run.stdout.splitlines() == [f"stopped n2 (pid {old['n2']})", f"started n2 (pid {new['n2']})"]
    assert new["n2"] != old["n2"] and {new["n1"], new["n3"]} == {old["n1"], old["n3"]}
    assert node_processes(data) == set(new.values())  # the old n2 is gone, the new one recorded
    assert cli("cluster", "status", "--data", str(data)).returncode == 0
    assert propose(data, "after restart", timeout=TIMEOUT)[0] == "after restart"

    run = cli("cluster", "restart", "n9", "--data", str(data))
    assert run.returncode == 2 and "no node named 'n9'" in one_line(run.stderr)

    # In a running cluster, rejoin restarts the node at once, as a learner.
    run = cli("cluster", "rejoin", "n3", "--data", str(data))
    assert run.returncode == 0 and "as a learner" in run.stdout, run.stderr
    recorded = load_cluster(data / CLUSTER_FILE).nodes
    assert [n.role for n in recorded] == ["acceptor", "acceptor", "learner"]
    assert node_processes(data) == {n.pid for n in recorded}
    run = cli("cluster", "status", "--data", str(data))
    assert run.returncode == 0 and "up (learner)  decided=" in run.stdout.splitlines()[2]

    assert cli("cluster", "stop", "--data", str(data)).returncode == 0
    assert node_processes(data) == set()


# ---------------------------------------------------------------------------
# A store that cannot be written
# ---------------------------------------------------------------------------


def test_a_node_whose_store_cannot_be_written_sends_nothing_and_shows_as_failing(data):
    n2 = start_cluster(data, 3).nodes[1]
    blocker = n2.data / "acceptor.json.tmp"
    blocker.mkdir()  # every save writes this path first (a permission would not stop root)
    # The promise cannot be made durable, so it must not be sent: the Status
    # reply comes first, and the state is still the durable one.
    received = exchange(n2, Prepare(5))
    assert len(received) == 1, f"a reply left although the write failed: {received}"
    assert received[0].max_bal == -1 and "acceptor.json.tmp" in received[0].store_error

    run = cli("cluster", "status", "--data", str(data))
    assert run.returncode == 1
    assert [line.split()[4] for line in run.stdout.splitlines()] == ["up", "failing:", "up"]
    run = cli("cluster", "status", "--data", str(data), "--json")
    assert [(n["name"], n["up"]) for n in json.loads(run.stdout)] == [("n1", True), ("n2", False), ("n3", True)]

    blocker.rmdir()
    assert cli("cluster", "status", "--data", str(data)).returncode == 0
    assert exchange(n2, Prepare(5))[0].bal == 5  # it promises again


def test_a_store_write_fsyncs_the_file_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    store = AcceptorStore(tmp_path / "n1")
    store.save(AcceptorState(1))
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        calls.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        fsync(fd)

    def recording_replace(src, dst) -> None:
        calls.append("rename")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    store.save(AcceptorState(2))
    assert calls == ["fsync file", "rename", "fsync dir"]

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        store.save(AcceptorState(3))
    monkeypatch.undo()
    assert AcceptorStore(tmp_path / "n1").load() == AcceptorState(2)  # the old state, whole


# ---------------------------------------------------------------------------
# Frames, connections, FIFOs, pipes, sizes
# ---------------------------------------------------------------------------


@pytest.fixture
def lone_node(tmp_path):
    """Start one node process with the given flags; it is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> NodeInfo:
        info = NodeInfo("n1", HOST, free_port(), (tmp_path / "n1").resolve())
        write_cluster(tmp_path / CLUSTER_FILE, ClusterDescription((info,)))
        with open(tmp_path / "node.log", "wb") as log:
            started.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "paxoscope.impl.net",
                        "--name",
                        "n1",
                        "--cluster",
                        str(tmp_path / CLUSTER_FILE),
                        *flags,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for _ in range(int(TIMEOUT / 0.05)):
            try:
                request(info.host, info.port, Status(), StatusReply, timeout=1.0)
                return info
            except OSError:
                assert started[-1].poll() is None, (tmp_path / "node.log").read_text()
                time.sleep(0.05)
        raise AssertionError("the node did not serve")

    try:
        yield start
    finally:
        for child in started:
            child.kill()
            child.wait(timeout=TIMEOUT)


def closed_by_peer(sock: socket.socket) -> bool:
    """Read until the node closes the connection; False if it sent a frame first or kept it open."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_frame_header_over_the_limit_closes_the_connection_at_once(lone_node):
    node = lone_node()
    with socket.create_connection((node.host, node.port), timeout=WAIT) as s:
        s.sendall(HEADER.pack(MAX_FRAME + 1))  # and nothing more: a node that believed it would wait for it
        assert closed_by_peer(s)
    assert request(node.host, node.port, Status(), StatusReply, timeout=TIMEOUT).name == "n1"


def test_idle_and_excess_connections_are_closed(lone_node, tmp_path):
    node = lone_node("--idle-timeout", "0.5", "--max-connections", "4")
    idle = [socket.create_connection((node.host, node.port), timeout=WAIT) for _ in range(4)]
    try:
        time.sleep(0.1)  # let the node accept them (loopback: at once)
        with socket.create_connection((node.host, node.port), timeout=WAIT) as extra:
            extra.sendall(encode(Status()))
            assert closed_by_peer(extra), "a fifth connection was served over the limit of four"
        assert all(closed_by_peer(s) for s in idle), "an idle connection was kept open"
    finally:
        for s in idle:
            s.close()
    assert request(node.host, node.port, Status(), StatusReply, timeout=TIMEOUT).name == "n1"  # slots free again
    assert "closed a new connection" in (tmp_path / "node.log").read_text()


def test_a_fifo_where_a_file_belongs_is_refused_not_waited_on(tmp_path):
    data = tmp_path / "cluster"
    nodes = stopped_cluster(data)
    store_file = nodes[1].data / "acceptor.json"
    store_file.unlink()
    os.mkfifo(store_file)
    with pytest.raises(CorruptStorage, match="FIFO"):
        AcceptorStore(nodes[1].data).load()
    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 2 and str(store_file) in one_line(run.stderr) and "FIFO" in run.stderr
    assert all(n.pid is None for n in load_cluster(data / CLUSTER_FILE).nodes)

    other = tmp_path / "other"
    other.mkdir()
    os.mkfifo(other / CLUSTER_FILE)
    run = cli("cluster", "status", "--data", str(other))
    assert run.returncode == 2 and "FIFO" in one_line(run.stderr)


def test_cluster_start_into_a_closed_pipe_exits_quietly(data):
    starter = subprocess.Popen(
        [sys.executable, "-m", "paxoscope.cli", "cluster", "start", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    starter.stdout.close()  # as `| head -1` does once it has its line: here before the first
    _, err = starter.communicate(timeout=TIMEOUT)
    assert starter.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err
    assert node_processes(data) == {n.pid for n in load_cluster(data / CLUSTER_FILE).nodes}


def test_the_value_limit_counts_utf8_bytes():
    assert value_problem("é" * (VALUE_LIMIT // 2)) is None  # 2 bytes each in UTF-8, 6 as a JSON escape
    assert str(VALUE_LIMIT + 2) in value_problem("é" * (VALUE_LIMIT // 2 + 1))
    assert value_problem("\ud800") is not None  # not text UTF-8 can carry
    # The largest values at their most escaped still fit every message, twice in a StatusReply.
    worst = "\x01" * VALUE_LIMIT
    reply = StatusReply("n1", 2, 1, worst, worst, None)
    assert decode(encode(reply)[HEADER.size :]) == reply
    run = cli("propose", "é" * (VALUE_LIMIT // 2 + 1), "--data", "/nonexistent")
    assert run.returncode == 2 and "UTF-8" in one_line(run.stderr)


# ---------------------------------------------------------------------------
# Liveness after a restart
# ---------------------------------------------------------------------------


def test_after_a_restart_a_proposer_jumps_above_a_high_promise_in_one_round_trip(data):
    """A value chosen at a high ballot by n2 and n3; after a restart, n1 (whose
    acceptor never heard of that ballot) starts low. The refusals tell it the
    ballot promised, and it jumps above it: a handful of ballots tried, not
    one timeout per ballot (a million of them here)."""
    high = 3 * 10**6 + 1  # owned by n2; any ballot far above where n1 starts would do
    nodes = {n.name: n for n in start_cluster(data, 3).nodes}
    for name in ("n2", "n3"):
        *_, status = exchange(nodes[name], Prepare(high), Accept(high, "early"))
        assert (status.max_vbal, status.max_val) == (high, "early")
    stop_cluster(data)
    nodes = {n.name: n for n in start_cluster(data).nodes}
    assert statuses(data)["n1"].max_bal == -1

    n1 = nodes["n1"]  # asked alone: failing over to n2 (which knows the ballot) would hide the point
    assert request(n1.host, n1.port, Propose("late"), Decided, timeout=TIMEOUT) == Decided("early")
    answers = wait_all_decided(data)
    least_above = high + (3 - high % 3)  # n1's least ballot above the promise (n1 owns b % 3 == 0)
    ballot = answers["n2"].max_vbal
    assert least_above <= ballot <= least_above + 3 * 4, f"decided at ballot {ballot}, from {high}"

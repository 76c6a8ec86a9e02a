"""The real implementation: durable storage, node processes on 127.0.0.1, the
cluster commands, a crash between a promise and its accept, fuzzed frames.

Every test that starts a process stops it in a ``finally`` (the ``data``
fixture: ``cluster stop``, then SIGKILL for anything left); every wait is
bounded; ports come from the OS. Nothing here asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from paxoscope.impl import client, supervise
from paxoscope.impl.clusterfile import (
    CLUSTER_FILE,
    ClusterDescription,
    ClusterError,
    NodeInfo,
    load_cluster,
    write_cluster,
)
from paxoscope.impl.paxos.core import AcceptorState
from paxoscope.impl.paxos.messages import (
    HEADER,
    MAX_FRAME,
    Accept,
    MalformedMessage,
    Prepare,
    Promise,
    Rejected,
    Status,
    StatusReply,
    decode_payload,
    encode,
    read_frame,
    request,
)
from paxoscope.impl.paxos.store import AcceptorStore
from paxoscope.impl.storage import CorruptStorage
from paxoscope.impl.supervise import is_running, start_cluster, start_node, stop_cluster

TIMEOUT = 30  # seconds: the bound on any one wait, far above what a healthy run needs


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``paxoscope cluster ...`` / ``paxoscope propose ...`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def statuses(data: Path) -> dict[str, StatusReply | None]:
    return {info.name: reply for info, reply in client.cluster_status(data, timeout=5.0)}


def wait_all_decided(data: Path) -> dict[str, StatusReply]:
    """Poll until every node reports a decision (learners hear the votes a little after the proposer)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        answers = statuses(data)
        if all(r is not None and r.decided is not None for r in answers.values()):
            return answers  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"not every node learned a decision: {answers}"
        time.sleep(0.05)


def exchange(node: NodeInfo, *msgs) -> list:
    """Send ``msgs`` on one connection, then a Status; every frame received up to its reply."""
    with socket.create_connection((node.host, node.port), timeout=TIMEOUT) as s:
        s.sendall(b"".join(encode(m) for m in (*msgs, Status())))
        received = []
        while not received or not isinstance(received[-1], StatusReply):
            received.append(read_frame(s))
        return received


@pytest.fixture
def data(tmp_path):
    """A cluster directory; whatever runs there is stopped afterwards, whatever the test did."""
    directory = tmp_path / "cluster"
    try:
        yield directory
    finally:
        recorded: list[tuple[int, str]] = []
        try:
            recorded = [(n.pid, n.name) for n in load_cluster(directory / CLUSTER_FILE).nodes if n.pid]
            stop_cluster(directory, grace=3.0)
        except ClusterError:
            pass
        for pid, name in recorded:
            if is_running(pid, name):
                os.kill(pid, signal.SIGKILL)
        for child in list(supervise._children.values()):  # anything this process started, recorded or not
            if child.poll() is None:
                child.kill()
            child.wait(timeout=TIMEOUT)
        supervise._children.clear()


# ---------------------------------------------------------------------------
# 1. storage
# ---------------------------------------------------------------------------


def test_store_round_trip(tmp_path):
    store = AcceptorStore(tmp_path / "n1")
    assert store.load() == AcceptorState()  # nothing saved yet: the initial state
    for state in [AcceptorState(3), AcceptorState(5, 5, "v1"), AcceptorState(9, 5, 'v "quoted" ü\n')]:
        store.save(state)
        assert store.load() == state
        assert AcceptorStore(tmp_path / "n1").load() == state  # a fresh process reads the same
    doc = json.loads(store.path.read_text())
    assert doc["version"] == 1 and len(doc["sha256"]) == 64
    assert sorted(p.name for p in (tmp_path / "n1").iterdir()) == ["acceptor.json"]  # no temp file left


def _saved(tmp_path) -> tuple[Path, bytes]:
    store = AcceptorStore(tmp_path / "n1")
    store.save(AcceptorState(7, 4, "v2"))
    return store.path, store.path.read_bytes()


def _assert_refused(path: Path, damaged: bytes, what: str) -> None:
    path.write_bytes(damaged)
    with pytest.raises(CorruptStorage) as caught:
        AcceptorStore(path.parent).load()
    assert str(path) in str(caught.value), what
    with pytest.raises(CorruptStorage):
        AcceptorStore(path.parent).save(AcceptorState(99))  # never written over
    assert path.read_bytes() == damaged, f"{what}: the corrupt file was changed"


def test_every_flipped_byte_is_refused(tmp_path):
    path, good = _saved(tmp_path)
    for i in range(len(good)):
        damaged = bytearray(good)
        damaged[i] ^= 0x01
        _assert_refused(path, bytes(damaged), f"byte {i} flipped")


def test_every_truncation_is_refused(tmp_path):
    path, good = _saved(tmp_path)
    # Dropping only the final newline leaves the whole document: that one is not damage.
    for n in range(len(good.rstrip(b"\n"))):
        _assert_refused(path, good[:n], f"truncated to {n} bytes")


def _rewrite(good: bytes, change) -> bytes:
    doc = json.loads(good)
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "what, change, message",
    [
        ("bad checksum", lambda d: d.update(sha256="0" * 64), "checksum"),
        ("a changed ballot", lambda d: d["state"].update(max_bal=8), "checksum"),
        ("wrong version", lambda d: d.update(version=2), "version"),
        ("missing checksum", lambda d: d.pop("sha256"), "missing"),
        ("missing field", lambda d: d["state"].pop("max_val"), "fields"),
        ("not an object", lambda d: d.clear(), "format"),
    ],
)
def test_damaged_contents_are_refused(tmp_path, what, change, message):
    path, good = _saved(tmp_path)
    _assert_refused(path, _rewrite(good, change), what)
    with pytest.raises(CorruptStorage, match=message):
        AcceptorStore(path.parent).load()


def test_a_consistent_but_impossible_state_is_refused(tmp_path):
    """A correct checksum over a state no acceptor can be in (voted above its promise)."""
    from paxoscope.impl.paxos.store import SCHEMA

    state = {"max_bal": 1, "max_vbal": 2, "max_val": "v"}
    doc = {"format": SCHEMA.format, "version": 1, "state": state, "sha256": SCHEMA.digest(state)}
    path = tmp_path / "n1" / "acceptor.json"
    path.parent.mkdir()
    _assert_refused(path, json.dumps(doc).encode(), "max_vbal > max_bal")


def _one_node_cluster(tmp_path) -> tuple[Path, Path]:
    cluster_file = tmp_path / CLUSTER_FILE
    node = NodeInfo("n1", "127.0.0.1", free_port(), (tmp_path / "n1").resolve())
    write_cluster(cluster_file, ClusterDescription((node,)))
    store = AcceptorStore(node.data)
    store.save(AcceptorState(4, 4, "v1"))
    return cluster_file, store.path


def test_node_refuses_to_start_on_a_corrupt_store(tmp_path):
    cluster_file, store_file = _one_node_cluster(tmp_path)
    damaged = store_file.read_bytes().replace(b'"v1"', b'"v2"')  # a vote it never cast
    store_file.write_bytes(damaged)
    run = subprocess.run(
        [sys.executable, "-m", "paxoscope.impl.net", "--name", "n1", "--cluster", str(cluster_file)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert str(store_file) in lines[0] and "corrupt" in lines[0] and "checksum" in lines[0]
    assert store_file.read_bytes() == damaged


def test_cluster_start_refuses_a_corrupt_store(data):
    data.mkdir()
    nodes = tuple(NodeInfo(f"n{i}", "127.0.0.1", free_port(), data / f"n{i}") for i in (1, 2, 3))
    write_cluster(data / CLUSTER_FILE, ClusterDescription(nodes))  # a stopped cluster
    for n in nodes:
        AcceptorStore(n.data).save(AcceptorState(2))
    store_file = nodes[1].data / "acceptor.json"
    store_file.write_bytes(store_file.read_bytes()[:40])  # torn
    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and str(store_file) in run.stderr
    assert all(n.pid is None for n in load_cluster(data / CLUSTER_FILE).nodes)  # nothing started


# ---------------------------------------------------------------------------
# 2. the cluster commands
# ---------------------------------------------------------------------------


def test_cluster_commands(data):
    run = cli("cluster", "start", "--nodes", "3", "--data", str(data))
    assert run.returncode == 0, run.stderr
    nodes = load_cluster(data / CLUSTER_FILE).nodes
    assert [n.name for n in nodes] == ["n1", "n2", "n3"]
    assert all(n.pid and is_running(n.pid, n.name) for n in nodes)
    assert len({n.port for n in nodes}) == 3

    run = cli("cluster", "start", "--data", str(data))
    assert run.returncode == 2 and "already running" in run.stderr  # one cluster per directory

    run = cli("propose", "apple", "--data", str(data))
    assert (run.returncode, run.stdout) == (0, "apple\n"), run.stderr
    assert {r.decided for r in wait_all_decided(data).values()} == {"apple"}

    run = cli("propose", "banana", "--data", str(data), "--json")  # too late: apple was chosen
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["value"] == "apple"

    run = cli("cluster", "status", "--data", str(data), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [(n["name"], n["up"], n["decided"]) for n in report] == [(f"n{i}", True, "apple") for i in (1, 2, 3)]
    run = cli("cluster", "status", "--data", str(data))
    assert run.stdout.count("decided='apple'") == 3

    run = cli("cluster", "stop", "--data", str(data))
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("stopped") == 3
    assert not any(is_running(n.pid, n.name) for n in nodes)
    run = cli("cluster", "status", "--data", str(data))
    assert run.returncode == 1 and run.stdout.count("down") == 3
    run = cli("propose", "cherry", "--data", str(data), "--timeout", "5")
    assert run.returncode == 1 and "not running" in run.stderr


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: None, "no such directory"),
        (lambda d: d.mkdir(), "no cluster here"),
        (lambda d: (d.mkdir(), (d / CLUSTER_FILE).write_text('{"format": ')), "not valid JSON"),
        (lambda d: (d.mkdir(), (d / CLUSTER_FILE).write_text('{"format": "x"}')), "not a paxoscope cluster"),
    ],
)
def test_propose_without_a_cluster_is_bad_usage(data, setup, message):
    setup(data)
    run = cli("propose", "v", "--data", str(data))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr


# ---------------------------------------------------------------------------
# 3. a crash between the promise and the accept
# ---------------------------------------------------------------------------


def test_promise_survives_sigkill(data):
    nodes = {n.name: n for n in start_cluster(data, 3).nodes}
    n1 = nodes["n1"]
    b = 10  # above every ballot the cluster's proposers start with

    # The test is the proposer of ballot b. The node answers only once its
    # promise is on disk, so receiving the Promise means the promise is durable.
    with socket.create_connection((n1.host, n1.port), timeout=TIMEOUT) as s:
        s.sendall(encode(Prepare(b)))
        assert read_frame(s) == Promise("n1", b, -1, None)
    assert statuses(data)["n1"].max_bal == b

    # Crash n1 before any Accept of ballot b reaches it, then restart it on the same data.
    child = supervise._children[n1.pid]
    os.kill(n1.pid, signal.SIGKILL)
    assert child.wait(timeout=TIMEOUT) == -signal.SIGKILL
    start_node(data, "n1")

    # The promise survived: the node still holds b, promises nothing lower,
    # votes for nothing lower, and does not promise b a second time (Paxos.tla's
    # Phase1b needs a ballot above the promise).
    received = exchange(n1, Prepare(b - 1), Accept(b - 1, "low"), Prepare(b))
    *replies, status = received
    # Each is refused, answered with the ballot promised.
    assert replies == [Rejected("n1", b - 1, b), Rejected("n1", b - 1, b), Rejected("n1", b, b)]
    assert (status.max_bal, status.max_vbal, status.max_val) == (b, -1, None)

    # The cluster still decides, and every node learns the same value.
    assert client.propose(data, "chosen", timeout=TIMEOUT) == ("chosen", "n1")
    answers = wait_all_decided(data)
    assert {r.decided for r in answers.values()} == {"chosen"}
    # n1 never voted below its promise (on a slow machine its own proposer may
    # have retried up to a ballot above b, and voted there: that is allowed).
    n1_now = answers["n1"]
    assert n1_now.max_bal >= b and (n1_now.max_vbal == -1 or n1_now.max_vbal >= b)


# ---------------------------------------------------------------------------
# 4. fuzzed frames
# ---------------------------------------------------------------------------

VALID = [
    encode(m)[HEADER.size :]
    for m in (Prepare(3), Promise("n2", 3, -1, None), Promise("n2", 3, 1, "x"), Accept(3, "x"), Status())
]
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@st.composite
def mutated_messages(draw) -> bytes:
    """A well-formed message with one thing wrong: its version, type, a field or a field's type."""
    doc = json.loads(draw(st.sampled_from(VALID)))
    key = draw(st.sampled_from([*doc, "extra"]))
    if draw(st.booleans()) and key != "extra":
        del doc[key]
    else:
        doc[key] = draw(JSON_VALUES)
    return frame(json.dumps(doc, allow_nan=True).encode())


FRAMES = st.one_of(
    st.binary(max_size=64),  # anything at all, often a header announcing megabytes
    st.builds(lambda n, rest: HEADER.pack(n) + rest, st.integers(MAX_FRAME + 1, 2**32 - 1), st.binary(max_size=32)),
    st.builds(lambda body, cut: frame(body)[:-cut], st.sampled_from(VALID), st.integers(1, 20)),  # cut short
    st.binary(max_size=200).map(frame),  # a frame of garbage
    st.text(max_size=40).map(lambda t: frame(t.encode())),  # a frame of text
    JSON_VALUES.map(lambda v: frame(json.dumps(v).encode())),  # JSON, but not a message
    mutated_messages(),
)


def complete_valid_frame(blob: bytes) -> bool:
    """Does ``blob`` start with a whole frame that is a real message? (We fuzz the parser, not the protocol.)"""
    if len(blob) < HEADER.size:
        return False
    (length,) = HEADER.unpack(blob[: HEADER.size])
    if length > MAX_FRAME or len(blob) < HEADER.size + length:
        return False
    try:
        decode_payload(blob[HEADER.size : HEADER.size + length])
    except MalformedMessage:
        return False
    return True


def send_and_wait_for_close(node: NodeInfo, blob: bytes) -> None:
    """Send ``blob`` as one client, say we are done, and read until the node closes the connection."""
    with socket.create_connection((node.host, node.port), timeout=TIMEOUT) as s:
        try:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass  # nothing is expected: a node does not answer a bad frame
        except (ConnectionResetError, BrokenPipeError):
            pass  # the node closed first, with our bytes unread: also a close


def test_fuzzed_frames_do_not_hurt_a_node(data):
    nodes = start_cluster(data, 3).nodes
    n1 = nodes[0]

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.lists(FRAMES, min_size=1, max_size=4))
    def batch(blobs: list[bytes]) -> None:
        for blob in blobs:
            assume(not complete_valid_frame(blob))
        for blob in blobs:
            send_and_wait_for_close(n1, blob)
        reply = request(n1.host, n1.port, Status(), StatusReply, timeout=TIMEOUT)
        assert (reply.name, reply.max_bal, reply.decided) == ("n1", -1, None)

    batch()
    # Inputs that make messages.decode raise something other than MalformedMessage:
    # a type that is not a string, nesting deeper than the parser's recursion, a huge number.
    for payload in [
        b'{"v":1,"type":[]}',
        b'{"v":1,"type":{}}',
        b"[" * 60000,
        b'{"v":1,"type":"1a","bal":' + b"9" * 5000 + b"}",
    ]:
        send_and_wait_for_close(n1, frame(payload))
    assert is_running(n1.pid, "n1")
    assert client.propose(data, "after the storm", timeout=TIMEOUT) == ("after the storm", "n1")
    assert {r.decided for r in wait_all_decided(data).values()} == {"after the storm"}
    log = (n1.data / "node.log").read_text()
    assert "dropped a" in log and "Traceback" not in log and "internal error" not in log

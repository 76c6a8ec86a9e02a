"""A local cluster of real Paxos node processes, and a client that proposes.

    paxoscope cluster start [--nodes 3] [--data DIR] [--base-port P]
    paxoscope cluster status [--data DIR] [--json]
    paxoscope cluster stop [--data DIR]
    paxoscope propose VALUE [--data DIR] [--timeout S] [--json]

``cluster start`` runs one ``python -m paxoscope.impl.net`` process per node
(n1, n2, ...: each an acceptor, a proposer and a learner; majority quorums;
unbounded ballots), each with its own data directory ``DIR/nK`` holding its
durable acceptor state (``acceptor.json``) and its log (``node.log``). It
returns once every node answers ``Status``, and records the cluster in
``DIR/cluster.json`` (names, addresses, pids, data directories), which the
other commands read. Starting again in a stopped cluster's directory resumes
the same nodes with the promises and votes they stored: a cluster is
single-decree, so once it has chosen a value every later proposal learns that
value. For a new decision use a new ``--data`` directory.

``propose`` asks one node (the next if that one is down) and prints the
chosen value, which may be another client's: that is Paxos.

Exit codes: 0 done (``propose``: a value was chosen; ``status``: every node
answered), 1 ``propose``: no decision in time, ``status``: some node is down,
2 bad usage or input (no cluster.json, a corrupt one, a corrupt acceptor
store, a port in use), 3 an internal error.

Run it without the ``paxoscope`` command as ``python -m paxoscope.impl.cluster``
(``... cluster start`` or just ``... start``).

This module also holds what both sides of the wire share: the cluster
description (cluster.json) and a small blocking client (``request``). It
does not import asyncio (``impl.net``, the node itself, does), so adding
these commands to the ``paxoscope`` parser costs every command little.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from ..spec.constants import positive_int as _positive_int
from ..spec.constants import positive_seconds as _seconds
from .core import IMPL_BUGS, NodeConfig
from .messages import (
    HEADER,
    MAX_FRAME,
    Decided,
    MalformedMessage,
    Message,
    Propose,
    Status,
    StatusReply,
    decode,
    encode,
)
from .storage import CorruptStorage, DurableStore

CLUSTER_FILE = "cluster.json"
CLUSTER_FORMAT = "paxoscope-cluster"
CLUSTER_VERSION = 1
HOST = "127.0.0.1"

# A value travels inside bigger messages (a StatusReply carries it twice), so
# it must stay well under the frame limit once JSON-escaped.
VALUE_LIMIT = 16 * 1024

DEFAULT_DATA = "paxoscope-cluster"
DEFAULT_NODES = 3
MAX_NODES = 15  # majority quorums are enumerated: C(n, n/2+1) grows fast
START_TIMEOUT = 20.0
STOP_GRACE = 5.0
POLL = 0.05

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

# The node processes this process started, so that their liveness is read
# from the child itself (a dead child stays a zombie, which kill(pid, 0)
# would report alive, until it is waited for).
_children: dict[int, subprocess.Popen[bytes]] = {}


class ClusterError(Exception):
    """A cluster description (or a request about one) that cannot be used."""


# ---------------------------------------------------------------------------
# The cluster description
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    name: str
    host: str
    port: int
    data: Path  # the node's data directory (absolute)
    pid: int | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterDescription:
    """Who is in the cluster and where: what cluster.json holds."""

    nodes: tuple[NodeInfo, ...]
    bugs: frozenset[str] = frozenset()

    def node(self, name: str) -> NodeInfo:
        for info in self.nodes:
            if info.name == name:
                return info
        raise ClusterError(f"no node named {name!r} (the cluster has {', '.join(n.name for n in self.nodes)})")

    def config_for(self, name: str) -> NodeConfig:
        """Every node is acceptor, proposer and learner; majority quorums; unbounded ballots."""
        self.node(name)
        names = tuple(n.name for n in self.nodes)
        return NodeConfig(
            name=name,
            acceptors=names,
            proposers=names,
            learners=names,
            quorums=majority_quorums(names),
            ballots=None,
            bugs=self.bugs,
        )

    def with_pid(self, name: str, pid: int | None) -> ClusterDescription:
        return replace(self, nodes=tuple(replace(n, pid=pid) if n.name == name else n for n in self.nodes))


def majority_quorums(names: Sequence[str]) -> tuple[frozenset[str], ...]:
    """The smallest majorities; a larger set contains one, and the core checks containment."""
    size = len(names) // 2 + 1
    return tuple(frozenset(q) for q in itertools.combinations(names, size))


def load_cluster(path: str | os.PathLike[str]) -> ClusterDescription:
    """Read cluster.json; ``ClusterError`` names the file and what is wrong with it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ClusterError(f"{path}: no such file (start a cluster first: paxoscope cluster start)") from None
    except IsADirectoryError:
        raise ClusterError(f"{path}: is a directory, not a cluster description") from None
    except OSError as exc:
        raise ClusterError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClusterError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != CLUSTER_FORMAT:
        raise ClusterError(f"{path}: not a paxoscope cluster description")
    if doc.get("version") != CLUSTER_VERSION:
        raise ClusterError(f"{path}: version {doc.get('version')!r}, this paxoscope reads version {CLUSTER_VERSION}")
    entries = doc.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise ClusterError(f"{path}: 'nodes' must be a non-empty list")
    bugs = doc.get("bugs", [])
    if not isinstance(bugs, list) or any(b not in IMPL_BUGS for b in bugs):
        raise ClusterError(f"{path}: 'bugs' must list known implementation bugs ({', '.join(IMPL_BUGS)})")
    nodes = []
    for i, entry in enumerate(entries):
        try:
            name, host, port, data = entry["name"], entry["host"], entry["port"], entry["data"]
            pid = entry.get("pid")
            ok = (
                isinstance(name, str)
                and re.fullmatch(r"[A-Za-z0-9_.-]+", name) is not None
                and isinstance(host, str)
                and isinstance(port, int)
                and not isinstance(port, bool)
                and 0 < port < 65536
                and isinstance(data, str)
                and (pid is None or (isinstance(pid, int) and pid > 0))
            )
        except (TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise ClusterError(
                f"{path}: node #{i + 1} needs a name (letters, digits, _ . -), host, port (1-65535), "
                "data directory and pid"
            )
        # Data directories are stored relative to cluster.json so a stopped cluster can be moved.
        nodes.append(NodeInfo(name, host, port, (path.parent / data).resolve(), pid))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ClusterError(f"{path}: node names must be unique, not {names}")
    return ClusterDescription(tuple(nodes), frozenset(bugs))


def write_cluster(path: str | os.PathLike[str], cluster: ClusterDescription) -> None:
    """Write cluster.json atomically (nodes may be reading it while it is rewritten)."""
    path = Path(path)
    base = path.parent.resolve()
    entries: list[dict[str, Any]] = []
    for n in cluster.nodes:
        data = Path(os.path.relpath(n.data, base)) if n.data.is_relative_to(base) else n.data
        entries.append({"name": n.name, "host": n.host, "port": n.port, "pid": n.pid, "data": str(data)})
    doc = {"format": CLUSTER_FORMAT, "version": CLUSTER_VERSION, "bugs": sorted(cluster.bugs), "nodes": entries}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Client side: blocking request/response over one connection
# ---------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("the node closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def decode_payload(payload: bytes) -> Message:
    """``messages.decode``, with every failure reported as MalformedMessage.

    ``decode`` reads untrusted bytes, and a few inputs make it raise
    something else (a non-string ``type`` gives TypeError, deep nesting
    RecursionError, a 5000-digit number ValueError); whatever it raises, the
    payload was not a message, and a node must not treat it as its own bug."""
    try:
        return decode(payload)
    except MalformedMessage:
        raise
    except Exception as exc:
        raise MalformedMessage(f"payload is not a message ({type(exc).__name__}: {str(exc)[:100]})") from None


def read_frame(sock: socket.socket) -> Message:
    """Read one frame from a blocking socket (its timeout applies to each read)."""
    (length,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if length > MAX_FRAME:
        raise MalformedMessage(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    return decode_payload(_recv_exact(sock, length))


def request(host: str, port: int, msg: Message, reply: type, timeout: float) -> Any:
    """Send ``msg`` on a fresh connection and return the first reply of type ``reply``.

    Raises OSError (refused, reset, closed; TimeoutError when ``timeout``
    seconds pass) or MalformedMessage for a reply that is not a message."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode(msg))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {reply.__name__} from {host}:{port} within {timeout:g} s")
            sock.settimeout(remaining)
            answer = read_frame(sock)
            if isinstance(answer, reply):
                return answer


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be proposed, or None if it can."""
    size = len(json.dumps(value))
    if size > VALUE_LIMIT:
        return f"a value may take at most {VALUE_LIMIT} bytes as JSON, this one takes {size}"
    return None


class NodeFailed(ClusterError):
    """A node process exited while starting."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def cluster_path(data: str | os.PathLike[str]) -> Path:
    return Path(data) / CLUSTER_FILE


def load(data: str | os.PathLike[str]) -> ClusterDescription:
    """The cluster recorded in ``data``; ``ClusterError`` if there is none or it is unreadable."""
    data = Path(data)
    if not data.exists():
        raise ClusterError(f"{data}: no such directory (start a cluster there: paxoscope cluster start --data {data})")
    if not data.is_dir():
        raise ClusterError(f"{data}: not a directory")
    if not cluster_path(data).exists():
        raise ClusterError(f"{data}: no cluster here (no {CLUSTER_FILE}; start one: paxoscope cluster start)")
    return load_cluster(cluster_path(data))


def is_running(pid: int | None, name: str) -> bool:
    """Is ``pid`` alive and the node ``name`` (not a pid reused by another program)?"""
    if pid is None:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not a node we started
    cmdline = _command_line(pid)
    if cmdline is None:
        return True  # cannot tell on this platform; trust the record
    # A zombie has an empty command line; a reused pid runs something else.
    return "paxoscope.impl.net" in cmdline and name in cmdline


def _command_line(pid: int) -> list[str] | None:
    if Path("/proc/self/cmdline").exists():
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return []
    try:
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split()


def _spawn(path: Path, info: NodeInfo) -> subprocess.Popen[bytes]:
    info.data.mkdir(parents=True, exist_ok=True)
    with open(info.data / "node.log", "ab") as log:
        # A session of its own: the node outlives the command that started it
        # and does not receive the terminal's Ctrl-C meant for that command.
        child = subprocess.Popen(
            [sys.executable, "-m", "paxoscope.impl.net", "--name", info.name, "--cluster", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[child.pid] = child
    return child


def _last_line(file: Path) -> str:
    try:
        lines = [line for line in file.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _wait_serving(nodes: Iterable[NodeInfo], children: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    """Return once every node answers Status; NodeFailed if one exits first."""
    deadline = time.monotonic() + timeout
    pending = {n.name: n for n in nodes}
    while pending:
        for name, info in list(pending.items()):
            code = children[name].poll()
            if code is not None:
                why = _last_line(info.data / "node.log") or "no message (see its node.log)"
                raise NodeFailed(f"node {name} exited with code {code} while starting: {why}", code)
            try:
                reply = request(info.host, info.port, Status(), StatusReply, timeout=0.5)
            except (OSError, MalformedMessage):
                continue
            if reply.name == name:
                del pending[name]
        if pending:
            if time.monotonic() > deadline:
                names = ", ".join(sorted(pending))
                raise ClusterError(
                    f"{names} did not answer within {timeout:g} s (see node.log in their data directory)"
                )
            time.sleep(POLL)


def _terminate(pids: dict[str, int | None], grace: float) -> list[tuple[str, int, bool]]:
    """SIGTERM each running node, SIGKILL those still there after ``grace`` seconds.

    Returns (name, pid, needed SIGKILL) for each node that was running."""
    running = {name: pid for name, pid in pids.items() if is_running(pid, name)}
    for pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + grace
    while any(is_running(pid, name) for name, pid in running.items()) and time.monotonic() < deadline:
        time.sleep(POLL)
    killed = [name for name, pid in running.items() if is_running(pid, name)]
    for name in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(running[name], signal.SIGKILL)  # type: ignore[arg-type]
    deadline = time.monotonic() + 5.0
    while any(is_running(running[name], name) for name in killed) and time.monotonic() < deadline:
        time.sleep(POLL)
    for pid in running.values():
        child = _children.pop(pid, None)  # type: ignore[arg-type]
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1.0)
    return [(name, pid, name in killed) for name, pid in running.items()]  # type: ignore[misc]


def _ports(n: int, base: int | None) -> list[int]:
    if base is not None:
        ports = list(range(base, base + n))
        if ports[-1] > 65535:
            raise ClusterError(f"--base-port {base} leaves no room for {n} ports")
        for port in ports:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node's server will
                try:
                    s.bind((HOST, port))
                except OSError as exc:
                    raise ClusterError(
                        f"port {port} on {HOST} is not free ({exc.strerror}); choose another --base-port"
                    ) from None
        return ports
    # Ask the OS for free ports, all held at once so none is handed out twice.
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]


# ---------------------------------------------------------------------------
# Commands as functions
# ---------------------------------------------------------------------------


def start_cluster(
    data: str | os.PathLike[str],
    nodes: int | None = None,
    base_port: int | None = None,
    bugs: Iterable[str] = (),
    timeout: float = START_TIMEOUT,
) -> ClusterDescription:
    """Start (or resume) the cluster in ``data``; return once every node serves."""
    data = Path(data).absolute()
    if data.exists() and not data.is_dir():
        raise ClusterError(f"{data}: not a directory")
    bugs = frozenset(bugs)
    if unknown := sorted(bugs - IMPL_BUGS.keys()):
        raise ClusterError(f"unknown implementation bug {unknown[0]!r}; known: {', '.join(IMPL_BUGS)}")
    path = cluster_path(data)
    if path.exists():
        old = load_cluster(path)
        running = [n.name for n in old.nodes if is_running(n.pid, n.name)]
        if running:
            raise ClusterError(
                f"a cluster is already running in {data} ({', '.join(running)}); "
                f"stop it first: paxoscope cluster stop --data {data}"
            )
        if nodes is not None and nodes != len(old.nodes):
            raise ClusterError(
                f"{data} holds a {len(old.nodes)}-node cluster whose acceptors keep their promises there; "
                f"resume it with --nodes {len(old.nodes)} or use another --data directory"
            )
        names, dirs = [n.name for n in old.nodes], [n.data for n in old.nodes]
    else:
        count = DEFAULT_NODES if nodes is None else nodes
        if not 1 <= count <= MAX_NODES:
            raise ClusterError(f"--nodes must be between 1 and {MAX_NODES}, not {count}")
        names = [f"n{i + 1}" for i in range(count)]
        dirs = [data / name for name in names]
    # Refuse here, with the file named, rather than have a node die on it.
    for name, d in zip(names, dirs):
        try:
            DurableStore(d).load()
        except CorruptStorage as exc:
            raise ClusterError(f"{name} cannot start, its acceptor store is corrupt: {exc}") from None
    data.mkdir(parents=True, exist_ok=True)
    # Free ports from the OS are released before the nodes bind them, so
    # another program may take one in between: then try again with new ones.
    attempts = 1 if base_port is not None else 3
    for attempt in range(attempts):
        ports = _ports(len(names), base_port)
        cluster = ClusterDescription(
            tuple(NodeInfo(name, HOST, port, d.resolve(), None) for name, port, d in zip(names, ports, dirs)),
            bugs,
        )
        try:
            return _launch(path, cluster, timeout)
        except NodeFailed as exc:
            if attempt + 1 == attempts or "cannot listen" not in str(exc):
                raise
    raise AssertionError("unreachable")


def _launch(path: Path, cluster: ClusterDescription, timeout: float) -> ClusterDescription:
    # Nodes read cluster.json when they start, so it is written before them
    # (without pids) and again once their pids are known.
    write_cluster(path, cluster)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for info in cluster.nodes:
            children[info.name] = _spawn(path, info)
        for name, child in children.items():
            cluster = cluster.with_pid(name, child.pid)
        write_cluster(path, cluster)
        _wait_serving(cluster.nodes, children, timeout)
    except BaseException:
        _terminate({name: child.pid for name, child in children.items()}, grace=2.0)
        for name in children:
            cluster = cluster.with_pid(name, None)
        write_cluster(path, cluster)
        raise
    return cluster


def start_node(data: str | os.PathLike[str], name: str, timeout: float = START_TIMEOUT) -> int:
    """(Re)start one stopped or crashed node of the cluster in ``data``, with its
    data directory and address; record its pid; return it once it serves."""
    path = cluster_path(data)
    cluster = load(data)
    info = cluster.node(name)
    if is_running(info.pid, name):
        raise ClusterError(f"{name} is already running (pid {info.pid})")
    child = _spawn(path.absolute(), info)
    write_cluster(path, cluster.with_pid(name, child.pid))
    try:
        _wait_serving([info], {name: child}, timeout)
    except BaseException:
        _terminate({name: child.pid}, grace=2.0)
        write_cluster(path, load_cluster(path).with_pid(name, None))
        raise
    return child.pid


def stop_cluster(data: str | os.PathLike[str], grace: float = STOP_GRACE) -> list[str]:
    """Stop every node of the cluster in ``data``: one line per node on what happened."""
    path = cluster_path(data)
    cluster = load(data)
    ended = {name: (pid, killed) for name, pid, killed in _terminate({n.name: n.pid for n in cluster.nodes}, grace)}
    report = []
    for n in cluster.nodes:
        if n.name not in ended:
            report.append(f"{n.name} was not running")
        elif ended[n.name][1]:
            report.append(f"killed {n.name} (pid {ended[n.name][0]}): still running {grace:g} s after SIGTERM")
        else:
            report.append(f"stopped {n.name} (pid {ended[n.name][0]})")
    for n in cluster.nodes:
        cluster = cluster.with_pid(n.name, None)
    write_cluster(path, cluster)
    return report


def cluster_status(data: str | os.PathLike[str], timeout: float = 1.0) -> list[tuple[NodeInfo, StatusReply | None]]:
    """Each node and its answer to Status (None: it did not answer)."""
    answers: list[tuple[NodeInfo, StatusReply | None]] = []
    for info in load(data).nodes:
        try:
            reply = request(info.host, info.port, Status(), StatusReply, timeout=timeout)
        except (OSError, MalformedMessage):
            reply = None
        answers.append((info, reply))
    return answers


class NoDecision(Exception):
    """No value was learned in time (exit 1): the message says why."""


def propose(data: str | os.PathLike[str], value: str, timeout: float = 10.0) -> tuple[str, str]:
    """Ask the cluster to choose ``value``: (the chosen value, the node that told us).

    Raises NoDecision if no decision came within ``timeout`` seconds, and
    ClusterError for bad input (no cluster, a value too large)."""
    if problem := value_problem(value):
        raise ClusterError(problem)
    cluster = load(data)
    deadline = time.monotonic() + timeout
    asked: list[str] = []
    while True:
        for info in cluster.nodes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                reply = request(info.host, info.port, Propose(value), Decided, timeout=remaining)
            except TimeoutError:
                # The node took the request but learned no decision in time
                # (no quorum reachable?); another node would fare no better.
                raise NoDecision(f"{info.name} learned no decision within {timeout:g} s") from None
            except (OSError, MalformedMessage):
                continue  # down, or went down while we waited: ask the next one
            return reply.value, info.name
        else:
            if any(is_running(n.pid, n.name) for n in cluster.nodes):
                time.sleep(POLL)  # starting or restarting: worth another round
                continue
            asked = [n.name for n in cluster.nodes]
        break
    if asked:
        raise NoDecision(f"no node answers ({', '.join(asked)} are not running; paxoscope cluster start --data {data})")
    raise NoDecision(f"no node answered within {timeout:g} s")


def decision_latency(nodes: int = 3, rounds: int = 5) -> list[float]:
    """Seconds from a client's Propose to its Decided, one figure per round.

    A cluster decides once, so each round starts a fresh cluster of real
    processes in a temporary directory, proposes to its first node, and
    stops it. The figure includes opening the peer connections (the first
    messages of a fresh cluster) and the fsyncs of both phases."""
    figures = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="paxoscope-latency-") as tmp:
            cluster = start_cluster(tmp, nodes)
            try:
                first = cluster.nodes[0]
                t0 = time.perf_counter()
                request(first.host, first.port, Propose(f"v{r}"), Decided, timeout=30.0)
                figures.append(time.perf_counter() - t0)
            finally:
                stop_cluster(tmp)
    return figures


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _port(text: str) -> int:
    n = _positive_int(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {n}")
    return n


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"the cluster's directory (cluster.json, one data directory per node; default: ./{DEFAULT_DATA})",
    )


def add_parsers(subparsers: Any) -> None:
    """Add the ``cluster`` and ``propose`` commands to an argparse subparsers object."""
    cluster = subparsers.add_parser(
        "cluster",
        help="start, inspect and stop a local cluster of real Paxos node processes",
        description="A local cluster of real Paxos nodes: one process per node on 127.0.0.1, each an acceptor, "
        "a proposer and a learner, with its acceptor state durable in its data directory.",
    )
    actions = cluster.add_subparsers(dest="cluster_action", metavar="ACTION", parser_class=type(cluster))
    actions.required = True

    start = actions.add_parser(
        "start",
        help="start the nodes and wait until each serves",
        description="Start one node process per node and return once every node answers. Writes DIR/cluster.json. "
        "In the directory of a stopped cluster, resumes its nodes with the promises and votes they stored.",
        epilog="Exit codes: 0 started, 2 bad usage, a running cluster there, a port in use or a corrupt store, "
        "3 internal error.",
    )
    start.add_argument("--nodes", type=_positive_int, metavar="N", help=f"how many nodes (default: {DEFAULT_NODES})")
    _add_data(start)
    start.add_argument(
        "--base-port", type=_port, metavar="P", help="listen on ports P, P+1, ... (default: free ports from the OS)"
    )
    start.add_argument(
        "--bug",
        action="append",
        default=[],
        choices=sorted(IMPL_BUGS),
        metavar="NAME",
        help="run a known-wrong variant of the implementation, to see it caught (repeatable): " + ", ".join(IMPL_BUGS),
    )
    start.add_argument(
        "--timeout", type=_seconds, default=START_TIMEOUT, metavar="S", help="give up if a node does not serve by then"
    )
    start.set_defaults(cluster_run="start")

    stop = actions.add_parser(
        "stop",
        help="stop every node (SIGTERM, then SIGKILL)",
        description="Stop every node of the cluster: SIGTERM, then SIGKILL for a node still running after --grace "
        "seconds. Data directories are kept.",
    )
    _add_data(stop)
    stop.add_argument("--grace", type=_seconds, default=STOP_GRACE, metavar="S", help="seconds before SIGKILL")
    stop.set_defaults(cluster_run="stop")

    status = actions.add_parser(
        "status",
        help="show each node's acceptor state and decision",
        description="Ask every node for its durable acceptor state (max_bal, max_vbal, max_val) and the value it "
        "learned was chosen.",
        epilog="Exit codes: 0 every node answered, 1 some node did not, 2 bad usage.",
    )
    _add_data(status)
    status.add_argument("--json", action="store_true", help="print a JSON list, one object per node")
    status.set_defaults(cluster_run="status")

    prop = subparsers.add_parser(
        "propose",
        help="ask a running cluster to choose a value, and print the value chosen",
        description="Ask one node of the cluster (the next if it is down) to choose VALUE, and print the value "
        "chosen, which may be another client's: once a value is chosen, every proposal learns it.",
        epilog="Exit codes: 0 a value was chosen, 1 no decision within --timeout, 2 bad usage or no cluster.",
    )
    prop.add_argument("value", metavar="VALUE", help="the value to propose")
    _add_data(prop)
    prop.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help="seconds to wait (default: 10)")
    prop.add_argument("--json", action="store_true", help="print {value, proposed, node, seconds} as JSON")
    prop.set_defaults(cluster_run="propose")


def run(args: argparse.Namespace) -> int:
    """Run a ``cluster`` or ``propose`` command; return its exit code."""
    what = args.cluster_run
    prog = "paxoscope propose" if what == "propose" else f"paxoscope cluster {what}"
    try:
        return {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status, "propose": _cmd_propose}[what](args)
    except NodeFailed as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.code == EXIT_USAGE else EXIT_INTERNAL
    except (ClusterError, CorruptStorage) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"{prog}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_start(args: argparse.Namespace) -> int:
    cluster = start_cluster(args.data, args.nodes, args.base_port, args.bug, args.timeout)
    print(f"started {len(cluster.nodes)} node{'s' * (len(cluster.nodes) != 1)} in {args.data}:")
    for n in cluster.nodes:
        print(f"  {n.name}  {n.address}  pid {n.pid}  data {n.data}")
    if cluster.bugs:
        print(f"  with the known bug{'s' * (len(cluster.bugs) != 1)}: {', '.join(sorted(cluster.bugs))}")
    print(f"propose a value: paxoscope propose VALUE --data {args.data}")
    return EXIT_OK


def _cmd_stop(args: argparse.Namespace) -> int:
    for line in stop_cluster(args.data, args.grace):
        print(line)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    answers = cluster_status(args.data)
    if args.json:
        doc = [
            {
                "name": info.name,
                "address": info.address,
                "pid": info.pid,
                "up": reply is not None,
                "max_bal": reply.max_bal if reply else None,
                "max_vbal": reply.max_vbal if reply else None,
                "max_val": reply.max_val if reply else None,
                "decided": reply.decided if reply else None,
            }
            for info, reply in answers
        ]
        print(json.dumps(doc, indent=2))
    else:
        for info, reply in answers:
            pid = f"pid {info.pid}" if info.pid else "pid -"
            if reply is None:
                print(f"{info.name}  {info.address}  {pid}  down")
            else:
                print(
                    f"{info.name}  {info.address}  {pid}  up  max_bal={reply.max_bal} max_vbal={reply.max_vbal} "
                    f"max_val={reply.max_val!r}  decided={reply.decided!r}"
                )
    return EXIT_OK if all(reply is not None for _, reply in answers) else EXIT_FAIL


def _cmd_propose(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    try:
        value, node = propose(args.data, args.value, args.timeout)
    except NoDecision as exc:
        print(f"paxoscope propose: no decision: {exc}", file=sys.stderr)
        return EXIT_FAIL
    seconds = time.monotonic() - t0
    if args.json:
        print(json.dumps({"value": value, "proposed": args.value, "node": node, "seconds": round(seconds, 4)}))
    else:
        print(value)
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as the paxoscope command reports bad usage.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m paxoscope.impl.cluster``: the same commands without the ``paxoscope`` entry point."""
    parser = _Parser(prog="paxoscope", description="A local cluster of real Paxos nodes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    add_parsers(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in ("start", "stop", "status"):
        argv.insert(0, "cluster")  # python -m paxoscope.impl.cluster start ...: the cluster is implied
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("paxoscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print(f"paxoscope: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

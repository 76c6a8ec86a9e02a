"""A local cluster of real Paxos node processes, and a client that proposes.

    paxoscope cluster start [--nodes 3] [--data DIR] [--base-port P]
    paxoscope cluster status [--data DIR] [--json]
    paxoscope cluster restart NODE [--data DIR]
    paxoscope cluster rejoin NODE [--data DIR]
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

``propose`` asks one node, and the next as well if that one is down or has
not answered within a second, and prints the chosen value, which may be
another client's: that is Paxos.

Operator mistakes are refused rather than survived by luck. Commands that
start or stop nodes hold a lock (``flock``) on the cluster directory, and
every node holds one on its own data directory for as long as it runs, so
two ``cluster start`` at once cannot both start nodes on the same stores. A
node's acceptor store is created before the node first runs, and
cluster.json records that (``"started": true``): from then on a missing
store means promises were lost, and the node refuses to start. ``cluster
rejoin NODE`` brings such a node back as a learner, recorded as one
(``"role": "learner"``), which never promises, votes or proposes again.

Exit codes: 0 done (``propose``: a value was chosen; ``status``: every node
answered and can write its store), 1 ``propose``: no decision learned in
time (the outcome is unknown), ``status``: some node is down or failing, 2
bad usage or input (no cluster.json, a corrupt one, a corrupt or missing
acceptor store, a port in use, another command busy in the directory), 3 an
internal error.

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
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from ..spec.constants import positive_int as _positive_int
from ..spec.constants import positive_seconds as _seconds
from .core import IMPL_BUGS, AcceptorState, NodeConfig
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
    value_problem,
)
from .storage import CorruptStorage, DurableStore, Locked, NotRegularFile, lock_directory, read_regular

CLUSTER_FILE = "cluster.json"
CLUSTER_FORMAT = "paxoscope-cluster"
CLUSTER_VERSION = 1
HOST = "127.0.0.1"

ACCEPTOR, LEARNER = "acceptor", "learner"
MAX_CLUSTER_FILE = 1024 * 1024
DEFAULT_DATA = "paxoscope-cluster"
DEFAULT_NODES = 3
MAX_NODES = 15  # majority quorums are enumerated: C(n, n/2+1) grows fast
START_TIMEOUT = 20.0
STOP_GRACE = 5.0
POLL = 0.05
PATIENCE = 1.0  # seconds a node may take to answer a proposal before the next node is asked too

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
    role: str = ACCEPTOR  # or LEARNER: rejoined after its store was lost, it never votes again
    started: bool = False  # its acceptor store was created: from then on, a missing store means lost promises

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_acceptor(self) -> bool:
        return self.role == ACCEPTOR


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
        """Every node is acceptor, proposer and learner; majority quorums; unbounded ballots.

        A learner (a node that lost its store) is different in two ways only.
        It is no acceptor, so it never promises or votes; its peers still
        count it in the quorums, which stay the majorities of every node: it
        is to them an acceptor that never answers, which Paxos tolerates as it
        tolerates a crash, and every quorum still meets every earlier one in
        an acceptor that remembers. And it does not propose: a proposer that
        forgot its ballots could run one of them again with another value.
        Ballot ownership is left as it was (the learner stays in everyone
        else's list of proposers), so no ballot changes hands."""
        me = self.node(name)
        names = tuple(n.name for n in self.nodes)
        proposers = names if me.is_acceptor else tuple(n for n in names if n != name)
        return NodeConfig(
            name=name,
            acceptors=tuple(n.name for n in self.nodes if n.is_acceptor),
            proposers=proposers,
            learners=names,
            quorums=majority_quorums(names),
            ballots=None,
            bugs=self.bugs,
        )

    def with_pid(self, name: str, pid: int | None) -> ClusterDescription:
        return self.with_node(name, pid=pid)

    def with_node(self, name: str, **changes: Any) -> ClusterDescription:
        return replace(self, nodes=tuple(replace(n, **changes) if n.name == name else n for n in self.nodes))


def majority_quorums(names: Sequence[str]) -> tuple[frozenset[str], ...]:
    """The smallest majorities; a larger set contains one, and the core checks containment."""
    size = len(names) // 2 + 1
    return tuple(frozenset(q) for q in itertools.combinations(names, size))


def load_cluster(path: str | os.PathLike[str]) -> ClusterDescription:
    """Read cluster.json; ``ClusterError`` names the file and what is wrong with it."""
    path = Path(path)
    try:
        raw = read_regular(path, MAX_CLUSTER_FILE)
    except FileNotFoundError:
        raise ClusterError(f"{path}: no such file (start a cluster first: paxoscope cluster start)") from None
    except NotRegularFile as exc:
        raise ClusterError(f"{exc}, not a cluster description") from None
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
            role = entry.get("role", ACCEPTOR)
            started = entry.get("started", False)
            ok = (
                isinstance(name, str)
                and re.fullmatch(r"[A-Za-z0-9_.-]+", name) is not None
                and isinstance(host, str)
                and isinstance(port, int)
                and not isinstance(port, bool)
                and 0 < port < 65536
                and isinstance(data, str)
                and (pid is None or (isinstance(pid, int) and pid > 0))
                and role in (ACCEPTOR, LEARNER)
                and isinstance(started, bool)
            )
        except (TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise ClusterError(
                f"{path}: node #{i + 1} needs a name (letters, digits, _ . -), host, port (1-65535), "
                "data directory and pid (and may have a role, acceptor or learner, and started, true or false)"
            )
        # Data directories are stored relative to cluster.json so a stopped cluster can be moved.
        nodes.append(NodeInfo(name, host, port, (path.parent / data).resolve(), pid, role, started))
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
        entry = {"name": n.name, "host": n.host, "port": n.port, "pid": n.pid, "data": str(data)}
        entries.append({**entry, "role": n.role, "started": n.started})
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


def _open_log(file: Path) -> int:
    """The node's log, opened to append; a FIFO or other non-file there is refused, not waited on."""
    try:
        fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    except OSError as exc:  # ENXIO: a FIFO nobody reads
        raise ClusterError(f"{file}: cannot open the node's log: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ClusterError(f"{file}: is not a regular file; a node's log must be one")
    os.set_blocking(fd, True)
    return fd


def _spawn(path: Path, info: NodeInfo) -> subprocess.Popen[bytes]:
    info.data.mkdir(parents=True, exist_ok=True)
    with open(_open_log(info.data / "node.log"), "ab") as log:
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


@contextlib.contextmanager
def _exclusive(data: Path) -> Iterator[None]:
    """Hold the cluster directory's lock: one command at a time starts or stops its nodes."""
    try:
        fd = lock_directory(data, "another paxoscope command is starting or stopping nodes of this cluster; try again")
    except Locked as exc:
        raise ClusterError(str(exc)) from None
    try:
        yield
    finally:
        os.close(fd)


def missing_store_problem(cluster_file: str | os.PathLike[str], info: NodeInfo) -> str | None:
    """Why ``info`` must not start for want of its store, or None.

    An acceptor that has run before and lost its store would start with no
    promises: it could then promise a ballot below one it promised, or vote
    against its own earlier vote, and a value already chosen could be
    replaced by another: a single ``rm`` would be enough."""
    store = DurableStore(info.data)
    if not info.is_acceptor or not info.started or store.exists():
        return None
    data = Path(cluster_file).parent
    return (
        f"{store.path}: the acceptor store of {info.name} is missing, but {info.name} has run before; started empty "
        f"it could break the promises it made and change a value already chosen. Refusing to start; to bring it "
        f"back as a learner that never votes again: paxoscope cluster rejoin {info.name} --data {data}"
    )


def _prepare_store(path: Path, info: NodeInfo) -> NodeInfo:
    """Check ``info``'s store before its node runs, and create it on the node's first start.

    Returns ``info`` as cluster.json must record it before the node starts."""
    if problem := missing_store_problem(path, info):
        raise ClusterError(problem)
    if not info.is_acceptor:
        return info
    store = DurableStore(info.data)
    try:
        store.lock()  # a process still holding it (an orphan node) would go on writing it
        store.load()
        if not store.exists():
            store.save(AcceptorState())  # the initial state, as an empty store reads; now its loss shows
    except Locked as exc:
        raise ClusterError(f"{info.name} cannot start: {exc}") from None
    except CorruptStorage as exc:
        raise ClusterError(f"{info.name} cannot start, its acceptor store is corrupt: {exc}") from None
    finally:
        store.unlock()
    return replace(info, started=True)


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
    if not path.exists() and not 1 <= (DEFAULT_NODES if nodes is None else nodes) <= MAX_NODES:
        raise ClusterError(f"--nodes must be between 1 and {MAX_NODES}, not {nodes}")
    data.mkdir(parents=True, exist_ok=True)
    with _exclusive(data):
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
            members = list(old.nodes)
        else:
            count = DEFAULT_NODES if nodes is None else nodes
            members = [NodeInfo(f"n{i + 1}", HOST, 1, data / f"n{i + 1}") for i in range(count)]
        # Refuse here, with the file named, rather than have a node die on it.
        members = [_prepare_store(path, n) for n in members]
        # Free ports from the OS are released before the nodes bind them, so
        # another program may take one in between: then try again with new ones.
        attempts = 1 if base_port is not None else 3
        for attempt in range(attempts):
            ports = _ports(len(members), base_port)
            placed = (replace(n, host=HOST, port=p, data=n.data.resolve(), pid=None) for n, p in zip(members, ports))
            cluster = ClusterDescription(tuple(placed), bugs)
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
    data = Path(data).absolute()
    load(data)  # names the missing cluster before anything else
    with _exclusive(data):
        return _start_node(data, name, timeout)


def _start_node(data: Path, name: str, timeout: float) -> int:
    path = cluster_path(data)
    cluster = load(data)
    info = cluster.node(name)
    if is_running(info.pid, name):
        raise ClusterError(f"{name} is already running (pid {info.pid})")
    info = _prepare_store(path, info)
    cluster = cluster.with_node(name, started=info.started)
    write_cluster(path, cluster)
    child = _spawn(path.absolute(), info)
    write_cluster(path, cluster.with_pid(name, child.pid))
    try:
        _wait_serving([info], {name: child}, timeout)
    except BaseException:
        _terminate({name: child.pid}, grace=2.0)
        write_cluster(path, load_cluster(path).with_pid(name, None))
        raise
    return child.pid


def restart_node(
    data: str | os.PathLike[str], name: str, grace: float = STOP_GRACE, timeout: float = START_TIMEOUT
) -> tuple[str, int]:
    """Stop one node (if it runs), wait until its process is gone, start it
    again on its data directory and address: (what happened to the old one, the new pid)."""
    data = Path(data).absolute()
    cluster = load(data)
    cluster.node(name)
    with _exclusive(data):
        return _stop_one(data, name, grace), _start_node(data, name, timeout)


def _stop_one(data: Path, name: str, grace: float) -> str:
    path = cluster_path(data)
    info = load_cluster(path).node(name)
    ended = _terminate({name: info.pid}, grace)
    write_cluster(path, load_cluster(path).with_pid(name, None))
    if not ended:
        return f"{name} was not running"
    _, pid, killed = ended[0]
    return f"killed {name} (pid {pid})" if killed else f"stopped {name} (pid {pid})"


def rejoin_as_learner(
    data: str | os.PathLike[str], name: str, grace: float = STOP_GRACE, timeout: float = START_TIMEOUT
) -> tuple[str, int | None]:
    """Record ``name`` as a learner for good: (what happened to its process, its new pid).

    For a node whose acceptor store was lost: it rejoins without voting,
    promising or proposing again (see ``ClusterDescription.config_for``).
    It is (re)started at once if it or another node of the cluster runs;
    in a stopped cluster it starts with the others (new pid: None). There
    is no way back to acceptor: that would need a reconfiguration protocol,
    which a single-decree cluster does not have."""
    data = Path(data).absolute()
    load(data).node(name)
    with _exclusive(data):
        path = cluster_path(data)
        live = any(is_running(n.pid, n.name) for n in load_cluster(path).nodes)
        what = _stop_one(data, name, grace)
        write_cluster(path, load_cluster(path).with_node(name, role=LEARNER))
        return what, _start_node(data, name, timeout) if live else None


def stop_cluster(data: str | os.PathLike[str], grace: float = STOP_GRACE) -> list[str]:
    """Stop every node of the cluster in ``data``: one line per node on what happened."""
    data = Path(data).absolute()
    path = cluster_path(data)
    load(data)
    with _exclusive(data):
        cluster = load_cluster(path)
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


def propose(
    data: str | os.PathLike[str], value: str, timeout: float = 10.0, patience: float = PATIENCE
) -> tuple[str, str]:
    """Ask the cluster to choose ``value``: (the chosen value, the node that told us).

    Asks the nodes in turn: the next one as soon as a node refuses the
    connection or drops it, and also when the nodes asked so far have not
    answered within ``patience`` seconds (a node that is paused, or cut off
    from a quorum, accepts a connection and never answers). Every node asked
    keeps the request, and the first decision any of them reports is the
    answer. Raises NoDecision if none came within ``timeout`` seconds, and
    ClusterError for bad input (no cluster, a value too large)."""
    if problem := value_problem(value):
        raise ClusterError(problem)
    cluster = load(data)
    with contextlib.ExitStack() as stack:
        asking = _Asking(cluster, Propose(value), time.monotonic() + timeout, patience, stack)
        answer = asking.run()
    if answer is not None:
        return answer
    if not asking.reached:
        names = ", ".join(n.name for n in cluster.nodes)
        raise NoDecision(f"no node answers ({names} are not running; paxoscope cluster start --data {data})")
    raise NoDecision(
        f"no decision learned within {timeout:g} s (asked {', '.join(asking.reached)}): the outcome is unknown, "
        f"{value!r} may still be chosen; propose again (any value) to learn the decision"
    )


class _Asking:
    """One proposal in flight: the connections that carry it, and which node to ask next."""

    def __init__(
        self, cluster: ClusterDescription, msg: Message, deadline: float, patience: float, stack: contextlib.ExitStack
    ):
        self.cluster, self.msg, self.deadline, self.patience, self.stack = cluster, msg, deadline, patience, stack
        self.queue = list(cluster.nodes)  # in order: the first node is asked first
        self.waiting: dict[socket.socket, NodeInfo] = {}
        self.reached: list[str] = []  # the nodes that took the request (it may be chosen through any of them)
        self.next_ask = 0.0

    def run(self) -> tuple[str, str] | None:
        while (remaining := self.deadline - time.monotonic()) > 0:
            if self.queue and (not self.waiting or time.monotonic() >= self.next_ask):
                self._ask(self.queue.pop(0), remaining)
                continue
            if not self.waiting:
                # Every node refused the connection: starting or restarting ones are worth another round.
                if not any(is_running(n.pid, n.name) for n in self.cluster.nodes):
                    return None
                time.sleep(POLL)
                self.queue = list(self.cluster.nodes)
                continue
            wait = remaining if not self.queue else max(0.0, min(remaining, self.next_ask - time.monotonic()))
            ready, _, _ = select.select(list(self.waiting), [], [], wait)
            for sock in ready:
                info = self.waiting.pop(sock)
                try:
                    sock.settimeout(max(0.01, self.deadline - time.monotonic()))
                    while not isinstance(answer := read_frame(sock), Decided):
                        pass
                except (OSError, MalformedMessage):
                    sock.close()  # it went away: the others still hold the request
                    continue
                return answer.value, info.name
        return None

    def _ask(self, info: NodeInfo, remaining: float) -> None:
        try:
            sock = socket.create_connection((info.host, info.port), timeout=min(remaining, 1.0))
            self.stack.callback(sock.close)
            sock.sendall(encode(self.msg))
        except OSError:
            return  # down: the next node is asked at once
        if info.name not in self.reached:
            self.reached.append(info.name)
        self.waiting[sock] = info
        self.next_ask = time.monotonic() + self.patience


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


def _add_node_restart(parser: argparse.ArgumentParser) -> None:
    """The options of a command that stops one node and starts it again."""
    parser.add_argument("node", metavar="NODE", help="the node's name (n1, n2, ...)")
    _add_data(parser)
    parser.add_argument("--grace", type=_seconds, default=STOP_GRACE, metavar="S", help="seconds before SIGKILL")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=START_TIMEOUT,
        metavar="S",
        help="give up if it does not serve by then",
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

    restart = actions.add_parser(
        "restart",
        help="restart one node (stop it if it runs, then start it again)",
        description="Stop one node (SIGTERM, then SIGKILL after --grace seconds) if it runs, wait until its process "
        "is gone, and start it again with its data directory and address. Its pid is recorded, so cluster stop "
        "stops it.",
        epilog="Exit codes: 0 restarted, 2 bad usage, no such node, a missing or corrupt store, another command busy "
        "in the directory, 3 internal error.",
    )
    _add_node_restart(restart)
    restart.set_defaults(cluster_run="restart")

    rejoin = actions.add_parser(
        "rejoin",
        help="bring back a node that lost its acceptor store, as a learner that never votes again",
        description="Record NODE as a learner for good, and restart it as one if the cluster runs (in a stopped "
        "cluster it starts as one with the others). A learner never promises, votes "
        "or proposes; it learns the decision from the others' votes. Use it for a node whose acceptor store was "
        "lost: started as an acceptor with no memory of its promises, it could change a value already chosen. The "
        "quorums stay the majorities of all nodes, so each learner is one fewer acceptor that can be down.",
        epilog="Exit codes: 0 rejoined, 2 bad usage, no such node, another command busy in the directory, "
        "3 internal error.",
    )
    _add_node_restart(rejoin)
    rejoin.set_defaults(cluster_run="rejoin")

    status = actions.add_parser(
        "status",
        help="show each node's acceptor state and decision",
        description="Ask every node for its durable acceptor state (max_bal, max_vbal, max_val) and the value it "
        "learned was chosen.",
        epilog="Exit codes: 0 every node answered and can write its store, 1 some node is down or failing (its "
        "store cannot be written), 2 bad usage.",
    )
    _add_data(status)
    status.add_argument("--json", action="store_true", help="print a JSON list, one object per node")
    status.set_defaults(cluster_run="status")

    prop = subparsers.add_parser(
        "propose",
        help="ask a running cluster to choose a value, and print the value chosen",
        description="Ask one node of the cluster to choose VALUE (and the next as well if it is down or does not "
        "answer within a second), and print the value chosen, which may be another client's: once a value is "
        "chosen, every proposal learns it.",
        epilog="Exit codes: 0 a value was chosen, 1 no decision learned within --timeout (the outcome is unknown: "
        "the value may still be chosen), 2 bad usage or no cluster.",
    )
    prop.add_argument("value", metavar="VALUE", help="the value to propose")
    _add_data(prop)
    prop.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help="seconds to wait (default: 10)")
    prop.add_argument("--json", action="store_true", help="print {value, proposed, node, seconds} as JSON")
    prop.set_defaults(cluster_run="propose")


Out = Callable[..., None]


def _print(*parts: Any) -> None:
    """print() to stdout; a reader that went away (``| head -1``) ends the output quietly, not the command."""
    global _stdout_gone
    if _stdout_gone:
        return
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        # What the command did stands (the nodes started): only its report
        # has no reader. Keep the interpreter's final flush from failing too.
        _stdout_gone = True
        sys.stdout = open(os.devnull, "w")


_stdout_gone = False


def run(args: argparse.Namespace, out: Out | None = None) -> int:
    """Run a ``cluster`` or ``propose`` command; return its exit code.

    ``out`` prints a line of the report (the ``paxoscope`` console's own,
    when it passes one); the default ends the output quietly when the reader
    of stdout goes away."""
    what = args.cluster_run
    prog = "paxoscope propose" if what == "propose" else f"paxoscope cluster {what}"
    commands = {
        "start": _cmd_start,
        "stop": _cmd_stop,
        "restart": _cmd_restart,
        "rejoin": _cmd_rejoin,
        "status": _cmd_status,
        "propose": _cmd_propose,
    }
    try:
        return commands[what](args, out or _print)
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


def _cmd_start(args: argparse.Namespace, out: Out) -> int:
    cluster = start_cluster(args.data, args.nodes, args.base_port, args.bug, args.timeout)
    out(f"started {len(cluster.nodes)} node{'s' * (len(cluster.nodes) != 1)} in {args.data}:")
    for n in cluster.nodes:
        out(f"  {n.name}  {n.address}  pid {n.pid}  data {n.data}{'' if n.is_acceptor else '  (learner)'}")
    if cluster.bugs:
        out(f"  with the known bug{'s' * (len(cluster.bugs) != 1)}: {', '.join(sorted(cluster.bugs))}")
    out(f"propose a value: paxoscope propose VALUE --data {args.data}")
    return EXIT_OK


def _cmd_stop(args: argparse.Namespace, out: Out) -> int:
    for line in stop_cluster(args.data, args.grace):
        out(line)
    return EXIT_OK


def _cmd_restart(args: argparse.Namespace, out: Out) -> int:
    what, pid = restart_node(args.data, args.node, args.grace, args.timeout)
    out(what)
    out(f"started {args.node} (pid {pid})")
    return EXIT_OK


def _cmd_rejoin(args: argparse.Namespace, out: Out) -> int:
    what, pid = rejoin_as_learner(args.data, args.node, args.grace, args.timeout)
    out(what)
    if pid is None:
        out(
            f"{args.node} is now a learner: it will never promise, vote or propose again; it starts with the "
            f"cluster: paxoscope cluster start --data {args.data}"
        )
    else:
        out(f"started {args.node} (pid {pid}) as a learner: it will never promise, vote or propose again")
    cluster = load(args.data)
    acceptors, majority = sum(n.is_acceptor for n in cluster.nodes), len(cluster.nodes) // 2 + 1
    if acceptors < majority:
        out(
            f"warning: {acceptors} of {len(cluster.nodes)} nodes are acceptors, fewer than a quorum ({majority}): "
            "no value not already chosen can be chosen any more"
        )
    else:
        out(f"{acceptors} of {len(cluster.nodes)} nodes are acceptors; a decision needs {majority} of them up")
    return EXIT_OK


def _failing(reply: StatusReply | None) -> str | None:
    """Why a node is not serving as it should, or None."""
    if reply is None:
        return "down"
    if reply.store_error is not None:
        return f"failing: its store cannot be written ({reply.store_error})"
    return None


def _cmd_status(args: argparse.Namespace, out: Out) -> int:
    answers = cluster_status(args.data)
    code = EXIT_OK if all(_failing(reply) is None for _, reply in answers) else EXIT_FAIL
    if args.json:
        doc = [
            {
                "name": info.name,
                "address": info.address,
                "pid": info.pid,
                "role": info.role,
                "up": _failing(reply) is None,
                "failing": _failing(reply),
                "max_bal": reply.max_bal if reply else None,
                "max_vbal": reply.max_vbal if reply else None,
                "max_val": reply.max_val if reply else None,
                "decided": reply.decided if reply else None,
            }
            for info, reply in answers
        ]
        out(json.dumps(doc, indent=2))
        return code
    for info, reply in answers:
        pid = f"pid {info.pid}" if info.pid else "pid -"
        if reply is None:
            out(f"{info.name}  {info.address}  {pid}  down")
        elif not info.is_acceptor:
            out(f"{info.name}  {info.address}  {pid}  up (learner)  decided={reply.decided!r}")
        else:
            state = _failing(reply) or "up"
            out(
                f"{info.name}  {info.address}  {pid}  {state}  max_bal={reply.max_bal} max_vbal={reply.max_vbal} "
                f"max_val={reply.max_val!r}  decided={reply.decided!r}"
            )
    return code


def _cmd_propose(args: argparse.Namespace, out: Out) -> int:
    t0 = time.monotonic()
    try:
        value, node = propose(args.data, args.value, args.timeout)
    except NoDecision as exc:
        print(f"paxoscope propose: {exc}", file=sys.stderr)
        return EXIT_FAIL
    seconds = time.monotonic() - t0
    if args.json:
        out(json.dumps({"value": value, "proposed": args.value, "node": node, "seconds": round(seconds, 4)}))
    else:
        out(value)
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
    if argv[:1] and argv[0] in ("start", "stop", "status", "restart", "rejoin"):
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

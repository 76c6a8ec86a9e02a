"""Process supervision of a local cluster: start, stop, restart and rejoin its nodes.

``start_cluster`` runs one ``python -m paxoscope.impl.net`` process per node,
each with its own data directory ``DIR/nK`` holding its durable state (the
protocol's store: a Paxos acceptor's) and its log (``node.log``); it returns
once every node answers ``Status``, and records the cluster (and the protocol
its nodes run) in ``DIR/cluster.json``. Starting again in
a stopped cluster's directory resumes the same nodes with what they stored.

Operator mistakes are refused rather than survived by luck. Commands that
start or stop nodes hold a lock (``flock``) on the cluster directory, and
every node holds one on its own data directory for as long as it runs, so two
``cluster start`` at once cannot both start nodes on the same stores. A node's
store is created before the node first runs, and cluster.json records that
(``"started": true``): from then on a missing store means promises were lost,
and the node refuses to start. ``rejoin_as_learner`` brings such a node back
as a learner (``"role": "learner"``), which never promises, votes or proposes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from .clusterfile import (
    FIRST_PROTOCOL,
    HOST,
    LEARNER,
    READ_MODES,
    ClusterDescription,
    ClusterError,
    NodeInfo,
    cluster_path,
    load,
    load_cluster,
    write_cluster,
)
from .framing import MalformedMessage
from .protocol import RuntimeProtocol, load_protocol
from .storage import CorruptStorage, Locked, lock_directory

DEFAULT_NODES = 3
MAX_NODES = 15  # majority quorums are enumerated: C(n, n/2+1) grows fast
START_TIMEOUT = 20.0
STOP_GRACE = 5.0
POLL = 0.05

# The node processes this process started, so that their liveness is read
# from the child itself (a dead child stays a zombie, which kill(pid, 0)
# would report alive, until it is waited for).
_children: dict[int, subprocess.Popen[bytes]] = {}


class NodeFailed(ClusterError):
    """A node process exited while starting: a refusal of the node's (exit 2) is the
    user's to fix, any other exit is an internal error (exit 3)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code
        self.exit_code = 2 if code == 2 else 3


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
        # -P: the working directory is not on the node's path, so a source tree
        # there (a clone's paxoscope/, without impl/) cannot hide the installed package.
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", "paxoscope.impl.net", "--name", info.name, "--cluster", str(path)],
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


def _wait_serving(
    nodes: Iterable[NodeInfo], children: dict[str, subprocess.Popen[bytes]], timeout: float, protocol: RuntimeProtocol
) -> None:
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
                reply = protocol.codec.request(
                    info.host, info.port, protocol.status(), protocol.status_answer, timeout=0.5
                )
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


def missing_store_problem(
    cluster_file: str | os.PathLike[str], info: NodeInfo, protocol: RuntimeProtocol
) -> str | None:
    """Why ``info`` must not start for want of its store, or None.

    An acceptor that has run before and lost its store would start with no
    promises: it could then promise a ballot below one it promised, or vote
    against its own earlier vote, and a value already chosen could be
    replaced by another: a single ``rm`` would be enough."""
    store = protocol.open_store(info.data)
    if not info.is_acceptor or not info.started or store.exists():
        return None
    data = Path(cluster_file).parent
    return (
        f"{store.path}: the {protocol.store.noun} store of {info.name} is missing, but {info.name} has run before; "
        f"started empty it could break the promises it made and change a value already chosen. Refusing to start; "
        f"to bring it back as a learner that never votes again: paxoscope cluster rejoin {info.name} --data {data}"
    )


def _prepare_store(path: Path, info: NodeInfo, protocol: RuntimeProtocol) -> NodeInfo:
    """Check ``info``'s store before its node runs, and create it on the node's first start.

    Returns ``info`` as cluster.json must record it before the node starts."""
    if problem := missing_store_problem(path, info, protocol):
        raise ClusterError(problem)
    if not info.is_acceptor:
        return info
    store = protocol.open_store(info.data)
    try:
        store.lock()  # a process still holding it (an orphan node) would go on writing it
        store.load()
        if not store.exists():
            store.save(protocol.store.initial)  # the initial state, as an empty store reads; now its loss shows
    except Locked as exc:
        raise ClusterError(f"{info.name} cannot start: {exc}") from None
    except CorruptStorage as exc:
        raise ClusterError(f"{info.name} cannot start, its {protocol.store.noun} store is corrupt: {exc}") from None
    finally:
        store.unlock()
    return replace(info, started=True)


def start_cluster(
    data: str | os.PathLike[str],
    nodes: int | None = None,
    base_port: int | None = None,
    bugs: Iterable[str] = (),
    timeout: float = START_TIMEOUT,
    protocol: RuntimeProtocol | None = None,
    reads: str | None = None,
) -> ClusterDescription:
    """Start (or resume) the cluster in ``data``; return once every node serves.

    A new cluster runs ``protocol`` (None: the first one, Paxos); a stopped one
    resumes with the protocol cluster.json names, whatever ``protocol`` says.
    ``reads`` (a replicated service's, ``READ_MODES``; None: the stopped
    cluster's, or the default) says how it answers reads."""
    data = Path(data).absolute()
    if data.exists() and not data.is_dir():
        raise ClusterError(f"{data}: not a directory")
    path = cluster_path(data)
    if path.exists():
        protocol = load_cluster(path).runtime
    protocol = protocol or load_protocol(FIRST_PROTOCOL)
    bugs = frozenset(bugs)
    if unknown := protocol.unknown_bugs(bugs):
        raise ClusterError(f"unknown implementation bug {unknown[0]!r}; known: {', '.join(protocol.bugs)}")
    if reads is not None and protocol.client_request is None:
        raise ClusterError(f"{protocol.name} serves no reads: --reads is for a replicated service")
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
            reads = old.reads if reads is None else reads
        else:
            count = DEFAULT_NODES if nodes is None else nodes
            members = [NodeInfo(f"n{i + 1}", HOST, 1, data / f"n{i + 1}") for i in range(count)]
        # Refuse here, with the file named, rather than have a node die on it.
        members = [_prepare_store(path, n, protocol) for n in members]
        # Free ports from the OS are released before the nodes bind them, so
        # another program may take one in between: then try again with new ones.
        attempts = 1 if base_port is not None else 3
        for attempt in range(attempts):
            ports = _ports(len(members), base_port)
            placed = (replace(n, host=HOST, port=p, data=n.data.resolve(), pid=None) for n, p in zip(members, ports))
            cluster = ClusterDescription(tuple(placed), bugs, protocol.name, reads or READ_MODES[0])
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
        _wait_serving(cluster.nodes, children, timeout, cluster.runtime)
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
    info = _prepare_store(path, info, cluster.runtime)
    cluster = cluster.with_node(name, started=info.started)
    write_cluster(path, cluster)
    child = _spawn(path.absolute(), info)
    write_cluster(path, cluster.with_pid(name, child.pid))
    try:
        _wait_serving([info], {name: child}, timeout, cluster.runtime)
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

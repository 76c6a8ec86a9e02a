"""The cluster description, ``DIR/cluster.json``: who is in a local cluster and where.

Both sides of the wire read it: the commands that start, stop and ask the
nodes, and each node when it starts (its own address and data directory, its
peers'). It is written atomically, since nodes may read it while a command
rewrites it, and read as untrusted: ``ClusterError`` names the file and what
is wrong with it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..spec.constants import ConfigError
from .protocol import RuntimeProtocol, load_protocol
from .storage import NotRegularFile, read_regular

CLUSTER_FILE = "cluster.json"
CLUSTER_FORMAT = "paxoscope-cluster"
CLUSTER_VERSION = 1
HOST = "127.0.0.1"

ACCEPTOR, LEARNER = "acceptor", "learner"
MAX_CLUSTER_FILE = 1024 * 1024
# cluster.json names the protocol its nodes run; a file that names none was
# written before there was more than one, by a Paxos cluster.
FIRST_PROTOCOL = "paxos"
# How a replicated service answers reads: "lease", by the leader under its lease, through the log when the
# lease does not hold (the default); "log", always through the log.
READ_MODES = ("lease", "log")


class ClusterError(ConfigError):
    """A cluster description (or a request about one) that cannot be used: the user's to fix (exit 2)."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    host: str
    port: int
    data: Path  # the node's data directory (absolute)
    pid: int | None = None
    role: str = ACCEPTOR  # or LEARNER: rejoined after its store was lost, it never votes again
    started: bool = False  # its acceptor store was created: from then on, a missing store means lost promises
    # Where this node dials some of its peers instead of their own address: (peer, host, port), e.g. a
    # proxy that a fault injector can cut (``impl.nemesis``). Clients and commands still reach the peer directly.
    dial: tuple[tuple[str, str, int], ...] = ()

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
    protocol: str = FIRST_PROTOCOL  # the name of the implemented protocol its nodes run (impl.<protocol>)
    reads: str = READ_MODES[0]  # how a replicated service answers reads (READ_MODES)

    @property
    def runtime(self) -> RuntimeProtocol:
        """What the nodes run: the protocol's implementation."""
        return load_protocol(self.protocol)

    def node(self, name: str) -> NodeInfo:
        for info in self.nodes:
            if info.name == name:
                return info
        raise ClusterError(f"no node named {name!r} (the cluster has {', '.join(n.name for n in self.nodes)})")

    def peers_of(self, name: str) -> tuple[NodeInfo, ...]:
        """Every node as node ``name`` reaches it: at the address its ``dial`` names for it, else its own."""
        via = {peer: (host, port) for peer, host, port in self.node(name).dial}
        return tuple(replace(n, host=via[n.name][0], port=via[n.name][1]) if n.name in via else n for n in self.nodes)

    def with_pid(self, name: str, pid: int | None) -> ClusterDescription:
        return self.with_node(name, pid=pid)

    def with_node(self, name: str, **changes: Any) -> ClusterDescription:
        return replace(self, nodes=tuple(replace(n, **changes) if n.name == name else n for n in self.nodes))


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
    protocol = doc.get("protocol", FIRST_PROTOCOL)
    try:
        known = load_protocol(protocol).bugs if isinstance(protocol, str) else None
    except ConfigError:
        known = None
    if known is None:
        raise ClusterError(f"{path}: 'protocol' must name an implemented protocol, not {protocol!r}")
    bugs = doc.get("bugs", [])
    if not isinstance(bugs, list) or any(b not in known for b in bugs):
        raise ClusterError(f"{path}: 'bugs' must list known implementation bugs ({', '.join(known)})")
    reads = doc.get("reads", READ_MODES[0])
    if reads not in READ_MODES:
        raise ClusterError(f"{path}: 'reads' must be one of {', '.join(READ_MODES)}, not {reads!r}")
    nodes = []
    for i, entry in enumerate(entries):
        try:
            name, host, port, data = entry["name"], entry["host"], entry["port"], entry["data"]
            pid = entry.get("pid")
            role = entry.get("role", ACCEPTOR)
            started = entry.get("started", False)
            dial = _dial(entry.get("dial", {}))
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
                and dial is not None
            )
        except (TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise ClusterError(
                f"{path}: node #{i + 1} needs a name (letters, digits, _ . -), host, port (1-65535), "
                "data directory and pid (and may have a role, acceptor or learner, started, true or false, "
                "and dial, peer names to host:port)"
            )
        # Data directories are stored relative to cluster.json so a stopped cluster can be moved.
        nodes.append(NodeInfo(name, host, port, (path.parent / data).resolve(), pid, role, started, dial))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ClusterError(f"{path}: node names must be unique, not {names}")
    return ClusterDescription(tuple(nodes), frozenset(bugs), protocol, reads)


def _dial(entry: Any) -> tuple[tuple[str, str, int], ...] | None:
    """A node's ``dial`` map (peer name -> "host:port") as (peer, host, port) triples; None if malformed."""
    if not isinstance(entry, dict):
        return None
    dial = []
    for peer, address in sorted(entry.items()):
        host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
        if not (host and port.isdigit() and 0 < int(port) < 65536):
            return None
        dial.append((peer, host, int(port)))
    return tuple(dial)


def write_cluster(path: str | os.PathLike[str], cluster: ClusterDescription) -> None:
    """Write cluster.json atomically (nodes may be reading it while it is rewritten)."""
    path = Path(path)
    base = path.parent.resolve()
    entries: list[dict[str, Any]] = []
    for n in cluster.nodes:
        data = Path(os.path.relpath(n.data, base)) if n.data.is_relative_to(base) else n.data
        entry = {"name": n.name, "host": n.host, "port": n.port, "pid": n.pid, "data": str(data)}
        entries.append({**entry, "role": n.role, "started": n.started})
        if n.dial:
            entries[-1]["dial"] = {peer: f"{host}:{port}" for peer, host, port in n.dial}
    doc = {
        "format": CLUSTER_FORMAT,
        "version": CLUSTER_VERSION,
        "protocol": cluster.protocol,
        "bugs": sorted(cluster.bugs),
        "nodes": entries,
    }
    if cluster.reads != READ_MODES[0]:
        doc["reads"] = cluster.reads
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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

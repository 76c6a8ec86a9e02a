"""A local cluster of real processes as the nemesis's target: its faults done with signals and proxies.

The cluster is the one ``paxoscope cluster start`` runs (``impl.supervise``), with one difference: the
replicas reach each other through ``proxy.LinkProxies`` (cluster.json's ``dial``), so that links can be
cut. Clients and the supervisor's status requests reach the nodes directly. Process faults use the pids
the supervisor records: SIGKILL and a start on the same data directory, SIGSTOP and SIGCONT, a clean
restart. ``stop`` resumes what is paused, heals the links, stops every node and the proxies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clusterfile import HOST, ClusterDescription, ClusterError, NodeInfo, cluster_path, load, write_cluster
from ..protocol import load_protocol
from ..supervise import is_running, restart_node, start_cluster, start_node, stop_cluster
from .faults import DEAF, ISOLATE, LINK, MUTE, Fault
from .proxy import LinkProxies
from .workload import KVService

KILL_WAIT = 5.0  # seconds a SIGKILLed process may take to be gone


class LocalCluster:
    """``nodes`` replicas of ``protocol`` in ``data`` (a directory without a cluster), peers through proxies.

    ``client(data, number)`` makes a client of the service (the protocol's client library);
    ``leader(data)`` names the leader (None: none known); ``applied(data)`` each replica's applied state
    while it runs, ``stored(data)`` once it is stopped (read from its store)."""

    def __init__(
        self,
        data: str | os.PathLike[str],
        protocol: str,
        nodes: int = 3,
        *,
        client: Callable[[Path, int], KVService] | None = None,
        leader: Callable[[Path], str | None] | None = None,
        applied: Callable[[Path], dict[str, Any]] | None = None,
        stored: Callable[[Path], dict[str, Any]] | None = None,
        bugs: frozenset[str] = frozenset(),
    ):
        self.data = Path(data).absolute()
        self.protocol = protocol
        self.nodes = tuple(f"n{i + 1}" for i in range(nodes))
        self.bugs = bugs  # known-wrong variants of the implementation the nodes run
        self._client, self._leader, self._applied, self._stored = client, leader, applied, stored
        self.proxies: LinkProxies | None = None
        self.paused: set[str] = set()

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        if cluster_path(self.data).exists():
            raise ClusterError(f"{self.data} holds a cluster already; the nemesis starts its own: give an empty --data")
        runtime = load_protocol(self.protocol)
        if unknown := runtime.unknown_bugs(self.bugs):
            raise ClusterError(f"unknown implementation bug {unknown[0]!r}; known: {', '.join(runtime.bugs)}")
        self.proxies = LinkProxies(self.nodes, self._address).start()
        self.data.mkdir(parents=True, exist_ok=True)
        # A stopped cluster whose nodes dial their peers through the proxies: starting it resumes it so.
        members = tuple(NodeInfo(name, HOST, 1, self.data / name, dial=self.proxies.dial(name)) for name in self.nodes)
        write_cluster(cluster_path(self.data), ClusterDescription(members, self.bugs, runtime.name))
        start_cluster(self.data, bugs=self.bugs)

    def stop(self) -> None:
        for name in list(self.paused):
            self.resume(name)
        if self.proxies is not None:
            self.proxies.heal()
        if cluster_path(self.data).exists():
            with contextlib.suppress(ClusterError):
                stop_cluster(self.data, grace=2.0)
        if self.proxies is not None:
            self.proxies.stop()
            self.proxies = None

    def description(self) -> ClusterDescription:
        return load(self.data)

    def _address(self, name: str) -> tuple[str, int]:
        info = self.description().node(name)
        return info.host, info.port

    # -- what the service says ------------------------------------------------------------

    def connect(self, number: int | None) -> KVService:
        if self._client is None:
            raise ClusterError(f"no client for the {self.protocol} protocol's service")
        return self._client(self.data, number)

    def leader(self) -> str | None:
        return None if self._leader is None else self._leader(self.data)

    def replica_states(self) -> dict[str, Any]:
        return {name: None for name in self.nodes} if self._applied is None else self._applied(self.data)

    def stored_states(self) -> dict[str, Any] | None:
        return None if self._stored is None else self._stored(self.data)

    # -- faults -----------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        info = self.description().node(name)
        return info.pid if is_running(info.pid, name) else None

    def kill(self, node: str) -> None:
        pid = self.pid(node)
        if pid is None:
            return
        self.paused.discard(node)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT
        while is_running(pid, node) and time.monotonic() < deadline:
            time.sleep(0.02)

    def revive(self, node: str) -> None:
        if self.pid(node) is None:
            start_node(self.data, node)

    def pause(self, node: str) -> None:
        pid = self.pid(node)
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)
            self.paused.add(node)

    def resume(self, node: str) -> None:
        pid = self.pid(node)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        self.paused.discard(node)

    def restart(self, node: str) -> None:
        self.resume(node)
        restart_node(self.data, node, grace=2.0)

    def partition(self, fault: Fault, node: str) -> None:
        assert self.proxies is not None
        others = [n for n in self.nodes if n != node]
        if fault.how == ISOLATE:
            self.proxies.isolate(node)
        elif fault.how == DEAF:
            for other in others:
                self.proxies.cut(other, node)
        elif fault.how == MUTE:
            for other in others:
                self.proxies.cut(node, other)
        elif fault.how == LINK:
            self.proxies.cut_both(node, fault.peer)

    def heal(self) -> None:
        if self.proxies is not None:
            self.proxies.heal()

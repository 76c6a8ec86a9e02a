"""Multi-Paxos's configurations: of a simulated system, and of a replica in a local cluster.

A simulated system has the spec's replicas s1..sN and its commands: writes
w1..wW (``put x wK``) and reads r1..rR (``get x``), each from its own client
(the command's name), so that a run maps onto ``spec.multipaxos`` name for
name. A ``Request`` is the clients sending the first commands not yet
answered, in the spec's order (writes, then reads), as the spec's clients
do: a leader logs the first it has not logged yet.

By default every feature of the core is on: catch-up, a snapshot after every
``snapshot_every`` applied commands (the log truncated before it), holes
filled with noops, candidates standing again; a run then refines
``impl.multipaxos.extended`` (MultiPaxos.tla with those steps). ``faithful``
runs the core as MultiPaxos.tla has it, with none of them: the walk along the
spec's transitions uses it. Either way the log has one slot per command, as
the spec's (``unbounded_log`` lifts that, for runs that are not mapped).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..clusterfile import ClusterDescription
from ..protocol import ClientRequest
from .core import LogState, Node, NodeConfig, disk_after
from .lease import LEASE
from .messages import OK

CLIENT_STREAM = "clients"  # where the simulated clients' answers go
KEY = "x"  # the one key the spec's commands write and read


@dataclass(frozen=True)
class SimConfig:
    replicas: int = 3
    writes: int = 1
    reads: int = 1
    max_ballot: int = 12
    bugs: frozenset[str] = frozenset()
    faithful: bool = False
    snapshot_every: int = 1
    batch: int = 8
    unbounded_log: bool = False

    @cached_property
    def node_names(self) -> tuple[str, ...]:
        return tuple(f"s{i + 1}" for i in range(self.replicas))

    @cached_property
    def commands(self) -> tuple[str, ...]:
        return tuple(f"w{i + 1}" for i in range(self.writes)) + tuple(f"r{i + 1}" for i in range(self.reads))

    # -- what the simulator reads (impl.protocol.SimSetup) --

    client_role = "replica"
    # Every schedule fires timers and asks any replica: a log goes deep only once some replica leads, and a
    # request reaches the log only at the leader (impl.conformance.schedules)
    always_enabled = ("timers", "competition")
    fault_kinds = ("loss", "duplication", "crashes", "timers", "competition", "partitions")

    @property
    def protocol(self) -> Any:
        from . import PROTOCOL

        return PROTOCOL

    @property
    def client_names(self) -> tuple[str, ...]:
        return self.node_names

    @property
    def timer_names(self) -> tuple[str, ...]:
        return self.node_names

    @property
    def request_values(self) -> tuple[str, ...]:
        """``Request(n, v)`` sends the first v + 1 commands not answered yet."""
        return tuple(f"the first {k + 1} pending" for k in range(len(self.commands)))

    def node_config(self, name: str) -> NodeConfig:
        faithful = self.faithful
        return NodeConfig(
            name=name,
            nodes=self.node_names,
            bugs=self.bugs,
            batch=self.batch,
            window=len(self.commands) + 1,
            election_ticks=1,
            snapshot_every=0 if faithful else self.snapshot_every,
            catch_up=not faithful,
            fill_holes=not faithful,
            restand=not faithful,
            max_ballot=self.max_ballot,
            max_slots=None if self.unbounded_log else len(self.commands),
        )

    def new_node(self, name: str, stored: LogState | None) -> Node:
        return Node(self.node_config(name), stored)

    def initial_store(self, name: str) -> LogState:
        return LogState()

    def disk_after(self, stored: LogState | None, records: list) -> LogState:
        return disk_after(stored, records)

    def request_events(self, sim: Any, name: str, value: int) -> list[ClientRequest]:
        """The first ``value + 1`` commands no replica has answered yet, in the spec's order."""
        answered = {msg.client for _, _, msg in sim.replies if msg.status == OK}
        return [command_request(c) for c in self.commands if c not in answered][: value + 1]


def directed_schedules(config: SimConfig) -> list[list]:
    """Runs random schedules seldom make: a replica that promised a new leader
    gets the old leader's Accept late; a new leader hears of the old one's
    vote only from another replica. With the core's features on, besides: a
    replica down while every command commits catches up from a snapshot; a new
    leader fills with a noop the slot the old one's lost Accept left empty; a
    candidate stands again and learns the chosen commands from the snapshot a
    replier sends; a leader restarts in the middle of its batches; a candidate
    restarts before any promise reached it."""
    from ..sim import Crash, Deliver, Drop, Fire, Request, Restart, Run

    if config.replicas < 3:
        return []
    # After Fire(0), Run(4): s1 leads ballot 1; then every command is requested: its Accepts of w1 and r1 are in flight.
    led = [Fire(0), Run(4), Request(0, len(config.commands) - 1)]
    directed = [
        # s2 stands; s3 promises it, then gets s1's Accept of ballot 1
        [*led, Fire(1), Deliver(5), Deliver(1), Run(20)],
        # s2 votes for w1; s3 stands with s2's promise, which reports that vote
        [*led, Deliver(0), Fire(2), Deliver(5), Deliver(5), Run(20)],
    ]
    if config.faithful:
        return directed
    return [
        *directed,
        [Fire(0), Run(4), Crash(2), Request(0, 1), Run(10), Restart(2), Fire(0), Run(10)],
        [
            Fire(0),
            Run(4),
            Request(0, 0),
            Drop(0),
            Drop(0),
            Request(0, 1),
            Run(2),
            Fire(1),
            Deliver(3),
            Deliver(3),
            Fire(1),
            Run(30),
        ],
        [*led, Run(4), Fire(1), Run(1), Fire(1), Run(10)],
        [*led, Deliver(0), Crash(0), Restart(0), Run(6), Fire(0), Run(20)],
        # s1 logged w1 alone, follows s2, stands, restarts before any promise: its own still counts
        [Fire(0), Run(4), Request(0, 0), Drop(0), Drop(0), Fire(1), Deliver(0), Fire(0), Crash(0), Restart(0), Run(20)],
    ]


def command_request(name: str) -> ClientRequest:
    """Command ``name`` of the spec (w1: ``put x w1``, r1: ``get x``) as its client asks it."""
    command = ("put", (KEY, name)) if name.startswith("w") else ("get", (KEY,))
    return ClientRequest(client=name, request_id=1, command=command, src=CLIENT_STREAM)


# A cluster's leader resends an unanswered Accept every 5 ticks (100 ms): a batch's answers come back
# well within that on a loaded machine, and resending it sooner only doubles every replica's work.
RESEND_TICKS = 5
# A cluster's failure detector: 25 ticks (500 ms, then staggered by replica) without a leader's word.
# A leader busy with a burst of requests on a loaded host can fall silent for a few hundred milliseconds;
# deposing it then would cost far more than the detector's extra wait when a leader really fails.
ELECTION_TICKS = 25


def cluster_config(cluster: ClusterDescription, name: str) -> NodeConfig:
    """Replica ``name``'s configuration in a local cluster: every node a replica, majorities, unbounded ballots,
    reads under a leader lease (through the log when it does not hold) unless the cluster reads through the log."""
    lease = LEASE if cluster.reads == "lease" else 0.0
    nodes = tuple(n.name for n in cluster.nodes)
    return NodeConfig(
        name=name,
        nodes=nodes,
        bugs=cluster.bugs,
        election_ticks=ELECTION_TICKS,
        resend_ticks=RESEND_TICKS,
        lease=lease,
    )

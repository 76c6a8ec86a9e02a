"""The runtime takes a protocol: a second one, defined here, runs on it unchanged.

A write-once register: replicas each keep the first value written to them,
durably; the first replica, the only writer, writes a client's value to every
replica and decides the value a majority acknowledge. It is defined in this
file alone, as a ``RuntimeProtocol``, and runs under the deterministic
simulator with faults, under the conformance driver against a spec of its
own (Consensus), as asyncio TCP servers with durable stores, and as a local
cluster of real processes under the supervisor, none of which names it.
"""

from __future__ import annotations

import asyncio
import copy
import os
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from paxoscope.explorer.trace import Step, Trace
from paxoscope.impl import client
from paxoscope.impl.clusterfile import HOST, ClusterError, NodeInfo, load_cluster
from paxoscope.impl.conformance import Nonconformance, conform, coverage, run_schedule
from paxoscope.impl.framing import Codec, MalformedMessage
from paxoscope.impl.net import NodeRuntime, RetryPolicy
from paxoscope.impl.protocol import ClientRequest, Effects, Receive, RuntimeProtocol, Timeout
from paxoscope.impl.sim import Crash, Deliver, Drop, Fire, Request, Restart, Run, Simulator
from paxoscope.impl.storage import CorruptStorage, DurableStore, StoreSchema
from paxoscope.impl.supervise import start_cluster, stop_cluster
from paxoscope.spec.consensus import Consensus

REPLICAS = ("r1", "r2", "r3")
WRITER = "r1"

# -- messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    val: str
    type = "write"


@dataclass(frozen=True)
class Ack:
    rep: str
    val: str
    type = "ack"


@dataclass(frozen=True)
class Ask:
    value: str
    type = "ask"


@dataclass(frozen=True)
class Told:
    value: str
    type = "told"


@dataclass(frozen=True)
class Query:
    type = "query"


@dataclass(frozen=True)
class QueryReply:
    name: str
    stored: str | None
    decided: str | None
    store_error: str | None = None
    type = "query-reply"


def fields_problem(values: dict[str, Any]) -> str | None:
    for name, x in values.items():
        if name in ("val", "value", "rep", "name") and not (isinstance(x, str) and x):
            return f"{name!r} must be a non-empty string"
        if name in ("stored", "decided", "store_error") and not (x is None or isinstance(x, str)):
            return f"{name!r} must be a string or null"
    return None


CODEC = Codec(1, (Write, Ack, Ask, Told, Query, QueryReply), fields_problem)

# -- the durable state and the core ------------------------------------------------------


@dataclass(frozen=True)
class Held:
    stored: str | None = None


SCHEMA = StoreSchema(
    format="test-register",
    version=1,
    filename="register.json",
    noun="replica",
    fields=("stored",),
    to_dict=lambda s: {"stored": s.stored},
    from_dict=lambda d: Held(d["stored"]),
    fields_problem=fields_problem,
    initial=Held(),
)


@dataclass(frozen=True)
class Config:
    name: str
    replicas: tuple[str, ...] = REPLICAS  # the first one writes
    bugs: frozenset[str] = frozenset()

    @property
    def protocol(self) -> RuntimeProtocol:
        return PROTOCOL


@dataclass
class Replica:
    config: Config
    held: Held
    asked: str | None = None
    acks: dict[str, set[str]] = field(default_factory=dict)
    decided: str | None = None

    @property
    def durable(self) -> Held:
        return self.held

    def restore(self, state: Held) -> None:
        self.held = state

    def clone(self) -> Replica:
        return replace(self, acks={v: set(a) for v, a in self.acks.items()})

    def handle(self, event) -> Effects:
        replicas = self.config.replicas
        if isinstance(event, ClientRequest | Timeout) and self.config.name == replicas[0] and self.decided is None:
            self.asked = event.value if isinstance(event, ClientRequest) else self.asked
            if self.asked is None:
                return Effects()
            return Effects(send=[(r, Write(self.asked)) for r in replicas], timer=True)
        if isinstance(event, Receive) and isinstance(event.msg, Write):
            if self.held.stored is None:
                self.held = Held(event.msg.val)
            reply = [(event.src, Ack(self.config.name, self.held.stored))]
            return Effects(persist=self.held, send=reply, durable_first="ack-before-durable" not in self.config.bugs)
        if isinstance(event, Receive) and isinstance(event.msg, Ack) and self.decided is None:
            voters = self.acks.setdefault(event.msg.val, set())
            voters.add(event.msg.rep)
            if 2 * len(voters) > len(replicas):
                self.decided = event.msg.val
                return Effects(decide=self.decided)
        return Effects()


# -- the simulated system, and its refinement of Consensus -------------------------------


@dataclass(frozen=True)
class SimSetup:
    values: int = 2
    bugs: frozenset[str] = frozenset()
    node_names = REPLICAS
    client_names = (WRITER,)
    timer_names = (WRITER,)

    @property
    def protocol(self) -> RuntimeProtocol:
        return PROTOCOL

    @property
    def request_values(self) -> tuple[str, ...]:
        return tuple(f"x{i + 1}" for i in range(self.values))

    def new_node(self, name: str, stored: Held | None) -> Replica:
        return Replica(Config(name, REPLICAS, self.bugs), stored or Held())

    def initial_store(self, name: str) -> Held:
        return Held()


class Checker:
    """Maps a simulator to Consensus's ``chosen``: the value a majority of the
    stores hold. Each handler run must stutter or take a step of Consensus."""

    def __init__(self, spec: Consensus, sim: Simulator):
        self.spec = spec
        start = self.chosen(sim)
        self.trace = Trace(spec, [Step(None, start)])
        self.visited = {start}
        self.runs = 0
        sim.observer = self

    def fork(self, twin: Simulator) -> Checker:
        other = copy.copy(self)
        other.trace, other.visited = Trace(self.spec, list(self.trace.steps)), set()
        twin.observer = other
        return other

    def next_states(self, chosen: frozenset[str]) -> dict[frozenset[str], Any]:
        return {t: act for act, t in self.spec.next(chosen)}

    @staticmethod
    def chosen(sim: Simulator) -> frozenset[str]:
        held = [sim.disk[r].stored for r in REPLICAS]
        return frozenset(v for v in held if v is not None and 2 * held.count(v) > len(held))

    def __call__(self, sim: Simulator, run) -> None:
        self.runs += 1
        before, after = self.trace.steps[-1].state, self.chosen(sim)
        if after != before:
            act = next((a for a, t in self.spec.next(before) if t == after), None)
            if act is None:
                raise Nonconformance(f"{run.describe}: {sorted(before)} -> {sorted(after)}", 0, (), self.trace, {})
            self.trace.steps.append(Step(act, after))
            self.visited.add(after)
        if run.effects.decide is not None and run.effects.decide not in after:
            reason = f"{run.node} decides {run.effects.decide}, which no majority stores"
            raise Nonconformance(reason, len(self.trace.steps), (), self.trace, {})


def realise(spec: Consensus, sim: Simulator, chosen: frozenset[str], act) -> bool:
    """Choose(v): a client asks the writer for v, and every message is delivered."""
    sim.step(Request(0, sim.config.request_values.index(dict(act.params)["v"])))
    sim.step(Run(4 * len(REPLICAS)))
    return True


PROTOCOL = RuntimeProtocol(
    name=f"{__name__}:PROTOCOL",  # a protocol of one's own: cluster.json names it by module and attribute
    node=lambda config, stored: Replica(config, stored or Held()),
    codec=CODEC,
    store=SCHEMA,
    peer_messages=(Write, Ack),
    request=Ask,
    answer=Told,
    status=Query,
    status_answer=QueryReply,
    status_reply=lambda name, node, durable, error: QueryReply(name, durable.stored, node.decided, error),
    status_fields=lambda reply: {"stored": reply.stored},
    node_config=lambda cluster, name: Config(name, tuple(n.name for n in cluster.nodes), cluster.bugs),
    value_problem=lambda value: None if value else "a value must not be empty",
    bugs={"ack-before-durable": "a replica acknowledges a write before it is durable"},
    spec_for=lambda config: Consensus(config.request_values),
    checker=Checker,
    realise=realise,
)


# -- under the simulator -----------------------------------------------------------------


def test_the_simulator_runs_a_protocol_it_does_not_name():
    sim = Simulator(SimSetup())
    sim.run([Request(0, 1), Drop(0), Run(2), Fire(0), Run(20)])
    assert sim.decisions == {"r1": "x2"}
    assert {r: sim.disk[r] for r in REPLICAS} == {r: Held("x2") for r in REPLICAS}
    assert sim.faults == 1 and sim.sent.count(Write("x2")) == 6  # written twice: once before the timer, once after


def test_a_crash_loses_what_was_not_durable_and_a_restart_reads_the_store():
    sim = Simulator(SimSetup(bugs=frozenset(["ack-before-durable"])))
    sim.run([Request(0, 0), Deliver(1), Crash(1), Restart(1)])  # r2 acknowledged x1, then crashed before its write
    assert sim.disk["r2"] == Held() and sim.nodes["r2"].held == Held()
    assert [m for _, dst, m in sim.flight if isinstance(m, Ack)] == [Ack("r2", "x1")]


def test_the_conformance_driver_checks_it_against_its_own_spec():
    outcome = run_schedule(SimSetup(), [Request(0, 0), Run(30)])
    assert outcome.ok and outcome.decisions == {"r1": "x1"} and outcome.visited == {frozenset(), frozenset(["x1"])}
    report = conform(SimSetup(), examples=30, seed=1)
    assert report.verdict == "ok" and report.schedules == 30 and frozenset(["x1"]) in report.visited
    walk = coverage(SimSetup(values=3))  # Consensus over 3 values: nothing chosen, or one of them
    assert not walk.failure and walk.states == (4, 4) and walk.transitions == (3, 3)


def test_the_conformance_driver_catches_its_known_bug():
    # Acknowledged but not durable: r1 decides x1 on two acks, r2 crashes and forgets, and no majority holds x1.
    setup = SimSetup(bugs=frozenset(["ack-before-durable"]))
    ops = [Request(0, 0), Deliver(0), Deliver(0), Crash(1), Restart(1), Run(10)]
    outcome = run_schedule(setup, ops)
    assert not outcome.ok and "r1 decides x1, which no majority stores" in outcome.report
    assert run_schedule(SimSetup(), ops).ok  # the same schedule, without the bug


# -- its store, on the runtime's file format ----------------------------------------------


def test_the_store_keeps_its_schema_with_checksum_and_refuses_a_damaged_file(tmp_path):
    store = DurableStore(tmp_path / "r1", SCHEMA)
    assert store.load() == Held()
    store.save(Held("x1"))
    assert DurableStore(tmp_path / "r1", SCHEMA).load() == Held("x1")
    path = tmp_path / "r1" / "register.json"
    path.write_text(path.read_text().replace("x1", "x2"))
    with pytest.raises(CorruptStorage, match="checksum mismatch"):
        DurableStore(tmp_path / "r1", SCHEMA).load()


# -- over TCP ------------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_the_tcp_host_serves_it_with_durable_stores(tmp_path):
    infos = tuple(NodeInfo(r, HOST, port, tmp_path / r) for r, port in zip(REPLICAS, _free_ports(3)))
    fast = RetryPolicy(base=0.05, factor=1.0, cap=0.05)

    async def scenario() -> tuple[Any, list[Any]]:
        nodes = [
            NodeRuntime(Config(i.name), infos, DurableStore(i.data, SCHEMA), port=i.port, retry=fast) for i in infos
        ]
        for node in nodes:
            await node.start()
        try:
            ask = asyncio.to_thread(CODEC.request, HOST, infos[0].port, Ask("hello"), Told, 10.0)
            told = await ask
            queries = [await asyncio.to_thread(CODEC.request, HOST, i.port, Query(), QueryReply, 10.0) for i in infos]
            return told, queries
        finally:
            for node in nodes:
                await node.stop()

    told, queries = asyncio.run(scenario())
    assert told == Told("hello")
    assert [(q.name, q.decided) for q in queries] == [("r1", "hello"), ("r2", None), ("r3", None)]
    assert sum(q.stored == "hello" for q in queries) >= 2  # a majority acknowledged before r1 decided
    assert DurableStore(infos[0].data, SCHEMA).load() == Held("hello")
    with pytest.raises(MalformedMessage, match="unknown message type"):
        CODEC.decode(b'{"v": 1, "type": "1a", "bal": 0}')  # Paxos's messages are not this protocol's


def test_the_supervisor_runs_it_as_real_processes(tmp_path, monkeypatch):
    # The node processes import this module by the name cluster.json records.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    )
    data = tmp_path / "cluster"
    start_cluster(data, 3, protocol=PROTOCOL, timeout=30.0)
    try:
        assert load_cluster(data / "cluster.json").protocol == PROTOCOL.name
        with pytest.raises(ClusterError, match="must not be empty"):
            client.propose(data, "", timeout=5.0)
        assert client.propose(data, "hello", timeout=30.0) == ("hello", "n1")
        replies = {info.name: reply for info, reply in client.cluster_status(data, timeout=5.0)}
        assert replies["n1"] == QueryReply("n1", "hello", "hello", None)
        assert sum(r.stored == "hello" for r in replies.values()) >= 2
    finally:
        stop_cluster(data)
    assert DurableStore(data / "n1", SCHEMA).load() == Held("hello")  # what n1 acknowledged, on disk

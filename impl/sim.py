"""A deterministic simulator: the unchanged protocol core, a simulated network
and simulated disks, driven by a schedule.

Every choice is an operation of the schedule (data, so that Hypothesis can
generate and shrink it, and a failure can be replayed from its printout):

- ``Deliver(i)``  deliver in-flight message i (taken modulo the number in flight);
- ``Run(k)``      deliver the k oldest messages in flight, one by one (progress
  in one operation, so that short schedules reach deep states);
- ``Drop(i)``     lose it;
- ``Duplicate(i)`` put a second copy in flight (so it may arrive twice);
- ``Crash(n)``    node n stops, losing all it had not made durable;
- ``Restart(n)``  node n comes back with what its disk holds;
- ``Fire(n)``     node n's retry timer goes off;
- ``Request(n, v)`` a client asks node n to propose value v.

Indices are taken modulo what exists, so every schedule is valid and
shrinking never produces a meaningless one. Messages in flight are chosen
by index, which gives every reordering.

Nodes, two layouts (every node is also a learner):

- ``proposers=0``: acceptors a1..aN and one proposer p{b+1} per ballot b.
  Every spec state is reachable (any ballot can be started first), which the
  coverage walk needs;
- ``proposers=P``: acceptors a1..aN, the first P of which also propose, as
  in a cluster where every node plays every role. Proposer i owns ballots
  i, i+P, ...: a timeout or a rejection moves it to another ballot, and its
  own acceptor's promise is the floor it starts above.

Each handler run is reported to ``observer`` (see ``impl.abstraction``),
which checks it against the spec.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

from ..spec.constants import ConfigError
from .core import AcceptorState, ClientRequest, Effects, Event, Node, NodeConfig, Receive, Timeout
from .messages import Accepted, Message, Promise

# -- the schedule --------------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    i: int


@dataclass(frozen=True)
class Run:
    k: int


@dataclass(frozen=True)
class Drop:
    i: int


@dataclass(frozen=True)
class Duplicate:
    i: int


@dataclass(frozen=True)
class Crash:
    node: int


@dataclass(frozen=True)
class Restart:
    node: int


@dataclass(frozen=True)
class Fire:
    node: int


@dataclass(frozen=True)
class Request:
    node: int
    value: int


Op = Deliver | Run | Drop | Duplicate | Crash | Restart | Fire | Request


def show_schedule(ops: Iterable[Op]) -> str:
    """A schedule as Python, so that it can be pasted back and replayed."""
    return "[" + ", ".join(repr(op) for op in ops) + "]"


def check_schedule(config: SimConfig, ops: list) -> None:
    """Refuse a schedule that names a node or value the configuration does not have."""
    nodes, proposers = len(config.node_names), len(config.proposer_names)
    for op in ops:
        if isinstance(op, Request):
            if not 0 <= op.node < proposers:
                raise ConfigError(f"--replay: {op} names proposer {op.node}; this configuration has {proposers}")
            if not 0 <= op.value < config.values:
                raise ConfigError(f"--replay: {op} names value {op.value}; this configuration has {config.values}")
        elif isinstance(op, Crash | Restart | Fire) and not 0 <= op.node < nodes:
            raise ConfigError(f"--replay: {op} names node {op.node}; this configuration has {nodes}")
        elif min(vars(op).values()) < 0:
            raise ConfigError(f"--replay: {op} has a negative count")


def parse_schedule(text: str) -> list:
    """A schedule as printed (``[Request(node=0, value=0), Run(k=3)]``) back into operations."""
    names = {cls.__name__: cls for cls in (Deliver, Run, Drop, Duplicate, Crash, Restart, Fire, Request)}
    try:
        tree = ast.parse(text.strip(), mode="eval").body
        if not isinstance(tree, ast.List):
            raise ValueError("not a list")
        ops = []
        for item in tree.elts:
            if not (isinstance(item, ast.Call) and isinstance(item.func, ast.Name) and item.func.id in names):
                raise ValueError(f"{ast.unparse(item)} is not an operation")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in item.keywords}
            posargs = [ast.literal_eval(a) for a in item.args]
            ops.append(names[item.func.id](*posargs, **kwargs))
        return ops
    except (SyntaxError, ValueError, TypeError) as exc:
        raise ConfigError(f"--replay: cannot read the schedule ({exc}); paste it as printed") from None


@dataclass(frozen=True)
class SimConfig:
    acceptors: int = 3
    values: int = 2
    ballots: int = 2
    bugs: frozenset[str] = frozenset()
    proposers: int = 0  # 0: one dedicated proposer per ballot; P: the first P acceptors propose

    @cached_property
    def acceptor_names(self) -> tuple[str, ...]:
        return tuple(f"a{i + 1}" for i in range(self.acceptors))

    @cached_property
    def proposer_names(self) -> tuple[str, ...]:
        if self.proposers:
            return self.acceptor_names[: self.proposers]
        return tuple(f"p{b + 1}" for b in range(self.ballots))

    @cached_property
    def node_names(self) -> tuple[str, ...]:
        return self.acceptor_names + tuple(p for p in self.proposer_names if p not in self.acceptor_names)

    @cached_property
    def value_names(self) -> tuple[str, ...]:
        return tuple(f"v{i + 1}" for i in range(self.values))

    def node_configs(self) -> list[NodeConfig]:
        acc, names = self.acceptor_names, self.node_names
        n = len(acc)
        quorums = tuple(frozenset(q) for k in range(n // 2 + 1, n + 1) for q in combinations(acc, k))
        return [
            NodeConfig(
                name=name,
                acceptors=acc,
                proposers=self.proposer_names,
                learners=names,
                quorums=quorums,
                ballots=self.ballots,
                bugs=self.bugs,
            )
            for name in names
        ]


@dataclass
class HandlerRun:
    """One event handled by one node, and what came of it."""

    node: str
    event: Event | Restarted
    effects: Effects
    describe: str
    before: AcceptorState | None = None  # the node's acceptor state before the event (None: not an acceptor)


@dataclass(frozen=True)
class Restarted:
    """Not an event of the core: the node was rebuilt from its durable store
    (reported so that the observer can compare what it rebuilt with the store)."""


@dataclass
class Simulator:
    config: SimConfig
    observer: Callable[[Simulator, HandlerRun], None] | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    configs: dict[str, NodeConfig] = field(default_factory=dict)
    disk: dict[str, AcceptorState] = field(default_factory=dict)  # what survives a crash
    pending: dict[str, AcceptorState] = field(default_factory=dict)  # written, not yet durable
    up: dict[str, bool] = field(default_factory=dict)
    flight: list[tuple[str, str, Message]] = field(default_factory=list)  # (src, dst, msg) in flight
    sent: list[Message] = field(default_factory=list)  # every protocol message ever sent
    decisions: dict[str, str] = field(default_factory=dict)
    faults: int = 0

    def __post_init__(self) -> None:
        for cfg in self.config.node_configs():
            self.configs[cfg.name] = cfg
            self.nodes[cfg.name] = Node(cfg, AcceptorState())
            self.up[cfg.name] = True
            if cfg.name in cfg.acceptors:
                self.disk[cfg.name] = AcceptorState()
        self.names = list(self.configs)

    def clone(self) -> Simulator:
        """An independent copy, without the observer. Written out rather than
        deepcopy'd: the coverage walk clones once per spec transition."""
        twin = copy.copy(self)
        twin.observer = None
        twin.nodes = {name: _clone_node(n) for name, n in self.nodes.items()}
        twin.disk, twin.pending, twin.up = dict(self.disk), dict(self.pending), dict(self.up)
        twin.flight, twin.sent, twin.decisions = list(self.flight), list(self.sent), dict(self.decisions)
        return twin

    # -- running a schedule ---------------------------------------------------

    def run(self, ops: Iterable[Op]) -> None:
        for op in ops:
            self.step(op)

    def step(self, op: Op) -> None:
        if isinstance(op, Run):
            for _ in range(op.k):
                self.step(Deliver(0))
            return
        if isinstance(op, (Deliver, Drop, Duplicate)):
            if not self.flight:
                return
            i = op.i % len(self.flight)
            if isinstance(op, Duplicate):
                self.faults += 1
                self.flight.append(self.flight[i])
                return
            src, dst, msg = self.flight.pop(i)
            if isinstance(op, Drop):
                self.faults += 1
            elif self.up[dst]:
                self._handle(dst, Receive(src, msg), f"{dst} receives {_show(msg)} from {src}")
            # a message delivered to a node that is down is lost
        elif isinstance(op, Crash):
            name = self.names[op.node % len(self.names)]
            if self.up[name]:
                self.faults += 1
                self.up[name] = False
                self.pending.pop(name, None)  # what was not durable is gone
        elif isinstance(op, Restart):
            name = self.names[op.node % len(self.names)]
            if not self.up[name]:
                self.faults += 1
                self.up[name] = True
                self.nodes[name] = Node(self.configs[name], self.disk.get(name))
                if self.observer is not None:
                    self.observer(self, HandlerRun(name, Restarted(), Effects(), f"{name} restarts from its store"))
        elif isinstance(op, Fire):
            name = self.names[op.node % len(self.names)]
            if self.up[name]:
                self._handle(name, Timeout(), f"{name}'s timer fires")
        elif isinstance(op, Request):
            proposers = self.config.proposer_names
            name = proposers[op.node % len(proposers)]
            value = self.config.value_names[op.value % self.config.values]
            if self.up[name]:
                self._handle(name, ClientRequest(value), f"a client asks {name} to propose {value}")

    def deliver_to(self, dst: str, pred: Callable[[Message], bool]) -> bool:
        """Deliver the first in-flight message to ``dst`` that satisfies ``pred``."""
        for i, (_src, d, msg) in enumerate(self.flight):
            if d == dst and pred(msg):
                self.step(Deliver(i))
                return True
        return False

    def _handle(self, name: str, event: Event, describe: str) -> None:
        if name in self.pending:  # a write left pending by a buggy handler becomes durable now
            self.disk[name] = self.pending.pop(name)
        acceptor = self.nodes[name].acceptor
        before = acceptor.state if acceptor is not None else None
        effects = self.nodes[name].handle(event)
        if effects.persist is not None:
            if effects.durable_first:
                self.disk[name] = effects.persist
            else:
                self.pending[name] = effects.persist
        for dst, msg in effects.send:
            self.flight.append((name, dst, msg))
            self.sent.append(msg)
        if effects.decide is not None:
            self.decisions[name] = effects.decide
        if self.observer is not None:
            self.observer(self, HandlerRun(name, event, effects, describe, before))


def _clone_node(node: Node) -> Node:
    """A copy of a node sharing only what is immutable (configs, messages, states)."""
    twin = _shallow(node)
    if node.acceptor is not None:
        twin.acceptor = _shallow(node.acceptor)
    twin.proposer = _shallow(node.proposer)
    twin.proposer.promises = dict(node.proposer.promises)
    twin.learner = _shallow(node.learner)
    twin.learner.votes = {k: set(v) for k, v in node.learner.votes.items()}
    return twin


def _shallow(obj):
    """``copy.copy`` for a plain object, without its generic machinery (the walk clones a lot)."""
    twin = object.__new__(type(obj))
    twin.__dict__.update(obj.__dict__)
    return twin


def _show(msg: Message) -> str:
    if isinstance(msg, Promise):
        return f"1b({msg.acc}, bal={msg.bal}, mbal={msg.mbal}, mval={msg.mval})"
    if isinstance(msg, Accepted):
        return f"2b({msg.acc}, bal={msg.bal}, val={msg.val})"
    fields = ", ".join(f"{k}={v}" for k, v in vars(msg).items())
    return f"{msg.type}({fields})"

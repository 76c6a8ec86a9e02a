"""A deterministic simulator: a protocol's unchanged core, a simulated network
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
- ``Request(n, v)`` a client asks node n to propose value v;
- ``Isolate(n)``  a partition cuts node n off from every other node, both
  ways: a message across it is lost when it would be delivered;
- ``Heal()``      every partition ends.

Indices are taken modulo what exists, so every schedule is valid and
shrinking never produces a meaningless one. Messages in flight are chosen
by index, which gives every reordering.

The nodes, what clients ask for and whose timers fire come from the
configuration, a protocol's ``SimSetup`` (``impl.protocol``): Paxos's is
``impl.paxos.SimConfig``. A configuration may also say what a ``Request``
asks (``request_events(sim, name, v)``: the client requests it makes, handled
one after another) and how a write adds to what a disk holds
(``disk_after(stored, persist)``: a log appends; without it, a write replaces
the stored state). Answers to clients (``Effects.reply``) are kept in ``replies``.

Each handler run is reported to ``observer`` (see the protocol's checker, e.g. ``impl.paxos.mapping``),
which checks it against the spec.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..spec.constants import ConfigError
from .protocol import ClientRequest, Effects, Event, Node, Receive, SimSetup, Timeout

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


@dataclass(frozen=True)
class Isolate:
    node: int


@dataclass(frozen=True)
class Heal:
    pass


Op = Deliver | Run | Drop | Duplicate | Crash | Restart | Fire | Request | Isolate | Heal


def show_schedule(ops: Iterable[Op]) -> str:
    """A schedule as Python, so that it can be pasted back and replayed."""
    return "[" + ", ".join(repr(op) for op in ops) + "]"


def check_schedule(config: SimSetup, ops: list) -> None:
    """Refuse a schedule that names a node or value the configuration does not have."""
    nodes, clients, values = len(config.node_names), len(config.client_names), len(config.request_values)
    role = getattr(config, "client_role", "client")
    for op in ops:
        if isinstance(op, Request):
            if not 0 <= op.node < clients:
                raise ConfigError(f"--replay: {op} names {role} {op.node}; this configuration has {clients}")
            if not 0 <= op.value < values:
                raise ConfigError(f"--replay: {op} names value {op.value}; this configuration has {values}")
        elif isinstance(op, Crash | Restart | Fire | Isolate) and not 0 <= op.node < nodes:
            raise ConfigError(f"--replay: {op} names node {op.node}; this configuration has {nodes}")
        elif min(vars(op).values(), default=0) < 0:
            raise ConfigError(f"--replay: {op} has a negative count")


def parse_schedule(text: str) -> list:
    """A schedule as printed (``[Request(node=0, value=0), Run(k=3)]``) back into operations."""
    names = {cls.__name__: cls for cls in (Deliver, Run, Drop, Duplicate, Crash, Restart, Fire, Request, Isolate, Heal)}
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


@dataclass
class HandlerRun:
    """One event handled by one node, and what came of it."""

    node: str
    event: Event | Restarted
    effects: Effects
    describe: str
    before: Any = None  # the node's durable state, as it held it before the event (None: it keeps none)


@dataclass(frozen=True)
class Restarted:
    """Not an event of the core: the node was rebuilt from its durable store
    (reported so that the observer can compare what it rebuilt with the store)."""


@dataclass
class Simulator:
    config: SimSetup
    observer: Callable[[Simulator, HandlerRun], None] | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    disk: dict[str, Any] = field(default_factory=dict)  # what survives a crash (only nodes that keep state)
    pending: dict[str, Any] = field(default_factory=dict)  # written, not yet durable
    up: dict[str, bool] = field(default_factory=dict)
    flight: list[tuple[str, str, Any]] = field(default_factory=list)  # (src, dst, msg) in flight
    sent: list[Any] = field(default_factory=list)  # every message ever sent
    decisions: dict[str, str] = field(default_factory=dict)
    replies: list[tuple[str, str, Any]] = field(default_factory=list)  # (node, client, answer), in order
    faults: int = 0
    isolated: frozenset[str] = frozenset()  # the nodes a partition cuts off from every other

    def __post_init__(self) -> None:
        for name in self.config.node_names:
            stored = self.config.initial_store(name)
            self.nodes[name] = self.config.new_node(name, stored)
            self.up[name] = True
            if stored is not None:
                self.disk[name] = stored
        self.names = list(self.config.node_names)

    def clone(self) -> Simulator:
        """An independent copy, without the observer. Written out rather than
        deepcopy'd: the coverage walk clones once per spec transition."""
        twin = copy.copy(self)
        twin.observer = None
        twin.nodes = {name: n.clone() for name, n in self.nodes.items()}
        twin.disk, twin.pending, twin.up = dict(self.disk), dict(self.pending), dict(self.up)
        twin.flight, twin.sent, twin.decisions = list(self.flight), list(self.sent), dict(self.decisions)
        twin.replies = list(self.replies)
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
            if isinstance(op, Drop) or (src != dst and {src, dst} & self.isolated):
                self.faults += 1  # lost, or across a partition
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
                self.nodes[name] = self.config.new_node(name, self.disk.get(name))
                if self.observer is not None:
                    self.observer(self, HandlerRun(name, Restarted(), Effects(), f"{name} restarts from its store"))
        elif isinstance(op, Isolate):
            name = self.names[op.node % len(self.names)]
            if name not in self.isolated:
                self.faults += 1
                self.isolated |= {name}
        elif isinstance(op, Heal):
            self.isolated = frozenset()
        elif isinstance(op, Fire):
            name = self.names[op.node % len(self.names)]
            if self.up[name]:
                self._handle(name, Timeout(), f"{name}'s timer fires")
        elif isinstance(op, Request):
            clients, values = self.config.client_names, self.config.request_values
            name = clients[op.node % len(clients)]
            value = values[op.value % len(values)]
            if not self.up[name]:
                return
            make = getattr(self.config, "request_events", None)
            if make is None:
                self._handle(name, ClientRequest(value), f"a client asks {name} to propose {value}")
                return
            for event in make(self, name, op.value):
                if self.up[name]:
                    self._handle(name, event, f"client {event.client} asks {name}: {event.command}")

    def deliver_to(self, dst: str, pred: Callable[[Any], bool]) -> bool:
        """Deliver the first in-flight message to ``dst`` that satisfies ``pred``."""
        for i, (_src, d, msg) in enumerate(self.flight):
            if d == dst and pred(msg):
                self.step(Deliver(i))
                return True
        return False

    def deliver_all(self, pred: Callable[[str, Any], bool]) -> int:
        """Deliver every message in flight that satisfies ``pred(dst, msg)``, as
        long as some does; the number delivered."""
        delivered = 0
        while True:
            i = next((i for i, (_src, dst, m) in enumerate(self.flight) if pred(dst, m)), None)
            if i is None:
                return delivered
            self.step(Deliver(i))
            delivered += 1

    def _handle(self, name: str, event: Event, describe: str) -> None:
        if name in self.pending:  # a write left pending by a buggy handler becomes durable now
            self.disk[name] = self.pending.pop(name)
        before = self.nodes[name].durable
        effects = self.nodes[name].handle(event)
        if effects.persist is not None:
            merge = getattr(self.config, "disk_after", None)
            if merge is not None:
                written = merge(self.pending.get(name, self.disk.get(name)), effects.persist)
            else:
                written = effects.persist
            if effects.durable_first:
                self.disk[name] = written
            else:
                self.pending[name] = written
        for dst, msg in effects.send:
            self.flight.append((name, dst, msg))
            self.sent.append(msg)
        if effects.decide is not None:
            self.decisions[name] = effects.decide
        self.replies.extend((name, client, answer) for client, answer in effects.reply)
        if self.observer is not None:
            self.observer(self, HandlerRun(name, event, effects, describe, before))


def _show(msg: Any) -> str:
    """A message in a step's description: as its protocol shows it, or its type and fields."""
    if hasattr(msg, "show"):
        return msg.show()
    fields = ", ".join(f"{k}={v}" for k, v in vars(msg).items())
    return f"{msg.type}({fields})"

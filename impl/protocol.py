"""What a protocol gives the runtime, and what the runtime gives a protocol's core.

The runtime (the simulator ``impl.sim``, the TCP host ``impl.net``, the store
``impl.storage``, the cluster supervisor ``impl.supervise``, the client
``impl.client`` and the conformance driver ``impl.conformance``) never names
a protocol. A protocol is one ``RuntimeProtocol`` object beside it (Paxos's
is ``impl.paxos.PROTOCOL``), and its configurations carry it: a simulator
configuration and a node configuration each have a ``protocol`` attribute, so
``Simulator(config)`` and ``NodeRuntime(config, ...)`` find the rest.

A protocol's core is sans-I/O (as python-hyper/h11 is): a node takes one
event (``Receive``, ``ClientRequest``, ``Timeout``; ``ClientRequests`` for a
core that takes the requests of one read together) and returns ``Effects``,
which the runtime performs in order: the durable write first, then the sends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# -- events and effects: the runtime's side of the core -------------------------


# Events are values, as messages are; not frozen, as those of impl/multipaxos/messages.py, for the
# cost of a frozen class's __init__ (one event a client request).
@dataclass(unsafe_hash=True)
class Receive:
    src: str
    msg: Any


@dataclass(unsafe_hash=True)
class ClientRequest:
    """A client's request. A single-decree protocol reads ``value``; a
    log-based service reads ``client``, ``request_id`` (a retried request
    keeps its id, so that it is applied once) and ``command`` (opaque to the
    runtime), and answers ``src``, the stream it came on, with ``Effects.reply``."""

    value: str = ""
    client: str = ""
    request_id: int = 0
    command: Any = None
    src: str = ""


@dataclass(unsafe_hash=True)
class Timeout:
    """A timer went off; ``now`` is the host's clock in seconds (None in the
    simulator, where a core counts timeouts as its time)."""

    now: float | None = None


@dataclass(unsafe_hash=True)
class ClientRequests:
    """The requests a host read from a client's stream in one go, in order, handled as one event: the
    same as each in turn, but with one set of effects (``RuntimeProtocol.batch_requests``)."""

    requests: tuple[ClientRequest, ...] = ()


Event = Receive | ClientRequest | ClientRequests | Timeout


@dataclass
class Effects:
    """What a handler asks of the runtime, in this order: make ``persist``
    durable, then send ``send`` (destination, message) pairs; ``decide`` is a
    value this node learned was chosen; ``timer`` asks for a Timeout later;
    ``reply`` holds answers to clients (the request's ``src``, the answer),
    sent after ``persist`` is durable.

    ``durable_first`` is False only in a known-wrong variant that answers
    before its write is durable."""

    persist: Any = None
    send: list[tuple[str, Any]] = field(default_factory=list)
    decide: str | None = None
    timer: bool = False
    reply: list[tuple[str, Any]] = field(default_factory=list)
    durable_first: bool = True


class Node(Protocol):
    """A protocol's node, as the runtime drives it."""

    @property
    def decided(self) -> str | None:
        """The value this node learned was chosen, or None."""

    @property
    def durable(self) -> Any:
        """The state this node must make durable, as it holds it in memory (None: it keeps none)."""

    def handle(self, event: Event) -> Effects: ...

    def restore(self, state: Any) -> None:
        """Go back to ``state``, what the store holds, after a step that could not be made durable."""

    def clone(self) -> Node:
        """An independent copy (the simulator forks runs)."""


class SimSetup(Protocol):
    """A protocol's configuration of a simulated system, as the simulator reads it."""

    protocol: RuntimeProtocol
    node_names: tuple[str, ...]  # every node, in the order Crash(n), Restart(n), Fire(n) number them
    client_names: tuple[str, ...]  # the nodes a client asks (Request(n, v) asks the n-th)
    timer_names: tuple[str, ...]  # the nodes whose timer a schedule fires
    request_values: tuple[str, ...]  # what clients ask for (Request(n, v) asks the v-th)

    def new_node(self, name: str, stored: Any) -> Node:
        """Node ``name`` built from what its store holds (``stored``: the initial state on a first start)."""

    def initial_store(self, name: str) -> Any:
        """What node ``name``'s store holds before it ever ran (None: it keeps no durable state)."""


class Checker(Protocol):
    """A protocol's refinement check, observing a simulator (``sim.observer``):
    called with each handler run, it raises ``impl.conformance.Nonconformance``
    at the first that is no step of the spec."""

    trace: Any  # explorer.trace.Trace: the spec-level run so far, stutters left out
    visited: set  # every spec state the run passed through
    runs: int  # handler runs checked

    def __call__(self, sim: Any, run: Any) -> None: ...

    def next_states(self, state: Any) -> dict[Any, Any]:
        """Every successor of ``state`` under the spec, with an action that makes it."""

    def fork(self, twin: Any) -> Checker:
        """A checker that goes on from here observing ``twin``, a clone of the simulator."""


# -- what a protocol gives the runtime -------------------------------------------


@dataclass(frozen=True)
class RuntimeProtocol:
    """One protocol's implementation, as the generic runtime consumes it.

    - ``node(config, stored)``: the sans-I/O core of one node, from its configuration and its stored state;
    - ``codec``: the wire messages, their validation and their frames (``impl.framing.Codec``);
    - ``store``: the durable state's file schema (``impl.storage.StoreSchema``);
    - ``peer_messages``: the message types a node hands its core when a peer sends one;
    - ``request``, ``answer``, ``status``: the client's request (a ``value``
      field), the decision told back (a ``value`` field), and the status query;
      ``value_problem(value)`` why a value cannot be requested (None: it can);
    - ``status_answer``, ``status_reply(name, node, durable, store_error)``: a
      node's answer to ``status``, its type and how a node makes it (it has
      ``name``, ``decided`` and ``store_error`` fields);
      ``status_fields(reply)``: what the reply says of the durable state, by name;
    - ``node_config(cluster, name)``: node ``name``'s configuration in a local cluster;
    - ``client_request(msg, src)``: for a log-based service, the event a
      client's ``request`` message makes (answered through ``Effects.reply``;
      None: the single-decree way, ``ClientRequest(msg.value)`` answered with
      ``answer`` once a value is decided);
    - ``tick``: seconds between the ``Timeout(now)`` a host gives the core
      (None: the core arms its retry timer itself with ``Effects.timer``);
    - ``group_commit``: the host runs every event that is ready, makes all
      their writes durable at once (the store's ``save_batch``), then sends;
    - ``batch_requests``: the core takes ``ClientRequests``: the host hands it the requests of one
      read of a stream as one event (for a log-based service, whose every request costs a core's
      event less its work when it comes with others);
    - ``requests``, ``merge_replies(answers)``: with ``batch_requests``, a message carrying many
      client requests (its ``each()`` the ``request`` messages, in order; None: there is none), and
      the one message that carries many answers to a stream that sends such messages;
    - ``busy(node)``: the core has more requests waiting than it can soon propose; the host then
      reads no more from the streams clients connect on until it is not (None: never busy);
    - ``store_factory(directory)``: the durable store of one node (None: an
      ``impl.storage.DurableStore`` of ``store``); see ``open_store``;
    - ``bugs``: the known-wrong variants of the implementation, by name, with a line each;
    - conformance: ``spec_for(config)`` the spec a simulated configuration
      refines, ``checker(spec, sim)`` the refinement check that observes a
      simulator, ``directed_schedules(config)`` schedules random ones seldom
      find, ``realise(spec, sim, state, action)`` drive the simulator along
      one spec transition and ``drive_other_handlers(sim, seen)`` the
      handlers no spec transition needs (the coverage walk).
    """

    name: str  # how cluster.json names it: a package of paxoscope.impl ("paxos"), or "module:attribute"
    node: Callable[[Any, Any], Node]  # the core: node(config, stored) for a node configuration and its stored state
    codec: Any
    store: Any
    peer_messages: tuple[type, ...]
    request: type
    answer: type
    status: type
    status_answer: type
    status_reply: Callable[[str, Node, Any, str | None], Any]
    status_fields: Callable[[Any], dict[str, Any]]
    value_problem: Callable[[str], str | None]
    node_config: Callable[[Any, str], Any]
    bugs: Mapping[str, str]
    spec_for: Callable[[Any], Any]
    checker: Callable[[Any, Any], Checker]
    directed_schedules: Callable[[Any], Iterable[list]] = lambda config: []
    realise: Callable[[Any, Any, Any, Any], bool] | None = None
    drive_other_handlers: Callable[[Any, set], int] = lambda sim, seen: 0
    client_request: Callable[[Any, str], ClientRequest] | None = None
    tick: float | None = None
    group_commit: bool = False
    store_factory: Callable[[Any], Any] | None = None
    busy: Callable[[Any], bool] | None = None
    batch_requests: bool = False
    requests: type | None = None
    merge_replies: Callable[[list], Any] | None = None

    def open_store(self, directory: Any) -> Any:
        """Node storage in ``directory``: ``load``, ``save``, ``exists``, ``lock``, ``unlock``, ``path``."""
        if self.store_factory is not None:
            return self.store_factory(directory)
        from .storage import DurableStore

        return DurableStore(directory, self.store)

    def unknown_bugs(self, bugs: Iterable[str]) -> list[str]:
        return sorted(set(bugs) - self.bugs.keys())


def load_protocol(name: str) -> RuntimeProtocol:
    """The protocol named ``name``: ``PROTOCOL`` of the package ``paxoscope.impl.<name>``,
    or, for a protocol of one's own, ``module:attribute`` (as cluster.json records it).

    A node process learns its protocol from the cluster description by name."""
    from ..spec.constants import ConfigError

    module_name, _, attribute = name.partition(":") if ":" in name else (f"{__package__}.{name}", "", "PROTOCOL")
    if not all(part.isidentifier() for part in [*module_name.split("."), attribute]):
        raise ConfigError(f"no implemented protocol named {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise ConfigError(f"no implemented protocol named {name!r}") from None
    protocol = getattr(module, attribute, None)
    if not isinstance(protocol, RuntimeProtocol):
        raise ConfigError(f"no implemented protocol named {name!r}")
    return protocol

"""The small interface every specification provides, and what engines need of it.

A spec is a transition system in the manner of TLA+'s Init/Next and
stateright's Model trait:

- ``init()`` yields the initial states;
- ``next(state)`` yields every enabled ``(Action, successor)`` pair;
- ``invariants`` names predicates over one state.

Optional, each with a harmless default: ``action_properties`` (predicates over
a step), ``sometimes`` (states that should be reachable: a check that is
never vacuous), ``refinements`` (mappings to more abstract specs, checked on
every step), ``symmetry`` (a canonical form of a state under permutations of
interchangeable things), ``constraint`` (bounds the exploration),
``state_constraint`` (bounds the model, as TLC's CONSTRAINT does),
``checking`` (the spec to explore for some properties: one that keeps a
history variable they read),
``fingerprint`` (a 64-bit digest of a state; ``hash`` by default),
``variables`` (named fields, for rendering) and ``chart`` (how a trace is
drawn as a message sequence chart: one lane per variable by default).

Liveness, as in TLA+: ``liveness`` names temporal properties over behaviours
(``eventually(P)``, ``leads_to(P, Q)``, ``always_eventually(P)``), and
``fairness`` lists the actions a behaviour may not neglect forever
(``weak("Phase1b", "a")``: WF for each acceptor; ``strong(...)``: SF).

States are immutable and hashable; a spec never does I/O, never reads the
clock and never draws random numbers, so every engine sees the same system.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

State = Hashable


class Action(NamedTuple):
    """One step's name and parameters; prints like ``Phase2a(b=1, v=v2)``."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        args = ", ".join(f"{key}={value}" for key, value in self.params)
        return f"{self.name}({args})"

    def __repr__(self) -> str:
        return str(self)

    def param(self, key: str) -> Any:
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(key)


def action(name: str, **params: Any) -> Action:
    """Build an Action; parameters keep the order they are written in."""
    return Action(name, tuple(params.items()))


def except_at(row: tuple, i: int, x: Any) -> tuple:
    """``row`` with position ``i`` set to ``x``: TLA+'s ``[row EXCEPT ![i] = x]``."""
    return row[:i] + (x,) + row[i + 1 :]


def record(name: str, fields: str, show: str) -> type:
    """A record type, as TLA+ has them: a named tuple of ``fields`` (space
    separated) that prints as ``show``, a format string over the fields, so
    that one line declares a message and how a trace shows it."""
    module = sys._getframe(1).f_globals.get("__name__", __name__)  # where pickle will look for it
    base = namedtuple(name, fields, module=module)
    return type(
        name, (base,), {"__slots__": (), "__str__": lambda self: show.format(**self._asdict()), "__module__": module}
    )


def in_words(config: Mapping[str, Any]) -> str:
    """Constants in words: a count as ``3 replicas`` (``1 write``: a count of one is
    singular), ``max_ballot`` as ``max ballot 2``; the ``bug`` a variant adds is
    its own line of the report, not a constant."""
    parts = []
    for key, value in config.items():
        if key == "bug":
            continue
        if "_" in key:
            parts.append(f"{key.replace('_', ' ')} {value}")
        elif value == 1 and key.endswith("s") and not key.endswith("ss"):
            parts.append(f"1 {key[:-1]}")
        else:
            parts.append(f"{value} {key}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Refinement:
    """``spec`` implements ``abstract`` under ``mapping``.

    Checked as in TLA+: the mapped initial states are initial states of the
    abstract spec, and every step maps to an abstract step or a stutter.

    With ``via``, the refinement is a chain (Paxos -> Voting -> Consensus):
    ``mapping`` then takes a state of ``via.abstract``. The explorer skips
    the upper mapping on every step whose lower image did not change.
    A mapping that returns the same object for equal images (a memo) lets
    the explorer recognise an abstract stutter by identity, which is cheap.
    """

    abstract: Spec
    mapping: Callable[[State], State]
    via: Refinement | None = None

    def image(self, s: State) -> State:
        return self.mapping(s if self.via is None else self.via.image(s))

    @property
    def name(self) -> str:
        return f"Refines{type(self.abstract).__name__}"


@dataclass(frozen=True)
class Arrow:
    """A message in a chart: sent from the ``source`` lane to the ``targets``
    (the source alone: a message to itself), written as ``label``. Arrows of
    one ``kind`` share a colour."""

    kind: str
    source: str
    targets: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Frame:
    """What a chart shows of one state of a trace.

    ``beside`` maps a lane to named values written beside it where they
    change (all of them in the first state); a value named as its lane is
    written without its name. ``notes`` are values written under the step's
    label where they change. ``arrows`` are the messages the step into this
    state sent."""

    beside: Mapping[str, Mapping[str, Any]]
    notes: Mapping[str, Any] = field(default_factory=dict)
    arrows: tuple[Arrow, ...] = ()


@dataclass(frozen=True)
class Chart:
    """How a trace is drawn: its lanes from left to right, a frame per state,
    the message kinds in the order of their colours (kinds not listed take
    the next colours), and, for the narrow text chart, short lane names with
    a legend that explains them."""

    lanes: tuple[str, ...]
    frames: tuple[Frame, ...]
    kinds: tuple[str, ...] = ()
    short: Mapping[str, str] = field(default_factory=dict)
    legend: tuple[str, ...] = ()


@dataclass(frozen=True)
class Liveness:
    """A temporal property: from every state where ``trigger`` holds (an initial
    state, for ``eventually``), every fair behaviour reaches a state where ``goal``
    holds. ``kind`` says which of TLA+'s forms it is: <>P, P ~> Q or []<>P."""

    kind: str  # "eventually", "leads to", "always eventually"
    goal: Callable[[State], bool]
    trigger: Callable[[State], bool] | None = None


def eventually(p: Callable[[State], bool]) -> Liveness:
    """<>P: every fair behaviour from an initial state reaches a state where ``p`` holds."""
    return Liveness("eventually", p)


def leads_to(p: Callable[[State], bool], q: Callable[[State], bool]) -> Liveness:
    """P ~> Q: whenever ``p`` holds, ``q`` holds then or later."""
    return Liveness("leads to", q, p)


def always_eventually(p: Callable[[State], bool]) -> Liveness:
    """[]<>P: ``p`` holds again and again, forever."""
    return Liveness("always eventually", p, lambda _s: True)


@dataclass(frozen=True)
class Fairness:
    """Fairness on the steps of action ``name`` whose parameters include ``params``.

    Weak (TLA+'s WF): a step that stays enabled forever is eventually taken.
    Strong (SF): a step enabled again and again is eventually taken. With
    ``each``, one such constraint for each value of those parameters
    (``weak("Receive", "m")`` is TLA+'s \\A m: WF(Receive(m))); without it, any
    matching step satisfies the constraint."""

    name: str
    strong: bool = False
    params: tuple[tuple[str, Any], ...] = ()
    each: tuple[str, ...] = ()

    def instance(self, act: Action) -> tuple | None:
        """Which of this constraint's instances the step ``act`` belongs to (None: none)."""
        if act.name != self.name:
            return None
        given = dict(act.params)
        if any(given.get(k, _MISSING) != v for k, v in self.params):
            return None
        return tuple(given.get(k) for k in self.each)

    def __str__(self) -> str:
        inner = ", ".join([*(f"{k}={v}" for k, v in self.params), *(f"each {k}" for k in self.each)])
        return f"{'SF' if self.strong else 'WF'}({self.name}{'(' + inner + ')' if inner else ''})"


_MISSING = object()


def weak(name: str, *each: str, **params: Any) -> Fairness:
    """Weak fairness (WF) on action ``name``, per value of the parameters ``each``."""
    return Fairness(name, False, tuple(params.items()), each)


def strong(name: str, *each: str, **params: Any) -> Fairness:
    """Strong fairness (SF) on action ``name``, per value of the parameters ``each``."""
    return Fairness(name, True, tuple(params.items()), each)


class Spec:
    """Base class with the defaults; a spec overrides what it has."""

    name: str = "spec"
    #: Every action name the spec can take, for the "never enabled" report.
    actions: tuple[str, ...] = ()
    #: Properties (invariants, action properties, refinements, liveness, by
    #: name) checked when the user names none. None: all of them.
    default_properties: tuple[str, ...] | None = None
    #: The fairness a liveness check assumes (none: a behaviour may stop anywhere).
    fairness: tuple[Fairness, ...] = ()

    def init(self) -> Iterable[State]:
        raise NotImplementedError

    def next(self, state: State) -> Iterable[tuple[Action, State]]:
        raise NotImplementedError

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def sometimes(self) -> Mapping[str, Callable[[State], bool]]:
        return {}

    @property
    def refinements(self) -> tuple[Refinement, ...]:
        return ()

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}

    #: ``symmetry(state)`` returns a canonical form (any hashable) shared by
    #: exactly the states that are the same up to the spec's symmetries; or
    #: the attribute is None.
    symmetry: Callable[[State], State] | None = None
    #: ``constraint(state)`` False means: check this state, explore no further.
    constraint: Callable[[State], bool] | None = None
    #: ``state_constraint(state)`` False means, as for TLC's CONSTRAINT: the
    #: step to this state counts among the states generated, but the state is
    #: none of the model's: it is not stored, not checked, not explored.
    state_constraint: Callable[[State], bool] | None = None

    def checking(self, properties: Collection[str]) -> Spec:
        """The spec to explore when ``properties`` (by name) are checked: this
        one, unless some of them read a history variable that the spec keeps
        only for them (its state space is then that of the spec with it)."""
        return self

    def fingerprint(self, state: State) -> int:
        return hash(state)

    def variables(self, state: State) -> dict[str, Any]:
        """Named fields of a state, as plain data, for traces and reports."""
        if hasattr(state, "_asdict"):
            return dict(state._asdict())
        return {"state": state}

    @property
    def config(self) -> dict[str, Any]:
        """The constants this instance was built with (for reports)."""
        return {}

    def config_text(self) -> str:
        """This instance's constants in words, for the first line of a report
        (``3 replicas, 1 write, 1 read, max ballot 2``); a protocol whose
        constants read better otherwise says them its own way."""
        return in_words(self.config)

    def chart(self, steps: Sequence[tuple[Action | None, State]]) -> Chart:
        """How a trace, given as its (action, state) steps, is charted: by
        default one lane per variable, each with its changes beside it, and
        no messages. A protocol draws its processes and messages instead."""
        views = [self.variables(state) for _, state in steps]
        lanes = tuple(dict.fromkeys(name for view in views for name in view))
        return Chart(lanes, tuple(Frame({name: {name: value} for name, value in view.items()}) for view in views))

"""Between the proof model and the executable spec: concrete states as finite structures.

A state of ``spec/paxos.py`` (for a given configuration) is a finite
structure of the proof model's signature: acceptors ``a1..aN``, ballots
``-1, 0..B-1`` (ints, so the order is Python's), values ``None, v1..vV``,
quorums as frozensets of acceptor names, ``member`` as membership, and one
set of tuples per variable. ``structure_of`` and ``state_of`` convert both
ways; ``PaxosTwin`` hands them (with the universes to search for
counterexamples and the renaming of interchangeable acceptors and values)
to the engines of ``proofs``.

Nothing here imports z3.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..spec.paxos import Msg1a, Msg1b, Msg2a, Msg2b, Paxos, PaxosState
from . import logic as L
from .finite import NotAState, Twin, apply_updates
from .logic import Sort, Structure, Var
from .paxos import FUNCTIONS, A, B, PaxosModel, Q, V, member

__all__ = ["NotAState", "PaxosTwin", "apply_updates", "empty_structure", "spec_class", "state_of", "structure_of"]

# Universe sizes searched for a counterexample, as (acceptors, ballots,
# values, quorums) not counting the ballot -1 and the value None, smallest first.
SIZES = sorted(
    itertools.product(range(1, 4), range(1, 4), range(1, 3), range(1, 4)),
    key=lambda s: (sum(s), s),
)
# The explorer decides reachability for configurations up to this size.
MAX_EXPLORE = {"acceptors": 3, "ballots": 3, "values": 2}


def spec_class(model: PaxosModel) -> type[Paxos]:
    """The executable twin of a proof model: Paxos, or the gallery's variant."""
    if model.bug is None:
        return Paxos
    from ..spec.bugs import BUGS

    return BUGS[model.bug]


def empty_structure(spec: Paxos) -> Structure:
    """The domains of ``spec``'s configuration, with only ``member`` filled in."""
    k = spec.k
    quorums = list(dict.fromkeys(frozenset(q) for q in k.quorums))
    domains: dict[Any, list[Any]] = {
        A: list(k.acceptors),
        B: [-1, *k.ballots],
        V: [None, *k.values],
        Q: quorums,
    }
    relations = {member.name: {(a, q) for q in quorums for a in q}}
    return Structure(domains, {"none": -1, "nil": None}, relations)


def structure_of(spec: Paxos, s: PaxosState, base: Structure | None = None) -> Structure:
    """State ``s`` of ``spec`` as a structure (``base``: the configuration's
    empty structure, passed in when converting many states)."""
    base = base or empty_structure(spec)
    max_bal, max_vbal, max_val = spec.acceptor_vars(s)
    acc = spec.k.acceptors
    rels: dict[str, set[tuple]] = {
        member.name: base.relations[member.name],
        "maxBal": set(zip(acc, max_bal)),
        "maxVBal": set(zip(acc, max_vbal)),
        "maxVal": set(zip(acc, max_val)),
        "msg1a": set(),
        "msg1b": set(),
        "msg2a": set(),
        "msg2b": set(),
    }
    for m in spec.messages(s):
        if isinstance(m, Msg1a):
            rels["msg1a"].add((m.bal,))
        elif isinstance(m, Msg1b):
            rels["msg1b"].add((m.acc, m.bal, m.mbal, m.mval))
        elif isinstance(m, Msg2a):
            rels["msg2a"].add((m.bal, m.val))
        else:
            rels["msg2b"].add((m.acc, m.bal, m.val))
    return Structure(base.domains, base.constants, rels)


def state_of(spec: Paxos, st: Structure) -> PaxosState:
    """The state of ``spec`` that structure ``st`` describes; NotAState if
    none does (a variable that is not a function, a message the spec cannot
    hold, a value outside the configuration)."""
    acc = spec.k.acceptors
    funcs = []
    for rel in FUNCTIONS:
        graph: dict[Any, Any] = {}
        for a, x in st.relations[rel.name]:
            if a in graph and graph[a] != x:
                raise NotAState(f"{rel.name}[{a}] has two values, {graph[a]} and {x}")
            graph[a] = x
        missing = [a for a in acc if a not in graph]
        if missing:
            raise NotAState(f"{rel.name}[{missing[0]}] has no value")
        funcs.append([graph[a] for a in acc])
    msgs: list[Any] = [Msg1a(b) for (b,) in st.relations["msg1a"]]
    msgs += [Msg1b(*t) for t in st.relations["msg1b"]]
    msgs += [Msg2a(*t) for t in st.relations["msg2a"]]
    msgs += [Msg2b(*t) for t in st.relations["msg2b"]]
    try:
        s = spec.state(max_bal=funcs[0], max_vbal=funcs[1], max_val=funcs[2], msgs=msgs)
    except (KeyError, ValueError) as exc:
        raise NotAState(f"the spec cannot represent it: {exc}") from None
    if not spec.type_ok(s):
        raise NotAState("a variable holds a value outside the configuration")
    return s


class PaxosTwin(Twin):
    """``spec/paxos.py`` (or the gallery's variant) as the twin of a Paxos proof model."""

    sizes = [{A: a, B: b + 1, V: v + 1, Q: q} for a, b, v, q in SIZES]

    def elements(self, sort: Sort, count: int) -> list[Any]:
        """Acceptors a1.., ballots -1, 0.., values None, v1.."""
        if sort is A:
            return [f"a{i + 1}" for i in range(count)]
        if sort is B:
            return list(range(-1, count - 1))
        return [None, *(f"v{i}" for i in range(1, count))]

    def name_elements(self, universe: dict, holds: Any) -> dict[Sort, dict[Any, Any]]:
        """Quorums are the frozensets of their members' names."""
        named = {s: dict(zip(universe[s], self.elements(s, len(universe[s])))) for s in (A, B, V)}
        named[Q] = {q: frozenset(name for a, name in named[A].items() if holds(member, (a, q))) for q in universe[Q]}
        return named

    def spec_for(self, st: Structure) -> Paxos:
        quorums = sorted(st.domains[Q], key=lambda q: (len(q), sorted(q)))
        return spec_class(self.model)(
            acceptors=len(st.domains[A]),
            values=len(st.domains[V]) - 1,
            ballots=len(st.domains[B]) - 1,
            quorums=[sorted(q) for q in quorums],
        )

    def empty_structure(self, spec: Paxos) -> Structure:
        return empty_structure(spec)

    def structure_of(self, spec: Paxos, s: PaxosState, base: Structure | None = None) -> Structure:
        return structure_of(spec, s, base)

    def state_of(self, spec: Paxos, st: Structure) -> PaxosState:
        return state_of(spec, st)

    def canonical(self, st: Structure, env: dict[Var, Any]) -> tuple[Structure, dict[Var, Any]]:
        return canonical(st, env)

    def too_large(self, spec: Paxos) -> bool:
        k = spec.k
        sizes = {"acceptors": len(k.acceptors), "ballots": len(k.ballots), "values": len(k.values)}
        return any(sizes[x] > MAX_EXPLORE[x] for x in sizes)

    def describe(self, cfg: dict[str, Any]) -> str:
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'s' * (n != 1)}"

        quorums = "{" + ", ".join("{" + ",".join(q) + "}" for q in cfg["quorums"]) + "}"
        return (
            f"{plural(cfg['acceptors'], 'acceptor')}, {plural(cfg['values'], 'value')}, "
            f"ballots 0..{cfg['ballots'] - 1}, quorums {quorums}"
        )


def canonical(
    st: L.Structure, env: dict[L.Var, Any], sorts: tuple[L.Sort, ...] = (A, V), keep: tuple = (None,)
) -> tuple[L.Structure, dict[L.Var, Any]]:
    """The same counterexample with the elements of ``sorts`` (but those in
    ``keep``, the constants) renamed to the least form: acceptors and values
    are interchangeable, and Z3 may return either of two mirror-image models,
    so a reader sees the same one every time."""
    groups = [[x for x in st.domains[s] if x not in keep] for s in sorts]

    def key(rename: dict) -> tuple:
        return (
            sorted((name, sorted(map(repr, _renamed(tuples, rename)))) for name, tuples in st.relations.items()),
            sorted((p.name, repr(_renamed(x, rename))) for p, x in env.items()),
        )

    renames = [
        {old: new for group, perm in zip(groups, perms) for old, new in zip(group, perm)}
        for perms in itertools.product(*(itertools.permutations(g) for g in groups))
    ]
    best = min(renames, key=key)
    domains = {sort: [_renamed(x, best) for x in xs] for sort, xs in st.domains.items()}
    domains.update((s, st.domains[s]) for s in sorts)  # the same names, in the same order
    relations = {name: _renamed(tuples, best) for name, tuples in st.relations.items()}
    return L.Structure(domains, st.constants, relations), {p: _renamed(x, best) for p, x in env.items()}


def _renamed(x: Any, rename: dict) -> Any:
    if isinstance(x, (set, frozenset)):
        return type(x)(_renamed(y, rename) for y in x)
    if isinstance(x, tuple):
        return tuple(_renamed(y, rename) for y in x)
    return rename.get(x, x) if isinstance(x, str) else x

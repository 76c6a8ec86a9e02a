"""Between the proof model and the executable spec: concrete states as finite structures.

A state of ``spec/paxos.py`` (for a given configuration) is a finite
structure of the proof model's signature: acceptors ``a1..aN``, ballots
``-1, 0..B-1`` (ints, so the order is Python's), values ``None, v1..vV``,
quorums as frozensets of acceptor names, ``member`` as membership, and one
set of tuples per variable. ``structure_of`` and ``state_of`` convert both
ways; ``apply_updates`` performs an action's effect on a structure exactly as
the proof model states it. The cross-check and the counterexamples to
induction both stand on these three functions.

Nothing here imports z3.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..spec.paxos import Msg1a, Msg1b, Msg2a, Msg2b, Paxos, PaxosState
from .logic import Structure, Var, compile_formula, variables
from .paxos import FUNCTIONS, STATE, A, Assign, B, PaxosModel, Q, Update, V, View, member


class NotAState(ValueError):
    """A structure that no state of the executable spec represents."""


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


def apply_updates(st: Structure, updates: tuple[Update, ...], env: dict[Var, Any]) -> Structure:
    """The structure after an action with parameters ``env``: each Insert adds
    a tuple, each Assign replaces a function's value at a key."""
    rels = dict(st.relations)
    for u in updates:
        name = u.rel.name
        if isinstance(u, Assign):
            key, value = _value(u.key, env, st), _value(u.value, env, st)
            rels[name] = {t for t in rels[name] if t[0] != key} | {(key, value)}
        else:
            rels[name] = rels[name] | {tuple(_value(t, env, st) for t in u.args)}
    return Structure(st.domains, st.constants, rels)


def _value(t: Any, env: dict[Var, Any], st: Structure) -> Any:
    if t in env:
        return env[t]
    return st.constants[t.name]


def materialize(view: View, base: Structure) -> Structure:
    """The relations a view defines (Init, say), computed over ``base``'s domains."""
    rels = {member.name: base.relations[member.name]}
    for rel in STATE:
        xs = [variables(f"x{i}", s)[0] for i, s in enumerate(rel.sorts)]
        f = compile_formula(getattr(view, rel.name)(*xs), xs, name=f"{rel.name} of a view")
        rels[rel.name] = {t for t in _product(base, rel.sorts) if f(base, *t)}
    return Structure(base.domains, base.constants, rels)


def _product(st: Structure, sorts) -> list[tuple]:
    return list(itertools.product(*(st.domains[s] for s in sorts)))

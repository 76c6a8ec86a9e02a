"""The yardsticks: straightforward breadth-first searches, the way one first
writes a model checker in Python, with a seen set of whole states.

- ``paxos_bfs``: Paxos.tla with states as tuples, ``msgs`` a frozenset of
  message tuples; checks Consistency on every state. ``explore.py`` runs it
  beside the explorer on the same configuration and prints the ratio.
- ``raft_bfs``: the Raft spec's own steps, out-of-bounds states generated
  and dropped (TLC's CONSTRAINT), MCraft's invariants on every new state;
  ``raft.py`` runs it beside the explorer.
- ``multipaxos_bfs``: the Multi-Paxos spec's own steps, each new state
  checked for TypeOK and Linearizability, a state without successors a
  deadlock, and symmetry as the least of the state's replica renamings
  (each written out in full, messages sorted). ``multipaxos.py`` runs it
  beside the explorer.

Run alone: ``python benchmarks/baseline_bfs.py [ballots]`` (Paxos) or
``python benchmarks/baseline_bfs.py multipaxos [reads]`` (3 replicas, 1 write).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from itertools import combinations, permutations


def paxos_bfs(n_acc: int = 3, n_val: int = 2, n_bal: int = 3) -> tuple[int, int, int]:
    """(distinct states, depth, states generated); raises if Consistency fails."""
    acceptors = range(n_acc)
    values = range(n_val)
    ballots = range(n_bal)
    quorums = [set(q) for k in range(n_acc // 2 + 1, n_acc + 1) for q in combinations(acceptors, k)]

    def chosen(msgs):
        out = set()
        for b in ballots:
            for v in values:
                for q in quorums:
                    if all(("2b", a, b, v) in msgs for a in q):
                        out.add(v)
        return out

    def successors(state):
        max_bal, max_vbal, max_val, msgs = state
        for b in ballots:
            yield max_bal, max_vbal, max_val, msgs | {("1a", b)}
        for a in acceptors:
            for m in msgs:
                if m[0] == "1a" and m[1] > max_bal[a]:
                    mb = list(max_bal)
                    mb[a] = m[1]
                    yield tuple(mb), max_vbal, max_val, msgs | {("1b", a, m[1], max_vbal[a], max_val[a])}
        for b in ballots:
            if any(m[0] == "2a" and m[1] == b for m in msgs):
                continue
            for v in values:
                for q in quorums:
                    q1b = [m for m in msgs if m[0] == "1b" and m[1] in q and m[2] == b]
                    if {m[1] for m in q1b} != q:
                        continue
                    voted = [m for m in q1b if m[3] >= 0]
                    if not voted or any(m[4] == v and all(m[3] >= mm[3] for mm in voted) for m in voted):
                        yield max_bal, max_vbal, max_val, msgs | {("2a", b, v)}
                        break
        for a in acceptors:
            for m in msgs:
                if m[0] == "2a" and m[1] >= max_bal[a]:
                    mb, mvb, mv = list(max_bal), list(max_vbal), list(max_val)
                    mb[a] = mvb[a] = m[1]
                    mv[a] = m[2]
                    yield tuple(mb), tuple(mvb), tuple(mv), msgs | {("2b", a, m[1], m[2])}

    init = ((-1,) * n_acc, (-1,) * n_acc, (None,) * n_acc, frozenset())
    return bfs([init], successors, lambda s: len(chosen(s[3])) <= 1)


def multipaxos_bfs(replicas: int = 3, writes: int = 1, reads: int = 1) -> tuple[int, int, int]:
    """(distinct states, depth, states generated) with replica symmetry;
    raises if an invariant fails or a state deadlocks."""
    from paxoscope.spec.multipaxos import NONE, MultiPaxos

    spec = MultiPaxos(replicas, writes, reads)
    names = spec.replicas

    def renamed(s, perm):
        new = dict(zip(names, perm))
        node, pc = [None] * len(names), [None] * len(names)
        for i, r in enumerate(names):
            j = names.index(new[r])
            n = s.node[i]
            node[j] = n if n.leader == NONE else n._replace(leader=new[n.leader])
            pc[j] = s.pc[i]
        msgs = sorted(m if m.type == "CommitNotice" else m._replace(src=new[m.src]) for m in s.msgs)
        return tuple(node), tuple(pc), tuple(msgs), s.pending, s.observed

    def canonical(s):
        return min(renamed(s, perm) for perm in permutations(names))

    def successors(s):
        after = [t for _, t in spec.next(s)]
        if not after:
            raise AssertionError("deadlock")
        return after

    return bfs(list(spec.init()), successors, lambda s: spec.type_ok(s) and spec.linearizability(s), canonical)


def raft_bfs(**sizes) -> tuple[int, int, int]:
    """(distinct states, depth, states generated) of Raft: its own steps, the
    state constraint as TLC applies it, MCraft's eight invariants on every new
    state; raises if one fails."""
    from paxoscope.spec.raft import Raft

    spec = Raft(**sizes)
    invariants = list(spec.invariants.values())

    def successors(s):
        return [t for _, t in spec.next(s)]

    return bfs(list(spec.init()), successors, lambda s: all(inv(s) for inv in invariants), within=spec.within_bounds)


def bfs(
    init: list, successors: Callable, ok: Callable, key: Callable | None = None, within: Callable | None = None
) -> tuple[int, int, int]:
    """(distinct states, depth, states generated): the seen set holds whole
    states (or their ``key``); raises if a new state is not ``ok``. A state
    not ``within`` the bounds is generated, and nothing more."""
    seen = {s if key is None else key(s) for s in init}
    frontier = init
    depth = 1
    generated = len(init)
    while frontier:
        level = []
        for s in frontier:
            for t in successors(s):
                generated += 1
                if within is not None and not within(t):
                    continue
                k = t if key is None else key(t)
                if k not in seen:
                    if not ok(t):
                        raise AssertionError("invariant violated")
                    seen.add(k)
                    level.append(t)
        frontier = level
        if frontier:
            depth += 1
    return len(seen), depth, generated


if __name__ == "__main__":
    t0 = time.perf_counter()
    if sys.argv[1:2] == ["multipaxos"]:
        distinct, depth, generated = multipaxos_bfs(reads=int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    else:
        distinct, depth, generated = paxos_bfs(n_bal=int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(f"baseline: {distinct} states, depth {depth}, {generated} generated, {time.perf_counter() - t0:.2f} s")

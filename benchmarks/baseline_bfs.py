"""The yardstick: a straightforward breadth-first search over Paxos.tla.

States are tuples with ``msgs`` a frozenset of message tuples, and the seen
set holds whole states: the way one first writes a model checker in Python.
``explore.py`` runs it beside paxoscope's explorer on the same configuration
and prints the ratio. Checks Consistency on every state, like the explorer
run it is compared with.

Run alone: ``python benchmarks/baseline_bfs.py [ballots]``.
"""

from __future__ import annotations

import sys
import time
from itertools import combinations


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
    seen = {init}
    frontier = [init]
    depth = 1
    generated = 1
    while frontier:
        level = []
        for s in frontier:
            for t in successors(s):
                generated += 1
                if t not in seen:
                    if len(chosen(t[3])) > 1:
                        raise AssertionError("Consistency violated")
                    seen.add(t)
                    level.append(t)
        frontier = level
        if frontier:
            depth += 1
    return len(seen), depth, generated


if __name__ == "__main__":
    ballots = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    t0 = time.perf_counter()
    distinct, depth, generated = paxos_bfs(n_bal=ballots)
    print(f"baseline: {distinct} states, depth {depth}, {generated} generated, {time.perf_counter() - t0:.2f} s")

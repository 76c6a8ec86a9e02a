"""Multi-Paxos (MultiPaxos-SMR): state counts, TypeOK and Linearizability, symmetry.

The full configuration of MultiPaxos_MC_small.cfg (3 replicas, 1 write, 1
read, symmetry) takes half a minute: benchmarks/multipaxos.py runs it
against TLC's figures. Here smaller configurations are counted twice: by the
explorer and by a plain breadth-first search written below, whose symmetry
reduction keys a state by its whole orbit (every renaming of the replicas,
writes and reads), independently of the spec's canonical form.
"""

from itertools import permutations

import pytest
from paxoscope.explorer.bfs import check, reachable
from paxoscope.spec.constants import ConfigError
from paxoscope.spec.multipaxos import (
    COMMITTED,
    DONE,
    Event,
    MPState,
    MultiPaxos,
)

# (replicas, writes, reads) -> (distinct states, states generated, depth), without and with symmetry.
COUNTS = {
    (2, 1, 1): {False: (1_163, 1_893, 20), True: (582, 949, 20)},
    (3, 1, 0): {False: (15_709, 28_027, 19), True: (2_628, 4_697, 19)},
    (2, 1, 2): {False: (12_663, 29_407, 26), True: (6_332, 14_706, 26)},
}


def rename(x, names: dict):
    """``x`` with every name (of a replica or a command) replaced as ``names`` says."""
    if isinstance(x, str):
        return names.get(x, x)
    if isinstance(x, frozenset):
        return frozenset(rename(y, names) for y in x)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(rename(y, names) for y in x))
    if isinstance(x, tuple):
        return tuple(rename(y, names) for y in x)
    return x


def renamings(names: tuple[str, ...]) -> list[dict[str, str]]:
    return [dict(zip(names, p)) for p in permutations(names)]


def orbit(spec: MultiPaxos, s: MPState) -> frozenset:
    """Every renaming of the replicas, the writes and the reads of ``s``:
    equal orbits are the same state up to symmetry."""
    out = []
    for replicas in renamings(spec.replicas):
        node, pc = [None] * len(s.node), [None] * len(s.pc)
        for i, r in enumerate(spec.replicas):
            j = spec.replicas.index(replicas[r])
            node[j], pc[j] = s.node[i], s.pc[i]
        moved = s._replace(node=tuple(node), pc=tuple(pc))
        for writes in renamings(spec.writes):
            for reads in renamings(spec.reads):
                out.append(rename(moved, {**replicas, **writes, **reads}))
    return frozenset(out)


def plain_bfs(spec: MultiPaxos, symmetry: bool) -> tuple[int, int, int]:
    """(distinct states, states generated, depth), counted as TLC does: the
    initial state, then every successor of every explored state (stutters too)."""
    key = (lambda s: orbit(spec, s)) if symmetry else (lambda s: s)
    frontier = list(spec.init())
    seen = {key(s) for s in frontier}
    generated, depth = len(frontier), 0
    while frontier:
        depth += 1
        level = []
        for s in frontier:
            for _, t in spec.next(s):
                generated += 1
                k = key(t)
                if k not in seen:
                    seen.add(k)
                    level.append(t)
        frontier = level
    return len(seen), generated, depth


@pytest.mark.parametrize("sizes", sorted(COUNTS))
@pytest.mark.parametrize("symmetry", [False, True])
def test_counts_agree_with_a_plain_search(sizes, symmetry):
    spec = MultiPaxos(*sizes)
    r = check(spec, symmetry=symmetry, deadlock=True)
    assert r.verdict == "ok"
    assert r.properties == ["TypeOK", "Linearizability"]
    found = (r.distinct_states, r.states_generated, r.depth)
    assert found == plain_bfs(spec, symmetry) == COUNTS[sizes][symmetry]


def test_every_action_is_taken():
    assert check(MultiPaxos(2, 1, 1), deadlock=True).never_enabled == []


def test_one_replica_commits_alone_and_terminates():
    spec = MultiPaxos(1, 1, 0)
    r = check(spec, deadlock=True)
    assert r.verdict == "ok" and r.depth == 6  # BecomeLeader, prepared, TakeNewRequest, commit, Exit
    finished = [s for s in reachable(spec) if s.pc == (DONE,)]
    assert finished and all(s.node[0].insts[0].status == COMMITTED for s in finished)
    assert all(s.observed == (Event("Req", "w1"), Event("Ack", "w1", "nil")) for s in finished)


def test_linearizability_judges_the_observed_history():
    spec = MultiPaxos(2, 1, 1)
    done = next(iter(spec.init()))._replace(pending=())

    def history(*events):
        return done._replace(observed=tuple(Event(*e) for e in events))

    w_req, r_req = ("Req", "w1"), ("Req", "r1")
    # The read came after the write was acknowledged: it must see w1.
    assert spec.linearizability(history(w_req, ("Ack", "w1", "nil"), r_req, ("Ack", "r1", "w1")))
    assert not spec.linearizability(history(w_req, ("Ack", "w1", "nil"), r_req, ("Ack", "r1", "nil")))
    # Overlapping: either order is allowed.
    assert spec.linearizability(history(w_req, r_req, ("Ack", "r1", "nil"), ("Ack", "w1", "nil")))
    # Not terminated (r1 never acknowledged): nothing to judge yet.
    assert spec.linearizability(history(w_req, ("Ack", "w1", "nil"), r_req))


def test_symmetry_canonical_form_is_shared_by_exactly_the_renamings():
    spec = MultiPaxos(3, 1, 1)
    states = reachable(spec, max_states=3_000)
    forms = {}
    for s in states:
        forms.setdefault(spec.symmetry(s), set()).add(orbit(spec, s))
    assert all(len(orbits) == 1 for orbits in forms.values())
    assert len(forms) == len({orbit(spec, s) for s in states})


def test_bad_sizes_are_config_errors():
    for sizes in [dict(replicas=0), dict(writes=0), dict(reads=-1), dict(max_ballot=1), dict(replicas="3")]:
        with pytest.raises(ConfigError):
            MultiPaxos(**sizes)

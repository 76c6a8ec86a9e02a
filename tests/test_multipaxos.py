"""Multi-Paxos (MultiPaxos-SMR): state counts, TypeOK and Linearizability, symmetry.

The full configuration of MultiPaxos_MC_small.cfg (3 replicas, 1 write, 1
read, symmetry) takes about twenty seconds: it is pinned once, at the end, as
the command line runs it (benchmarks/multipaxos.py also runs it without
symmetry, and times both). Smaller configurations are counted twice: by the
explorer and by a plain breadth-first search written below, whose symmetry
reduction keys a state by its whole orbit (every renaming of the replicas,
writes and reads), independently of the spec's canonical form.
"""

import json
from functools import cache
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
    (2, 1, 1): {False: (1_163, 1_905, 20), True: (582, 955, 20)},
    (3, 1, 0): {False: (15_709, 28_027, 19), True: (2_628, 4_697, 19)},
    (2, 1, 2): {False: (12_663, 29_515, 26), True: (6_332, 14_760, 26)},
}


def rename(x, names: dict):
    """``x`` with every name (of a replica or a command) replaced as ``names`` says."""
    return renamed(x, tuple(names.items()))


@cache  # messages, nodes and events recur in many states: each is renamed once per renaming
def renamed(x, names: tuple[tuple[str, str], ...]):
    if isinstance(x, str):
        return dict(names).get(x, x)
    if isinstance(x, frozenset):
        return frozenset(renamed(y, names) for y in x)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(renamed(y, names) for y in x))
    if isinstance(x, tuple):
        return tuple(renamed(y, names) for y in x)
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


def test_a_request_is_taken_once_per_empty_slot_as_tlc_counts_it():
    """TLC enumerates the witnesses of TakeNewRequest's "\\E s \\in Slots:
    insts[s].status = "Empty"": the same step once per empty slot."""
    spec = MultiPaxos(1, 1, 1)
    s = next(iter(spec.init()))
    for name in ("BecomeLeader", "HandlePrepareReplies"):
        s = next(t for act, t in spec.next(s) if act.name == name)
    takes = [t for act, t in spec.next(s) if act.name == "TakeNewRequest"]
    assert len(takes) == 2 and takes[0] == takes[1]  # two empty slots, one step
    takes = [t for act, t in spec.next(takes[0]) if act.name == "TakeNewRequest"]
    assert len(takes) == 1  # one empty slot left


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


@pytest.mark.parametrize("sizes", [(2, 1, 1), (3, 1, 0), (2, 2, 0)])
def test_every_slot_refines_consensus(sizes):
    spec = MultiPaxos(*sizes)
    r = check(spec, ["TypeOK", "Linearizability", "RefinesLog"], symmetry=True, deadlock=True)
    assert r.verdict == "ok" and r.properties == ["TypeOK", "Linearizability", "RefinesLog"]


def test_the_log_holds_every_command_once_terminated():
    spec = MultiPaxos(2, 2, 0)
    finished = [s for s in reachable(spec) if all(pc == DONE for pc in s.pc)]
    assert finished
    for s in finished:
        log = spec.to_log(s)
        assert all(len(chosen) == 1 for chosen in log)
        assert sorted(c for chosen in log for c in chosen) == ["w1", "w2"]


def test_a_follower_may_commit_a_command_never_chosen_in_its_slot():
    """MultiPaxos-SMR's CommitNotice names a slot, not a ballot or command:
    a deposed leader that logged r1 in slot 1 alone follows the new leader,
    which chose w1 there, and commits r1 on the notice. No client sees it."""
    spec = MultiPaxos(3, 1, 1)
    r = check(spec, ["CommittedIsChosen"], symmetry=True)
    assert r.violation.property == "CommittedIsChosen" and len(r.violation.trace) == 14
    assert r.violation.trace.actions[-1].name == "HandleCommitNotice"
    last = r.violation.trace.states[-1]
    chosen = spec.to_log(last)[0]
    committed = {n.insts[0].cmd for n in last.node if n.insts[0].status == COMMITTED}
    assert len(chosen) == 1 and len(committed) == 2 and chosen < committed


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


def test_the_tlc_configuration_explores_exactly_tlcs_state_space(capsys):
    """MultiPaxos_MC_small.cfg as TLC 2.20 explores it (the figures of the spec's manifest:
    343,796 distinct states, 736,012 generated, depth 28), from the command line a user types."""
    from paxoscope.cli import main

    argv = ["check", "multipaxos", "--replicas", "3", "--writes", "1", "--reads", "1", "--symmetry", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "ok"
    assert (doc["distinct_states"], doc["states_generated"], doc["depth"]) == (343_796, 736_012, 28)

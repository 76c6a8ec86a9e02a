"""The readable Paxos (spec/paxos_reference.py) and the fast encoding
(spec/paxos.py) are one spec: the same reachable states, state for state,
the same digest, counts and depth; and a change to either one shows."""

from __future__ import annotations

import pytest
from paxoscope.explorer.bfs import check, reachable
from paxoscope.explorer.trace import validate
from paxoscope.spec.base import action
from paxoscope.spec.paxos import Msg1b, Paxos, State
from paxoscope.spec.paxos_reference import PaxosReference, digest, reference_state, send

CONFIGS = [
    {"ballots": 1},
    {"ballots": 2},
    {"acceptors": 2, "values": 3, "ballots": 2},
    {"acceptors": 4, "values": 1, "ballots": 1},
    {"acceptors": 3, "ballots": 2, "quorums": [["a1", "a2"], ["a1", "a3"]]},
]


def reachable_as_reference(fast: Paxos) -> set:
    return {reference_state(fast, s) for s in reachable(fast)}


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_the_fast_encoding_reaches_exactly_the_reference_states(config):
    fast, ref = Paxos(**config), PaxosReference(**config)
    mapped, states = reachable_as_reference(fast), reachable(ref)
    assert len(states) == len(set(states))
    assert mapped == set(states)
    assert digest(mapped) == digest(states)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=str)
@pytest.mark.parametrize("symmetry", [False, True])
def test_both_check_alike(config, symmetry):
    fast = check(Paxos(**config), symmetry=symmetry)
    ref = check(PaxosReference(**config), symmetry=symmetry)
    assert fast.verdict == ref.verdict == "ok"
    assert fast.properties == ref.properties
    seen = ("distinct_states", "states_generated", "depth", "never_enabled")
    assert [getattr(fast, k) for k in seen] == [getattr(ref, k) for k in seen]
    assert {k: w is None for k, w in fast.witnesses.items()} == {k: w is None for k, w in ref.witnesses.items()}


def test_the_inductive_invariant_and_refinements_hold_on_the_reference():
    from paxoscope.spec.paxos_invariants import CONJUNCTS

    r = check(PaxosReference(ballots=2), [*CONJUNCTS, "Inv", "RefinesVoting", "RefinesConsensus"])
    assert r.verdict == "ok" and r.distinct_states == 3_921


def test_a_step_of_each_is_a_step_of_the_other():
    fast, ref = Paxos(ballots=2), PaxosReference(ballots=2)
    for s in reachable(fast)[:400]:
        theirs = {(a, reference_state(fast, t)) for a, t in fast.next(s)}
        assert theirs == set(ref.next(reference_state(fast, s)))


def test_a_fast_counterexample_is_a_behaviour_of_the_reference():
    r = check(Paxos(ballots=2, quorums=[["a1"], ["a2"]]), ["Consistency"])
    ref = PaxosReference(ballots=2, quorums=[["a1"], ["a2"]])
    trace = r.violation.trace
    states = [reference_state(trace.spec, s) for s in trace.states]
    assert states[0] in set(ref.init())
    for act, before, after in zip(trace.actions, states, states[1:]):
        assert (act, after) in set(ref.next(before))
    assert not ref.consistency(states[-1])
    assert validate(trace.spec, trace) is None


# A deliberately altered copy of either spec no longer matches the other.


class ReferenceVotingAbovePromiseOnly(PaxosReference):
    """Phase2b with b > maxBal[a] where Paxos.tla has b >= maxBal[a]."""

    def phase2b(self, s):
        return [(a, t) for a, t in super().phase2b(s) if a.param("b") > s.max_bal[self.k.acceptors.index(a.param("a"))]]


class FastForgettingReports(Paxos):
    """Phase1b that reports no vote (mbal = -1) whatever the acceptor voted."""

    def phase1b(self, s):
        steps = []
        max_bal = self.acceptor_vars(s)[0]
        for i, a in enumerate(self.k.acceptors):
            for b in self.k.ballots:
                if s.msgs & self.bit_1a[b] and b > max_bal[i]:
                    _act, keep, promised = self.promise[i][b]
                    report = self.table.bit[Msg1b(a, b, -1, None)]
                    steps.append((action("Phase1b", a=a, b=b), State(s.acc & keep | promised, s.msgs | report)))
        return steps


class ReferenceResending1a(PaxosReference):
    """An extra action: a harmless-looking re-send that is not in Paxos.tla."""

    def next(self, s):
        return super().next(s) + [(action("Resend1a"), send(s, m)) for m in s.msgs if type(m).__name__ == "Msg1a"]


@pytest.mark.parametrize("config", [{"ballots": 2}, {"acceptors": 2, "values": 3, "ballots": 2}], ids=str)
def test_an_altered_copy_of_either_spec_differs(config):
    fast, ref = Paxos(**config), PaxosReference(**config)
    original = digest(reachable(ref))
    altered_ref = reachable(ReferenceVotingAbovePromiseOnly(**config))
    assert set(altered_ref) != reachable_as_reference(fast)
    assert digest(altered_ref) != original
    altered_fast = FastForgettingReports(**config)
    assert reachable_as_reference(altered_fast) != set(reachable(ref))
    assert digest(reachable_as_reference(altered_fast)) != original


def test_a_different_step_with_the_same_states_is_told_apart_by_the_steps():
    # Resending a message already sent changes no state: the reachable set
    # stays the same, but the step comparison sees the extra action.
    config = {"ballots": 1}
    fast, extra = Paxos(**config), ReferenceResending1a(**config)
    assert reachable_as_reference(fast) == set(reachable(extra))
    s = next(s for s in reachable(fast) if fast.messages(s))
    theirs = {(a, reference_state(fast, t)) for a, t in fast.next(s)}
    assert theirs != set(extra.next(reference_state(fast, s)))

"""The Paxos spec against TLC's figures, its invariant, refinement and symmetry."""

from __future__ import annotations

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.trace import validate
from paxoscope.spec.base import Refinement
from paxoscope.spec.consensus import Consensus
from paxoscope.spec.paxos import Msg1a, Msg2b, Paxos
from paxoscope.spec.paxos_invariants import CONJUNCTS
from paxoscope.spec.voting import Voting

# TLC on Paxos.tla (TLA+ Examples), 3 acceptors, 2 values, majority quorums.
TLC = {1: (73, 9), 2: (3_921, 17), 3: (185_369, 25)}


@pytest.mark.parametrize("ballots", [1, 2, 3])
def test_state_count_and_depth_equal_tlc(ballots):
    r = check(Paxos(acceptors=3, values=2, ballots=ballots))  # default properties, refinement included
    assert r.verdict == "ok"
    assert (r.distinct_states, r.depth) == TLC[ballots]
    assert r.never_enabled == []


def test_default_properties_include_both_refinements():
    r = check(Paxos(ballots=1))
    assert r.properties == ["TypeOK", "Consistency", "RefinesVoting", "RefinesConsensus"]
    # RefinesConsensus alone still maps through Voting, without checking that link
    only = check(Paxos(ballots=1), ["RefinesConsensus"])
    assert only.verdict == "ok" and only.properties == ["RefinesConsensus"]


def test_every_conjunct_of_the_inductive_invariant_holds_on_reachable_states():
    names = [*CONJUNCTS, "Inv"]
    for config in (
        {"ballots": 2},
        {"acceptors": 4, "values": 1, "ballots": 2},
        {"acceptors": 2, "values": 3, "ballots": 2},
    ):
        r = check(Paxos(**config), names)
        assert r.verdict == "ok", (config, r.violation and r.violation.property)


def test_voting_refines_consensus_and_is_consistent():
    r = check(Voting(ballots=2))
    assert r.verdict == "ok"
    assert "RefinesConsensus" in r.properties
    assert r.witnesses["ValueChosen"] is not None


class VotesAreChoices(Paxos):
    """A wrong mapping: every value someone voted for counts as chosen."""

    def to_consensus(self, s):
        return frozenset(v for _a, _b, v in self.votes(s.msgs))

    @property
    def refinements(self):
        return (Refinement(self.voting.consensus, self.to_consensus),)


def test_a_wrong_refinement_mapping_is_caught():
    r = check(VotesAreChoices(ballots=2), ["RefinesConsensus"])
    assert r.verdict == "violation"
    assert r.violation.kind == "refinement"
    assert validate(r.violation.trace.spec, r.violation.trace) is None
    last = r.violation.trace.states[-1]
    assert len(VotesAreChoices(ballots=2).to_consensus(last)) == 2


def test_consensus_allows_one_choice_only():
    spec = Consensus(("v1", "v2", "v3"))
    r = check(spec)
    assert (r.verdict, r.distinct_states, r.depth) == ("ok", 4, 2)


def test_symmetry_gives_far_fewer_states_and_the_same_verdict():
    for ballots in (2, 3):
        full = TLC[ballots][0]
        r = check(Paxos(ballots=ballots), symmetry=True)
        assert r.verdict == "ok" and r.depth == TLC[ballots][1]
        assert r.distinct_states * 5 < full


def test_symmetry_canonical_form_is_invariant_under_renaming():
    spec = Paxos(ballots=2)
    s = spec.state(
        max_bal=(1, -1, 0),
        max_vbal=(0, -1, -1),
        max_val=("v2", None, None),
        msgs=[Msg1a(0), Msg2b("a1", 0, "v2")],
    )
    renamed = spec.state(  # a1 -> a3, a3 -> a1, v1 <-> v2
        max_bal=(0, -1, 1),
        max_vbal=(-1, -1, 0),
        max_val=(None, None, "v1"),
        msgs=[Msg1a(0), Msg2b("a3", 0, "v1")],
    )
    other = spec.state(
        max_bal=(0, -1, 1),
        max_vbal=(-1, -1, 0),
        max_val=(None, None, "v1"),
        msgs=[Msg1a(1), Msg2b("a3", 0, "v1")],
    )
    assert spec.symmetry(s) == spec.symmetry(renamed)
    assert spec.symmetry(s) != spec.symmetry(other)


def test_state_round_trips_through_variables():
    spec = Paxos(ballots=3)
    s = spec.state(max_bal=(2, 1, -1), max_vbal=(1, 1, -1), max_val=("v1", "v1", None), msgs=[Msg1a(2)])
    v = spec.variables(s)
    assert v["maxBal"] == {"a1": 2, "a2": 1, "a3": -1}
    assert v["maxVal"] == {"a1": "v1", "a2": "v1", "a3": None}
    assert v["msgs"] == frozenset({Msg1a(2)})
    assert spec.type_ok(s)


def test_bad_configurations_are_refused():
    from paxoscope.spec.constants import ConfigError

    for kwargs in ({"acceptors": 0}, {"values": 0}, {"ballots": -1}, {"quorums": [["a9"]]}):
        with pytest.raises(ConfigError):
            Paxos(**kwargs)


def test_non_majority_but_intersecting_quorums_are_safe():
    # Every quorum holds a1: they all intersect, so Paxos stays safe.
    r = check(Paxos(acceptors=3, ballots=2, quorums=[["a1", "a2"], ["a1", "a3"]]))
    assert r.verdict == "ok"

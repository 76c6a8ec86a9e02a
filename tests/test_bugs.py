"""The bug gallery: every variant is caught, by the shortest counterexample."""

from __future__ import annotations

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.trace import validate
from paxoscope.spec.bugs import BUGS

# Shortest Consistency counterexample (states, the initial one included), at
# the smallest number of ballots that shows the bug (3 acceptors, 2 values).
SHORTEST = {
    "non-intersecting-quorums": (2, 9),
    "ignore-reported-values": (2, 13),
    "any-reported-value": (3, 18),
    "promise-not-kept": (2, 13),
    "accept-below-promise": (2, 13),
    "two-proposals-per-ballot": (2, 10),
    "amnesia-restart": (2, 14),
}

# A conjunct of the inductive invariant that each bug breaks first, and when.
BROKEN_CONJUNCT = {
    "ignore-reported-values": ("Msg2aSafe", 10),
    "any-reported-value": ("Msg2aSafe", 15),
    "promise-not-kept": ("Msg1bBelowPromise", 3),
    "accept-below-promise": ("Msg1bBelowPromise", 8),
    "two-proposals-per-ballot": ("Msg2aUnique", 6),
    "amnesia-restart": ("Msg1bBelowPromise", 4),
}


def test_the_gallery_has_the_required_variants_documented():
    assert set(SHORTEST) <= set(BUGS)
    for name, cls in BUGS.items():
        assert cls.name == name
        assert cls.summary and cls.fix
        assert len(cls.explanation.split()) >= 40, name


@pytest.mark.parametrize("name", list(SHORTEST))
def test_each_bug_breaks_consistency_by_its_shortest_trace(name):
    ballots, length = SHORTEST[name]
    spec = BUGS[name](ballots=ballots)
    r = check(spec, ["Consistency"])
    assert r.verdict == "violation"
    trace = r.violation.trace
    assert len(trace) == length
    assert validate(spec, trace) is None
    assert len(spec.chosen(trace.states[-1].msgs)) == 2
    # shortest: no state before the last breaks it
    assert all(len(spec.chosen(s.msgs)) <= 1 for s in trace.states[:-1])


@pytest.mark.parametrize("name", list(SHORTEST))
def test_each_bug_is_caught_by_the_default_check_and_under_symmetry(name):
    ballots, length = SHORTEST[name]
    assert check(BUGS[name](ballots=ballots)).verdict == "violation"
    spec = BUGS[name](ballots=ballots)
    r = check(spec, ["Consistency"], symmetry=True)
    assert r.verdict == "violation"
    assert len(r.violation.trace) == length
    # a counterexample found under symmetry is a real trace of the unreduced spec
    assert validate(BUGS[name](ballots=ballots), r.violation.trace) is None


@pytest.mark.parametrize("name", list(BROKEN_CONJUNCT))
def test_each_bug_breaks_a_conjunct_of_the_inductive_invariant(name):
    conjunct, length = BROKEN_CONJUNCT[name]
    ballots = SHORTEST[name][0]
    r = check(BUGS[name](ballots=ballots), [conjunct])
    assert r.verdict == "violation"
    assert len(r.violation.trace) == length


def test_non_intersecting_quorums_refines_voting_but_not_consensus():
    # Voting with the same broken quorums is just as broken: the mapping to
    # Voting holds, the one to Consensus does not.
    spec = BUGS["non-intersecting-quorums"](ballots=2)
    assert not spec.k.quorums_intersect()
    assert check(spec, ["RefinesVoting"]).verdict == "ok"
    r = check(spec, ["RefinesConsensus"])
    assert r.verdict == "violation" and r.violation.kind == "refinement"

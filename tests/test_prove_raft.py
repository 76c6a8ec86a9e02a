"""The Z3 proof of Raft's election safety, for every number of servers and terms.

The election model (proofs/raft.py) is proven by the same engines that prove
Paxos and Multi-Paxos; the two gallery variants that break elections each
fail one named obligation, with a counterexample to induction that is
reachable from Init; the variants that break properties of logs have no
proof variant, and say why.
"""

from __future__ import annotations

import pytest
from paxoscope.proofs import raft
from paxoscope.proofs.obligations import prove

from paxoscope.cli import main

# The obligation each proof variant fails (every other one is proven).
FAILS = {"own-vote-counted-twice": "BecomeLeader/LeaderHasQuorum", "term-not-persisted": "Vote/VoteOnce"}


def test_election_safety_is_proven_obligation_by_obligation():
    report = prove(raft.model_for(), counterexamples=False)
    conjuncts = ["VoteOnce", "LeaderHasQuorum"]
    expected = ["initiation", *(f"{a}/{c}" for a in ("Vote", "BecomeLeader") for c in conjuncts), "safety"]
    assert [o.name for o in report.outcomes] == expected
    assert report.verdict == "proven"


@pytest.mark.parametrize("bug", sorted(FAILS))
def test_each_election_variant_fails_its_obligation_with_a_reachable_counterexample(bug):
    report = prove(raft.model_for(bug))
    assert [o.name for o in report.failed] == [FAILS[bug]]
    cti = report.failed[0].counterexample
    assert cti is not None and cti.reachable is True


def test_the_proof_variants_are_the_spec_variants_that_break_elections():
    from paxoscope.spec.raft_bugs import BUGS, SHOWN

    assert set(raft.BUG_MODELS) == set(FAILS) and set(raft.BUG_MODELS) | set(raft.NO_PROOF) == set(BUGS)
    assert {SHOWN[bug].invariant for bug in raft.BUG_MODELS} == {"MoreThanOneLeaderInv"}


def test_prove_raft_from_the_command_line(capsys):
    assert main(["prove", "raft"]) == 0
    assert "PROVEN: all 6 obligations" in capsys.readouterr().out
    assert main(["prove", "raft", "--bug", "term-not-persisted"]) == 1
    assert "FAILED: 1 failed (Vote/VoteOnce)" in capsys.readouterr().out
    assert main(["prove", "raft", "--bug", "commit-earlier-term"]) == 2
    assert "has no proof variant: it breaks a property of the logs" in capsys.readouterr().err
    assert main(["prove", "raft", "--crosscheck"]) == 2

"""Two-phase commit: the explorer is generic."""

from paxoscope.explorer.bfs import check
from paxoscope.explorer.trace import validate
from paxoscope.spec.base import action
from paxoscope.spec.twophase import ABORTED, TCommit, TwoPhase


def test_twophase_matches_tlc_and_refines_tcommit():
    r = check(TwoPhase(3))
    assert r.verdict == "ok"
    assert r.distinct_states == 288  # TLC on TwoPhase.tla with three RMs
    assert "RefinesTCommit" in r.properties
    assert r.never_enabled == []
    assert r.witnesses["AllCommitted"] and r.witnesses["AllAborted"]
    assert check(TCommit(3)).distinct_states == 34


def test_twophase_symmetry_reduces_and_keeps_the_verdict():
    full, reduced = check(TwoPhase(4)), check(TwoPhase(4), symmetry=True)
    assert reduced.verdict == full.verdict == "ok"
    assert reduced.depth == full.depth
    assert reduced.distinct_states * 5 < full.distinct_states


class EagerCommit(TwoPhase):
    """A wrong TM: commits as soon as one RM is prepared."""

    def next(self, s):
        yield from super().next(s)
        if s.tm_state == "init" and s.tm_prepared:
            yield action("TMCommit"), s._replace(tm_state="committed", msgs=s.msgs | {("Commit",)})


def test_a_wrong_transaction_manager_is_caught():
    r = check(EagerCommit(2), ["TCConsistent"])
    assert r.verdict == "violation"
    last = r.violation.trace.states[-1]
    assert ABORTED in last.rm_state
    assert validate(EagerCommit(2), r.violation.trace) is None
    r = check(EagerCommit(2), symmetry=True)
    assert r.verdict == "violation"
    assert validate(EagerCommit(2), r.violation.trace) is None

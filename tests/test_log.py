"""The per-slot log spec: each slot a Consensus, chosen once and never changed."""

from paxoscope.explorer.bfs import check, reachable
from paxoscope.spec.log import Log


def test_each_slot_is_chosen_once_independently_of_the_others():
    log = Log(2, ("a", "b"))
    states = set(reachable(log))
    empty, a, b = frozenset(), frozenset("a"), frozenset("b")
    assert states == {(x, y) for x in (empty, a, b) for y in (empty, a, b)}
    r = check(log)
    assert r.verdict == "ok" and r.properties == ["Consistency"] and r.depth == 3


def test_a_chosen_slot_never_changes():
    log = Log(2, ("a", "b"))
    steps = dict(log.next((frozenset("a"), frozenset())))
    assert {str(act) for act in steps} == {"Choose(slot=2, v=a)", "Choose(slot=2, v=b)"}
    assert all(after[0] == frozenset("a") for after in steps.values())
    assert list(log.next((frozenset("a"), frozenset("b")))) == []


def test_two_values_in_a_slot_break_consistency():
    log = Log(1, ("a", "b"))
    assert not log.invariants["Consistency"]((frozenset("ab"),))

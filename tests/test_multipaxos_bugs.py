"""The Multi-Paxos gallery: each known-wrong variant is caught, with its shortest counterexample.

Each variant runs on the smallest configuration that shows it; the length
pinned is the number of states in the explorer's trace, which a
breadth-first search makes the shortest there is.
"""

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.trace import validate
from paxoscope.spec.multipaxos import ACCEPTING
from paxoscope.spec.multipaxos_bugs import BUGS, MultiPaxosBug

# name -> ((replicas, writes, reads), property that fails, states in the shortest trace)
CAUGHT = {
    "commit-on-too-few-replies": ((3, 1, 1), "Linearizability", 11),
    "silent-acceptor": ((2, 1, 0), "Deadlock", 6),
    "ignore-prepare-votes": ((3, 1, 1), "Linearizability", 13),
    "stale-leader-read": ((3, 1, 1), "Linearizability", 11),
    "accept-below-promise": ((3, 1, 1), "Linearizability", 13),
}


def test_the_gallery_is_the_one_pinned_here():
    assert sorted(BUGS) == sorted(CAUGHT)
    for name, cls in BUGS.items():
        assert issubclass(cls, MultiPaxosBug) and cls.name == name
        assert cls.summary and cls.explanation and cls.fix


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_each_variant_is_caught_with_its_shortest_counterexample(name):
    sizes, prop, length = CAUGHT[name]
    spec = BUGS[name](*sizes)
    r = check(spec, symmetry=True, deadlock=True)
    assert r.verdict == "violation" and r.violation.property == prop
    assert len(r.violation.trace) == length
    assert validate(spec, r.violation.trace) is None  # every step is a step of the variant
    assert spec.config["bug"] == name


@pytest.mark.parametrize("name", ["commit-on-too-few-replies", "stale-leader-read"])
def test_symmetry_does_not_shorten_or_hide_the_counterexample(name):
    sizes, prop, length = CAUGHT[name]
    r = check(BUGS[name](*sizes), symmetry=False, deadlock=True)
    assert r.violation.property == prop and len(r.violation.trace) == length


def test_too_few_replies_loses_an_acknowledged_write():
    r = check(BUGS["commit-on-too-few-replies"](3, 1, 1), deadlock=True)
    acks = {e.cmd: e.val for e in r.violation.trace.states[-1].observed if e.type == "Ack"}
    assert acks == {"w1": "nil", "r1": "nil"}  # the read, requested after w1's Ack, missed it


def test_a_silent_acceptor_leaves_a_slot_accepting_forever():
    last = check(BUGS["silent-acceptor"](2, 1, 0), deadlock=True).violation.trace.states[-1]
    assert last.pending == ("w1",)
    assert any(inst.status == ACCEPTING for n in last.node for inst in n.insts)


def test_a_stale_leader_answers_the_read_without_logging_it():
    spec = BUGS["stale-leader-read"](3, 1, 1)
    last = check(spec, deadlock=True).violation.trace.states[-1]
    logged = {inst.cmd for n in last.node for inst in n.insts}
    assert "r1" not in logged and ("Ack", "r1", "nil") in [tuple(e) for e in last.observed]


# The refinement to the log catches every variant that chooses two commands in a slot, at the step that does.
BREAKS_THE_LOG = {"ignore-prepare-votes": 12, "accept-below-promise": 12}


@pytest.mark.parametrize("name", sorted(BREAKS_THE_LOG))
def test_the_log_refinement_catches_the_variants_that_break_the_log(name):
    sizes, _, _ = CAUGHT[name]
    r = check(BUGS[name](*sizes), ["RefinesLog"], symmetry=True)
    assert r.verdict == "violation" and r.violation.property == "RefinesLog"
    assert len(r.violation.trace) == BREAKS_THE_LOG[name]


def test_committing_on_too_few_replies_applies_a_command_never_chosen():
    """The log itself stays consistent (w1 is never chosen by a majority):
    the leader commits and applies w1 where r1 will be chosen."""
    spec = BUGS["commit-on-too-few-replies"](3, 1, 1)
    r = check(spec, ["CommittedIsChosen"], symmetry=True)
    assert r.violation.property == "CommittedIsChosen" and len(r.violation.trace) == 6
    assert r.violation.trace.actions[-1].name == "HandleAcceptReplies"
    assert spec.to_log(r.violation.trace.states[-1]) == (frozenset(), frozenset())


def test_a_stale_read_leaves_the_log_intact():
    """The stale leader answers without touching the log: every step of its
    counterexample is a step (or a stutter) of the log, so only the client's
    history shows what went wrong."""
    spec = BUGS["stale-leader-read"](3, 1, 1)
    states = check(spec, deadlock=True).violation.trace.states
    images = [spec.to_log(s) for s in states]
    for u, v in zip(images, images[1:]):
        assert v == u or v in {after for _, after in spec.log.next(u)}
    assert images[-1] == (frozenset({"w1"}), frozenset())

"""The Raft gallery: each known-wrong variant breaks one of MCraft.tla's invariants.

The variants that two servers show are caught by the explorer, with their
shortest counterexample, at the smallest bounds that show them; the length
pinned is the number of states in the trace. The others need three servers,
whose state space is too large to search breadth-first in the suite
(benchmarks/raft_bugs.py does, and prints what it finds): for each of them the
suite plays a scenario of the variant step by step, as a user would, and
checks that it is a behaviour of the variant that breaks the invariant at its
last state only, while the same steps are not all possible in Raft itself.
"""

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.trace import trace_of, validate
from paxoscope.spec.raft import LEADER, Entry, Raft
from paxoscope.spec.raft_bugs import BUGS, RaftBug

from paxoscope.cli import main

# name -> (Raft's sizes, the invariant that fails, states in the shortest trace)
CAUGHT = {
    "term-not-persisted": (dict(max_log=0, max_in_flight=1), "MoreThanOneLeaderInv", 21),
    "own-vote-counted-twice": (dict(max_log=0, max_in_flight=1), "MoreThanOneLeaderInv", 11),
}


def elect(leader, voters, timeouts=1, restart=False):
    """The steps that make ``leader`` a leader with the votes of ``voters`` (itself first), one message in flight."""
    steps = [f"Restart {leader}"] if restart else []
    steps += [f"Timeout {leader}"] * timeouts
    for voter in (leader, *voters):
        steps += [f"RequestVote {leader} {voter}", *receive(3 if voter != leader else 2)]
    return [*steps, f"BecomeLeader {leader}"]


def receive(times=1):
    return ["receive"] * times


# A scenario for each variant that needs three servers: the steps, one message in flight
# (``receive``: the one message in flight is handled), and the sizes it needs.
FIGURE_8 = [
    *elect("s1", ["s2"]),  # term 2
    "ClientRequest s1 v1",
    *elect("s2", ["s3"], timeouts=1),  # term 3, s2 and s3 with empty logs
    "ClientRequest s2 v2",
    *elect("s1", ["s3"], timeouts=2, restart=True),  # term 4: s3's log is as empty as before
    *["AppendEntries s1 s3", *receive(2)],  # rejected: nextIndex backs up to 1
    *["AppendEntries s1 s3", *receive(3)],  # s3 appends v1@2 and says so
    "AdvanceCommitIndex s1",  # commits v1@2, of term 2, on s1 and s3
    *elect("s2", ["s3"], timeouts=2, restart=True),  # term 5: v2@3 is newer than s3's v1@2
    *["AppendEntries s2 s3", *receive(2)],
    *["AppendEntries s2 s3", *receive(4)],  # s3 drops v1@2, appends v2@3
    "AdvanceCommitIndex s2",  # commits v2@3 at index 1
]
SCENARIOS = {
    "commit-earlier-term": (dict(servers=3, values=2, max_term=5, max_in_flight=1), FIGURE_8, "LogInv"),
    "vote-for-stale-log": (
        dict(servers=3, max_term=3, max_in_flight=1),
        [
            *elect("s1", ["s2"]),
            "ClientRequest s1 v1",
            *["AppendEntries s1 s2", *receive(3), "AdvanceCommitIndex s1"],
            *elect("s3", ["s2"], timeouts=2),
        ],
        "LeaderCompletenessInv",
    ),
    "commit-on-minority": (
        dict(servers=3, max_term=3, max_in_flight=1),
        [*elect("s1", ["s2"]), "ClientRequest s1 v1", "AdvanceCommitIndex s1", *elect("s3", ["s2"], timeouts=2)],
        "LeaderCompletenessInv",
    ),
    "no-consistency-check": (
        dict(servers=3, max_term=4, max_log=2, max_in_flight=1),
        [
            *elect("s1", ["s2"]),
            "ClientRequest s1 v1",  # s1: v1@2
            *elect("s2", ["s3"]),
            "ClientRequest s2 v1",  # s2: v1@3
            *elect("s2", ["s3"], restart=True),  # term 4, nextIndex 2
            "ClientRequest s2 v1",  # s2: v1@3, v1@4
            *["AppendEntries s2 s1", *receive(2)],  # s1 appends v1@4 after its v1@2
        ],
        "LogMatchingInv",
    ),
}


def play(spec, script):
    """The trace of ``spec`` that takes the steps of ``script`` from its initial state, as far as
    the spec can take them (each step must be the one step of the spec that the line names)."""
    state = next(spec.init())
    pairs = [(None, state)]
    for line in script:
        name, *args = line.split()
        steps = [(act, t) for act, t in spec.next(state) if takes(act, name, args)]
        if len(steps) != 1:
            break
        pairs.append(steps[0])
        state = steps[0][1]
    return trace_of(spec, pairs)


def takes(act, name, args):
    if name == "receive":  # the message in flight, by whichever handler takes it
        return "m" in dict(act.params) and act.name not in {"DuplicateMessage", "DropMessage", "DropStaleResponse"}
    return act.name == name and [str(value) for _, value in act.params] == args


def test_the_gallery_is_the_one_pinned_here_and_tells_every_story():
    assert sorted(BUGS) == sorted([*CAUGHT, *SCENARIOS])
    for name, cls in BUGS.items():
        assert issubclass(cls, RaftBug) and cls.name == name and cls.protocol == "raft"
        assert cls.summary and cls.fix and len(cls.explanation.split()) >= 40, name


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_each_two_server_variant_is_caught_with_its_shortest_counterexample(name):
    sizes, prop, length = CAUGHT[name]
    spec = BUGS[name](**sizes)
    r = check(spec, symmetry=True)
    assert r.verdict == "violation" and r.violation.property == prop
    assert len(r.violation.trace) == length
    assert validate(BUGS[name](**sizes), r.violation.trace) is None  # a behaviour of the variant itself
    assert spec.config["bug"] == name
    assert check(Raft(**sizes)).verdict == "ok"  # Raft at the same bounds is safe


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_smaller_bounds_do_not_show_the_variant(name):
    """One term fewer leaves nobody a leader: the bounds pinned are the smallest."""
    sizes, _, _ = CAUGHT[name]
    assert check(BUGS[name](**{**sizes, "max_term": 1})).verdict == "ok"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_three_server_variant_breaks_its_invariant_at_the_scenarios_last_step(name):
    sizes, script, prop = SCENARIOS[name]
    spec = BUGS[name](**sizes)
    trace = play(spec, script)
    assert len(trace) == len(script) + 1, f"the variant cannot take step {len(trace)}: {script[len(trace) - 1]}"
    assert validate(BUGS[name](**sizes), trace) is None
    holds = [spec.invariants[prop](s) for s in trace.states]
    assert holds == [True] * (len(trace) - 1) + [False]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_raft_itself_keeps_the_invariant_as_far_as_it_follows_the_scenario(name):
    sizes, script, prop = SCENARIOS[name]
    spec = Raft(**sizes)
    trace = play(spec, script)
    assert all(spec.invariants[prop](s) for s in trace.states)


def test_the_two_leaders_of_a_forgotten_term_are_in_the_same_term():
    sizes, _, _ = CAUGHT["term-not-persisted"]
    last = check(BUGS["term-not-persisted"](**sizes)).violation.trace.states[-1]
    assert last.state == (LEADER, LEADER) and last.currentTerm == (2, 2)


def figure_8(spec):
    sizes, script, _ = SCENARIOS["commit-earlier-term"]
    return play(spec(**sizes), script)


def test_figure_8_commits_two_entries_at_one_index_and_breaks_the_log_refinement():
    """The Figure 8 variant commits v1@2 and then v2@3 at index 1: the log of what
    was committed takes a second value in slot 1, which the per-slot log forbids."""
    spec = BUGS["commit-earlier-term"](**SCENARIOS["commit-earlier-term"][0]).with_commit_history()
    trace = play(spec, FIGURE_8)
    images = [spec.to_log(s) for s in trace.states]
    steps = list(zip(images, images[1:]))
    for u, v in steps[:-1]:
        assert v == u or v in {after for _, after in spec.log_spec.next(u)}
    u, v = steps[-1]
    assert u == (frozenset({"v1"}),) and v == (frozenset({"v1", "v2"}),)
    assert v not in {after for _, after in spec.log_spec.next(u)}
    last = trace.states[-1]
    assert [spec.committed_prefix(last, i) for i in spec.ids] == [(Entry(2, "v1"),), (Entry(3, "v2"),), ()]


def test_figure_8_breaks_leader_completeness_as_the_second_leader_is_elected():
    trace = figure_8(BUGS["commit-earlier-term"])
    spec = trace.spec
    first = next(k for k, s in enumerate(trace.states) if not spec.invariants["LeaderCompletenessInv"](s))
    assert trace.actions[first - 1].name == "BecomeLeader" and trace.actions[first - 1].param("i") == "s2"


def test_raft_itself_on_the_figure_8_steps_commits_one_entry_at_index_1():
    spec = Raft(**SCENARIOS["commit-earlier-term"][0]).with_commit_history()
    trace = play(spec, FIGURE_8)
    images = [spec.to_log(s) for s in trace.states]
    for u, v in zip(images, images[1:]):
        assert v == u or v in {after for _, after in spec.log_spec.next(u)}
    assert images[-1] in {(frozenset(),), (frozenset({"v2"}),)}


def test_check_names_the_variant_and_its_failure(capsys):
    command = "check raft --bug own-vote-counted-twice --max-log 0 --max-in-flight 1"
    assert main(command.split()) == 1
    out = capsys.readouterr().out
    assert "raft --bug own-vote-counted-twice" in out and "MoreThanOneLeaderInv fails after 10 steps" in out


def test_bugs_lists_the_raft_gallery(capsys):
    assert main(["bugs"]) == 0
    out = capsys.readouterr().out
    for name, cls in BUGS.items():
        assert name in out and cls.summary in out

"""Raft (raft.tla under MCraft.tla's bounds): TLC's state counts, the eight
invariants, the bag of messages, symmetry, and the refinement to the log."""

import pathlib
import re
import xml.etree.ElementTree as ET
from itertools import permutations

import pytest
from paxoscope.explorer.bfs import check, reachable
from paxoscope.explorer.chart import sequence_svg
from paxoscope.spec.base import action, except_at
from paxoscope.spec.constants import ConfigError
from paxoscope.spec.log import Log
from paxoscope.spec.raft import (
    AE_REQUEST,
    CANDIDATE,
    FOLLOWER,
    LEADER,
    RV_REQUEST,
    AppendEntriesRequest,
    Election,
    Entry,
    Raft,
    RequestVoteRequest,
    rename,
    with_message,
    without_message,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: MCraft_2s_t2_l1_m2.cfg, as TLC 2.20 explored it with one worker.
TLC = {"distinct": 15_254, "generated": 152_835, "depth": 32}


@pytest.fixture(scope="module")
def spec():
    return Raft()


@pytest.fixture(scope="module")
def states(spec):
    return reachable(spec)


def test_tlcs_configuration_explores_exactly_tlcs_state_space_as_the_readme_shows(capsys):
    """MCraft_2s_t2_l1_m2.cfg, from the command line a user types; the README shows it but for the time taken."""
    from paxoscope.cli import main

    command = "check raft --servers 2 --values 1 --max-term 2 --max-log 1 --max-copies 1 --max-in-flight 2"
    assert main(command.split()) == 0
    printed = capsys.readouterr().out
    counts = f"{TLC['distinct']:,} distinct states, {TLC['generated']:,} generated, depth {TLC['depth']},"
    assert counts in printed and "checked: " + ", ".join(Raft.default_properties) in printed
    readme = (ROOT / "README.md").read_text()
    shown = readme.split(f"$ paxoscope {command}\n")[1].split("```")[0]
    timing = re.compile(r"[0-9.]+ s \([0-9,]+ states/s\)")
    assert timing.sub("TIME", shown) == timing.sub("TIME", printed)


def test_strict_fails_where_the_readme_says_an_action_is_never_enabled_and_only_there(capsys):
    """At TLC's bounds no response is ever older than its recipient's term; with terms up to 3 one is."""
    from paxoscope.cli import main

    assert main("check raft --strict".split()) == 1
    printed = capsys.readouterr().out
    assert "FAILED (--strict): action DropStaleResponse was never enabled" in printed
    assert "`DropStaleResponse` is never enabled there" in (ROOT / "README.md").read_text()
    assert main("check raft --max-term 3 --max-log 0 --max-in-flight 1 --strict".split()) == 0
    assert "every action was enabled somewhere" in capsys.readouterr().out


def test_no_reachable_state_leaves_the_bounds(spec, states):
    assert all(spec.within_bounds(s) for s in states)
    assert any(max(s.currentTerm) == 2 and s.log[0] and s.log[1] for s in states)  # the bounds are reached


def test_a_message_leaves_the_bag_with_its_last_copy():
    m = RequestVoteRequest(RV_REQUEST, 2, 0, 0, "s1", "s2")
    twice = with_message(m, with_message(m, frozenset()))
    assert twice == frozenset({(m, 2)})
    assert without_message(m, twice) == frozenset({(m, 1)})
    assert without_message(m, without_message(m, twice)) == frozenset()  # no count of 0 left to receive
    assert without_message(m, frozenset()) == frozenset()


def test_the_history_records_every_election_won_and_every_log_that_was(spec, states):
    assert any(max(s.commitIndex) == 1 for s in states)  # an entry gets committed
    for s in states:
        for i, name in enumerate(spec.servers):
            if s.state[i] == LEADER:
                assert any(e.eterm == s.currentTerm[i] and e.eleader == name for e in s.elections)
    assert any((Entry(2, "v1"),) in s.allLogs for s in states)


def test_each_invariant_fails_where_it_should(spec, states):
    s = next(x for x in states if x.state[0] == LEADER and x.log[0] and x.commitIndex[0] == 1)
    entry = s.log[0][0]
    bad = {
        "MoreThanOneLeaderInv": s._replace(state=(LEADER, LEADER), currentTerm=(2, 2)),
        "ElectionsHistoryInv": s._replace(elections=s.elections | {Election(2, "s2", (), frozenset(), ())}),
        "ElectionSafetyInv": s._replace(log=((), (entry,))),
        "LogMatchingInv": s._replace(log=((Entry(1, "v1"), entry), (Entry(1, "v2"), entry))),
        "CommitIndexBoundInv": s._replace(commitIndex=(2, 0)),
        "LogInv": s._replace(log=((entry,), (Entry(entry.term, "v2"),)), commitIndex=(1, 1)),
        "LeaderCompletenessInv": s._replace(log=((), (entry,)), commitIndex=(0, 1), currentTerm=(2, 2)),
        "LogTermMonotonicInv": s._replace(log=((Entry(2, "v1"), Entry(1, "v1")), ())),
    }
    for name, pred in spec.invariants.items():
        assert pred(s), name
        assert not pred(bad[name]), name


def test_a_follower_truncates_a_conflicting_entry_before_it_appends():
    spec = Raft(max_term=3, max_log=1)
    s = next(spec.init())._replace(
        currentTerm=(3, 3), state=(FOLLOWER, LEADER), log=((Entry(2, "v1"),), (Entry(3, "v1"),))
    )
    m = AppendEntriesRequest(AE_REQUEST, 3, 0, 0, (Entry(3, "v1"),), (Entry(3, "v1"),), 0, "s2", "s1")
    s = s._replace(messages=with_message(m, s.messages))
    steps = [t for _, t in spec.receive(s, m)]
    assert [t.log[0] for t in steps] == [()]  # the conflicting entry goes, m stays
    appended = [t.log[0] for _, t in spec.receive(steps[0], m)]
    assert appended == [(Entry(3, "v1"),)]


def test_a_candidate_hearing_from_the_leader_of_its_term_becomes_a_follower():
    spec = Raft()
    s = next(spec.init())._replace(currentTerm=(2, 2), state=(CANDIDATE, LEADER))
    m = AppendEntriesRequest(AE_REQUEST, 2, 0, 0, (), (), 0, "s2", "s1")
    s = s._replace(messages=with_message(m, s.messages))
    (t,) = [t for _, t in spec.receive(s, m)]
    assert t.state == (FOLLOWER, LEADER) and t.messages == s.messages


@pytest.mark.parametrize(
    "sizes",
    [dict(values=2, max_in_flight=1), dict(max_term=3, max_in_flight=1)],
)
def test_every_invariant_holds_on_other_small_bounds(sizes):
    r = check(Raft(**sizes))
    assert r.verdict == "ok" and r.distinct_states > 1_000


def test_bad_sizes_are_config_errors():
    for sizes in (dict(servers=0), dict(values=0), dict(max_term=0), dict(max_copies=0), dict(max_log=-1)):
        with pytest.raises(ConfigError):
            Raft(**sizes)


# ---------------------------------------------------------------------------
# Symmetry: servers and values are interchangeable
# ---------------------------------------------------------------------------


def renamings(spec):
    return [
        (dict(zip(spec.servers, p)), dict(zip(spec.values, q)))
        for p in permutations(spec.servers)
        for q in permutations(spec.values)
    ]


def test_a_renaming_of_servers_and_values_commutes_with_every_step():
    spec = Raft(values=2, max_in_flight=1)
    states = reachable(spec, max_states=3_000)
    for s in states[::7]:
        for servers, values in renamings(spec):
            after = {rename(spec, t, servers, values) for _, t in spec.next(s)}
            assert after == {t for _, t in spec.next(rename(spec, s, servers, values))}


def test_symmetry_counts_each_orbit_once_and_keeps_the_verdict():
    spec = Raft(values=2, max_in_flight=1)
    orbits = {frozenset(rename(spec, s, *r) for r in renamings(spec)) for s in reachable(spec)}
    plain, reduced = check(spec), check(spec, symmetry=True)
    assert plain.verdict == reduced.verdict == "ok"
    assert reduced.distinct_states == len(orbits) < plain.distinct_states
    assert reduced.depth == plain.depth


class VoteForAnyone(Raft):
    """A server grants every candidate of its term its vote, whoever it voted for already."""

    def grants_vote(self, s, i, j, m, log_ok):
        return m.mterm == s.currentTerm[i] and log_ok


def test_a_counterexample_found_up_to_symmetry_is_a_behaviour_of_the_spec():
    spec = VoteForAnyone(max_log=0)
    plain, reduced = check(spec), check(spec, symmetry=True)
    assert plain.verdict == reduced.verdict == "violation"
    assert reduced.violation.property == plain.violation.property == "MoreThanOneLeaderInv"
    trace = reduced.violation.trace
    assert len(trace) == len(plain.violation.trace)
    states = trace.states
    assert states[0] in list(spec.init())
    for before, act, after in zip(states, trace.actions, states[1:]):
        assert (act, after) in list(spec.next(before))  # replayed on the spec itself, not on canonical forms


# ---------------------------------------------------------------------------
# Refinement: what the servers commit is the per-slot log Multi-Paxos refines
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [dict(), dict(max_log=2, max_in_flight=1, values=2)])
def test_committed_entries_refine_the_per_slot_log(sizes):
    r = check(Raft(**sizes), ["RefinesLog", "LogInv"])
    assert r.verdict == "ok" and r.properties == ["LogInv", "RefinesLog"]


def test_the_refinement_is_checked_on_the_spec_with_its_commit_history():
    spec = Raft(max_log=2, max_in_flight=1, values=2)
    explored = spec.checking(["RefinesLog"])
    assert explored is not spec and explored.commit_history and spec.checking(["LogInv"]) is spec
    assert next(explored.init()).committed == frozenset() and next(spec.init()).committed is None
    both = [s for s in reachable(explored) if {k for k, _ in s.committed} == {1, 2}]
    assert both and all(list(map(len, explored.to_log(s))) == [1, 1] for s in both)  # one value a slot


def test_a_leader_may_commit_two_entries_in_one_step_which_is_two_choices_of_the_log_at_once():
    spec = Raft(max_log=2, max_in_flight=1, values=2)
    spec.__dict__["log_spec"] = Log(2, spec.values)  # one slot a step
    r = check(spec, ["RefinesLog"])
    assert (
        r.verdict == "violation" and "chosen[1]: {} →" in r.violation.detail and "chosen[2]: {} →" in r.violation.detail
    )


class OverwriteLastEntry(Raft):
    """A client request replaces the leader's last entry instead of appending."""

    def client_request(self, s, i, v):
        if s.state[i] == LEADER and s.log[i]:
            entry = Entry(s.currentTerm[i], v)
            yield (
                action("ClientRequest", i=self.servers[i], v=v),
                s._replace(log=except_at(s.log, i, (*s.log[i][:-1], entry))),
            )
        else:
            yield from super().client_request(s, i, v)


def test_a_committed_value_that_changes_breaks_the_refinement_where_it_changes():
    r = check(OverwriteLastEntry(values=2, max_in_flight=1), ["RefinesLog"])
    assert r.verdict == "violation" and r.violation.kind == "refinement"
    assert r.violation.trace.actions[-1].name == "ClientRequest"
    assert "chosen[1]: {v1} → {v1, v2}" in r.violation.detail or "chosen[1]: {v2} → {v1, v2}" in r.violation.detail


# ---------------------------------------------------------------------------
# Charts and reports
# ---------------------------------------------------------------------------


def first_commit(spec):
    r = check(spec, [], invariants={"NothingCommitted": lambda s: max(s.commitIndex) == 0})
    return r.violation.trace


def test_a_raft_chart_has_a_lane_per_server_and_terms_and_entries_on_its_messages():
    spec = Raft()
    trace = first_commit(spec)
    chart = spec.chart([(step.action, step.state) for step in trace.steps])
    assert chart.lanes == ("s1", "s2")
    arrows = [a for frame in chart.frames for a in frame.arrows]
    sends = [a for a in trace.actions if a.name in ("RequestVote", "AppendEntries")]
    assert len([a for a in arrows if a.kind in ("RequestVoteRequest", "AppendEntriesRequest")]) == len(sends)
    assert all("term 2" in a.label for a in arrows)
    assert any(a.targets == (a.source,) for a in arrows)  # a candidate asks itself for its vote
    assert any("entries [v1@2]" in a.label for a in arrows)
    assert chart.frames[-1].beside["s1"]["commitIndex"] + chart.frames[-1].beside["s2"]["commitIndex"] == 1
    ET.fromstring(sequence_svg(trace))  # and it draws


def test_a_report_says_the_bounds_in_words():
    assert Raft(servers=3, values=2, max_term=3, max_log=2, max_copies=2, max_in_flight=4).config_text() == (
        "3 servers, 2 values, terms up to 3, logs up to 2 entries, at most 2 copies of a message and 4 in flight"
    )

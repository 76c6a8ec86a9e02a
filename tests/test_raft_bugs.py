"""The Raft gallery: each known-wrong variant breaks one of MCraft.tla's invariants.

The variants that two servers show are caught by the explorer, with their
shortest counterexample, at the smallest bounds that show them; the length
pinned is the number of states in the trace. The others need three servers,
whose state space is too large to search breadth-first in the suite
(benchmarks/raft_bugs.py does, and prints what it finds): for each of them the
suite plays a scenario of the variant step by step, as a user would, and
checks that it is a behaviour of the variant that breaks the invariant at its
last state only, while Raft itself, as far as it can follow the same steps,
keeps it.
"""

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.chart import sequence_svg
from paxoscope.explorer.scenario import play
from paxoscope.explorer.trace import validate
from paxoscope.proofs.raft import BUG_MODELS
from paxoscope.spec.raft import LEADER, Entry, Raft
from paxoscope.spec.raft_bugs import BUGS, SHOWN, RaftBug

from paxoscope.cli import main
from paxoscope.tour import RAFT, changed_code, reference_of, stop_blocks, visit

# name -> states in the shortest counterexample, at the sizes SHOWN gives
SHORTEST = {"term-not-persisted": 21, "own-vote-counted-twice": 11}
CAUGHT = {name: (SHOWN[name].sizes, SHOWN[name].invariant, length) for name, length in SHORTEST.items()}
SCENARIOS = {name: shown for name, shown in SHOWN.items() if shown.scenario}
FIGURE_8 = SHOWN["commit-earlier-term"].scenario


def test_the_gallery_is_the_one_pinned_here_and_tells_every_story():
    assert sorted(BUGS) == sorted(SHOWN) == sorted([*CAUGHT, *SCENARIOS])
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


def test_the_gallery_records_the_shortest_counterexamples_found_and_only_those():
    assert {name: SHOWN[name].shortest for name in SHORTEST} == SHORTEST
    searched = {name for name, shown in SCENARIOS.items() if shown.shortest is not None}
    assert searched == {"commit-on-minority", "vote-for-stale-log"}
    for name in searched:  # the scenario is as short as what the search found (benchmarks/raft_bugs.py)
        assert len(play(BUGS[name](**SHOWN[name].sizes), SHOWN[name].scenario)) == SHOWN[name].shortest


def test_the_search_command_names_the_variant_and_its_sizes():
    command = SHOWN["commit-on-minority"].command("commit-on-minority", symmetry=True)
    assert command == (
        "paxoscope check raft --bug commit-on-minority --servers 3 --max-term 3 --max-in-flight 1 --symmetry"
    )


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_smaller_bounds_do_not_show_the_variant(name):
    """One term fewer leaves nobody a leader: the bounds pinned are the smallest."""
    sizes, _, _ = CAUGHT[name]
    assert check(BUGS[name](**{**sizes, "max_term": 1})).verdict == "ok"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_three_server_variant_breaks_its_invariant_at_the_scenarios_last_step(name):
    sizes, prop, script, _ = SCENARIOS[name]
    spec = BUGS[name](**sizes)
    trace = play(spec, script)
    assert len(trace) == len(script) + 1, f"the variant cannot take step {len(trace)}: {script[len(trace) - 1]}"
    assert validate(BUGS[name](**sizes), trace) is None
    holds = [spec.invariants[prop](s) for s in trace.states]
    assert holds == [True] * (len(trace) - 1) + [False]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_raft_itself_keeps_the_invariant_as_far_as_it_follows_the_scenario(name):
    sizes, prop, script, _ = SCENARIOS[name]
    spec = Raft(**sizes)
    trace = play(spec, script)
    assert all(spec.invariants[prop](s) for s in trace.states)


def test_the_two_leaders_of_a_forgotten_term_are_in_the_same_term():
    sizes, _, _ = CAUGHT["term-not-persisted"]
    last = check(BUGS["term-not-persisted"](**sizes)).violation.trace.states[-1]
    assert last.state == (LEADER, LEADER) and last.currentTerm == (2, 2)


def figure_8(spec):
    sizes, _, script, _ = SCENARIOS["commit-earlier-term"]
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


def test_the_explorer_confined_to_the_figure_8_steps_finds_the_log_refinement_broken():
    """``--invariant RefinesLog`` as the explorer checks it, on the Figure 8 variant allowed only the
    steps of its scenario (in any order): the committed log takes a second value in slot 1."""
    sizes = SHOWN["commit-earlier-term"].sizes
    variant = BUGS["commit-earlier-term"]
    allowed = set(play(variant(**sizes), FIGURE_8).actions)

    class Confined(variant):
        def steps(self, s):
            return ((act, t) for act, t in super().steps(s) if act in allowed)

    r = check(Confined(**sizes), ["RefinesLog"])
    assert r.verdict == "violation" and r.violation.property == "RefinesLog"
    assert "chosen[1]: {v1} → {v1, v2}" in r.violation.detail
    assert validate(variant(**sizes).with_commit_history(), r.violation.trace) is None


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


def test_a_scenario_stops_at_the_first_line_that_names_no_single_step():
    spec = Raft()
    assert len(play(spec, ["Timeout s1", "RequestVote s1 s1", "HandleRequestVoteRequest *"])) == 4
    assert len(play(spec, ["Timeout s1", "BecomeLeader s1", "Timeout s2"])) == 2  # s1 has no votes yet
    assert len(play(spec, ["Timeout *"])) == 1  # either server: not one step


# ---------------------------------------------------------------------------
# The tour and the charts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHOWN))
def test_each_variant_changes_one_method_of_raft_and_the_diff_shows_its_bug_line(name):
    assert reference_of(BUGS[name]) is Raft
    diff = changed_code(BUGS[name])
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "spec/raft.py" in diff and "spec/raft_bugs.py" in diff
    assert any("# BUG" in line for line in added) and diff.count("+++") == 1


@pytest.mark.parametrize("name", sorted(SHOWN))
def test_a_raft_stop_shows_the_counterexample_where_the_gallery_says(name):
    stop = visit(1, BUGS[name], tour=RAFT)
    shown = SHOWN[name]
    assert stop.caught
    proof = BUG_MODELS.get(name)
    assert (stop.report is None) == (proof is None) and (proof is not None or "no logs" in stop.no_proof)
    assert validate(BUGS[name](**shown.sizes), stop.trace) is None
    assert stop.found.scenario == bool(shown.scenario)
    assert stop.found.shortest == (shown.shortest is not None or not shown.scenario)
    heading = "The shortest counterexample" if shown.shortest is not None or not shown.scenario else "A counterexample"
    assert ("h3", heading) in stop_blocks(stop)
    assert len(stop.trace) == (len(shown.scenario) + 1 if shown.scenario else SHORTEST[name])
    assert stop.mark[len(stop.trace)].startswith(shown.invariant + " fails")
    assert stop.check_command.startswith(f"paxoscope check raft --bug {name} ")


def test_the_raft_tour_in_a_terminal(capsys):
    assert main(["tour", "raft", "term-not-persisted", "commit-earlier-term", "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "1/2 · term-not-persisted" in out and "2/2 · commit-earlier-term" in out
    assert "The shortest counterexample" in out and "A counterexample" in out
    assert "✗ MoreThanOneLeaderInv fails: two leaders in one term" in out
    assert "✗ LogInv fails: two servers committed different entries at the same index" in out
    assert BUGS["commit-earlier-term"].fix.split()[0] in out


def test_the_figure_8_chart_has_a_lane_per_server_with_terms_and_entries_on_its_messages():
    import struct

    import resvg_py

    trace = figure_8(BUGS["commit-earlier-term"])
    svg = sequence_svg(trace, mark={len(trace): "LogInv fails"})
    assert all(f">{server}<" in svg for server in ("s1", "s2", "s3"))
    assert "AppendEntries term 4, prev 0@0, entries [v1@2]" in svg and "RequestVote term 5, last entry 1@3" in svg
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg))
    width, height = struct.unpack(">II", png[16:24])
    assert 800 <= width <= 4000 and 1000 <= height <= 4000

"""Liveness under fairness: each property refuted by a lasso that is a real,
fair behaviour of the spec, or holding on every fair behaviour."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from paxoscope.explorer.bfs import reachable
from paxoscope.explorer.liveness import check
from paxoscope.explorer.trace import validate
from paxoscope.spec.base import Spec, action, always_eventually, eventually, leads_to, strong, weak
from paxoscope.spec.multipaxos import MultiPaxos
from paxoscope.spec.paxos_proposers import PaxosProposers
from paxoscope.spec.twophase import ABORTED, COMMITTED, PREPARED, TwoPhase

from paxoscope.cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "fairness"))
from blinker import Blinker  # noqa: E402

pytest_plugins = ["pytester"]


def lasso_of(result):
    """The violation's prefix and cycle, after checking that it is a fair lasso of
    the spec on which the property never holds after its trigger."""
    v = result.violation
    assert v is not None and v.kind == "liveness" and v.loop is not None
    spec = v.trace.spec
    assert validate(spec, v.trace) is None  # a behaviour of the spec
    states = v.trace.states
    assert states[-1] == states[v.loop]  # the cycle closes where it starts
    prefix, cycle = v.trace.steps[: v.loop + 1], v.trace.steps[v.loop + 1 :]
    assert_fair(spec, [s.state for s in cycle], [s.action for s in cycle])
    prop = spec.liveness[v.property]
    assert not any(prop.goal(s.state) for s in cycle)
    return prefix, cycle


def assert_fair(spec, states, actions):
    """Each constraint, read straight from its definition, holds on the cycle repeated forever."""
    for f in spec.fairness:
        taken = {f.instance(a) for a in actions if a is not None} - {None}
        enabled = [{f.instance(a) for a, t in spec.next(s) if t != s} - {None} for s in states]
        for instance in set().union(*enabled) - taken:
            assert not f.strong, f"{f} {instance}: enabled again and again, never taken"
            assert not all(instance in e for e in enabled), f"{f} {instance}: enabled throughout, never taken"


class Graph(Spec):
    """A spec given as its edges: state -> [(action name, next state)]."""

    name = "graph"

    def __init__(self, edges, fairness=(), liveness=None, start=0):
        self.edges, self.fairness, self._liveness, self.start = edges, tuple(fairness), liveness or {}, start

    def init(self):
        yield self.start

    def next(self, s):
        for name, t in self.edges.get(s, ()):
            yield action(name), t

    @property
    def liveness(self):
        return self._liveness


# -- weak against strong fairness -------------------------------------------


def test_under_weak_fairness_the_light_may_always_go_off_first():
    result = check(Blinker())
    assert result.verdict == "violation" and result.fairness == ["WF(Blink)", "WF(Cross)"]
    prefix, cycle = lasso_of(result)
    assert [str(s.action) for s in cycle] == ["Blink()", "Blink()"]
    assert not any(s.state.crossed for s in [*prefix, *cycle])


def test_under_strong_fairness_the_walker_crosses():
    result = check(Blinker(strong=True))
    assert result.verdict == "ok" and result.fairness == ["WF(Blink)", "SF(Cross)"]
    assert result.properties == ["EventuallyCrosses"]


def test_without_fairness_a_behaviour_may_stop_at_once():
    spec = Graph({0: [("Go", 1)]}, liveness={"Reaches1": eventually(lambda s: s == 1)})
    prefix, cycle = lasso_of(check(spec))
    assert len(prefix) == 1 and [s.action for s in cycle] == [None]  # the initial state, stuttering forever
    assert check(Graph(spec.edges, [weak("Go")], spec.liveness)).verdict == "ok"


def test_strong_fairness_leaves_the_cycles_that_avoid_where_it_is_enabled():
    # 0 <-> 1 forever is fair: Exit is enabled only in 2, which that cycle avoids.
    edges = {0: [("Step", 1)], 1: [("Step", 0), ("Step", 2)], 2: [("Step", 0), ("Exit", 3)]}
    spec = Graph(edges, [weak("Step"), strong("Exit")], {"Exits": eventually(lambda s: s == 3)})
    _, cycle = lasso_of(check(spec))
    assert {s.state for s in cycle} == {0, 1}
    # Strong fairness on every Step, one per target, leaves no cycle that avoids 2.
    edges = {0: [("Step", 1)], 1: [("Step", 0), ("To2", 2)], 2: [("Step", 0), ("Exit", 3)]}
    spec = Graph(edges, [weak("Step"), strong("To2"), strong("Exit")], spec.liveness)
    assert check(spec).verdict == "ok"


def test_leads_to_and_always_eventually():
    # A counter mod 3 that may also fall into a sink from 2.
    edges = {0: [("Inc", 1)], 1: [("Inc", 2)], 2: [("Inc", 0), ("Fall", 9)], 9: [("Idle", 9)]}
    props = {
        "ZeroAgain": always_eventually(lambda s: s == 0),
        "OneLeadsToTwo": leads_to(lambda s: s == 1, lambda s: s == 2),
    }
    result = check(Graph(edges, [weak("Inc")], props))
    prefix, cycle = lasso_of(result)
    assert result.violation.property == "ZeroAgain" and prefix[-1].state == 9 and [s.action for s in cycle] == [None]
    result = check(Graph(edges, [weak("Inc")], props), ["OneLeadsToTwo"])
    assert result.verdict == "ok"
    result = check(Graph(edges, [], props), ["OneLeadsToTwo"])
    prefix, cycle = lasso_of(result)
    assert prefix[-1].state == 1 and [s.action for s in cycle] == [None]


def test_fairness_per_parameter_value():
    # Two processes; fairness for each of them makes both finish, fairness on the action as a whole does not.
    class Two(NamedTuple):
        a: bool
        b: bool

    class Pair(Spec):
        name = "pair"
        liveness = {"BothDone": eventually(lambda s: s.a and s.b)}

        def __init__(self, fairness):
            self.fairness = fairness

        def init(self):
            yield Two(False, False)

        def next(self, s):
            yield action("Tick"), s  # a stutter: neither enables nor takes anything
            if not s.a:
                yield action("Work", p="a"), s._replace(a=True)
            if not s.b:
                yield action("Work", p="b"), s._replace(b=True)
            yield action("Spin", p="a"), s._replace(a=s.a)

    assert check(Pair((weak("Work", "p"),))).verdict == "ok"
    assert check(Pair((weak("Work", p="a"),))).verdict == "violation"


# -- Paxos: FLP's livelock, and the stable leader that escapes it ----------------


def test_two_proposers_preempt_each_other_forever():
    result = check(PaxosProposers(), ["EventuallyChosen"])
    prefix, cycle = lasso_of(result)
    started = [s.action.param("p") for s in cycle if s.action.name == "StartBallot"]
    assert set(started) == {"p1", "p2"}  # both keep starting ballots: each preempts the other
    # each reaches phase 2 in the cycle and is preempted before a quorum votes
    phases = {(i, p.phase) for s in cycle for i, p in enumerate(s.state.proposers)}
    assert {(0, "2"), (1, "2")} <= phases
    assert "WF(Promise(each a, each p))" in result.fairness


def test_with_a_stable_leader_a_value_is_always_chosen():
    result = check(PaxosProposers(stable_leader=True), ["EventuallyChosen", "ChosenStaysChosen"])
    assert result.verdict == "ok" and "WF(Stabilize)" in result.fairness


def test_without_fairness_on_the_leader_settling_the_duel_goes_on():
    spec = PaxosProposers(stable_leader=True)
    spec.fairness = tuple(f for f in spec.fairness if f.name != "Stabilize")
    prefix, _ = lasso_of(check(spec, ["EventuallyChosen"]))
    assert not any(s.state.stable for s in prefix)


def test_ballots_are_kept_by_their_order_only():
    spec = PaxosProposers()
    seen = reachable(spec)
    assert len(seen) < 2000  # finite although ballots climb forever
    for s in seen:
        current = sorted(p.ballot for p in s.proposers if p.phase != "idle")
        assert current == [2 * r + 1 for r in range(len(current))]


def test_check_shows_the_duel_and_the_stable_leader_holding(capsys):
    assert main(["check", "paxos-proposers", "--invariant", "EventuallyChosen"]) == 1
    text = capsys.readouterr().out
    assert "VIOLATION: liveness EventuallyChosen fails" in text and "back to step" in text
    assert main(["check", "paxos-proposers", "--stable-leader", "--invariant", "EventuallyChosen"]) == 0
    assert main(["check", "paxos-proposers"]) == 0  # not a default property


# -- Multi-Paxos: termination of client commands ---------------------------------


def test_multipaxos_acknowledges_every_command_under_fair_delivery():
    result = check(MultiPaxos(replicas=2, writes=1, reads=1), ["EveryCommandAcknowledged"])
    assert result.verdict == "ok" and "WF(HandleAccept(each r, each m))" in result.fairness


def test_multipaxos_without_fair_delivery_of_accepts_a_command_waits_forever():
    spec = MultiPaxos(replicas=2, writes=1, reads=0)
    spec.fairness = tuple(f for f in MultiPaxos.fairness if f.name != "HandleAccept")
    prefix, cycle = lasso_of(check(spec, ["EveryCommandAcknowledged"]))
    stuck = cycle[-1].state
    assert any(m.type == "Accept" for m in stuck.msgs)  # an Accept is there, never handled by a follower
    assert "HandleAccept" not in [s.action.name for s in cycle if s.action is not None]


# -- two-phase commit ---------------------------------------------------------


def test_two_phase_commit_terminates_when_the_coordinator_does_not_crash():
    assert check(TwoPhase(), ["EveryRMDecides"]).verdict == "ok"


def test_two_phase_commit_blocks_when_the_coordinator_crashes():
    result = check(TwoPhase(coordinator_crash=True), ["EveryRMDecides"])
    prefix, cycle = lasso_of(result)
    stuck = prefix[-1].state
    assert "TMCrash" in [s.action.name for s in prefix[1:]] and stuck.tm_state == "crashed"
    assert stuck.rm_state == (PREPARED,) * 3  # a prepared RM may not decide on its own: each waits forever
    assert [s.action for s in cycle] == [None]
    assert not any(x in (COMMITTED, ABORTED) for x in stuck.rm_state)


def test_the_crash_adds_states_and_leaves_the_default_check_as_it_was():
    plain, crashing = check(TwoPhase()), check(TwoPhase(coordinator_crash=True))
    assert plain.properties == crashing.properties == ["TPTypeOK", "TCConsistent", "RefinesTCommit"]
    assert plain.fairness is None and plain.verdict == crashing.verdict == "ok"
    assert crashing.distinct_states > plain.distinct_states
    assert "TMCrash" not in TwoPhase().actions


# -- the command --------------------------------------------------------------


def test_check_prints_the_lasso_and_the_fairness_it_assumed(capsys):
    assert main(["check", "twophase", "--coordinator-crash", "--invariant", "EveryRMDecides"]) == 1
    text = capsys.readouterr().out
    assert "fairness assumed: WF(RMPrepare(each rm))" in text
    assert "VIOLATION: liveness EveryRMDecides fails" in text and "the run stops here, forever" in text


def test_check_json_and_chart_mark_the_cycle(capsys, tmp_path):
    svg = tmp_path / "lasso.svg"
    assert main(["check", f"{ROOT}/examples/fairness/blinker.py:Blinker", "--json", "--svg", str(svg)]) == 1
    report = json.loads(capsys.readouterr().out)
    v = report["violation"]
    assert report["fairness"] == ["WF(Blink)", "WF(Cross)"] and v["kind"] == "liveness"
    assert v["trace"][v["cycle_start"]]["state"] == v["trace"][-1]["state"]
    drawn = svg.read_text()
    assert "the cycle starts here" in drawn and "the cycle repeats forever" in drawn


def test_the_itf_lasso_loops_back_and_graph_checks_liveness_too(capsys, tmp_path):
    itf, graph = tmp_path / "lasso.itf.json", tmp_path / "g.dot"
    blinker = f"{ROOT}/examples/fairness/blinker.py:Blinker"
    assert main(["check", blinker, "--json", "--itf", str(itf), "--graph", str(graph)]) == 1
    report = json.loads(capsys.readouterr().out)
    doc = json.loads(itf.read_text())
    assert len(doc["states"]) == len(report["violation"]["trace"]) - 1  # the repeated state written once
    assert doc["loop"] == report["violation"]["cycle_start"]
    assert graph.read_text().startswith("digraph")


def test_the_safety_search_alone_refuses_a_liveness_property():
    from paxoscope.explorer import bfs
    from paxoscope.spec.constants import ConfigError

    with pytest.raises(ConfigError, match="EveryRMDecides is a liveness property"):
        bfs.check(TwoPhase(), ["TCConsistent", "EveryRMDecides"])
    result = check(TwoPhase(), ["TCConsistent", "EveryRMDecides"])
    assert result.properties == ["TCConsistent", "EveryRMDecides"] and result.verdict == "ok"


def test_liveness_names_join_the_property_namespace(capsys):
    assert main(["check", "twophase", "--invariant", "NoSuchThing"]) == 2
    assert "EveryRMDecides" in capsys.readouterr().err
    assert main(["check", "twophase", "--symmetry", "--invariant", "EveryRMDecides"]) == 2
    assert "without --symmetry" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--coordinator-crash"])
def test_a_switch_takes_no_value(flag, capsys):
    assert main(["check", "twophase", flag]) == 0
    assert "coordinator crash allowed" in capsys.readouterr().out


def test_the_readme_shows_the_duel_as_the_command_prints_it(capsys):
    command = "paxoscope check paxos-proposers --invariant EventuallyChosen"
    assert main(command.split()[1:]) == 1
    out = capsys.readouterr().out
    shown = (ROOT / "README.md").read_text(encoding="utf-8").split(f"$ {command}\n", 1)[1].split("```", 1)[0]

    def steady(text: str) -> list[str]:  # all but the statistics line, which has the time taken
        return [line for line in text.splitlines() if "distinct states" not in line]

    assert steady(shown) == steady(out)


# -- the tour's stop --------------------------------------------------------------


def test_the_tour_stops_at_flp_the_lasso_and_the_stable_leader(capsys, tmp_path):
    assert main(["tour", "flp", "--no-pause"]) == 0
    text = capsys.readouterr().out
    for heading in ("What FLP says", "The lasso: two proposers preempting each other forever"):
        assert heading in text
    assert "The assumption that escapes it" in text and "EventuallyChosen holds on every fair run" in text
    assert "✗ the cycle starts here" in text and "✗ back to step" in text  # the chart marks the cycle
    assert main(["tour", "--html", str(tmp_path / "tour"), "flp"]) == 0
    page = (tmp_path / "tour" / "index.html").read_text(encoding="utf-8")
    assert "What FLP says" in page and (tmp_path / "tour" / "flp.svg").exists()
    assert main(["tour", "multipaxos", "flp"]) == 2  # a stop of the Paxos tour only


def test_a_plain_class_declares_liveness_and_fairness_too():
    class Counter:  # no Spec base: what a user may write
        fairness = [weak("Inc")]

        def init(self):
            yield 0

        def next(self, s):
            if s < 2:
                yield "Inc", s + 1

        def liveness(self):
            return {"ReachesTwo": eventually(lambda s: s == 2)}

    assert check(Counter()).verdict == "ok"
    Counter.fairness = []
    assert check(Counter()).violation.property == "ReachesTwo"


def test_the_pytest_fixture_fails_a_test_with_the_lasso(pytester):
    pytester.makepyfile(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT / "examples" / "fairness")!r})
        from blinker import Blinker

        def test_weak(paxoscope):
            paxoscope.check(Blinker())

        def test_strong(paxoscope):
            paxoscope.check(Blinker(strong=True))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*liveness EventuallyCrosses fails*", "*the cycle starts here*"])

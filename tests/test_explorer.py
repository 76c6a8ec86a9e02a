"""The explorer on small specs of its own: counts, depth, checks, errors."""

from __future__ import annotations

import pytest
from paxoscope.explorer.bfs import SpecError, check
from paxoscope.explorer.trace import Step, Trace, validate
from paxoscope.spec.base import Refinement, Spec, action
from paxoscope.spec.constants import ConfigError


class Grid(Spec):
    """(x, y) on a small grid: Right and Up, each up to ``size - 1``."""

    name = "grid"
    actions = ("Right", "Up", "Teleport")

    def __init__(self, size: int = 4, bad: tuple[int, int] | None = None):
        self.size = size
        self.bad = bad

    def init(self):
        yield (0, 0)

    def next(self, s):
        x, y = s
        if x + 1 < self.size:
            yield action("Right"), (x + 1, y)
        if y + 1 < self.size:
            yield action("Up"), (x, y + 1)
        if x < 0:  # never: a vacuous action
            yield action("Teleport"), (0, 0)

    @property
    def invariants(self):
        return {"NotBad": lambda s: s != self.bad}

    @property
    def action_properties(self):
        return {"Monotone": lambda s, a, t: t[0] >= s[0] and t[1] >= s[1]}

    @property
    def sometimes(self):
        return {"Corner": lambda s: s == (self.size - 1, self.size - 1), "Outside": lambda s: s[0] >= self.size}


def test_counts_and_depth_count_the_initial_state_as_depth_one():
    r = check(Grid(4))
    assert r.verdict == "ok"
    assert r.distinct_states == 16
    assert r.depth == 7  # (0,0) is depth 1, (3,3) is six steps away
    assert r.states_generated == 1 + 2 * 4 * 3  # the initial state plus every edge of the grid


def test_shortest_counterexample_is_found_and_replays():
    r = check(Grid(5, bad=(2, 1)))
    assert r.verdict == "violation"
    assert r.violation.property == "NotBad"
    trace = r.violation.trace
    assert len(trace) == 4  # (0,0) plus three steps: the shortest way to (2, 1)
    assert trace.states[-1] == (2, 1)
    assert validate(Grid(5), trace) is None


def test_vacuity_report_names_actions_never_enabled_and_witnesses():
    r = check(Grid(3))
    assert r.never_enabled == ["Teleport"]
    assert r.witnesses == {"Corner": 5, "Outside": None}


def test_exact_and_fingerprint_modes_agree():
    a, b = check(Grid(6)), check(Grid(6), exact=True)
    assert (a.distinct_states, a.depth, a.states_generated) == (b.distinct_states, b.depth, b.states_generated)
    assert a.collision_probability is not None and a.collision_probability < 1e-15
    assert b.collision_probability is None


class Ring(Spec):
    """A counter modulo n with a step that breaks a step property at 3 -> 4."""

    name = "ring"

    def __init__(self, n=6, stuck_at=None):
        self.n, self.stuck_at = n, stuck_at

    def init(self):
        yield 0

    def next(self, s):
        if s != self.stuck_at:
            yield action("Inc", to=(s + 1) % self.n), (s + 1) % self.n

    @property
    def action_properties(self):
        return {"NoSkip": lambda s, a, t: t != 4 or s == 3, "NotFour": lambda s, a, t: t != 4}


def test_step_property_violation_ends_with_the_bad_step():
    r = check(Ring(), ["NotFour"])
    assert r.verdict == "violation" and r.violation.kind == "action property"
    assert [str(a) for a in r.violation.trace.actions][-1] == "Inc(to=4)"
    assert len(r.violation.trace) == 5


def test_deadlock_is_reported_only_when_asked():
    assert check(Ring(stuck_at=2)).verdict == "ok"
    r = check(Ring(stuck_at=2), deadlock=True)
    assert r.verdict == "violation" and r.violation.property == "Deadlock"
    assert r.violation.trace.states == [0, 1, 2]


def test_constraint_bounds_the_exploration():
    spec = Ring(n=100)
    spec.constraint = lambda s: s < 10
    r = check(spec, ["NoSkip"])
    assert r.distinct_states == 11  # 0..10: state 10 is checked but not expanded


def test_a_state_constraint_counts_steps_out_of_the_model_as_generated_and_nothing_more():
    spec = Grid(4, bad=(3, 0))
    spec.state_constraint = lambda s: s[0] < 3  # as TLC's CONSTRAINT: (3, y) is no state of the model
    r = check(spec, ["NotBad"], deadlock=True)
    assert r.verdict == "ok"  # (3, 0) is not checked, and (2, 3), whose only step leaves the model, is no deadlock
    assert r.distinct_states == 12 and r.depth == 6
    # the initial state, every Right from x < 3 (those into x = 3 too) and every Up from x < 3
    assert r.states_generated == 1 + 3 * 4 + 3 * 3


def test_max_states_stops_early_and_says_so():
    r = check(Grid(10), max_states=20)
    assert r.verdict == "incomplete"
    assert r.distinct_states == 20


def test_unknown_property_names_the_available_ones():
    with pytest.raises(ConfigError, match="NotBad"):
        check(Grid(3), ["Nope"])


def test_no_symmetry_declared_is_a_config_error():
    with pytest.raises(ConfigError, match="symmetry"):
        check(Grid(3), symmetry=True)


class Raises(Spec):
    name = "raises"

    def init(self):
        yield 0

    def next(self, s):
        yield action("Step"), s + 1
        if s == 2:
            yield action("Divide"), 1 // (s - 2)


def test_a_spec_that_raises_is_named_with_the_state():
    with pytest.raises(SpecError) as err:
        check(Raises())
    text = str(err.value)
    assert "ZeroDivisionError" in text and "in state 2" in text and "in next()" in text


class Unhashable(Spec):
    name = "unhashable"

    def init(self):
        yield (0,)

    def next(self, s):
        yield action("Grow"), [s[0] + 1]


def test_an_unhashable_state_is_named():
    with pytest.raises(SpecError, match="not hashable") as err:
        check(Unhashable())
    assert "Grow" in str(err.value)


class Interrupts(Spec):
    name = "interrupts"

    def init(self):
        yield 0

    def next(self, s):
        if s == 50:
            raise KeyboardInterrupt
        yield action("Inc"), s + 1


def test_ctrl_c_returns_partial_statistics():
    r = check(Interrupts())
    assert r.verdict == "interrupted"
    assert r.distinct_states == 51 and r.depth == 51


def test_validate_names_the_first_illegal_step_and_what_was_allowed():
    spec = Grid(3)
    good = [Step(None, (0, 0)), Step(action("Right"), (1, 0)), Step(action("Up"), (1, 1))]
    assert validate(spec, Trace(spec, good)) is None
    bad = good + [Step(action("Right"), (2, 2))]
    err = validate(spec, Trace(spec, bad))
    assert err is not None and err.index == 3
    assert {str(a) for a in err.allowed} == {"Right()", "Up()"}
    assert validate(spec, [Step(None, (1, 1))]).index == 0


def test_reachable_lists_every_state_in_breadth_first_order():
    from paxoscope.explorer.bfs import reachable

    states = reachable(Grid(3))
    assert len(states) == 9 and states[0] == (0, 0) and states[-1] == (2, 2)
    assert [sum(s) for s in states] == sorted(sum(s) for s in states)
    assert reachable(Grid(3), max_states=4) == states[:4]


# ---------------------------------------------------------------------------
# Options as one value, observers, and the caller's own properties
# ---------------------------------------------------------------------------


def test_options_as_one_value_or_as_keywords_give_the_same_search():
    from paxoscope.explorer.bfs import CheckOptions

    options = CheckOptions(properties=["Monotone"], max_states=7)
    as_value, as_keywords = check(Grid(5), options), check(Grid(5), ["Monotone"], max_states=7)
    assert (as_value.verdict, as_value.distinct_states, as_value.properties) == ("incomplete", 7, ["Monotone"])
    assert (as_keywords.verdict, as_keywords.distinct_states, as_keywords.properties) == ("incomplete", 7, ["Monotone"])
    # keywords replace the fields of the value they come with
    assert check(Grid(5), options=options, max_states=None).verdict == "ok"
    with pytest.raises(TypeError, match="max_state"):
        check(Grid(5), max_state=3)


def test_observers_see_each_new_state_once_and_every_step():
    from paxoscope.explorer.bfs import Observer

    class Notes(Observer):
        def __init__(self):
            self.states, self.steps = [], []

        def on_state(self, state):
            self.states.append(state)

        def on_step(self, state, act, successor):
            self.steps.append((state, str(act), successor))

    notes = Notes()
    r = check(Grid(3), observers=[notes])
    assert notes.states == sorted(notes.states, key=sum) and len(set(notes.states)) == r.distinct_states == 9
    # every edge of the grid, including those into states already seen
    assert len(notes.steps) == r.states_generated - 1 == 12
    assert ((1, 0), "Up()", (1, 1)) in notes.steps and ((0, 1), "Right()", (1, 1)) in notes.steps


def test_extra_properties_are_checked_beside_the_chosen_ones():
    r = check(Grid(4), invariants={"NotOneOne": lambda s: s != (1, 1)})
    assert r.verdict == "violation" and r.violation.property == "NotOneOne" and r.violation.kind == "invariant"
    assert len(r.violation.trace) == 3 and "NotBad" in r.properties
    # an empty selection leaves only the caller's own
    r = check(Grid(4), [], action_properties={"OnlyRight": lambda s, a, t: a.name == "Right"})
    assert r.properties == ["OnlyRight"] and r.violation.kind == "action property"
    assert [str(a) for a in r.violation.trace.actions] == ["Up()"]


class StepCheckRaises(Spec):
    """A step property and a refinement mapping that raise on one step each."""

    name = "step-check-raises"

    def __init__(self, raises_in: str):
        self.raises_in = raises_in

    def init(self):
        yield 0

    def next(self, s):
        if s < 4:
            yield action("Inc"), s + 1
            yield action("Jump"), s + 2

    @property
    def action_properties(self):
        return {"NoBigJump": self.no_big_jump} if self.raises_in == "property" else {}

    def no_big_jump(self, s, act, t):
        return act.name != "Jump" or t != 3 or 1 // 0

    @property
    def refinements(self):
        return (Refinement(Raises(), self.image),) if self.raises_in == "mapping" else ()

    def image(self, s):
        if s == 1:
            raise ValueError("no image for 1")
        return 0


@pytest.mark.parametrize("raises_in", ["property", "mapping"])
def test_a_step_check_that_raises_names_the_step_it_was_checking(raises_in):
    with pytest.raises(SpecError) as err:
        check(StepCheckRaises(raises_in))
    text = str(err.value)
    # The property raises on Jump from 1, the mapping on the first step to 1 (Inc from 0): named, with the state.
    expected = "after Jump() in state 1" if raises_in == "property" else "after Inc() in state 0"
    assert expected in text, text

"""The workers as Ray actors, on a local Ray instance this module starts: the
same results as one process, for a built-in spec, a gallery bug and a user's
spec loaded by its path in every actor. Collected only where Ray is
installed (``pip install -e '.[test]'`` installs it; see conftest.py)."""

from __future__ import annotations

import textwrap
from functools import partial

import pytest
import ray
from paxoscope.explorer.bfs import check
from paxoscope.explorer.parallel import parallel_check

from paxoscope.specs import load


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def on_ray(name: str, **how) -> tuple:
    source = partial(load, name, bug=how.pop("bug", None), sizes=how.pop("sizes", {}), symmetry=how.get("symmetry"))
    spec = source()
    return check(spec, **how), parallel_check(spec, ray="auto", workers=2, source=source, **how)


def test_ray_actors_find_the_same_state_space():
    # Starting actors dominates the time: one configuration, under symmetry (canonical forms in every actor).
    one, many = on_ray("paxos", sizes={"ballots": 2}, symmetry=True)
    for name in ("verdict", "distinct_states", "states_generated", "depth", "never_enabled", "witnesses"):
        assert getattr(many, name) == getattr(one, name), name


def test_ray_actors_find_a_shortest_counterexample():
    one, many = on_ray("paxos", bug="non-intersecting-quorums", sizes={"ballots": 2})
    assert many.verdict == one.verdict == "violation"
    assert (many.violation.property, len(many.violation.trace)) == (one.violation.property, len(one.violation.trace))


def test_ray_actors_load_a_user_spec_by_its_path(tmp_path):
    (tmp_path / "ring.py").write_text(
        textwrap.dedent(
            """
            class Ring:
                def init(self):
                    yield (0, None)

                def next(self, s):
                    yield "Step", ((s[0] + 1) % 7, "seen" if s[0] else None)

                invariants = {"Small": lambda s: s[0] < 6}
            """
        )
    )
    one, many = on_ray(f"{tmp_path}/ring.py:Ring")
    assert many.verdict == one.verdict == "violation"
    assert len(many.violation.trace) == len(one.violation.trace) == 7

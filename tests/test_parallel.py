"""The search on several workers: the same counts, verdicts and shortest
counterexamples as one process, on every built-in spec, a gallery bug and a
user's spec loaded by path; the compact store; and the command's options."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paxoscope.explorer.bfs import SpecError, check
from paxoscope.explorer.parallel import parallel_check, stable_hash
from paxoscope.explorer.store import FingerprintSet, Level, ParentLinks

from paxoscope.specs import load, wants_deadlock

SAME = ("verdict", "distinct_states", "states_generated", "depth", "never_enabled", "witnesses", "max_queue")

BUILT_IN = [
    ("paxos", {"ballots": 2}, False),
    ("paxos", {"ballots": 2}, True),
    ("paxos", {"ballots": 2, "acceptors": 2}, False),
    ("voting", {"ballots": 2}, False),
    ("consensus", {}, False),
    ("twophase", {"rms": 3}, False),
    ("twophase", {"rms": 3}, True),
    ("tcommit", {"rms": 3}, False),
    ("multipaxos", {"replicas": 2, "writes": 1, "reads": 1}, False),
    ("multipaxos", {"replicas": 2, "writes": 1, "reads": 1}, True),
    ("paxos-proposers", {"acceptors": 2}, False),
    ("raft", {"max_in_flight": 1}, False),  # its state constraint: steps out of the model count as generated
    ("raft", {"max_in_flight": 1}, True),
]


def test_every_spec_of_the_registry_is_tried():
    from paxoscope import registry

    assert {name for name, _, _ in BUILT_IN} == set(registry.spec_names())


def facts(result) -> dict:
    return {name: getattr(result, name) for name in SAME}


@pytest.mark.parametrize(
    "name,sizes,symmetry",
    BUILT_IN,
    ids=[f"{n}-{'-'.join(map(str, s.values()))}{'-symmetry' * y}" for n, s, y in BUILT_IN],
)
def test_every_built_in_spec_gives_the_same_result_on_any_number_of_workers(name, sizes, symmetry):
    spec = load(name, sizes=sizes, symmetry=symmetry)
    how = {"symmetry": symmetry, "deadlock": wants_deadlock(spec)}
    one = facts(check(spec, **how))
    assert one["distinct_states"] > 1
    for workers in (1, 2, 3):
        assert facts(parallel_check(spec, workers=workers, **how)) == one, f"{workers} workers"


def test_every_worker_gets_its_share_of_the_states():
    from paxoscope.explorer.bfs import CheckOptions
    from paxoscope.explorer.parallel import Shard, _InProcess

    spec = load("paxos", sizes={"ballots": 2})
    workers = _InProcess(spec, CheckOptions(), None)
    workers.shards = [Shard(spec, i, 3, CheckOptions()) for i in range(3)]
    workers.count = 3
    reports = workers.everyone("start")
    while sum(r["queue"] for r in reports):
        workers.balance([r["queue"] for r in reports])
        workers.everyone("next_level")
        workers.expand(10**9)
        reports = workers.admit()
    kept = [len(shard.visited) for shard in workers.shards]
    expanded = [shard.generated for shard in workers.shards]
    assert sum(kept) == check(spec).distinct_states
    assert min(kept) > sum(kept) / 6 and min(expanded) > sum(expanded) / 6  # none idle, none with it all


def test_uneven_parts_of_a_level_are_evened_out():
    from paxoscope.explorer.parallel import _moves

    assert _moves([5000, 5000, 5001]) is None  # even enough: nothing moves
    assert _moves([30, 0, 0]) is None  # too few states to be worth moving
    moves = _moves([9000, 0, 3000])
    assert moves == [[0, 4000, 1000], [0, 0, 0], [0, 0, 0]]
    after = [q - sum(row) + sum(col) for q, row, col in zip([9000, 0, 3000], moves, zip(*moves))]
    assert after == [4000, 4000, 4000]


def test_levels_taken_in_many_rounds_give_the_same_results(monkeypatch, tmp_path):
    from paxoscope.explorer import parallel

    monkeypatch.setattr(parallel, "ROUND", 25)  # every level of some size in several rounds
    spec = load("paxos", sizes={"ballots": 2})
    assert facts(parallel_check(spec, workers=2, spill=str(tmp_path))) == facts(check(spec))
    bug = load("paxos", bug="promise-not-kept", sizes={"ballots": 2})
    one, many = check(bug, ["Consistency"]), parallel_check(bug, ["Consistency"], workers=2)
    assert len(many.violation.trace) == len(one.violation.trace)
    assert_is_a_behaviour(bug, many.violation)


def test_exact_states_and_spilled_links_give_the_same_counts(tmp_path):
    spec = load("paxos", sizes={"ballots": 2})
    one = facts(check(spec))
    assert facts(parallel_check(spec, workers=2, exact=True)) == one
    assert facts(parallel_check(spec, workers=2, spill=str(tmp_path / "links"))) == one
    assert list((tmp_path / "links").iterdir()) == []  # the files go when the search ends


@pytest.mark.parametrize("bug", ["non-intersecting-quorums", "two-proposals-per-ballot", "promise-not-kept"])
@pytest.mark.parametrize("properties", [["Consistency"], None], ids=["invariant", "defaults"])
def test_a_gallery_bug_has_a_counterexample_as_short_as_one_process_finds(bug, properties, tmp_path):
    spec = load("paxos", bug=bug, sizes={"ballots": 2})
    one = check(spec, properties)
    for workers, spill in ((1, None), (2, None), (3, str(tmp_path))):
        many = parallel_check(spec, properties, workers=workers, spill=spill)
        assert many.verdict == one.verdict == "violation"
        assert len(many.violation.trace) == len(one.violation.trace)
        assert many.violation.kind == one.violation.kind
        assert_is_a_behaviour(spec, many.violation)
    assert list(tmp_path.iterdir()) == []  # spilled links go after a counterexample too


def assert_is_a_behaviour(spec, violation):
    """Every step of the trace is a step of the spec, and the last state (or step) breaks the property."""
    steps = violation.trace.steps
    assert steps[0].state in list(spec.init())
    for before, after in zip(steps, steps[1:]):
        assert (after.action, after.state) in list(spec.next(before.state))
    if violation.kind == "invariant":
        assert not spec.invariants[violation.property](steps[-1].state)


def test_a_deadlock_is_found_at_the_same_depth():
    spec = load("multipaxos", bug="silent-acceptor", sizes={"replicas": 2, "writes": 1, "reads": 0})
    one = check(spec, deadlock=True)
    many = parallel_check(spec, deadlock=True, workers=2)
    assert (many.verdict, many.violation.property) == (one.verdict, one.violation.property)
    assert len(many.violation.trace) == len(one.violation.trace)


def test_max_states_stops_after_the_round_that_reaches_it():
    spec = load("paxos", sizes={"ballots": 2})
    result = parallel_check(spec, workers=2, max_states=100)
    assert result.verdict == "incomplete"
    assert result.distinct_states >= 100
    assert result.distinct_states < check(spec).distinct_states


def test_what_needs_one_process_is_refused():
    from paxoscope.explorer.bfs import Observer
    from paxoscope.spec.constants import ConfigError

    spec = load("paxos", sizes={"ballots": 1})
    for bad in ({"digest": True}, {"observers": [Observer()]}, {"workers": 0}, {"max_states": 0}):
        with pytest.raises(ConfigError):
            parallel_check(spec, **{"workers": 2, **bad})
    with pytest.raises(ConfigError, match="EventuallyChosen is a liveness property"):
        parallel_check(load("paxos-proposers"), ["EventuallyChosen"], workers=2)


# -- the compact store -------------------------------------------------------


def test_the_fingerprint_table_grows_and_answers_like_a_set():
    import random

    rng = random.Random(7)
    keys = [rng.getrandbits(64) - 2**63 for _ in range(5000)] + [0, -1, 2**63 - 1]
    table = FingerprintSet(capacity=8)
    assert list(table.add(keys)) == [1] * len(keys)
    again = keys[::3] + [5, 5]
    assert list(table.add(again)) == [0] * (len(again) - 2) + [1, 0]
    assert len(table) == len(keys) + 1
    assert not table.add(again).any() and list(table.add([6, 0])) == [True, False]  # all kept, 6 was not
    assert table.nbytes <= 16 * len(table) + 64  # 8 bytes a slot, at most about half empty


# Keys alike in the bits that pick a slot (multiples of 2**20 apart, and
# small ones) crowd into runs of slots; the others spread over the table.
KEYS = st.one_of(
    st.integers(-3, 40),
    st.integers(1, 6).map(lambda i: (i << 20) | 1),
    st.integers(-(2**63), 2**63 - 1),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(KEYS, max_size=300), max_size=6), st.sampled_from([1, 8, 64]))
def test_the_fingerprint_table_says_new_exactly_as_a_set_does(batches, capacity):
    table, seen = FingerprintSet(capacity=capacity), set()
    for batch in batches:
        expected = []
        for k in batch:  # new: not seen before, nor earlier in the batch
            expected.append(k not in seen)
            seen.add(k)
        assert list(table.add(batch)) == expected
    assert len(table) == len(seen)
    assert not table.add(list(seen)).any()  # every one kept


def test_a_level_lets_go_of_the_states_it_has_expanded():
    level = Level(compact=True)
    for i in range(10):
        level.append(("state", i), 100 + i)
    assert list(level.expand_part(0, 4)) == [(("state", i), 100 + i) for i in range(4)]
    assert level.states[:4] == [None] * 4 and len(level) == 10  # let go of, and still counted
    states, keys = level.take_last(3)
    assert states == [("state", i) for i in (7, 8, 9)] and list(keys) == [107, 108, 109] and len(level) == 7
    level.extend(states, keys)
    assert list(level.expand_part(4, 10)) == [(("state", i), 100 + i) for i in range(4, 10)]


class WideFingerprint:
    """A spec whose own fingerprint is wider than 64 bits."""

    def init(self):
        yield 0

    def next(self, s):
        if s < 5:
            yield "Inc", s + 1

    def fingerprint(self, s):
        return 2**80 + s


def test_a_fingerprint_wider_than_64_bits_is_named_on_workers():
    assert check(WideFingerprint()).distinct_states == 6  # one process keeps any int
    for workers in (1, 2):
        with pytest.raises(SpecError, match=r"fingerprint\(\) must return an int of 64 bits") as err:
            parallel_check(WideFingerprint(), workers=workers)
        assert str(err.value).endswith(f"not {2**80}")  # the initial state's


def test_parent_links_spilled_to_disk_are_read_back(tmp_path):
    links = ParentLinks("w0", spill=str(tmp_path))
    links.add(1, [11, 12], [None, None])
    links.add(2, [21, 22], [11, 12])
    links.add(2, [23], [12])  # a level comes in parts
    assert links.parent_of(22, 2) == (True, 12, 2)
    assert links.parent_of(11, 2) == (True, None, 1)  # looked for where it is not first
    assert links.parent_of(99, 2) == (False, None, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w0-1.links", "w0-2.links"]
    assert links.parent_of(23, 2) == (True, 12, 2)
    assert array("q", (tmp_path / "w0-2.links").read_bytes()[8:24]).tolist() == [21, 22]
    links.remove()
    assert list(tmp_path.iterdir()) == []


def test_stable_hash_does_not_depend_on_the_process():
    value = ("a", None, (1, frozenset({None, "b"})))
    code = f"from paxoscope.explorer.parallel import stable_hash; print(stable_hash({value!r}))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1 and runs.pop().strip().lstrip("-").isdigit()
    assert stable_hash((None, 1)) != stable_hash((1, None))


# -- the command -------------------------------------------------------------

USER_SPEC = textwrap.dedent(
    '''
    from typing import NamedTuple

    from paxoscope import action


    class Pair(NamedTuple):
        x: int
        y: int
        tag: str | None


    class Walk:
        """Two counters and a tag; Sum fails when both are high."""

        def __init__(self, n=4, limit=99):
            self.n, self.limit = n, limit

        def init(self):
            yield Pair(0, 0, None)

        def next(self, s):
            if s.x < self.n:
                yield action("IncX"), s._replace(x=s.x + 1, tag="x")
            if s.y < self.n:
                yield action("IncY"), s._replace(y=s.y + 1, tag=None)

        def invariants(self):
            return {"Sum": lambda s: s.x + s.y <= self.limit}
    '''
)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def report(proc: subprocess.CompletedProcess) -> dict:
    doc = json.loads(proc.stdout)
    for timing in ("seconds", "states_per_second"):
        doc.pop(timing)
    return doc


@pytest.mark.parametrize("extra", [[], ["--exact"], ["--param", "limit=5"]], ids=["ok", "exact", "violation"])
def test_a_user_spec_from_a_file_on_workers(tmp_path, extra):
    (tmp_path / "walk.py").write_text(USER_SPEC)
    one = cli(tmp_path, "check", "walk.py:Walk", "--json", *extra)
    many = cli(tmp_path, "check", "walk.py:Walk", "--json", "--workers", "2", *extra)
    assert many.returncode == one.returncode == (1 if "limit=5" in extra else 0), many.stderr
    ours, theirs = report(many), report(one)
    if "limit=5" in extra:
        # Another state of the same depth may be met first: the same property fails, as soon.
        assert ours["verdict"] == theirs["verdict"] == "violation"
        assert len(ours["violation"]["trace"]) == len(theirs["violation"]["trace"])
        assert ours["violation"]["property"] == theirs["violation"]["property"] == "Sum"
    else:
        assert ours == theirs


def test_check_with_workers_prints_the_usual_report(tmp_path):
    one = cli(tmp_path, "check", "--ballots", "2", "--json")
    many = cli(tmp_path, "check", "--ballots", "2", "--json", "--workers", "2", "--spill", str(tmp_path / "s"))
    assert many.returncode == one.returncode == 0
    assert report(many) == report(one)
    assert report(many)["collision_probability"] > 0


@pytest.mark.parametrize(
    "args,named",
    [
        (["--workers", "2", "--graph", "g.dot"], "--graph"),
        (["--workers", "0"], "--workers"),
        (["--exact", "--spill", "d"], "--spill"),
        (["--simulate", "--spill", "d"], "--spill"),
        (["--against", "pins.json", "--workers", "2"], "--workers"),
        (["paxos-proposers", "--invariant", "EventuallyChosen", "--workers", "2"], "EventuallyChosen"),
    ],
)
def test_options_that_do_not_go_together_are_one_line(tmp_path, args, named):
    proc = cli(tmp_path, "check", *args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and named in proc.stderr, proc.stderr


def test_ray_not_installed_is_one_line_and_exit_2(tmp_path):
    # As if Ray were not installed: importing it fails.
    code = "import sys; sys.modules['ray'] = None; from paxoscope.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", "--ballots", "1", "--ray", "auto"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "paxoscope check: error: --ray needs Ray, which is not installed: pip install 'paxoscope[ray]'"
    ]


def test_a_ray_address_where_nothing_listens_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli(tmp_path, "check", "--ballots", "1", "--ray", f"127.0.0.1:{port}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"paxoscope check: error: --ray 127.0.0.1:{port}: no Ray cluster to join there (Connection refused)"
    ]

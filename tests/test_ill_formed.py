"""A spec change that sends a message Paxos never sends is a TypeOK violation.

Phase1b on ``b >= maxBal[a]`` (instead of ``b > maxBal[a]``) lets an
acceptor that voted in ballot b promise b again and report that vote in a 1b
of the same ballot: a 1b whose mbal is not below its bal, outside the
universe of messages the state's bitmask numbers. The spec keeps such a
message in the state (marked, and named) and TypeOK is false there, so
``paxoscope check`` prints the trace to it and exits 1, whatever the
options; it is not a "bad input" (exit 2) nor an internal error (exit 3).
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
import subprocess
import sys
import textwrap

import pytest
from paxoscope.explorer.bfs import check, reachable
from paxoscope.spec.paxos import IllFormed1b, Msg1b, Msg2b, OutsideConfiguration, Paxos, PaxosState, State

# The variant as a user writes it, in a file of their own.
PROMISE_AGAIN = textwrap.dedent(
    """
    from paxoscope.spec.paxos import Paxos, State


    class PromiseAgain(Paxos):
        name = "promise-again"

        def phase1b(self, s):
            steps = []
            max_bal, max_vbal, max_val = self.acceptor_vars(s)
            for a in self.acceptor_ids:
                for b in self.k.ballots:
                    if s.msgs & self.bit_1a[b] and b >= max_bal[a]:
                        act, keep, promised = self.promise[a][b]
                        report = self.bit_1b[a][b, max_vbal[a], max_val[a]]
                        steps.append((act, State(s.acc & keep | promised, s.msgs | report)))
            return steps
    """
)


@pytest.fixture(scope="module")
def promise_again(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    (folder / "promise_again.py").write_text(PROMISE_AGAIN)
    namespace: dict = {}
    exec(compile(PROMISE_AGAIN, "promise_again.py", "exec"), namespace)
    return folder, namespace["PromiseAgain"]


def paxoscope(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], cwd=folder, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("options", [[], ["--symmetry"], ["--exact", "--ballots", "2"]])
def test_check_reports_the_ill_formed_1b_as_a_typeok_violation_with_its_trace(promise_again, options):
    folder, _ = promise_again
    proc = paxoscope(folder, "check", "promise_again.py:PromiseAgain", *options)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert "VIOLATION: invariant TypeOK fails" in proc.stdout
    # The last step is the second promise, and it sends the 1b that reports a vote in its own ballot.
    last = proc.stdout.split("<< TypeOK fails here")[0].rstrip().splitlines()[-1]
    step = re.search(
        r"Phase1b\(a=(a\d), b=(\d)\)\s+msgs \+ ill-formed 1b\((a\d), bal=(\d), mbal=(\d), mval=v\d\)", last
    )
    assert step, proc.stdout
    acceptor, ballot, sender, bal, mbal = step.groups()
    assert (sender, bal, mbal) == (acceptor, ballot, ballot)


def test_check_json_gives_the_typeok_violation_and_its_trace(promise_again):
    folder, _ = promise_again
    proc = paxoscope(folder, "check", "promise_again.py:PromiseAgain", "--ballots", "2", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "violation"
    assert doc["violation"]["property"] == "TypeOK"
    trace = doc["violation"]["trace"]
    assert trace[0]["action"] is None and trace[-1]["action"].startswith("Phase1b(")
    # The message TypeOK rejects is there, marked, with its fields: its mbal is not below its bal.
    sent = [m for m in trace[-1]["state"]["msgs"] if m not in trace[-2]["state"]["msgs"]]
    assert [(m["type"], m["mbal"] >= m["bal"]) for m in sent] == [("ill-formed 1b", True)]


def test_the_state_names_the_ill_formed_message_and_breaks_typeok_only():
    spec = Paxos(acceptors=3, values=2, ballots=2)
    good = spec.state(
        max_bal=(1, -1, -1), max_vbal=(1, -1, -1), max_val=("v2", None, None), msgs=[Msg2b("a1", 1, "v2")]
    )
    report = spec.bit_1b[0][1, 1, "v2"]  # 1b(a1, bal=1, mbal=1, mval=v2): mbal is not below bal
    bad = PaxosState(good.acc, good.msgs | report)
    assert spec.type_ok(good) and not spec.type_ok(bad)
    assert set(spec.messages(bad)) - set(spec.messages(good)) == {Msg1b("a1", 1, 1, "v2")}
    assert all(isinstance(m, IllFormed1b) for m in spec.messages(bad) if m not in spec.messages(good))
    # The other properties read the state as usual.
    assert spec.consistency(bad) and spec.chosen(bad.msgs) == spec.chosen(good.msgs)
    assert spec.to_voting(bad) == spec.to_voting(good)


def test_every_1b_outside_the_universe_has_its_own_bits_and_decodes_back():
    spec = Paxos(acceptors=2, values=2, ballots=3)
    table = spec.table
    seen = set()
    for a, b, mbal, mval in itertools.product(spec.k.acceptors, spec.k.ballots, range(-1, 3), (None, "v1", "v2")):
        m = Msg1b(a, b, mbal, mval)
        if m in table.bit:
            continue
        bits = table.ill_formed_bit(m)
        assert bits >> table.size & 1 and bits not in seen
        seen.add(bits)
        assert table.decode(bits) == [m]
    # Numbered by the configuration only: another instance gives the same bits.
    other = Paxos(acceptors=2, values=2, ballots=3).table
    assert {other.ill_formed_bit(m) for m in table.decode(functools.reduce(operator.or_, seen))} == seen
    # A 1b naming a value the configuration does not have is kept as "some message outside it".
    outside = table.ill_formed_bit(Msg1b("a1", 0, -1, "v9"))
    assert table.decode(outside) == [OutsideConfiguration()]
    # It breaks TypeOK, and the symmetry tells it from the state without it.
    s = spec.state(max_bal=(0, -1), max_vbal=(-1, -1), max_val=(None, None), msgs=[Msg1b("a1", 0, -1, None)])
    with_it = PaxosState(s.acc, s.msgs | outside)
    assert spec.type_ok(s) and not spec.type_ok(with_it)
    assert spec.symmetry(with_it) != spec.symmetry(s)


def test_a_well_formed_state_has_none_of_those_bits():
    spec = Paxos(acceptors=2, values=2, ballots=2)
    assert all(s.msgs >> spec.table.size == 0 for s in reachable(spec))


def rename(spec: Paxos, s: PaxosState, acceptors: dict, values: dict) -> PaxosState:
    """``s`` with acceptors and values renamed, ill-formed messages included."""
    v = spec.variables(s)
    order = [next(a for a in spec.k.acceptors if acceptors[a] == b) for b in spec.k.acceptors]
    fields = [tuple(v[f][a] for a in order) for f in ("maxBal", "maxVBal", "maxVal")]
    max_val = tuple(values.get(x) for x in fields[2])
    msgs = 0
    for m in v["msgs"]:
        named = {f: values[x] if x in values else acceptors.get(x, x) for f, x in m._asdict().items()}
        new = type(m)(**named)
        msgs |= spec.table.bit.get(new) or spec.table.ill_formed_bit(new)
    return State(spec.codec.encode(fields[0], fields[1], max_val), msgs)


def test_symmetry_moves_ill_formed_messages_with_their_acceptor(promise_again):
    _, variant = promise_again
    spec = variant(acceptors=2, values=2, ballots=2)
    states = reachable(spec)
    assert any(not spec.type_ok(s) for s in states)
    perms = [
        (dict(zip(spec.k.acceptors, pa)), dict(zip(spec.k.values, pv)) | {None: None})
        for pa in itertools.permutations(spec.k.acceptors)
        for pv in itertools.permutations(spec.k.values)
    ]
    keys = {spec.symmetry(s) for s in states}
    # An ill-formed message is part of the state: dropping it gives another class.
    for s in states:
        if not spec.type_ok(s):
            assert spec.symmetry(s) != spec.symmetry(PaxosState(s.acc, s.msgs & (spec.table.ill_formed - 1)))
    for s in states:
        for acceptors, values in perms:
            assert spec.symmetry(rename(spec, s, acceptors, values)) == spec.symmetry(s)
    # And one state per class is what the reduced search explores.
    r = check(variant(acceptors=2, values=2, ballots=2), ["Consistency"], symmetry=True)
    assert r.distinct_states == len(keys) < len(states)

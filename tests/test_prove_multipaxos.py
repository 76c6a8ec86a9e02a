"""The Z3 proof of Multi-Paxos's per-slot agreement, its gallery, and its cross-check.

What is pinned here: the multi-instance voting model of Multi-Paxos is
proven for every number of replicas, ballots and slots, by the same engines
that prove Paxos; every gallery variant that breaks agreement fails the
obligations listed below, with a counterexample charted on the model and
its reachability decided; the model agrees with the executable spec on
every reachable state and step of a small configuration, and a wrong mapping
or a wrong model is caught.
"""

from __future__ import annotations

import json

import pytest
from paxoscope.proofs import multipaxos as mp
from paxoscope.proofs.crosscheck import crosscheck_abstraction, model_run
from paxoscope.proofs.finite import FiniteModel
from paxoscope.proofs.logic import Structure, lt
from paxoscope.proofs.obligations import Prover, prove
from paxoscope.spec.multipaxos import COMMITTED, MultiPaxos

from paxoscope.cli import main as paxoscope

ACTIONS = ["Promise", "Propose", "Vote", "Commit", "Request", "Ack"]

# The obligations each proof variant fails (every other one is proven).
FAILS = {
    "commit-on-too-few-replies": {"Commit/CommittedIsChosen", "Commit/CommittedOnce"},
    "ignore-prepare-votes": {"Propose/ProposalSafe"},
    "accept-below-promise": {
        "Vote/VoteAtMostBal",
        "Vote/NoVoteAboveLast",
        "Vote/ReportBelowPromise",
        "Vote/ReportHidesNoVote",
        "Vote/ProposalSafe",
        "Vote/AcceptedBelowPromise",
    },
    # The read answered outside the log: it sits in no slot, above no write acknowledged before it.
    "stale-leader-read": {"LocalRead/AckedFromLog", "LocalRead/ReadSeesEarlierWrites"},
}
#: The obligation whose counterexample each variant's test charts and replays from Init.
SHOWN = {
    "commit-on-too-few-replies": "Commit/CommittedIsChosen",
    "ignore-prepare-votes": "Propose/ProposalSafe",
    "stale-leader-read": "LocalRead/ReadSeesEarlierWrites",
}


@pytest.fixture(scope="module")
def report():
    return prove(mp.model_for(), counterexamples=False)


def test_multipaxos_is_proven_obligation_by_obligation(report):
    conjuncts = list(mp.model_for().invariant(mp.model_for().pre_view()))
    safety = ["safety/ChosenAgreement", "safety/CommittedAgreement"]
    expected = ["initiation", *(f"{a}/{c}" for a in ACTIONS for c in conjuncts), *safety]
    assert [o.name for o in report.outcomes] == expected
    assert report.verdict == "proven", [(o.name, o.result) for o in report.failed]
    assert report.spec == "multipaxos" and report.safety_name == "Agreement"


def test_no_multipaxos_obligation_is_proven_vacuously():
    # Each action is enabled in some state that satisfies the invariant, so
    # no consecution obligation holds because its hypotheses contradict.
    prover = Prover(mp.model_for())
    from paxoscope.proofs.smt import solve

    for act in mp.model_for().actions():
        answer = solve([prover.z_base, prover.tr(act.guard)], 10.0)
        assert answer.result == "sat", act.name


def test_the_proof_covers_more_than_one_slot_and_ballot():
    # Agreement is stated for every slot and every two ballots: a model with
    # one slot or one ballot would prove it trivially. Z3 finds a state with
    # two slots and two ballots satisfying the invariant.
    from paxoscope.proofs import logic as L
    from paxoscope.proofs.smt import solve

    prover = Prover(mp.model_for())
    s, t = L.variables("s t", mp.S)
    b, e = L.variables("b e", mp.B)
    c, d = L.variables("c d", mp.C)
    two = L.exists(
        [s, t, b, e, c, d],
        L.and_(L.ne(s, t), lt(b, e), mp.accept(b, s, c), mp.accept(e, t, d), L.ne(b, mp.NONE)),
    )
    assert solve([prover.z_base, prover.tr(two)], 10.0).result == "sat"


@pytest.mark.parametrize("name", sorted(FAILS))
def test_each_variant_that_breaks_agreement_fails_its_named_obligations(name):
    # accept-below-promise fails six obligations, each refuted by Z3 at once;
    # the others are searched for a counterexample, charted and explored.
    with_cex = name != "accept-below-promise"
    r = prove(mp.model_for(name), counterexamples=with_cex)
    assert {o.name for o in r.failed} == FAILS[name]
    assert all(o.result == "failed" for o in r.failed)
    if with_cex:
        assert all(o.counterexample is not None for o in r.failed)
        (o,) = (o for o in r.failed if o.name == SHOWN[name])
        c = o.counterexample
        assert c is not None and c.reachable is True
        # The run from Init is a run of the model, and its last step breaks the conjunct.
        spec = c.spec
        steps = c.full_trace().steps
        assert steps[0].state in set(spec.init())
        for before, after in zip(steps, steps[1:]):
            assert (after.action, after.state) in set(spec.next(before.state))
        assert not spec.invariants[o.conjunct](steps[-1].state)


def test_the_gallery_has_a_proof_variant_for_each_safety_bug_and_says_why_not_for_the_others():
    assert set(mp.BUG_MODELS) | set(mp.NO_PROOF) == {
        "commit-on-too-few-replies",
        "silent-acceptor",
        "ignore-prepare-votes",
        "stale-leader-read",
        "accept-below-promise",
    }
    assert not set(mp.BUG_MODELS) & set(mp.NO_PROOF)


def test_prove_multipaxos_from_the_command(capsys):
    assert paxoscope(["prove", "multipaxos", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "proven" and doc["spec"] == "multipaxos" and doc["failure"] is None
    model = mp.model_for()
    assert len(doc["obligations"]) == 1 + len(ACTIONS) * len(model.invariant(model.pre_view())) + 2


def test_prove_multipaxos_bug_fails_with_exit_1(capsys, tmp_path):
    svg = tmp_path / "cti.svg"
    assert paxoscope(["prove", "multipaxos", "--bug", "commit-on-too-few-replies", "--svg", str(svg)]) == 1
    # The counterexample is charted with a lane per replica.
    chart = svg.read_text()
    assert ">s1</text>" in chart and ">s2</text>" in chart and "CommittedIsChosen fails here" in chart
    out = capsys.readouterr().out
    assert "FAILED: 2 failed (Commit/CommittedIsChosen, Commit/CommittedOnce) of 123 obligations" in out
    assert "a counterexample to induction: Commit breaks CommittedIsChosen" in out
    assert "reachable: this is a real bug, here is the trace from Init" in out
    assert "<< CommittedIsChosen fails here" in out


def test_a_variant_without_a_proof_says_why(capsys):
    assert paxoscope(["prove", "multipaxos", "--bug", "silent-acceptor"]) == 2
    err = capsys.readouterr().err
    assert "silent-acceptor has no proof variant" in err and "deadlock" in err and err.count("\n") == 1


def test_explain_multipaxos(capsys):
    assert paxoscope(["prove", "multipaxos", "--explain"]) == 0
    out = capsys.readouterr().out
    for name in mp.EXPLANATIONS:
        assert f"\n{name}\n" in out
    assert "Agreement (what the invariant must imply)" in out


# ---------------------------------------------------------------------------
# The cross-check against spec/multipaxos.py
# ---------------------------------------------------------------------------


def crosscheck(model=None, mapping=mp.structure_of_spec, sizes=(2, 1, 1)):
    spec = MultiPaxos(*sizes)
    return crosscheck_abstraction(model or mp.model_for(), spec, mp.empty_structure(spec), mapping)


def test_the_model_abstracts_the_executable_spec_on_every_state_and_step():
    r = crosscheck()
    assert r.ok, r.mismatches
    assert r.states == 1_163 and r.complete
    assert r.transitions > r.states and r.chosen_states > 0
    assert set(r.falsified.values()) == {0}


def test_the_cross_check_from_the_command(capsys):
    assert paxoscope(["prove", "multipaxos", "--crosscheck", "--replicas", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "agree" and doc["kind"] == "abstraction" and doc["states"] == 1_163


def by_status(spec, s, base):
    """A wrong mapping: a slot counts as committed while its instance says Committed.
    An Accept at a higher ballot turns a committed instance back to Accepting."""
    st = mp.structure_of_spec(spec, s, base)
    committed = {
        (slot, inst.cmd) for n in s.node for slot, inst in zip(spec.slots, n.insts) if inst.status == COMMITTED
    }
    return Structure(st.domains, st.constants, {**st.relations, "committed": committed})


def test_a_wrong_mapping_is_caught():
    r = crosscheck(mapping=by_status)
    assert not r.ok
    # The commit vanishes at the Accept, and with it the slot an acknowledged write was answered from.
    assert {m.kind for m in r.mismatches} == {"successors", "invariant"}
    assert all("HandleAccept" in m.detail for m in r.mismatches if m.kind == "successors")
    assert all(m.detail.startswith("AckedFromLog is false") for m in r.mismatches if m.kind == "invariant")


class StrictVote(mp.MultiPaxosModel):
    """A wrong model: a replica votes only above the highest ballot it knows
    (the spec votes at it too). It still proves: only the cross-check sees it."""

    def vote_allowed(self, r, b, n):
        return lt_known(r, b, n)


def lt_known(r, b, n):
    from paxoscope.proofs.logic import and_

    return and_(mp.maxBal(r, n), lt(n, b))


def test_a_wrong_model_is_caught():
    r = crosscheck(model=StrictVote())
    assert not r.ok
    assert all(m.kind == "successors" for m in r.mismatches)
    assert any("HandleAccept" in m.detail or "TakeNewRequest" in m.detail for m in r.mismatches)


def test_a_spec_step_is_found_as_a_run_of_model_steps():
    # TakeNewRequest takes a client's new command, proposes it and votes at once: three model steps.
    spec = MultiPaxos(1, 1, 0)
    model = mp.model_for()
    base = mp.empty_structure(spec)
    fm = FiniteModel(model, base)
    s = next(iter(spec.init()))
    for name in ("BecomeLeader", "HandlePrepareReplies", "TakeNewRequest"):
        act, t = next((a, t) for a, t in spec.next(s) if a.name == name)
        if name == "TakeNewRequest":
            x, y = (fm.freeze(mp.structure_of_spec(spec, u, base)) for u in (s, t))
            assert [a.name for a in model_run(fm, x, y)] == ["Request", "Propose", "Vote"]
        s = t


def test_houdini_templates_are_mined_from_the_multipaxos_model_too():
    from paxoscope.proofs.houdini import templates

    names = templates(mp.model_for())
    assert "∀r, b, s, c. accepted(r, b, s, c) ⇒ accept(b, s, c)" in names  # AcceptedHasProposal
    assert "∀b, s, c. accept(b, s, c) ⇒ b ≠ 0" in names  # part of TypeOK
    assert not any("msg" in n for n in names)  # nothing of Paxos's


def test_the_registry_can_name_the_model_without_paying_for_z3():
    import subprocess
    import sys

    code = (
        "import sys; from paxoscope.proofs.multipaxos import BUG_MODELS, NO_PROOF, model_for; "
        "model_for('ignore-prepare-votes'); print('z3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------
# Reads: the clients' history in the model
# ---------------------------------------------------------------------------


def test_the_history_mapping_has_reads_after_acknowledged_writes():
    # The read conjuncts are not vacuous on the spec: some reachable state has
    # the read r1 answered after the write w1 was acknowledged.
    from paxoscope.explorer.bfs import reachable

    spec = MultiPaxos(2, 1, 1)
    base = mp.empty_structure(spec)
    images = [mp.structure_of_spec(spec, s, base).relations for s in reachable(spec)]
    assert any(("w1", "r1") in st["before"] and ("r1",) in st["acked"] for st in images)
    assert all(("r1", "w1") not in st["before"] or ("w1", "r1") not in st["before"] for st in images)


def test_the_stale_read_breaks_read_conjuncts_on_reachable_states_of_its_spec():
    from paxoscope.spec.multipaxos_bugs import BUGS

    spec = BUGS["stale-leader-read"](2, 1, 1)
    r = crosscheck_abstraction(mp.model_for("stale-leader-read"), spec, mp.empty_structure(spec), mp.structure_of_spec)
    assert r.ok, r.mismatches  # every step of the variant is a run of the variant's model
    assert {name for name, n in r.falsified.items() if n} == {"AckedFromLog", "ReadSeesEarlierWrites"}

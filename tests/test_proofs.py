"""The Z3 proof of Paxos, its counterexamples to induction, and the cross-check.

What is pinned here: Paxos's invariant is proven inductive for every size,
obligation by obligation; every variant of the bug gallery fails, at the
obligations listed below, with a concrete counterexample that the explorer
shows to be a real bug; the proof model and the executable spec agree state
by state and step by step, chosen set by chosen set, and a deliberately
wrong proof model (one that still proves!), a wrong chosen on either side and
a conjunct the proof model lacks are each caught by that comparison; a model
of a gallery variant that proves is a failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cached_property

import pytest
from paxoscope.proofs import logic as L
from paxoscope.proofs.crosscheck import crosscheck, report_text
from paxoscope.proofs.obligations import SOLVER_OPTIONS, Prover, prove
from paxoscope.proofs.paxos import (
    BUG_MODELS,
    A,
    B,
    PaxosModel,
    TwoProposalsPerBallot,
    maxBal,
    member,
    model_for,
    pre_view,
)
from paxoscope.proofs.smt import solve
from paxoscope.spec.bugs import BUGS
from paxoscope.spec.paxos import Paxos
from paxoscope.spec.paxos_invariants import CONJUNCTS

from paxoscope.commands.prove import add_parser

ACTIONS = ["Phase1a", "Phase1b", "Phase2a", "Phase2b"]


def main(argv: list[str]) -> int:
    """``paxoscope prove ARGV``, in this process."""
    from paxoscope.cli import main as paxoscope

    return paxoscope(["prove", *argv])


# The obligations each variant of the gallery fails (every other one is proven).
FAILS = {
    "non-intersecting-quorums": {"safety"},
    "ignore-reported-values": {"Phase2a/Msg2aSafe"},
    "any-reported-value": {"Phase2a/Msg2aSafe"},
    "promise-not-kept": {"Phase1b/Msg1bBelowPromise"},
    "accept-below-promise": {
        "Phase2b/AccNoVoteAboveVBal",
        "Phase2b/Msg1bBelowPromise",
        "Phase2b/Msg1bHidesNoVote",
        "Phase2b/Msg2aSafe",
        "Phase2b/Msg2bAtMostVBal",
        "Phase2b/Msg2bBelowPromise",
    },
    "two-proposals-per-ballot": {"Phase2a/Msg2aUnique"},
    "amnesia-restart": {
        "Restart/AccNoVoteAboveVBal",
        "Restart/Msg1bBelowPromise",
        "Restart/Msg2aSafe",
        "Restart/Msg2bAtMostVBal",
        "Restart/Msg2bBelowPromise",
    },
}


@pytest.fixture(scope="module")
def paxos_report():
    return prove(model_for())


# ---------------------------------------------------------------------------
# The proof
# ---------------------------------------------------------------------------


def test_paxos_is_proven_obligation_by_obligation(paxos_report):
    r = paxos_report
    conjuncts = list(PaxosModel().invariant(pre_view()))
    expected = ["initiation", *(f"{a}/{c}" for a in ACTIONS for c in conjuncts), "safety"]
    assert [o.name for o in r.outcomes] == expected
    assert all(o.result == "proven" for o in r.outcomes)
    assert r.verdict == "proven" and r.failed == []


def test_the_proof_uses_every_conjunct_of_the_spec_by_name():
    conjuncts = set(model_for().invariant(pre_view()))
    assert set(CONJUNCTS) <= conjuncts
    # What the proof may add: TypeOK (the spec's invariant of that name) and
    # Msg2bBelowPromise (until the spec has it too).
    assert conjuncts - set(CONJUNCTS) <= {"TypeOK", "Msg2bBelowPromise"}


def test_no_obligation_is_proven_vacuously():
    # Each action is enabled in some state that satisfies the invariant, so
    # no consecution obligation holds merely because its hypotheses clash.
    p = Prover(model_for())
    for act in model_for().actions():
        assert solve([p.z_base, p.tr(act.guard)], 5.0, options=SOLVER_OPTIONS).result == "sat", act.name


def test_unknown_is_reported_as_unknown_never_as_proven():
    p = Prover(model_for(), timeout=1e-4)
    safety = next(ob for ob in p.obligations if ob.name == "safety")
    out = p.discharge(safety)
    assert out.result == "unknown"
    assert "no counterexample in the small universes" in out.detail


def test_a_true_obligation_whose_first_seeds_run_away_is_still_proven(monkeypatch):
    # Z3 can run away on a query with one seed and answer it at once with
    # another; a loaded machine does the same to the first attempt. Two seeds
    # that give up must not turn a true obligation into "unknown".
    from paxoscope.proofs import obligations

    seeds = []

    def runaway(query, timeout, retry=True, seed=0, options=None):
        seeds.append(seed)
        if seed in (0, 1):
            return obligations.Answer("unknown", None, timeout, "canceled")
        return solve(query, timeout, retry=retry, seed=seed, options=options)

    monkeypatch.setattr(obligations, "solve", runaway)
    p = Prover(model_for())
    ob = next(ob for ob in p.obligations if ob.name == "safety")
    out = p.discharge(ob, counterexamples=False)
    assert out.result == "proven", out.detail
    assert seeds == [0, 1, 2]


def test_a_frame_obligation_is_still_answered_by_z3_with_its_conjunct_only():
    p = Prover(model_for())
    ob = next(ob for ob in p.obligations if ob.name == "Phase1a/Msg2aSafe")
    assert ob.framed
    assert len(p.query(ob)) == 2
    assert p.discharge(ob).result == "proven"
    assert not next(ob for ob in p.obligations if ob.name == "Phase2a/Msg2aSafe").framed


# ---------------------------------------------------------------------------
# The bug gallery, proved wrong
# ---------------------------------------------------------------------------


def test_every_variant_of_the_gallery_has_a_proof_model():
    assert set(BUG_MODELS) == set(BUGS) == set(FAILS)


@pytest.mark.parametrize("name", list(FAILS))
def test_each_bug_fails_its_obligations_with_a_real_counterexample(name):
    r = prove(model_for(name), timeout=1.0)
    assert r.verdict == "failed"
    assert {o.name for o in r.failed} == FAILS[name]
    assert all(o.result == "failed" for o in r.failed)
    first = r.failed[0]
    c = first.counterexample
    spec = c.spec
    assert type(spec) is BUGS[name]
    # The pre-state satisfies the spec's invariant ...
    assert spec.invariants["Inv"](c.pre)
    if c.action is None:
        assert first.kind == "safety" and not spec.invariants["Consistency"](c.pre)
    else:
        # ... the step is one the spec takes, and the post-state breaks the conjunct.
        assert (c.action, c.post) in set(spec.next(c.pre))
        assert not spec.invariants[c.broken](c.post)
    # The explorer shows the failure is real: the pre-state is reachable, or
    # another reachable step fails the same obligation.
    assert c.reachable is True or c.real is not None
    if c.reachable:
        from paxoscope.explorer.trace import validate

        assert validate(spec, c.full_trace()) is None


def test_a_counterexample_to_induction_is_printed_with_the_trace_table(capsys):
    assert main(["--bug", "promise-not-kept"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"\nPhase1b/Msg1bBelowPromise +failed", out)
    assert "a counterexample to induction: Phase1b breaks Msg1bBelowPromise" in out
    assert "1  a state satisfying Inv" in out
    assert "Phase1b(a=a1, b=0)" in out
    assert "<< Msg1bBelowPromise fails here" in out
    assert "reachable: this is a real bug, here is the trace from Init" in out
    assert "1  Init" in out


class WithoutMsg2aSafe(PaxosModel):
    """Paxos with an invariant too weak to prove it: Msg2aSafe left out."""

    def invariant(self, S):
        return {n: f for n, f in super().invariant(S).items() if n != "Msg2aSafe"}


def test_a_too_weak_invariant_is_told_apart_from_a_bug():
    from paxoscope.proofs.report import report_text as text

    r = prove(WithoutMsg2aSafe(), timeout=1.0)
    assert "safety" in {o.name for o in r.failed}
    safety = next(o for o in r.failed if o.name == "safety")
    c = safety.counterexample
    assert not c.spec.invariants["Consistency"](c.pre)
    # Paxos is correct: no run reaches the state, nor any other that breaks Consistency.
    assert c.reachable is False and c.real is None
    out = text(r)
    assert "unreachable: the invariant is too weak here" in out
    assert "wrong all the same" not in out


# ---------------------------------------------------------------------------
# The cross-check against the executable spec
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sizes, states", [((3, 1, 2), 1681), ((2, 2, 3), 1501)])
def test_the_proof_model_agrees_with_the_spec_on_every_reachable_state(sizes, states):
    r = crosscheck(model_for(), *sizes)
    assert r.ok, report_text(r)
    assert r.states == states and r.complete
    assert r.transitions > 4 * states
    assert set(r.compared) == {*CONJUNCTS, "TypeOK", "Consistency"} - set(r.proof_only)
    assert set(r.proof_only) <= {"Msg2bBelowPromise"}
    assert r.spec_only == []
    assert r.evaluations == states * len(r.compared)
    assert not any(r.falsified.values())
    # The chosen sets were compared where they are not empty, not only where nothing is chosen.
    assert 0 < r.chosen_states < states


def test_z3_itself_reads_the_proof_terms_as_the_python_evaluator_does():
    r = crosscheck(model_for(), 2, 2, 2, z3_every=12)
    assert r.ok, report_text(r)
    assert r.z3_states == 13


@pytest.mark.parametrize("name", list(FAILS))
def test_each_bug_model_agrees_with_its_executable_twin(name):
    sizes = (2, 1, 2) if name == "amnesia-restart" else (2, 2, 2)
    r = crosscheck(model_for(name), *sizes)
    assert r.ok, report_text(r)


def test_the_cross_check_compares_conjuncts_where_they_are_false():
    # On the gallery's reachable states the conjuncts are false here and
    # there: the comparison of (a) is not a comparison of constants.
    r = crosscheck(model_for("promise-not-kept"), 2, 2, 2)
    assert r.ok
    assert r.falsified["Msg1bBelowPromise"] > 0 and r.falsified["Consistency"] > 0


class StrictPhase2b(PaxosModel):
    """A wrong encoding: Phase2b's guard b ≥ maxBal[a] written as b > maxBal[a]."""

    def phase2b_promise_ok(self, a, b, n):
        return L.and_(maxBal(a, n), L.lt(n, b))


def test_a_wrong_encoding_that_still_proves_is_caught_by_the_cross_check():
    # Only strengthening a guard, it keeps the invariant inductive ...
    assert prove(StrictPhase2b(), counterexamples=False).verdict == "proven"
    # ... but it is not the protocol the spec runs.
    r = crosscheck(StrictPhase2b(), 2, 2, 2)
    assert not r.ok
    kinds = {m.kind for m in r.mismatches}
    assert kinds == {"successors"}
    assert "the spec takes steps the proof model does not: Phase2b" in r.mismatches[0].detail


class LaxMsg2aUnique(TwoProposalsPerBallot):
    """A wrong conjunct (Msg2aUnique that says nothing), on the variant that breaks it."""

    def invariant(self, S):
        return {**super().invariant(S), "Msg2aUnique": L.TRUE}


def test_a_conjunct_that_means_something_else_is_caught_by_the_cross_check():
    r = crosscheck(LaxMsg2aUnique(), 1, 2, 1, max_mismatches=3)
    assert not r.ok
    assert {m.kind for m in r.mismatches} == {"conjunct"}
    assert "Msg2aUnique is True in the proof model but False in the spec" in r.mismatches[0].detail


class ChosenInAnyBallots(PaxosModel):
    """A wrong chosen: a quorum whose members each voted for v, in any ballots."""

    def chosen_at(self, S, v, b, q):
        (a,) = L.variables("a", A)
        (c,) = L.variables("c", B)
        return L.forall([a], L.implies(member(a, q), L.exists([c], S.msg2b(a, c, v))))


class ChosenByOneFewer(Paxos):
    """A wrong chosen: every member of a quorum but one voted for v in one ballot."""

    def chosen(self, msgs):
        votes = self.votes(msgs)
        return frozenset(
            v
            for b in self.k.ballots
            for v in self.k.values
            if any(sum((a, b, v) in votes for a in q) >= len(q) - 1 for q in self.k.quorums)
        )


def test_a_wrong_chosen_in_the_proof_model_is_caught_though_consistency_agrees():
    r = crosscheck(ChosenInAnyBallots(), 3, 2, 2, max_mismatches=10**6)
    assert not r.ok
    # Consistency itself is true on both sides in every state: only the
    # comparison of the chosen sets sees the difference.
    assert {m.kind for m in r.mismatches} == {"chosen"}
    assert r.falsified["Consistency"] == 0
    assert "chosen is {v1} in the proof model but {} in the spec" in {m.detail for m in r.mismatches}


def test_a_wrong_chosen_in_the_spec_is_caught():
    r = crosscheck(model_for(), 3, 2, 2, twin=ChosenByOneFewer)
    assert not r.ok
    assert "chosen" in {m.kind for m in r.mismatches}
    detail = next(m.detail for m in r.mismatches if m.kind == "chosen")
    assert re.fullmatch(r"chosen is \{\} in the proof model but \{v\d\} in the spec", detail), detail


class ExtraConjunct(Paxos):
    """The spec's invariant with one conjunct more than the proof model has."""

    @cached_property
    def invariants(self):
        return {**super().invariants, "Msg1aAboveNone": lambda s: True}


def test_a_conjunct_of_the_spec_with_no_counterpart_fails_the_cross_check():
    r = crosscheck(model_for(), 2, 1, 2, twin=ExtraConjunct)
    assert not r.ok and r.spec_only == ["Msg1aAboveNone"]
    assert r.mismatches[0].kind == "missing"
    assert "Msg1aAboveNone" in r.mismatches[0].detail
    assert "Msg1aAboveNone" in report_text(r)


def test_a_conjunct_added_to_the_spec_invariant_fails_crosscheck_from_the_command(monkeypatch, capsys):
    monkeypatch.setitem(CONJUNCTS, "Msg1aAboveNone", lambda w: True)
    assert main(["--crosscheck", "--acceptors", "2", "--values", "1", "--ballots", "2"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out
    assert "missing: Msg1aAboveNone is a conjunct of the spec's invariant with no counterpart in the proof model" in out


class PromiseNotKeptWithLaxInv(BUGS["promise-not-kept"]):
    """The variant with an Inv that is not the conjunction of its conjuncts."""

    @cached_property
    def invariants(self):
        return {**super().invariants, "Inv": lambda s: True}


def test_inv_is_compared_with_the_conjunction_of_the_proof_models_conjuncts():
    assert crosscheck(model_for("promise-not-kept"), 2, 1, 2).ok
    r = crosscheck(model_for("promise-not-kept"), 2, 1, 2, twin=PromiseNotKeptWithLaxInv)
    assert not r.ok and r.spec_only == []
    assert {m.detail for m in r.mismatches} == {"Inv is False in the proof model but True in the spec"}


class LikePaxos(PaxosModel):
    """A model of a gallery variant that has lost its bug: it is Paxos."""

    bug = "lost-its-bug"


@pytest.mark.parametrize("json_out", [False, True])
def test_a_gallery_variant_that_proves_is_a_failure(monkeypatch, capsys, tmp_path, json_out, request):
    from paxoscope import registry

    monkeypatch.setitem(BUG_MODELS, LikePaxos.bug, LikePaxos)
    registry._variants.cache_clear()  # the gallery is read once per process; this test adds to it
    request.addfinalizer(registry._variants.cache_clear)
    junit = tmp_path / "prove.xml"
    argv = ["--bug", LikePaxos.bug, "--junit", str(junit)] + ["--json"] * json_out
    assert main(argv) == 1
    out, err = capsys.readouterr()
    line = "FAILED: the gallery says lost-its-bug is wrong (two values can be chosen), so a proof of it means"
    if json_out:
        doc = json.loads(out)
        assert doc["verdict"] == "proven" and doc["failure"].startswith(line)
        assert line in err
    else:
        assert "PROVEN: all 54 obligations" in out and line in out
    assert 'failures="1"' in junit.read_text()


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_prove_json_report(capsys):
    assert main(["paxos", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "proven" and doc["spec"] == "paxos" and doc["bug"] is None
    assert doc["failure"] is None
    assert len(doc["obligations"]) == 54
    assert {"name", "result", "seconds"} <= set(doc["obligations"][0])
    assert {o["result"] for o in doc["obligations"]} == {"proven"}


def test_prove_json_report_of_a_bug(capsys):
    assert main(["--bug", "two-proposals-per-ballot", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "failed" and doc["failed"] == ["Phase2a/Msg2aUnique"]
    (cex,) = doc["counterexamples"]
    assert cex["reachable"] is True
    assert cex["trace"][-1]["action"].startswith("Phase2a(b=0, v=")
    assert cex["trace_from_init"][0]["action"] is None


def test_explain_prints_each_conjunct_in_words_and_math(capsys):
    assert main(["--explain"]) == 0
    out = capsys.readouterr().out
    for name in [*CONJUNCTS, "TypeOK"]:
        assert f"\n{name}\n" in out
    assert "Every proposal is safe" in out
    assert "∀b, v. msg2a(b, v) ⇒ (∀c. c ≠ -1 ∧ c < b ⇒ (∃q." in out


def test_crosscheck_from_the_command(capsys):
    assert main(["--crosscheck", "--acceptors", "2", "--values", "1", "--ballots", "2"]) == 0
    out = capsys.readouterr().out
    assert "OK: the two encodings agree on every state and every step" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["twophase"], "proof model for the paxos, multipaxos and raft specs only"),
        (["multipaxos", "--bug", "silent-acceptor"], "silent-acceptor has no proof variant"),
        (["multipaxos", "--crosscheck", "--acceptors", "2"], "--acceptors is no size of multipaxos"),
        (["--bug", "nope"], "unknown bug 'nope'"),
        (["--acceptors", "2"], "--acceptors sets the configuration of --crosscheck"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_timeout_is_rejected_by_the_parser():
    import argparse

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["prove", "--timeout", "0"])
    assert exc.value.code == 2


def test_only_the_proof_imports_z3():
    code = (
        "import sys, paxoscope.cli, paxoscope.commands.prove, paxoscope.proofs.crosscheck; "
        "from paxoscope.proofs.report import explain_text; from paxoscope.proofs.paxos import model_for; "
        "explain_text(model_for()); print('z3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_prove_runs_as_a_command():
    done = subprocess.run([sys.executable, "-m", "paxoscope.cli", "prove", "paxos"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "PROVEN: all 54 obligations" in done.stdout


def test_grounding_folds_the_order_and_keeps_the_atoms():
    x, y = L.Const("b0", B), L.Const("b1", B)
    (a,) = L.variables("a", A)
    universe = {B: [x, y], A: [L.Const("a0", A)]}
    f = L.forall([a], L.implies(maxBal(a, y), L.le(x, y)))
    assert L.ground(f, universe, {}, {x: 0, y: 1, universe[A][0]: 0}) is L.TRUE
    g = L.exists([a], maxBal(a, x))
    grounded = L.ground(g, universe, {}, {x: 0, y: 1, universe[A][0]: 0})
    assert isinstance(grounded, L.App) and grounded.args == (universe[A][0], x)


def test_houdini_templates_can_express_the_invariant():
    # Inference itself takes a minute or two (benchmarks/prove.py --houdini);
    # here: the templates cover the shapes the hand-written invariant uses.
    from paxoscope.proofs.houdini import templates

    names = templates(PaxosModel())
    assert "∀b, v, w. msg2a(b, v) ∧ msg2a(b, w) ⇒ v = w" in names  # Msg2aUnique
    assert "∀a, b, v. msg2b(a, b, v) ⇒ msg2a(b, v)" in names  # Msg2bHas2a
    assert any(n.startswith("∀b, v. msg2a(b, v) ⇒ (∀c. c ≠ -1 ∧ c < b ⇒ (∃q.") for n in names)  # Msg2aSafe
    assert not any(n.endswith("⇒ b ≤ c ∨ c ≤ b") for n in names)  # tautologies are left out


# ---------------------------------------------------------------------------
# prove --svg / --html: the counterexample as a message sequence chart
# ---------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def test_prove_draws_the_counterexample_to_induction_as_svg_and_html(tmp_path, capsys):
    svg, page = tmp_path / "cti.svg", tmp_path / "cti.html"
    assert main(["--bug", "promise-not-kept", "--json", "--svg", str(svg), "--html", str(page)]) == 1
    doc = json.loads(capsys.readouterr().out)
    first = doc["counterexamples"][0]

    from xml.etree import ElementTree

    root = ElementTree.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    texts = {cls: [t.text for t in root.iter(f"{SVG}text") if t.get("class") == cls] for cls in ("step", "mark")}
    # The chart is the counterexample's trace: the pre-state, then the failing step.
    (failed,) = [o for o in prove(model_for("promise-not-kept")).failed if o.name == first["obligation"]]
    cti = failed.counterexample.trace()
    assert texts["step"] == [str(step.action) for step in cti.steps]
    assert texts["step"][0] == "a state satisfying Inv" and len(texts["step"]) == 2
    assert texts["mark"] == [f"✗ {first['broken']} fails here"]

    text = page.read_text(encoding="utf-8")
    assert text.count("<section") == len(doc["failed"]) >= 1
    for name in doc["failed"]:
        assert name in text
    assert "a counterexample to induction: Phase1b breaks Msg1bBelowPromise" in text
    # Reachable: the CTI's chart and the chart of the run from Init.
    assert "reachable: this is a real bug, here is the trace from Init" in text
    assert text.count("<svg") == 2


def test_prove_writes_no_chart_when_every_obligation_is_proven(tmp_path, capsys):
    svg, page = tmp_path / "none.svg", tmp_path / "none.html"
    assert main(["paxos", "--svg", str(svg), "--html", str(page)]) == 0
    assert not svg.exists() and not page.exists()
    err = capsys.readouterr().err
    assert err == "paxoscope prove: every obligation proven, so no chart was written\n"


@pytest.mark.parametrize("option, other", [("--svg", "--explain"), ("--html", "--crosscheck")])
def test_prove_charts_do_not_go_with_explain_or_crosscheck(tmp_path, capsys, option, other):
    out = tmp_path / "chart"
    assert main([option, str(out), other]) == 2
    err = capsys.readouterr().err
    assert f"{option} draws a failed proof's counterexample" in err and other in err and err.count("\n") == 1
    assert not out.exists()


def test_a_counterexample_is_shown_in_one_form_whatever_names_z3_gave_its_acceptors_and_values():
    from paxoscope.proofs.concrete import canonical
    from paxoscope.proofs.paxos import V

    (a,) = L.variables("a", A)
    (v,) = L.variables("v", V)
    domains = {A: ["a1", "a2"], V: [None, "v1", "v2"]}
    relations = {
        "maxVal": {("a1", "v2"), ("a2", None)},
        "msg2b": {("a1", 0, "v2")},
        "member": {("a1", frozenset({"a1", "a2"})), ("a2", frozenset({"a1", "a2"}))},
    }
    swap = {"a1": "a2", "a2": "a1", "v1": "v2", "v2": "v1"}  # the mirror image

    def mirror(x):
        return frozenset(map(mirror, x)) if isinstance(x, frozenset) else swap.get(x, x)

    mirrored = {name: {tuple(map(mirror, t)) for t in ts} for name, ts in relations.items()}
    first = canonical(L.Structure(domains, {}, relations), {a: "a1", v: "v2"})
    second = canonical(L.Structure(domains, {}, mirrored), {a: "a2", v: "v1"})
    assert first[0].relations == second[0].relations and first[1] == second[1]
    assert first[0].domains == second[0].domains == domains
    # renaming keeps the counterexample: the vote is still for the value its acceptor holds, by the acceptor a names
    ((acc, _, val),) = first[0].relations["msg2b"]
    assert (acc, val) in first[0].relations["maxVal"] and first[1] == {a: acc, v: val}

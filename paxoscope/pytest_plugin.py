"""The pytest plugin: gate a protocol with nothing but ``pytest``.

Installing paxoscope registers this module through the ``pytest11`` entry
point, so every test can ask for the ``paxoscope`` fixture::

    def test_lock_is_safe(paxoscope):
        paxoscope.check(LockService(clients=2))   # fails the test with the trace

    def test_paxos_is_proven(paxoscope):
        paxoscope.prove()

    def test_implementation_conforms(paxoscope):
        paxoscope.conform(examples=100)

    def test_clients_see_a_linearizable_register(paxoscope):
        paxoscope.lincheck("history.edn", "cas-register")

Each method runs one engine; when the engine finds a counterexample the test
fails (``pytest.fail``, without a Python traceback) with the rendered trace
table and the failing property named; otherwise the method returns the
engine's result for further assertions.

pytest loads this module in every run of every project that has paxoscope
installed, so it imports nothing of paxoscope at load time: the explorer,
z3 and hypothesis are imported inside the methods that use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class Paxoscope:
    """What the ``paxoscope`` fixture gives a test: the engines, as assertions."""

    def check(self, spec: Any, properties: Any = None, strict: bool = False, **options: Any) -> Any:
        """Model-check ``spec`` (a Spec, a plain object with ``init``/``next``,
        or a name ``paxoscope.specs.load`` knows).

        ``options`` go to ``paxoscope.explorer.liveness.check`` (``symmetry``,
        ``max_states``, ``deadlock``, ...). The test fails on a violation, and
        also when the search stopped early ("incomplete"): a gate that passes
        on part of the state space would pass unnoticed. With ``strict``, it
        also fails when an action was never enabled or a ``sometimes``
        situation never witnessed (as ``check --strict``). Returns the Result."""
        from .explorer.bfs import SpecError
        from .explorer.liveness import check
        from .explorer.render import violation_text
        from .spec.constants import ConfigError
        from .specs import load, wants_deadlock

        try:
            if isinstance(spec, str):
                spec = load(spec)
            options.setdefault("deadlock", wants_deadlock(spec))
            result = check(spec, properties, **options)
        except (ConfigError, SpecError) as exc:
            pytest.fail(f"paxoscope check: {exc}", pytrace=False)
        if result.verdict == "ok" and strict and result.warnings:
            pytest.fail(
                f"paxoscope check {result.spec}: no property fails, but (strict) {'; '.join(result.warnings)}",
                pytrace=False,
            )
        if result.verdict == "ok":
            return result
        if result.verdict == "violation":
            pytest.fail("\n".join(violation_text(result, f"paxoscope check {result.spec}")), pytrace=False)
        pytest.fail(
            f"paxoscope check {result.spec}: {result.verdict.upper()} after {result.distinct_states:,} "
            "distinct states; no violation found, but not every reachable state was checked",
            pytrace=False,
        )

    def prove(self, spec: str = "paxos", bug: str | None = None) -> Any:
        """Discharge every proof obligation of ``spec``'s protocol's proof model (or of its gallery ``bug``).

        Fails the test unless every obligation is proven, with the proof
        report (each failed obligation and its counterexample as a trace
        table). Returns the proof Report."""
        from . import registry
        from .proofs.obligations import prove
        from .proofs.report import report_text
        from .spec.constants import ConfigError

        try:
            protocol = registry.protocol_of(spec)
            if protocol.proof is None or spec != protocol.specs[0].name:  # a proof models its protocol's first spec
                raise ConfigError(f"a proof model exists for the {registry.proof_specs()} specs only, not {spec!r}")
            if bug is not None:
                registry.variant(bug, protocol.name, part="proof")
            model = registry.resolve(protocol.proof)(bug)
        except ConfigError as exc:
            pytest.fail(f"paxoscope prove: {exc}", pytrace=False)
        report = prove(model)
        if report.verdict != "proven":
            pytest.fail(report_text(report), pytrace=False)
        return report

    def conform(
        self,
        acceptors: int = 3,
        values: int = 2,
        ballots: int = 2,
        examples: int = 200,
        seed: int | None = 0,
        bug: str | None = None,
    ) -> Any:
        """Run ``examples`` simulated schedules of the implementation against the spec.

        Fails the test on the first nonconformance, with the shrunk failure
        (the trace table up to the illegal step). Returns the ConformReport."""
        from . import registry
        from .impl.conformance import conform
        from .impl.paxos import SimConfig
        from .spec.constants import ConfigError

        if bug is not None:
            try:
                registry.variant(bug, "paxos", part="impl")
            except ConfigError as exc:
                pytest.fail(f"paxoscope conform: {exc}", pytrace=False)
        config = SimConfig(acceptors, values, ballots, frozenset([bug] if bug else []))
        with _hypothesis_home_elsewhere():
            report = conform(config, examples=examples, seed=seed)
        if report.verdict != "ok":
            schedule = f"\n\n  shrunk schedule: {report.schedule}" if report.schedule else ""
            pytest.fail(f"paxoscope conform: {report.failure}{schedule}", pytrace=False)
        return report

    def lincheck(self, history: Any, model: Any = "cas-register", timeout: float | None = None) -> Any:
        """Check that a client ``history`` is linearizable against a sequential ``model``.

        ``history`` is a file (Jepsen EDN, Jepsen log lines, paxoscope's JSON) or a list of events in the
        JSON form (``{"process": 0, "type": "invoke", "f": "write", "value": 3}``, ...); ``model`` a built-in
        model's name (``register``, ``cas-register``, ``kv``, ``lock``) or a ``Model``. Fails the test when it
        is not linearizable (with the smallest failing sub-history) or when ``timeout`` ran out. Returns the
        LincheckResult."""
        from os import PathLike

        from .explorer.histories import from_records, load
        from .explorer.linchart import result_text
        from .explorer.lincheck import LINEARIZABLE, check
        from .spec.constants import ConfigError

        try:
            if isinstance(history, (str, PathLike)):
                chosen, ops = load(history, model=model)
            else:
                chosen, ops = from_records(list(history), model)
        except (ConfigError, OSError) as exc:
            pytest.fail(f"paxoscope lincheck: {exc}", pytrace=False)
        result = check(chosen, ops, timeout)
        if result.verdict != LINEARIZABLE:
            pytest.fail("\n".join(result_text("paxoscope lincheck", result)), pytrace=False)
        return result


@contextmanager
def _hypothesis_home_elsewhere() -> Iterator[None]:
    """Hypothesis's caches in a temporary folder, not in the user's ./.hypothesis,
    as ``paxoscope conform`` keeps them: a test of the user's leaves nothing of ours
    behind. HYPOTHESIS_STORAGE_DIRECTORY, if set, is honoured, and a home folder the
    user's own tests chose is put back afterwards."""
    import os
    import tempfile

    from hypothesis import configuration

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    before = getattr(configuration, "__hypothesis_home_directory", None)
    with tempfile.TemporaryDirectory(prefix="paxoscope-hypothesis-") as home:
        configuration.set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(before)


@pytest.fixture
def paxoscope() -> Paxoscope:
    """Model checking, proofs and conformance runs that fail the test with the counterexample."""
    return Paxoscope()

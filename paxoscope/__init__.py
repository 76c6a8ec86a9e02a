"""paxoscope: make the correctness of consensus checkable.

The stable API, imported lazily so that ``paxoscope check`` never pays for
modules it does not use (z3 above all):

    from paxoscope import check, Paxos
    result = check(Paxos(acceptors=3, values=2, ballots=2))
    assert result.verdict == "ok"
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Spec": "paxoscope.spec.base",
    "Action": "paxoscope.spec.base",
    "Refinement": "paxoscope.spec.base",
    "action": "paxoscope.spec.base",
    "eventually": "paxoscope.spec.base",
    "leads_to": "paxoscope.spec.base",
    "always_eventually": "paxoscope.spec.base",
    "weak": "paxoscope.spec.base",
    "strong": "paxoscope.spec.base",
    "ConfigError": "paxoscope.spec.constants",
    "Paxos": "paxoscope.spec.paxos",
    "Voting": "paxoscope.spec.voting",
    "Consensus": "paxoscope.spec.consensus",
    "TwoPhase": "paxoscope.spec.twophase",
    "MultiPaxos": "paxoscope.spec.multipaxos",
    "Log": "paxoscope.spec.log",
    "BUGS": "paxoscope.spec.bugs",
    "check": "paxoscope.explorer.liveness",
    "CheckOptions": "paxoscope.explorer.bfs",
    "Observer": "paxoscope.explorer.bfs",
    "Result": "paxoscope.explorer.bfs",
    "Violation": "paxoscope.explorer.bfs",
    "SpecError": "paxoscope.explorer.bfs",
    "simulate": "paxoscope.explorer.simulate",
    "SimulateOptions": "paxoscope.explorer.simulate",
    "SimulationResult": "paxoscope.explorer.simulate",
    "Trace": "paxoscope.explorer.trace",
    "Step": "paxoscope.explorer.trace",
    "validate": "paxoscope.explorer.trace",
    "trace_table": "paxoscope.explorer.render",
    "load": "paxoscope.specs",
    "protocols": "paxoscope.registry",
    "protocol": "paxoscope.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'paxoscope' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

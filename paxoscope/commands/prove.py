"""``paxoscope prove``: prove a protocol safe for every size, or show why not.

A failed obligation's counterexample is printed as a trace table; ``--svg
FILE`` draws the first one as a message sequence chart and ``--html FILE``
writes a page with every failed obligation, its counterexample and (when the
pre-state is reachable) the run from Init, each as a table beside its chart.
The reports are ``proofs/report.py``'s.

Exit codes: 0 every obligation proven (or, with --crosscheck, the two
encodings agree; with --explain, always), 1 an obligation failed or is
unknown, a variant of the bug gallery (--bug) was proven (the model misses
the bug), or the cross-check found a difference, 2 bad usage.

This module imports nothing heavy at the top: ``paxoscope --help`` and
``paxoscope check`` must not pay for z3.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import registry
from ..console import EXIT_OK, EXIT_VIOLATION, ProgressLine, UsageError, out
from ..spec.constants import positive_seconds as _seconds

TIMEOUT_HELP = (
    "Z3 time per query (default 2; if Z3 gives up and no small universe has a counterexample, "
    "one retry with twice as long)"
)
CROSSCHECK_HELP = (
    "instead of proving: compare invariant values and successors on every reachable state of a configuration"
)
OUTPUT_OPTIONS: dict[str, dict[str, Any]] = {
    "--json": {"action": "store_true", "help": "print one JSON report on stdout"},
    "--junit": {"metavar": "FILE", "help": "write a JUnit XML report: one test case per obligation"},
    "--explain": {
        "action": "store_true",
        "help": "print the invariant in readable math, a sentence per conjunct (no proof)",
    },
    "--svg": {
        "metavar": "FILE",
        "help": "draw the counterexample to induction of the first failed obligation as a message sequence chart "
        "(SVG); nothing is written when every obligation is proven",
    },
    "--html": {
        "metavar": "FILE",
        "help": "write a self-contained page with a section per failed obligation: what failed, its counterexample "
        "and the run from Init (or why it is unreachable), each as a step table beside its chart",
    },
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prove`` subcommand to ``subparsers`` (argparse's)."""
    p = subparsers.add_parser(
        "prove",
        help="prove a protocol safe for every size (Z3): paxos, multipaxos, raft",
        description="Prove with Z3 that the inductive invariant of SPEC holds initially, is preserved by "
        "every action and implies its safety property (Paxos: Consistency, for every number of acceptors, "
        "ballots and values; Multi-Paxos: per-slot agreement and fresh reads, for every number of replicas, "
        "ballots and slots; Raft: election safety, for every number of servers and terms). Each "
        "obligation is reported on its own; a failed one is shown as a counterexample to induction, with "
        "the explorer's verdict on whether its pre-state is reachable (--svg and --html draw it as a message "
        "sequence chart).",
        epilog="SPEC: paxos, multipaxos or raft (Multi-Paxos: per-slot agreement for every number of replicas, ballots "
        "and slots, on a multi-instance voting model that --crosscheck checks against the executable spec; Raft: "
        "at most one leader per term, on a model of its elections). "
        "Exit codes: 0 every obligation proven "
        "(with --crosscheck: the encodings agree), 1 an obligation failed or is unknown, a --bug variant was "
        "proven (the model misses the bug) or, with --crosscheck, a difference, 2 bad usage or input, 3 internal "
        "error.",
    )
    p.add_argument("spec", nargs="?", default="paxos", metavar="SPEC", help="the spec to prove (default: paxos)")
    p.add_argument("--bug", metavar="NAME", help="prove a variant from the bug gallery (it must fail)")
    p.add_argument("--timeout", type=_seconds, default=2.0, metavar="SECONDS", help=TIMEOUT_HELP)
    out = p.add_argument_group("output")
    for flag, keywords in OUTPUT_OPTIONS.items():
        out.add_argument(flag, **keywords)
    cross = p.add_argument_group("cross-check of the proof model against the executable spec")
    cross.add_argument("--crosscheck", action="store_true", help=CROSSCHECK_HELP)
    added: set[str] = set()
    for protocol in _proven():
        for name, default in protocol.crosscheck_sizes:
            param = registry.params()[name]
            if param.flag in added:
                continue
            added.add(param.flag)
            prefix = "" if protocol is _proven()[0] else f"{protocol.specs[0].name}: "
            cross.add_argument(
                param.flag,
                dest=name,
                type=param.type,
                metavar=param.metavar,
                help=f"{prefix}{param.help} (default {default})",
            )
    return p


def _proven() -> list[registry.Protocol]:
    """The protocols with a proof model, in the registry's order (paxos, the default, first)."""
    return [p for p in registry.protocols() if p.proof is not None]


def _protocol(spec: str, bug: str | None) -> registry.Protocol:
    """The protocol whose proof model ``prove SPEC`` means; its variant ``bug`` must have a proof model."""
    protocol = registry.protocol_of(spec) if registry.is_builtin(spec) else None
    if protocol is None or protocol.proof is None or spec != protocol.specs[0].name:
        raise UsageError(f"prove has a proof model for the {registry.proof_specs()} specs only, not {spec!r}")
    if bug is not None:
        variant = registry.variant(bug, protocol.name, part=None)
        if "proof" not in variant.parts:
            reason = registry.resolve(protocol.no_proof).get(bug) if protocol.no_proof else None
            raise UsageError(f"{bug} has no proof variant" + (f": {reason}" if reason else ""))
    return protocol


def run(args: argparse.Namespace) -> int:
    """Run ``paxoscope prove`` with parsed ``args``; returns the exit code.
    Bad input raises ``ConfigError`` or ``UsageError``."""
    from ..proofs.report import explain_json, explain_text, gallery_proven, report_json, report_text

    protocol = _protocol(args.spec, args.bug)
    model = registry.resolve(protocol.proof)(args.bug)
    flags = {k: getattr(args, k, None) for p in _proven() for k, _ in p.crosscheck_sizes}
    given = [k for k, v in flags.items() if v is not None]
    if given and not args.crosscheck:
        raise UsageError(f"--{_flag(given[0])} sets the configuration of --crosscheck; a proof covers every size")
    foreign = [k for k in given if k not in dict(protocol.crosscheck_sizes)]
    if foreign:
        raise UsageError(f"--{_flag(foreign[0])} is no size of {args.spec}")
    sizes = {k: flags[k] for k in given}
    charts = [f"--{k}" for k in ("svg", "html") if getattr(args, k, None)]
    other = "--explain" if args.explain else "--crosscheck" if args.crosscheck else None
    if charts and other:
        raise UsageError(f"{charts[0]} draws a failed proof's counterexample, so it does not go with {other}")
    if args.explain:
        out(json.dumps(explain_json(model), indent=2) if args.json else explain_text(model))
        return EXIT_OK
    if args.crosscheck and protocol.crosscheck is None:
        raise UsageError(f"{args.spec}'s proof model has no cross-check against its executable spec")
    if args.crosscheck:
        return _crosscheck(model, protocol, args, {**dict(protocol.crosscheck_sizes), **sizes})
    from ..proofs.obligations import prove

    report = prove(model, timeout=args.timeout)
    # The verdict first: a file that cannot be written then costs the reader nothing.
    out(json.dumps(report_json(report), indent=2) if args.json else report_text(report))
    wrong = gallery_proven(report)
    if wrong:
        # On stderr beside --json, so that stdout stays one JSON document.
        if args.json:
            print(wrong, file=sys.stderr)
        else:
            out(wrong)
    if getattr(args, "junit", None):
        from ..proofs.report import write_junit

        write_junit(report, args.junit)
    if charts:
        from ..proofs.report import write_charts

        for note in write_charts(report, getattr(args, "svg", None), getattr(args, "html", None)):
            print(f"paxoscope prove: {note}", file=sys.stderr)
    return EXIT_OK if report.verdict == "proven" and not wrong else EXIT_VIOLATION


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _crosscheck(model: Any, protocol: registry.Protocol, args: argparse.Namespace, sizes: dict[str, int]) -> int:
    from ..proofs.crosscheck import report_json, report_text

    progress = None
    if ProgressLine.wanted() and not args.json:
        progress = ProgressLine(lambda p: f"  {p.states:,} states · queue {p.queue:,} · {p.seconds:.0f} s")
    try:
        report = registry.resolve(protocol.crosscheck)(model, sizes, progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    out(json.dumps(report_json(report), indent=2) if args.json else report_text(report))
    return EXIT_OK if report.ok else EXIT_VIOLATION

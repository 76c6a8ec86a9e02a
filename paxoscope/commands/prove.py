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

from ..console import EXIT_OK, EXIT_VIOLATION, ProgressLine, UsageError, out
from ..spec.constants import positive_int as _positive
from ..spec.constants import positive_seconds as _seconds

# With --crosscheck, Z3 itself also evaluates the proof's terms on every
# Z3_EVERY-th state (about a tenth of a second each).
Z3_EVERY = 1000
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
#: The specs with a proof model, and the cross-check's size flags of each (flag -> default).
SIZES = {
    "paxos": {"acceptors": 3, "values": 2, "ballots": 3},
    "multipaxos": {"replicas": 2, "writes": 1, "reads": 1, "max_ballot": 2},
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prove`` subcommand to ``subparsers`` (argparse's)."""
    p = subparsers.add_parser(
        "prove",
        help="prove the spec safe for every number of acceptors, ballots and values (Z3)",
        description="Prove with Z3 that the inductive invariant of SPEC holds initially, is preserved by "
        "every action and implies Consistency, for every number of acceptors, ballots and values. Each "
        "obligation is reported on its own; a failed one is shown as a counterexample to induction, with "
        "the explorer's verdict on whether its pre-state is reachable (--svg and --html draw it as a message "
        "sequence chart).",
        epilog="SPEC: paxos or multipaxos (Multi-Paxos: per-slot agreement for every number of replicas, ballots "
        "and slots, on a multi-instance voting model that --crosscheck checks against the executable spec). "
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
    for spec, sizes in SIZES.items():
        for name, default in sizes.items():
            kind, meaning = SIZE_FLAGS[name]
            prefix = "" if spec == "paxos" else f"{spec}: "
            cross.add_argument(
                f"--{_flag(name)}", type=kind, metavar="N", help=f"{prefix}{meaning} (default {default})"
            )
    return p


def _nonnegative(text: str) -> int:
    """A whole number of at least 0 (a configuration may have no reads)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, not {text!r}")
    return int(text)


#: What each size flag means, and its type.
SIZE_FLAGS = {
    "acceptors": (_positive, "acceptors a1..aN"),
    "values": (_positive, "values v1..vN"),
    "ballots": (_positive, "ballots 0..N-1"),
    "replicas": (_positive, "replicas s1..sN"),
    "writes": (_positive, "write commands"),
    "reads": (_nonnegative, "read commands"),
    "max_ballot": (_positive, "ballots 1..N"),
}


def _model(spec: str, bug: str | None) -> Any:
    if spec == "paxos":
        from ..proofs.paxos import model_for
    elif spec == "multipaxos":
        from ..proofs.multipaxos import model_for
    else:
        raise UsageError(f"prove has a proof model for the paxos and multipaxos specs only, not {spec!r}")
    return model_for(bug)


def run(args: argparse.Namespace) -> int:
    """Run ``paxoscope prove`` with parsed ``args``; returns the exit code.
    Bad input raises ``ConfigError`` or ``UsageError``."""
    from ..proofs.report import explain_json, explain_text, gallery_proven, report_json, report_text

    model = _model(args.spec, args.bug)
    flags = {k: getattr(args, k, None) for spec in SIZES.values() for k in spec}
    given = [k for k, v in flags.items() if v is not None]
    if given and not args.crosscheck:
        raise UsageError(f"--{_flag(given[0])} sets the configuration of --crosscheck; a proof covers every size")
    foreign = [k for k in given if k not in SIZES[args.spec]]
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
    if args.crosscheck:
        return _crosscheck(model, args, sizes)
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


def _crosscheck(model: Any, args: argparse.Namespace, sizes: dict[str, int]) -> int:
    from ..proofs.crosscheck import report_json, report_text

    progress = None
    if ProgressLine.wanted() and not args.json:
        progress = ProgressLine(lambda p: f"  {p.states:,} states · queue {p.queue:,} · {p.seconds:.0f} s")
    try:
        report = _run_crosscheck(model, args.spec, sizes, progress)
    finally:
        if progress is not None:
            progress.clear()
    out(json.dumps(report_json(report), indent=2) if args.json else report_text(report))
    return EXIT_OK if report.ok else EXIT_VIOLATION


def _run_crosscheck(model: Any, spec: str, sizes: dict[str, int], progress: Any) -> Any:
    if spec == "paxos":
        from ..proofs.crosscheck import crosscheck

        return crosscheck(model, **sizes, z3_every=Z3_EVERY, progress=progress)
    from ..proofs.crosscheck import crosscheck_abstraction
    from ..proofs.multipaxos import empty_structure, structure_of_spec, twin_spec

    executable = twin_spec(model, {**SIZES[spec], **sizes})
    return crosscheck_abstraction(model, executable, empty_structure(executable), structure_of_spec, progress=progress)

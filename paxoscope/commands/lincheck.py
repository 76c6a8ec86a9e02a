"""``paxoscope lincheck``: is a client history linearizable against a sequential model?"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..console import EXIT_OK, EXIT_VIOLATION, ProgressLine, UsageError, out
from ..explorer.histories import FORMATS, load
from ..explorer.lincheck import (
    MODELS,
    NOT_LINEARIZABLE,
    UNKNOWN_VERDICT,
    LincheckResult,
    Model,
    Operation,
    Progress,
    check,
    user_model,
)
from ..spec.constants import positive_seconds
from . import add_command, arg

_MODEL_HELP = (
    f"the sequential model: {', '.join(MODELS)}, or a user's file.py:Name or module:Name (default: inferred "
    "from the file)"
)


def add_parser(sub: Any) -> None:
    add_command(
        sub,
        "lincheck",
        "check that client histories are linearizable (Jepsen EDN, Jepsen logs, JSON)",
        "Search for an order of each history's operations, each taking effect between its call and its return, "
        "that the sequential MODEL explains. An operation whose outcome is unknown (Jepsen's :info) may take "
        "effect any time after its call, or never. Partitionable models (kv: by key) are checked per partition.",
        [
            arg("files", nargs="+", metavar="FILE", help="client histories, one verdict each"),
            arg("--model", metavar="NAME", help=_MODEL_HELP),
            arg("--format", choices=FORMATS, help="the history's format (default: from its suffix and first line)"),
            arg("--json", action="store_true", help="print a machine-readable report"),
            arg("--timeout", type=positive_seconds, metavar="S", help="give up on a history after S seconds"),
            arg("--svg", metavar="OUT", help="draw the history (the smallest failing sub-history) as SVG in OUT"),
            arg("--html", metavar="OUT", help="the same picture in a self-contained HTML page"),
            arg("--strict", action="store_true", help="exit 1 on an unknown verdict (a timeout) as well"),
        ],
        epilog="Exit codes: 0 linearizable (or unknown), 1 not linearizable, 2 bad input, 3 internal error.",
    )


def run(args: argparse.Namespace) -> int:
    if (args.svg or args.html) and len(args.files) > 1:
        raise UsageError("--svg and --html draw one history: give one FILE")
    results = []
    chosen = _model(args.model)
    for path in args.files:
        model, ops = load(path, args.format, chosen)
        line = ProgressLine(lambda p, path=path: _progress(path, p)) if ProgressLine.wanted() else None
        results.append((path, check(model, ops, args.timeout, progress=line)))
        if line is not None:
            line.clear()
    if args.json:
        reports = [report(path, r) for path, r in results]
        out(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        for path, r in results:
            show(path, r)
    _draw(args, results)
    failing = {NOT_LINEARIZABLE, UNKNOWN_VERDICT} if args.strict else {NOT_LINEARIZABLE}
    return EXIT_VIOLATION if any(r.verdict in failing for _, r in results) else EXIT_OK


def _progress(path: str, p: Progress) -> str:
    doing = "searching" if p.phase == "search" else "cutting down the failing sub-history of"
    return f"{path}: {doing} partition {p.partition}/{p.partitions}, {p.steps:,} configurations tried"


def _draw(args: argparse.Namespace, results: list[tuple[str, LincheckResult]]) -> None:
    from ..explorer import linchart

    for out_path, as_html in ((args.svg, False), (args.html, True)):
        if out_path:
            path, result = results[0]
            linchart.write(result, out_path, f"{path}: {result.verdict}", as_html)


def _model(name: str | None) -> str | Model | None:
    """A built-in model's name as it is; a user's ``file.py:Name`` or ``module:Name`` loaded."""
    if name is None or name in MODELS or ":" not in name:
        return name
    from ..specs import _load_object

    return user_model(name, _load_object(name))


def _op(op: Operation) -> dict[str, Any]:
    f, key, value = op.input
    return {
        "client": op.client,
        "f": f,
        "key": key,
        "value": list(value) if isinstance(value, tuple) else value,
        "output": None if op.pending else op.output,
        "pending": op.pending,
        "call": op.call,
        "return": None if op.ret == float("inf") else op.ret,
    }


def report(path: str, r: LincheckResult) -> dict[str, Any]:
    failure = r.failure
    return {
        "file": path,
        "verdict": r.verdict,
        "model": r.model,
        "operations": r.operations,
        "partitions": len(r.partitions),
        "seconds": round(r.seconds, 6),
        "failure": None
        if failure is None
        else {
            "operations": [
                {**_op(op), "states": None if states is None else list(states)}
                for op, states in zip(failure.operations, failure.states, strict=True)
            ],
            "linearizable_prefix": [_op(op) for op in failure.prefix],
            "state_after_prefix": failure.prefix_state,
            "unplaceable": None if failure.stuck is None else _op(failure.stuck),
            "minimal": failure.minimal,
        },
    }


def show(path: str, r: LincheckResult) -> None:
    from ..explorer.linchart import result_text

    for line in result_text(path, r):
        out(line)

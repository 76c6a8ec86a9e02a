"""``paxoscope check --simulate``: check a spec on random behaviours rather than on every state."""

from __future__ import annotations

import argparse
import json

from .. import console
from ..console import EXIT_VIOLATION, UsageError, out
from ..spec.constants import positive_int
from . import add_arguments, arg

DEFAULT_DEPTH, DEFAULT_TRACES = 100, 10_000

SIMULATE = [
    arg(
        "--simulate",
        action="store_true",
        help="check random behaviours instead of every reachable state, as TLC's -simulate: for configurations "
        "too big to explore; each step goes to one of the enabled successors, chosen uniformly, and every "
        "successor generated is checked",
    ),
    arg("--depth", type=positive_int, metavar="D", help=f"at most D states a behaviour (default {DEFAULT_DEPTH})"),
    arg("--traces", type=positive_int, metavar="N", help=f"draw N behaviours (default {DEFAULT_TRACES:,})"),
    arg("--seed", type=int, metavar="S", help="draw from seed S (default: a new seed, printed); same seed, same run"),
    arg(
        "--shorten",
        action="store_true",
        help="shorten a violation found: steps it can do without are left out, then breadth-first searches from "
        "its states and from the initial states look for a shorter trace to the same failure",
    ),
]

WORKERS = arg(
    "--workers",
    type=positive_int,
    metavar="N",
    help="with --simulate: N processes, each drawing its share of the behaviours; a seed gives the same result "
    "for any N",
)

# What only a simulation takes (argparse dests), and what a simulation cannot do.
FLAGS = ("simulate", "depth", "traces", "seed", "shorten")
_NOT_WITH_SIMULATE = ("graph", "max_states")


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("random simulation")
    add_arguments(group, SIMULATE)
    if "--workers" not in parser._option_string_actions:  # the exhaustive search may declare it first
        add_arguments(group, [WORKERS])


def asked(args: argparse.Namespace) -> bool:
    """Whether the command line is about a simulation: --simulate, or a flag only a simulation takes."""
    return any(getattr(args, name, None) not in (None, False) for name in FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..explorer.render import strict_failed
    from ..explorer.simulate import SimulateOptions, progress_text, simulate, simulation_json, simulation_text
    from .check import EXIT_CODES, load_spec, write_files

    _check_flags(args)
    spec, search = load_spec(args)
    progress = console.ProgressLine(progress_text) if console.ProgressLine.wanted() else None
    settings = SimulateOptions(
        properties=search["properties"],
        symmetry=search["symmetry"],
        exact=search["exact"],
        deadlock=search["deadlock"],
        progress=progress,
        depth=args.depth or DEFAULT_DEPTH,
        traces=args.traces or DEFAULT_TRACES,
        seed=args.seed,
        workers=getattr(args, "workers", None) or 1,
        shorten=args.shorten,
    )
    try:
        result = simulate(spec, settings)
    finally:
        if progress is not None:
            progress.clear()
    out(
        json.dumps(simulation_json(result, args.spec, args.strict), indent=2)
        if args.json
        else simulation_text(result, args.strict)
    )
    write_files(result, args)
    return EXIT_VIOLATION if strict_failed(result, args.strict) else EXIT_CODES[result.verdict]


def _check_flags(args: argparse.Namespace) -> None:
    if not args.simulate:
        given = next(f"--{name}" for name in FLAGS if getattr(args, name, None) not in (None, False))
        raise UsageError(f"{given} is for a simulation: add --simulate")
    for name in _NOT_WITH_SIMULATE:
        if getattr(args, name, None):
            raise UsageError(f"--simulate takes no --{name.replace('_', '-')}: a simulation does not visit every state")

"""``paxoscope check --simulate``: check a spec on random behaviours rather than on every state."""

from __future__ import annotations

import argparse

from ..console import UsageError
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

# What only a simulation takes (argparse dests), and what a simulation cannot do.
# --workers is declared with the search's own options (commands.workers), and means processes for both.
FLAGS = ("simulate", "depth", "traces", "seed", "shorten")
_NOT_WITH_SIMULATE = ("graph", "max_states", "ray", "spill")


def add_flags(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser.add_argument_group("random simulation"), SIMULATE)


def asked(args: argparse.Namespace) -> bool:
    """Whether the command line is about a simulation: --simulate, or a flag only a simulation takes."""
    return any(getattr(args, name, None) not in (None, False) for name in FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..explorer.simulate import SimulateOptions, progress_text, simulate, simulation_json, simulation_text
    from .check import explore_and_report, load_spec

    _check_flags(args)
    spec, search = load_spec(args)
    settings = SimulateOptions(
        properties=search["properties"],
        symmetry=search["symmetry"],
        exact=search["exact"],
        deadlock=search["deadlock"],
        depth=args.depth or DEFAULT_DEPTH,
        traces=args.traces or DEFAULT_TRACES,
        seed=args.seed,
        workers=args.workers or 1,
        shorten=args.shorten,
    )
    return explore_and_report(
        args,
        lambda progress: simulate(spec, settings, progress=progress),
        progress_text,
        simulation_json,
        simulation_text,
    )


def _check_flags(args: argparse.Namespace) -> None:
    if not args.simulate:
        given = next(f"--{name}" for name in FLAGS if getattr(args, name, None) not in (None, False))
        raise UsageError(f"{given} is for a simulation: add --simulate")
    for name in _NOT_WITH_SIMULATE:
        if getattr(args, name, None):
            raise UsageError(f"--simulate takes no --{name.replace('_', '-')}: a simulation does not visit every state")

"""``paxoscope check``'s options for exploring on more than one core: worker
processes, Ray actors, and parent links spilled to disk."""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from ..console import UsageError
from ..spec.constants import positive_int
from . import arg, options

FLAGS = [
    arg(
        "--workers",
        type=positive_int,
        metavar="N",
        help="explore with N worker processes (states shared out by fingerprint, level by level: the same counts "
        "and the same shortest counterexample as one process); with --max-states, the search stops after the "
        "round of steps that reaches N. With --simulate: N processes, each drawing its share of the behaviours (a seed "
        "gives the same result for any N)",
    ),
    arg(
        "--ray",
        metavar="ADDRESS",
        help="run the workers as Ray actors on the Ray cluster at ADDRESS (host:port, ray://host:port, or 'auto' "
        "for the one this machine is part of); --workers defaults to its CPUs. Needs: pip install 'paxoscope[ray]'",
    ),
    arg(
        "--spill",
        metavar="DIR",
        help="write the parent links of the states seen (what rebuilds a counterexample) to files in DIR instead "
        "of keeping them in memory; with the workers' engine (one worker unless --workers says more)",
    ),
]


DESTS = ("workers", "ray", "spill")


def wanted(args: argparse.Namespace) -> bool:
    return bool(args.workers or args.ray or args.spill)


def explore(spec: Any, args: argparse.Namespace, search: dict[str, Any], progress: Any) -> Any:
    """``check`` with the workers' engine; the same ``Result`` as one process."""
    from ..explorer.parallel import parallel_check
    from ..specs import load

    if args.graph:
        raise UsageError("--graph draws the state graph in one process: it does not go with --workers, --ray, --spill")
    # A Ray actor builds the spec anew from the same command line (a user's
    # spec file by its path) rather than receive the built tables.
    sizes, params = options.sizes_given(args), options.params(args.param)
    source = partial(load, args.spec, bug=args.bug, sizes=sizes, params=params, symmetry=args.symmetry)
    workers = args.workers or (None if args.ray else 1)
    where = {"workers": workers, "ray": args.ray, "spill": args.spill, "source": source}
    return parallel_check(spec, progress=progress, **where, **search)

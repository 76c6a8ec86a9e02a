"""``paxoscope pin``: record state spaces for ``check --against``."""

from __future__ import annotations

import argparse
from typing import Any

from ..console import EXIT_OK, out
from ..pins import keys
from . import add_command, arg, options


def add_parser(sub: Any) -> None:
    pin = add_command(
        sub,
        "pin",
        "record state spaces (verdict, states, depth, digest) for check --against",
        "Explore each CONFIG and record its verdict, distinct states, depth and a digest of the reachable set "
        "in FILE. `paxoscope check --against FILE` then fails when any of these moves.",
        [
            arg("file", metavar="FILE", help="the pin file to write (JSON)"),
            arg("configs", nargs="*", metavar="CONFIG", help="configurations to pin"),
        ],
        epilog=f"CONFIG: SPEC or SPEC:key=value,... (keys: {', '.join(keys())}, bug), e.g. paxos:ballots=2 "
        "twophase:rms=3 multipaxos:reads=0; a user's spec: file.py:Name or module:Name, with its sizes and "
        "constructor parameters after @ (file.py:Name@ballots=2,mode=fast) or from --param. Default: the "
        "built-in specs at small sizes.",
    )
    options.add_param_option(
        pin, "a constructor parameter for every user's spec among the CONFIGs (as in check); repeatable"
    )


def run(args: argparse.Namespace) -> int:
    from ..pins import label, pin

    entries = pin(args.file, args.configs, options.params(args.param))
    for e in entries:
        out(f"{label(e['config'])}: {e['verdict']}, {e['distinct_states']:,} states, depth {e['depth']}")
    out(f"pinned {len(entries)} state spaces in {args.file}; gate with: paxoscope check --against {args.file}")
    return EXIT_OK

"""``paxoscope``: the one command.

Each subcommand lives in a module of its own (``paxoscope.commands``, or
beside its engine for ``tour``, ``conform``, ``cluster`` and ``prove``); this
module builds the parser from them and runs one through the console.

Exit codes: 0 verified (or nothing failed within --max-states), 1 a property
fails (with a trace) or, with --strict, the verdict may be vacuous (with the
reason), 2 bad usage or bad input (one line on stderr), 3 an internal error,
130 interrupted (partial statistics are printed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import console
from .commands import bugs, check, lincheck, nemesis, pin, protocols
from .console import EXIT_USAGE, Parser, out
from .spec.constants import positive_int


def _version() -> str:
    """The installed distribution's version (what pip reports), else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paxoscope")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="paxoscope",
        description="Check the correctness of consensus: explore specs exhaustively, walk through the "
        "gallery of known-wrong variants, check the real implementation against the spec, and run it.",
        epilog="Exit codes: 0 verified, 1 a property fails, 2 bad usage or input, 3 internal error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    check.add_parser(sub)
    pin.add_parser(sub)
    bugs.add_parser(sub)
    protocols.add_parser(sub)
    lincheck.add_parser(sub)
    nemesis.add_parser(sub)
    from . import tour

    tour.add_parser(sub)
    from .commands import cluster, conform

    conform.add_parser(sub, positive_int)
    cluster.add_parsers(sub)
    from .commands import kv

    kv.add_parsers(sub)
    from .commands import prove  # z3 is imported only when `prove` runs

    prove.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return console.run(f"paxoscope {args.command}", lambda: _dispatch(args))


_OWN = {
    "check": check.run,
    "pin": pin.run,
    "bugs": bugs.run,
    "protocols": protocols.run,
    "lincheck": lincheck.run,
    "nemesis": nemesis.run,
}


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in _OWN:
        return _OWN[args.command](args)
    if args.command == "tour":
        from . import tour

        return tour.run(args, out=out)
    if args.command == "conform":
        from .commands import conform

        # The random schedules run two ballots more than the walk unless told otherwise.
        schedule_ballots = args.schedule_ballots or args.ballots + 2
        _refuse_what_cannot_fit(args.acceptors, args.values, max(args.ballots, schedule_ballots))
        return conform.run(args, out=out)
    if args.command == "prove":
        from .commands import prove

        if args.crosscheck and args.spec == "paxos":  # the cross-check builds the executable spec of its sizes
            _refuse_what_cannot_fit(args.acceptors or 3, args.values or 2, args.ballots or 3)
        return prove.run(args)
    if args.command in ("cluster", "propose"):
        from .commands import cluster

        return cluster.run(args, out=out)
    if args.command in ("kv", "lock"):
        from .commands import kv

        return kv.run(args, out=out)
    raise AssertionError(args.command)


def _refuse_what_cannot_fit(acceptors: int, values: int, ballots: int) -> None:
    """Refuse (ConfigError) Paxos sizes whose tables cannot fit, for a command that builds them itself."""
    from .sizing import check_fits

    with check_fits("paxos", {"acceptors": acceptors, "values": values, "ballots": ballots}):
        pass


if __name__ == "__main__":
    sys.exit(main())

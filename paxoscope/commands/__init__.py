"""The commands of ``paxoscope``: argparse and printing, one module a command, over the engines.

A command module declares its arguments as data (``arg``) and adds itself with
``add_command``, so that parsers read as tables rather than repeated calls."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

Argument = tuple[tuple[str, ...], dict[str, Any]]


def arg(*flags: str, **how: Any) -> Argument:
    """One argument: its flags (or name) and what ``add_argument`` is told about it."""
    return flags, how


def add_arguments(parser: Any, arguments: Iterable[Argument]) -> None:
    for flags, how in arguments:
        parser.add_argument(*flags, **how)


def add_command(
    sub: Any,
    name: str,
    summary: str,
    description: str,
    arguments: Iterable[Argument] = (),
    groups: Mapping[str, Iterable[Argument]] | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """The subcommand ``name`` with its ``arguments``, then its argument ``groups`` (title -> arguments)."""
    parser = sub.add_parser(name, help=summary, description=description, epilog=epilog)
    add_arguments(parser, arguments)
    for title, group in (groups or {}).items():
        add_arguments(parser.add_argument_group(title), group)
    return parser

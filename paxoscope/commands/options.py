"""Options more than one command takes: the size flags the registry declares, and --param."""

from __future__ import annotations

import argparse
from typing import Any

from .. import registry
from ..console import UsageError


def add_size_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per declared parameter, in a group per protocol; a flag two specs share appears once."""
    added: set[str] = set()
    for protocol in registry.protocols():
        group = None
        for param in _params_of(protocol):
            if param.flag in added:
                continue
            added.add(param.flag)
            if group is None:
                specs = ", ".join(s.name for s in protocol.specs)
                group = parser.add_argument_group(f"configuration of {protocol.name} ({specs})")
            if param.switch:  # given: True; not given: None, as every size not given
                group.add_argument(param.flag, dest=param.name, action="store_const", const=True, help=param.help)
                continue
            group.add_argument(
                param.flag,
                dest=param.name,
                type=param.type,
                metavar=param.metavar,
                action="append" if param.repeat else "store",
                help=_help(param),
            )


def _params_of(protocol: registry.Protocol) -> list[registry.Param]:
    seen: dict[str, registry.Param] = {}
    for spec in protocol.specs:
        for param in spec.params:
            seen.setdefault(param.flag, param)
    return list(seen.values())


def _help(param: registry.Param) -> str:
    """The declared help, with the specs that take the flag and their defaults."""
    takers = [(s.name, s.defaults()[param.name]) for p in registry.protocols() for s in p.specs if param in s.params]
    defaults = {d for _, d in takers if d is not None}
    where = ", ".join(name for name, _ in takers)
    if len(defaults) == 1:
        return f"{param.help} ({where}; default {defaults.pop()})"
    if defaults:
        return f"{param.help} ({where}; default " + ", ".join(f"{d} for {n}" for n, d in takers) + ")"
    return f"{param.help} ({where})"


def sizes_given(args: argparse.Namespace) -> dict[str, Any]:
    """The declared parameters as the command line set them (None: not given)."""
    return {name: getattr(args, name, None) for name in registry.params()}


def given_flag(args: argparse.Namespace, names: tuple[str, ...]) -> str | None:
    """The first of the size flags and of ``names`` (other options' dests) that was given, as typed."""
    for name in (*registry.params(), *names):
        if getattr(args, name, None):
            return registry.flag_of(name) if name in registry.params() else f"--{name.replace('_', '-')}"
    return None


def add_param_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--param", action="append", type=_param, metavar="NAME=VALUE", help=help)


def _param(text: str) -> tuple[str, str]:
    """NAME=VALUE, checked now (so a typo is a usage error naming it) and kept as text:
    the pin file records what the user wrote, and ``specs.param_value`` reads it."""
    from ..specs import param_value

    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. n=3 or mode=fast)")
    try:
        param_value(name, value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, value


def params(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    """The --param pairs as a mapping; a name given twice is a usage error."""
    out: dict[str, str] = {}
    for name, value in pairs or ():
        if name in out:
            raise UsageError(f"--param {name} is given twice")
        out[name] = value
    return out

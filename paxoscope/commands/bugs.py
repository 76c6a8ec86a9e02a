"""``paxoscope bugs``: the gallery of known-wrong variants, grouped by protocol."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from .. import registry
from ..console import EXIT_OK, out
from . import add_command, arg

WIDTH = 88


def add_parser(sub: Any) -> None:
    add_command(
        sub,
        "bugs",
        "list the gallery of known-wrong variants of each protocol",
        "List the bug gallery, grouped by protocol; with a PROTOCOL, that protocol's; with a NAME, explain that "
        "variant. Each variant exists in the spec, the proof model or the implementation, or several.",
        [
            arg("name", nargs="?", metavar="NAME", help="explain this variant, or list this protocol's"),
            arg(
                "--json",
                action="store_true",
                help="print JSON: a list of {name, summary, protocol, parts}, or the variant, explained",
            ),
        ],
    )


def run(args: argparse.Namespace) -> int:
    names = [p.name for p in registry.protocols()]
    if args.name is not None and args.name not in names:
        return explain(args.name, args.json)
    scope = [registry.protocol(args.name)] if args.name is not None else list(registry.protocols())
    listed = [(p, list(p.variants().values())) for p in scope]
    if args.json:
        out(json.dumps([summary_json(v) for _, variants in listed for v in variants], indent=2))
        return EXIT_OK
    out(listing_text([(p, variants) for p, variants in listed if variants or args.name is not None]))
    return EXIT_OK


def explain(name: str, as_json: bool) -> int:
    found = registry.variants_named(name)
    if not found:
        registry.variant(name, part=None)  # raises: unknown, naming the gallery
    if as_json:  # one object, or a list of them for a name that several protocols use
        out(json.dumps(story_json(found[0]) if len(found) == 1 else [story_json(v) for v in found]))
    else:
        out("\n\n".join(story_text(v) for v in found))
    return EXIT_OK


def summary_json(v: registry.Variant) -> dict[str, Any]:
    return {"name": v.name, "summary": v.summary, "protocol": v.protocol, "parts": list(v.parts)}


def story_json(v: registry.Variant) -> dict[str, Any]:
    return {**summary_json(v), "explanation": v.explanation, "fix": v.fix}


def listing_text(groups: list[tuple[registry.Protocol, list[registry.Variant]]]) -> str:
    every = [v for _, variants in groups for v in variants]
    width = max((len(v.name) for v in every), default=0)
    parts_width = max((len(_parts(v)) for v in every), default=0)
    lines = []
    for protocol, variants in groups:
        lines.append(f"{protocol.name}: {protocol.summary}")
        lines += [f"  {v.name:<{width}}  {_parts(v):<{parts_width}}  {v.summary}" for v in variants]
        lines += [] if variants else ["  (no variants)"]
        lines.append("")
    lines.append(
        "explain one: paxoscope bugs NAME · catch one: paxoscope check|prove|conform --bug NAME (spec|proof|impl)"
    )
    return "\n".join(lines)


def _parts(v: registry.Variant) -> str:
    return "+".join(v.parts)


def story_text(v: registry.Variant) -> str:
    lines = [f"{v.name}: {v.summary}", ""]
    if v.explanation:
        lines += [textwrap.fill(v.explanation, width=WIDTH), ""]
    if v.fix:
        lines += [f"fix: {v.fix}", ""]
    where = " and ".join(registry.PART_WORDS[p] for p in v.parts)
    lines.append(f"a variant of {v.protocol}, in its {where}")
    commands = v.commands()
    lines.append(f"see it fail: {commands[0]}")
    lines += [f"             {c}" for c in commands[1:]]
    return "\n".join(lines)

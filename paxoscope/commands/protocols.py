"""``paxoscope protocols``: what is registered, and which parts each protocol has."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import registry
from ..console import EXIT_OK, out
from . import add_command, arg


def add_parser(sub: Any) -> None:
    add_command(
        sub,
        "protocols",
        "list the registered protocols: their specs and flags, variants, and parts",
        "List every registered protocol: its specs with the flags that size them, how many known-wrong "
        "variants it has (in its spec, proof model and implementation), and which parts it has: spec, proof "
        "(paxoscope prove), impl (conform, cluster), chart (its own message sequence charts), tour (a guided "
        "walk through its gallery).",
        [arg("--json", action="store_true", help="print a JSON list, one object per protocol")],
    )


def run(args: argparse.Namespace) -> int:
    entries = [protocol_json(p) for p in registry.protocols()]
    out(json.dumps(entries, indent=2) if args.json else protocols_text(entries))
    return EXIT_OK


def protocol_json(p: registry.Protocol) -> dict[str, Any]:
    variants = p.variants().values()
    return {
        "name": p.name,
        "summary": p.summary,
        "specs": [
            {
                "name": s.name,
                "summary": s.summary,
                "flags": [
                    {"flag": a.flag, "name": a.name, "default": a.default, "metavar": a.metavar, "help": a.help}
                    for a in s.params
                ],
            }
            for s in p.specs
        ],
        "variants": len(variants),
        "variants_in": {part: sum(part in v.parts for v in variants) for part in registry.PARTS},
        "parts": p.has(),
    }


def protocols_text(entries: list[dict[str, Any]]) -> str:
    width = max(len(e["name"]) for e in entries)
    spec_width = max(len(s["name"]) for e in entries for s in e["specs"])
    pad = " " * (width + 2)
    lines = []
    for e in entries:
        lines.append(f"{e['name']:<{width}}  {e['summary']}")
        for s in e["specs"]:
            flags = " ".join(f"{f['flag']} {f['metavar']}".strip() for f in s["flags"])
            lines.append(f"{pad}spec {s['name']:<{spec_width}}  {flags}".rstrip())
        counts = ", ".join(f"{n} in the {registry.PART_WORDS[part]}" for part, n in e["variants_in"].items() if n)
        lines.append(f"{pad}variants: {e['variants'] or 'none'}{f' ({counts})' if counts else ''}")
        lines.append(f"{pad}parts: {', '.join(part for part, has in e['parts'].items() if has)}")
    lines.append("\nits variants: paxoscope bugs PROTOCOL · check a spec: paxoscope check SPEC")
    return "\n".join(lines)

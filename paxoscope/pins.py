"""Pinned state spaces: the drift gate.

``paxoscope pin FILE [CONFIG...]`` records, per spec and configuration, the
verdict, the number of distinct states, the depth and a digest of the
reachable set. ``paxoscope check --against FILE`` explores them again and
fails when anything moved: an edit that keeps every invariant green but
makes a guard too strong, or an action unreachable, shrinks the state space,
and that is what this catches.

A CONFIG is ``SPEC`` or ``SPEC:key=value,...`` with the keys of ``check``'s
size options and ``bug``: ``paxos:ballots=2``, ``paxos:bug=promise-not-kept``,
``twophase:rms=3``, ``path/to/file.py:Name`` (a user's spec; its sizes go
after a ``@``: ``file.py:Name@ballots=2``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .spec.constants import ConfigError

FORMAT = 1
KEYS = ("acceptors", "values", "ballots", "rms")

# What paxoscope's own CI pins: every built-in spec, at sizes that take seconds.
BUILTIN = (
    "paxos:ballots=1",
    "paxos:ballots=2",
    "paxos:acceptors=4,values=1,ballots=2",
    "voting:ballots=2",
    "consensus:values=3",
    "twophase:rms=3",
    "tcommit:rms=3",
)


def parse_config(text: str) -> dict[str, Any]:
    """``SPEC[:k=v,...]`` (or ``file.py:Name[@k=v,...]``) as {"spec", "bug", sizes...}."""
    if "@" in text or text.endswith(".py") or "/" in text.split(":")[0] or text.count(":") > 1:
        spec, _, rest = text.partition("@")
    else:
        spec, _, rest = text.partition(":")
    out: dict[str, Any] = {"spec": spec}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in (*KEYS, "bug"):
            raise ConfigError(f"configuration {text!r}: {item!r} is not one of {', '.join((*KEYS, 'bug'))}=VALUE")
        if key == "bug":
            out["bug"] = value
        else:
            try:
                out[key] = int(value)
            except ValueError:
                raise ConfigError(f"configuration {text!r}: {key} must be a whole number, not {value!r}") from None
    return out


def label(config: dict[str, Any]) -> str:
    sizes = ",".join(f"{k}={v}" for k, v in config.items() if k != "spec")
    return config["spec"] + (f" ({sizes})" if sizes else "")


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """Explore one configuration and return what a pin records."""
    from .explorer.bfs import check
    from .specs import load

    sizes = {k: config[k] for k in KEYS if k in config}
    spec = load(config["spec"], bug=config.get("bug"), sizes=sizes)
    r = check(spec, digest=True)
    violated = r.violation.property if r.violation else None
    return {
        "verdict": r.verdict,
        "violated": violated,
        "distinct_states": r.distinct_states,
        "depth": r.depth,
        "digest": r.digest,
    }


def pin(path: str, configs: list[str]) -> list[dict[str, Any]]:
    entries = []
    for text in configs or BUILTIN:
        config = parse_config(text)
        entries.append({"config": config, **measure(config)})
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT, "pins": entries}, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)  # a half-written pin file would fail every later gate
    return entries


def load_pins(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"no such pin file: {path} (write one with: paxoscope pin {path})") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a pin file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("pins"), list):
        raise ConfigError(f"{path} is not a pin file of format {FORMAT}")
    for entry in doc["pins"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict) or "spec" not in entry["config"]:
            raise ConfigError(f"{path}: a pin without a configuration: {entry!r}")
    return doc["pins"]


def compare(path: str, only_spec: str | None = None) -> list[tuple[str, list[str]]]:
    """(label, what moved) for every pin in ``path``; an empty list: nothing moved."""
    out = []
    for entry in load_pins(path):
        config = entry["config"]
        if only_spec is not None and config["spec"] != only_spec:
            continue
        now = measure(config)
        moved = []
        for key in ("verdict", "violated", "distinct_states", "depth"):
            if entry.get(key) != now[key]:
                old, new = entry.get(key), now[key]
                if isinstance(old, int) and isinstance(new, int):
                    moved.append(f"{key.replace('_', ' ')}: {old:,} → {new:,} ({new - old:+,})")
                else:
                    moved.append(f"{key.replace('_', ' ')}: {old} → {new}")
        if entry.get("digest") != now["digest"]:
            moved.append("the reachable set changed (digest)")
        out.append((label(config), moved))
    return out

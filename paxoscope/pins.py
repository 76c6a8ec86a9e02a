"""Pinned state spaces: the drift gate.

``paxoscope pin FILE [CONFIG...]`` records, per spec and configuration, the
verdict, the number of distinct states, the depth and a digest of the
reachable set. ``paxoscope check --against FILE`` explores them again and
fails when anything moved: an edit that keeps every invariant green but
makes a guard too strong, or an action unreachable, shrinks the state space,
and that is what this catches.

A CONFIG is ``SPEC`` or ``SPEC:key=value,...`` with the keys of ``check``'s
size options and ``bug``: ``paxos:ballots=2``, ``paxos:bug=promise-not-kept``,
``twophase:rms=3``, ``path/to/file.py:Name`` or ``module:Name`` (a user's
spec; its sizes and constructor parameters go after a ``@``:
``file.py:Name@ballots=2,mode=fast``, or come from ``--param NAME=VALUE``
for a value with a comma; they are recorded as typed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from . import registry
from .spec.constants import ConfigError

FORMAT = 1


def keys() -> tuple[str, ...]:
    """The sizes a pin may set: every declared parameter a single value sets (``--quorum`` is a list)."""
    return tuple(name for name, param in registry.params().items() if not param.repeat)


# What paxoscope's own CI pins: every built-in spec, at sizes that take seconds.
BUILTIN = (
    "paxos:ballots=1",
    "paxos:ballots=2",
    "paxos:ballots=3",  # votes at several ballots reported together: "highest" and "first" differ
    "paxos:acceptors=4,values=1,ballots=2",
    "voting:ballots=2",
    "consensus:values=3",
    "twophase:rms=3",
    "tcommit:rms=3",
    "multipaxos:replicas=3,reads=0",
    "multipaxos:replicas=2,writes=1,reads=1",
    "raft:servers=2,values=1,max_term=2,max_log=1,max_copies=1,max_in_flight=2",  # MCraft_2s_t2_l1_m2.cfg
)


def _is_builtin_ref(text: str) -> bool:
    return registry.is_builtin(text.partition(":")[0])


def parse_config(text: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """``SPEC[:k=v,...]`` (or a user's ``file.py:Name[@k=v,...]`` or
    ``module:Name[@k=v,...]``) as {"spec", "bug", sizes..., "params"}.

    ``params`` (NAME -> VALUE as typed after --param) apply to a user's spec
    and are recorded as typed, so the pin file says what the command line said."""
    if _is_builtin_ref(text) and "@" not in text:
        spec, _, rest = text.partition(":")
    else:
        spec, _, rest = text.partition("@")
        if ":" not in spec:
            raise ConfigError(
                f"configuration {text!r}: unknown spec {spec!r}; built in: {', '.join(registry.spec_names())}; "
                "or a user's spec as file.py:Name or module:Name"
            )
    out: dict[str, Any] = {"spec": spec}
    user = not _is_builtin_ref(spec)
    named: dict[str, str] = {}
    sizes = keys()
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if user and eq and key.isidentifier() and key not in (*sizes, "bug"):
            named[key] = value  # a constructor parameter of the user's spec, as --param gives it
            _check_param(text, key, value)
            continue
        if not eq or key not in (*sizes, "bug"):
            raise ConfigError(f"configuration {text!r}: {item!r} is not one of {', '.join((*sizes, 'bug'))}=VALUE")
        out[key] = value if key == "bug" else _size(text, registry.params()[key], value)
    for key in set(named) & set(params or {}):
        raise ConfigError(f"configuration {text!r}: {key} is given both after @ and as --param")
    if user and (named or params):
        out["params"] = {**named, **(params or {})}
    return out


def _size(text: str, param: registry.Param, value: str) -> Any:
    """A size as its flag reads it, in a configuration's words when it is wrong."""
    import argparse

    try:
        return param.type(value)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise ConfigError(f"configuration {text!r}: {param.name}: {exc}") from None


def _check_param(text: str, key: str, value: str) -> None:
    from .specs import param_value

    try:
        param_value(key, value)
    except ValueError as exc:
        raise ConfigError(f"configuration {text!r}: {exc}") from None


def label(config: dict[str, Any]) -> str:
    sizes = [f"{k}={v}" for k, v in config.items() if k not in ("spec", "params")]
    sizes += [f"{k}={v}" for k, v in config.get("params", {}).items()]
    return config["spec"] + (f" ({','.join(sizes)})" if sizes else "")


@dataclass
class Compared:
    """One pin explored again: what moved (empty: nothing), and why a strict gate would fail it."""

    label: str
    config: dict[str, Any]
    moved: list[str]
    warnings: list[str]
    measured: dict[str, Any]
    seconds: float


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """Explore one configuration and return what a pin records."""
    return _explore(config)[0]


def _explore(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    from .explorer.bfs import check
    from .specs import load, wants_deadlock

    sizes = {k: config[k] for k in keys() if k in config}
    params = config.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise ConfigError(f"pin {label(config)}: params must map names to the text given after --param")
    spec = load(config["spec"], bug=config.get("bug"), sizes=sizes, params=params)
    r = check(spec, digest=True, deadlock=wants_deadlock(spec))
    violated = r.violation.property if r.violation else None
    measured = {
        "verdict": r.verdict,
        "violated": violated,
        "distinct_states": r.distinct_states,
        "depth": r.depth,
        "digest": r.digest,
    }
    return measured, r.warnings if r.verdict == "ok" else []


def pin(path: str, configs: list[str], params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    if params and not any(not _is_builtin_ref(text) for text in configs):
        raise ConfigError(f"--param {next(iter(params))} is for a user's spec (file.py:Name), and no CONFIG names one")
    entries = []
    for text in configs or BUILTIN:
        config = parse_config(text, params)
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


def compare(path: str, only_spec: str | None = None, params: dict[str, str] | None = None) -> list[Compared]:
    """Every pin in ``path`` (those of ``only_spec``, with ``params``, if given) explored again."""
    import time

    out = []
    pins = load_pins(path)
    for entry in pins:
        config = entry["config"]
        if only_spec is not None and config["spec"] != only_spec:
            continue
        if params and config.get("params") != params:
            continue
        started = time.perf_counter()
        now, warnings = _explore(config)
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
        out.append(Compared(label(config), config, moved, warnings, now, time.perf_counter() - started))
    if not out:  # a gate over nothing would pass whatever changed
        wanted = f" of {only_spec}" if only_spec else ""
        raise ConfigError(f"{path} pins no configuration{wanted}{' with these --param values' * bool(params)}")
    return out


# ---------------------------------------------------------------------------
# The gate's report: text and JSON
# ---------------------------------------------------------------------------


def vacuous(results: list[Compared], strict: bool) -> list[Compared]:
    """The pins a strict gate fails for a verdict that may be vacuous."""
    return [r for r in results if strict and r.warnings]


def report_text(results: list[Compared], strict: bool) -> str:
    lines = []
    for r in results:
        lines.append(f"{'MOVED' if r.moved else 'same '}  {r.label}")
        lines += [f"       {line}" for line in r.moved]
        lines += [f"       --strict: {line}" for line in (r.warnings if strict else ())]
    moved = [r for r in results if r.moved]
    if moved:
        lines.append(
            f"\n{len(moved)} of {len(results)} pinned state spaces moved (re-pin with paxoscope pin if intended)"
        )
    elif vacuous(results, strict):
        lines.append(
            f"\nFAILED (--strict): {len(vacuous(results, strict))} of {len(results)} pinned state spaces may be vacuous"
        )
    else:
        lines.append(f"\nall {len(results)} pinned state spaces are as pinned")
    return "\n".join(lines)


def report_json(path: str, results: list[Compared], strict: bool, seconds: float) -> dict[str, Any]:
    moved = sum(bool(r.moved) for r in results)
    return {
        "verdict": "moved" if moved else "vacuous" if vacuous(results, strict) else "ok",
        "against": path,
        "pins": [
            {"label": r.label, "config": r.config, "moved": r.moved, "warnings": r.warnings, **r.measured}
            for r in results
        ],
        "moved": moved,
        "strict": strict,
        "seconds": round(seconds, 4),
    }

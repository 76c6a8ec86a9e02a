"""``paxoscope kv`` and ``paxoscope lock``: the replicated key-value and lock
service of a Multi-Paxos cluster (``paxoscope cluster start --protocol multipaxos``).

    paxoscope kv put KEY VALUE [--data DIR]     prints the value it replaced
    paxoscope kv get KEY                        prints the value
    paxoscope kv delete KEY
    paxoscope kv cas KEY OLD NEW
    paxoscope lock acquire NAME [--ttl S] [--session ID]
    paxoscope lock release NAME [--session ID]

Exit codes: 0 done; 1 the command did not do what was asked (no such key,
cas found another value, the lock is held by another session) or its outcome
is unknown (no answer within --timeout: it may have taken effect); 2 bad
usage, no cluster, or a cluster that is no Multi-Paxos one; 3 internal error.
The client is ``impl.multipaxos.client.KVClient``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .. import console
from ..console import EXIT_OK, EXIT_VIOLATION, Out
from ..impl.clusterfile import ClusterError, load
from ..spec.constants import positive_seconds as _seconds
from .cluster import _add_data

# op -> (its arguments' names, its help)
KV_OPS = {
    "put": (("key", "value"), "set KEY to VALUE; prints the value it replaced"),
    "get": (("key",), "print KEY's value"),
    "delete": (("key",), "remove KEY"),
    "cas": (("key", "old", "new"), "set KEY to NEW if it holds OLD"),
}
LOCK_OPS = {
    "acquire": (("name",), "take lock NAME for a session, for --ttl seconds unless the session renews it"),
    "release": (("name",), "give lock NAME up"),
}
DEFAULT_SESSION = "cli"


def _common(parser: argparse.ArgumentParser) -> None:
    _add_data(parser)
    parser.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help="seconds to wait (default: 10)")
    parser.add_argument("--json", action="store_true", help="print {op, args, result, seconds} as JSON")


def add_parsers(subparsers: Any) -> None:
    for command, ops, what in (("kv", KV_OPS, "key-value store"), ("lock", LOCK_OPS, "lock service")):
        parser = subparsers.add_parser(
            command,
            help=f"use the replicated {what} of a Multi-Paxos cluster",
            description=f"The replicated {what} of a cluster started with --protocol multipaxos. The client "
            "finds the leader and fails over to another replica by itself; a retried command is applied once.",
            epilog="Exit codes: 0 done, 1 not done as asked (or no answer in time: the outcome is unknown), "
            "2 bad usage or no such cluster, 3 internal error.",
        )
        actions = parser.add_subparsers(dest="kv_op", metavar="OP", parser_class=type(parser))
        actions.required = True
        for op, (names, summary) in ops.items():
            action = actions.add_parser(op, help=summary, description=summary[0].upper() + summary[1:] + ".")
            for name in names:
                action.add_argument(name, metavar=name.upper())
            if command == "lock":
                if op == "acquire":
                    lease = "the lease in seconds (default 10)"
                    action.add_argument("--ttl", type=_seconds, default=10.0, metavar="S", help=lease)
                action.add_argument(
                    "--session",
                    default=DEFAULT_SESSION,
                    metavar="ID",
                    help=f"the session that holds the lock (default: {DEFAULT_SESSION})",
                )
            _common(action)


def run(args: argparse.Namespace, out: Out = console.out) -> int:
    from ..impl.multipaxos.client import Definite, Indeterminate, KVClient

    cluster = load(args.data)
    if cluster.protocol != "multipaxos":
        raise ClusterError(
            f"{args.data} holds a {cluster.protocol} cluster; the {args.command} commands need one started with "
            "--protocol multipaxos"
        )
    names, _ = {**KV_OPS, **LOCK_OPS}[args.kv_op]
    values: list[Any] = [getattr(args, n) for n in names]
    if args.kv_op == "acquire":
        values.append(args.ttl)
    session = getattr(args, "session", None)
    # Request ids only grow, across invocations too, so a session can span several commands.
    client = KVClient(args.data, client_id=session, timeout=args.timeout, first_rid=time.time_ns() // 1000)
    t0 = time.monotonic()
    try:
        result = client.call(args.kv_op, *values)
    except Indeterminate as exc:
        print(f"paxoscope {args.command} {args.kv_op}: the outcome is unknown: {exc}", file=sys.stderr)
        return EXIT_VIOLATION
    except Definite as exc:
        print(f"paxoscope {args.command} {args.kv_op}: not done: {exc}", file=sys.stderr)
        return EXIT_VIOLATION
    finally:
        client.close()
    if args.json:
        doc = {"op": args.kv_op, "args": values, "result": result, "seconds": round(time.monotonic() - t0, 4)}
        out(json.dumps(doc))
        return EXIT_OK if _done(args.kv_op, result) else EXIT_VIOLATION
    line, done = _say(args, result)
    out(line)
    return EXIT_OK if done else EXIT_VIOLATION


def _done(op: str, result: Any) -> bool:
    return result is not False and not (op == "get" and result is None)


def _say(args: argparse.Namespace, result: Any) -> tuple[str, bool]:
    op = args.kv_op
    if op == "get":
        return (result, True) if result is not None else (f"{args.key}: no such key", False)
    if op == "put":
        return (f"ok (was {result!r})" if result is not None else "ok (new key)"), True
    if op == "delete":
        return ("deleted", True) if result else (f"{args.key}: no such key", False)
    if op == "cas":
        return ("ok", True) if result else (f"{args.key} does not hold {args.old!r}: not changed", False)
    if op == "acquire":
        held = f"acquired {args.name} for session {args.session} (lease {args.ttl:g} s)"
        return (held, True) if result else (f"{args.name} is held by another session", False)
    return (f"released {args.name}", True) if result else (f"{args.name} is not held by session {args.session}", False)

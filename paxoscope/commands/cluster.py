"""``paxoscope cluster start/stop/status/restart/rejoin`` and ``paxoscope propose``.

    paxoscope cluster start [--nodes 3] [--data DIR] [--base-port P]
    paxoscope cluster status [--data DIR] [--json]
    paxoscope cluster restart NODE [--data DIR]
    paxoscope cluster rejoin NODE [--data DIR]
    paxoscope cluster stop [--data DIR]
    paxoscope propose VALUE [--data DIR] [--timeout S] [--json]

``cluster start`` runs one node process per node (n1, n2, ...: each an
acceptor, a proposer and a learner; majority quorums; unbounded ballots), each
with its own data directory ``DIR/nK``, and records the cluster in
``DIR/cluster.json``, which the other commands read. A cluster is
single-decree: once it has chosen a value every later proposal learns that
value; for a new decision use a new ``--data`` directory. ``propose`` asks one
node, and the next as well if that one is down or has not answered within a
second, and prints the chosen value, which may be another client's.

Exit codes: 0 done (``propose``: a value was chosen; ``status``: every node
answered and can write its store), 1 ``propose``: no decision learned in time
(the outcome is unknown), ``status``: some node is down or failing, 2 bad usage
or input (no cluster.json, a corrupt one, a corrupt or missing acceptor store,
a port in use, another command busy in the directory), 3 an internal error.

The engines are in ``impl``: the description (``impl.clusterfile``), the
processes (``impl.supervise``) and the client (``impl.client``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import console
from ..console import EXIT_OK, EXIT_VIOLATION, Out
from ..impl.client import NoDecision, cluster_status, propose
from ..impl.clusterfile import READ_MODES, ClusterError, load
from ..impl.multipaxos import IMPL_BUGS as MULTIPAXOS_BUGS
from ..impl.paxos import IMPL_BUGS, PROTOCOL
from ..impl.protocol import load_protocol
from ..impl.supervise import (
    DEFAULT_NODES,
    START_TIMEOUT,
    STOP_GRACE,
    rejoin_as_learner,
    restart_node,
    start_cluster,
    stop_cluster,
)
from ..spec.constants import positive_int as _positive_int
from ..spec.constants import positive_seconds as _seconds

DEFAULT_DATA = "paxoscope-cluster"


def _port(text: str) -> int:
    n = _positive_int(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {n}")
    return n


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"the cluster's directory (cluster.json, one data directory per node; default: ./{DEFAULT_DATA})",
    )


def _add_node_restart(parser: argparse.ArgumentParser) -> None:
    """The options of a command that stops one node and starts it again."""
    parser.add_argument("node", metavar="NODE", help="the node's name (n1, n2, ...)")
    _add_data(parser)
    parser.add_argument("--grace", type=_seconds, default=STOP_GRACE, metavar="S", help="seconds before SIGKILL")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=START_TIMEOUT,
        metavar="S",
        help="give up if it does not serve by then",
    )


IMPLEMENTED = ("paxos", "multipaxos")


def _add_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=_positive_int, metavar="N", help=f"how many nodes (default: {DEFAULT_NODES})")
    parser.add_argument(
        "--protocol",
        choices=IMPLEMENTED,
        default=None,
        help="what the nodes run: paxos (single-decree; the default) or multipaxos (a replicated key-value and "
        "lock service: paxoscope kv, paxoscope lock); a stopped cluster resumes with its own",
    )
    _add_data(parser)
    parser.add_argument(
        "--base-port", type=_port, metavar="P", help="listen on ports P, P+1, ... (default: free ports from the OS)"
    )
    parser.add_argument(
        "--bug",
        action="append",
        default=[],
        choices=sorted({*IMPL_BUGS, *MULTIPAXOS_BUGS}),
        metavar="NAME",
        help="run a known-wrong variant of the implementation, to see it caught (repeatable): paxos: "
        + ", ".join(IMPL_BUGS)
        + "; multipaxos: "
        + ", ".join(MULTIPAXOS_BUGS),
    )
    parser.add_argument(
        "--reads",
        choices=READ_MODES,
        default=None,
        help="multipaxos: how a get is answered: lease (the default: by the leader under its lease, through the "
        "log when the lease does not hold) or log (always through the log); a stopped cluster resumes with its own",
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=START_TIMEOUT, metavar="S", help="give up if a node does not serve by then"
    )


def _add_stop(parser: argparse.ArgumentParser) -> None:
    _add_data(parser)
    parser.add_argument("--grace", type=_seconds, default=STOP_GRACE, metavar="S", help="seconds before SIGKILL")


def _add_status(parser: argparse.ArgumentParser) -> None:
    _add_data(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per node")


def _add_propose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("value", metavar="VALUE", help="the value to propose")
    _add_data(parser)
    parser.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help="seconds to wait (default: 10)")
    parser.add_argument("--json", action="store_true", help="print {value, proposed, node, seconds} as JSON")


# The actions of ``cluster``, declared: (name, help, description, epilog, its options).
ACTIONS: tuple[tuple[str, str, str, str | None, Callable[[argparse.ArgumentParser], None]], ...] = (
    (
        "start",
        "start the nodes and wait until each serves",
        "Start one node process per node and return once every node answers. Writes DIR/cluster.json. "
        "In the directory of a stopped cluster, resumes its nodes with the promises and votes they stored.",
        "Exit codes: 0 started, 2 bad usage, a running cluster there, a port in use or a corrupt store, "
        "3 internal error.",
        _add_start,
    ),
    (
        "stop",
        "stop every node (SIGTERM, then SIGKILL)",
        "Stop every node of the cluster: SIGTERM, then SIGKILL for a node still running after --grace "
        "seconds. Data directories are kept.",
        None,
        _add_stop,
    ),
    (
        "restart",
        "restart one node (stop it if it runs, then start it again)",
        "Stop one node (SIGTERM, then SIGKILL after --grace seconds) if it runs, wait until its process "
        "is gone, and start it again with its data directory and address. Its pid is recorded, so cluster stop "
        "stops it.",
        "Exit codes: 0 restarted, 2 bad usage, no such node, a missing or corrupt store, another command busy "
        "in the directory, 3 internal error.",
        _add_node_restart,
    ),
    (
        "rejoin",
        "bring back a node that lost its acceptor store, as a learner that never votes again",
        "Record NODE as a learner for good, and restart it as one if the cluster runs (in a stopped "
        "cluster it starts as one with the others). A learner never promises, votes "
        "or proposes; it learns the decision from the others' votes. Use it for a node whose acceptor store was "
        "lost: started as an acceptor with no memory of its promises, it could change a value already chosen. The "
        "quorums stay the majorities of all nodes, so each learner is one fewer acceptor that can be down.",
        "Exit codes: 0 rejoined, 2 bad usage, no such node, another command busy in the directory, 3 internal error.",
        _add_node_restart,
    ),
    (
        "status",
        "show each node's acceptor state and decision",
        "Ask every node for its durable acceptor state (max_bal, max_vbal, max_val) and the value it "
        "learned was chosen.",
        "Exit codes: 0 every node answered and can write its store, 1 some node is down or failing (its "
        "store cannot be written), 2 bad usage.",
        _add_status,
    ),
)


def add_parsers(subparsers: Any) -> None:
    """Add the ``cluster`` and ``propose`` commands to an argparse subparsers object."""
    cluster = subparsers.add_parser(
        "cluster",
        help="start, inspect and stop a local cluster of real node processes (Paxos or Multi-Paxos)",
        description="A local cluster of real Paxos nodes: one process per node on 127.0.0.1, each an acceptor, "
        "a proposer and a learner, with its acceptor state durable in its data directory.",
    )
    actions = cluster.add_subparsers(dest="cluster_action", metavar="ACTION", parser_class=type(cluster))
    actions.required = True
    for name, summary, description, epilog, add_options in ACTIONS:
        action = actions.add_parser(name, help=summary, description=description, epilog=epilog)
        add_options(action)
        action.set_defaults(cluster_run=name)

    prop = subparsers.add_parser(
        "propose",
        help="ask a running cluster to choose a value, and print the value chosen",
        description="Ask one node of the cluster to choose VALUE (and the next as well if it is down or does not "
        "answer within a second), and print the value chosen, which may be another client's: once a value is "
        "chosen, every proposal learns it.",
        epilog="Exit codes: 0 a value was chosen, 1 no decision learned within --timeout (the outcome is unknown: "
        "the value may still be chosen), 2 bad usage or no cluster.",
    )
    _add_propose(prop)
    prop.set_defaults(cluster_run="propose")


def run(args: argparse.Namespace, out: Out = console.out) -> int:
    """Run a ``cluster`` or ``propose`` command; return its exit code (errors are the console's to report)."""
    commands = {
        "start": _cmd_start,
        "stop": _cmd_stop,
        "restart": _cmd_restart,
        "rejoin": _cmd_rejoin,
        "status": _cmd_status,
        "propose": _cmd_propose,
    }
    return commands[args.cluster_run](args, out)


def _cmd_start(args: argparse.Namespace, out: Out) -> int:
    protocol = load_protocol(args.protocol) if args.protocol else PROTOCOL
    cluster = start_cluster(args.data, args.nodes, args.base_port, args.bug, args.timeout, protocol, args.reads)
    out(f"started {len(cluster.nodes)} node{'s' * (len(cluster.nodes) != 1)} in {args.data}:")
    for n in cluster.nodes:
        out(f"  {n.name}  {n.address}  pid {n.pid}  data {n.data}{'' if n.is_acceptor else '  (learner)'}")
    if cluster.bugs:
        out(f"  with the known bug{'s' * (len(cluster.bugs) != 1)}: {', '.join(sorted(cluster.bugs))}")
    if cluster.reads == "log":
        out("  reads through the log, none under a leader lease")
    if cluster.protocol == "multipaxos":
        out(f"use it: paxoscope kv put KEY VALUE --data {args.data}; paxoscope lock acquire NAME --data {args.data}")
    else:
        out(f"propose a value: paxoscope propose VALUE --data {args.data}")
    return EXIT_OK


def _cmd_stop(args: argparse.Namespace, out: Out) -> int:
    for line in stop_cluster(args.data, args.grace):
        out(line)
    return EXIT_OK


def _cmd_restart(args: argparse.Namespace, out: Out) -> int:
    what, pid = restart_node(args.data, args.node, args.grace, args.timeout)
    out(what)
    out(f"started {args.node} (pid {pid})")
    return EXIT_OK


def _single_decree_only(data: str, command: str, instead: str) -> None:
    """Refuse a Paxos-only command on a cluster of another protocol (no cluster: the command says so itself)."""
    try:
        protocol = load(data).protocol
    except ClusterError:
        return
    if protocol != "paxos":
        raise ClusterError(f"{data} holds a {protocol} cluster: {command} is for a Paxos cluster; {instead}")


def _cmd_rejoin(args: argparse.Namespace, out: Out) -> int:
    _single_decree_only(args.data, "rejoin", "a replica of a replicated log catches up by itself after a restart")
    what, pid = rejoin_as_learner(args.data, args.node, args.grace, args.timeout)
    out(what)
    if pid is None:
        out(
            f"{args.node} is now a learner: it will never promise, vote or propose again; it starts with the "
            f"cluster: paxoscope cluster start --data {args.data}"
        )
    else:
        out(f"started {args.node} (pid {pid}) as a learner: it will never promise, vote or propose again")
    cluster = load(args.data)
    acceptors, majority = sum(n.is_acceptor for n in cluster.nodes), len(cluster.nodes) // 2 + 1
    if acceptors < majority:
        out(
            f"warning: {acceptors} of {len(cluster.nodes)} nodes are acceptors, fewer than a quorum ({majority}): "
            "no value not already chosen can be chosen any more"
        )
    else:
        out(f"{acceptors} of {len(cluster.nodes)} nodes are acceptors; a decision needs {majority} of them up")
    return EXIT_OK


def _failing(reply: Any) -> str | None:
    """Why a node is not serving as it should, or None."""
    if reply is None:
        return "down"
    if reply.store_error is not None:
        return f"failing: its store cannot be written ({reply.store_error})"
    return None


def _cmd_status(args: argparse.Namespace, out: Out) -> int:
    answers = cluster_status(args.data)
    protocol = load(args.data).runtime
    code = EXIT_OK if all(_failing(reply) is None for _, reply in answers) else EXIT_VIOLATION
    if protocol.name == "multipaxos":
        _log_status(answers, protocol, args.json, out)
        return code
    if args.json:
        doc = [
            {
                "name": info.name,
                "address": info.address,
                "pid": info.pid,
                "role": info.role,
                "up": _failing(reply) is None,
                "failing": _failing(reply),
                **(protocol.status_fields(reply) if reply else dict.fromkeys(protocol.store.fields)),
                "decided": reply.decided if reply else None,
            }
            for info, reply in answers
        ]
        out(json.dumps(doc, indent=2))
        return code
    for info, reply in answers:
        pid = f"pid {info.pid}" if info.pid else "pid -"
        if reply is None:
            out(f"{info.name}  {info.address}  {pid}  down")
        elif not info.is_acceptor:
            out(f"{info.name}  {info.address}  {pid}  up (learner)  decided={reply.decided!r}")
        else:
            state = " ".join(f"{k}={v!r}" for k, v in protocol.status_fields(reply).items())
            out(f"{info.name}  {info.address}  {pid}  {_failing(reply) or 'up'}  {state}  decided={reply.decided!r}")
    return code


def _log_status(answers: list[tuple[Any, Any]], protocol: Any, as_json: bool, out: Out) -> None:
    """A replicated log's status: the leader, and each replica's role, log figures and health."""
    leaders = sorted({reply.name for _, reply in answers if reply is not None and reply.role == "leader"})
    nodes = []
    for info, reply in answers:
        fields = protocol.status_fields(reply) if reply else {"role": "down"}
        about = {"name": info.name, "address": info.address, "pid": info.pid}
        nodes.append({**about, **fields, "failing": _failing(reply)})
    if as_json:
        leader = leaders[0] if leaders else None
        out(json.dumps({"protocol": protocol.name, "leader": leader, "nodes": nodes}, indent=2))
        return
    out(f"leader: {', '.join(leaders) or 'none (an election is under way, or too few replicas are up)'}")
    for node in nodes:
        pid = f"pid {node['pid']}" if node["pid"] else "pid -"
        if node["role"] == "down":
            out(f"{node['name']}  {node['address']}  {pid}  down")
            continue
        health = node["failing"] or "up"
        figures = "  ".join(f"{k}={node[k]}" for k in ("ballot", "committed", "applied", "snapshot"))
        out(f"{node['name']}  {node['address']}  {pid}  {health}  {node['role']}  {figures}")


def _cmd_propose(args: argparse.Namespace, out: Out) -> int:
    _single_decree_only(args.data, "propose", f"use paxoscope kv put KEY VALUE --data {args.data}")
    t0 = time.monotonic()
    try:
        value, node = propose(args.data, args.value, args.timeout, protocol=PROTOCOL)
    except NoDecision as exc:
        print(f"paxoscope propose: {exc}", file=sys.stderr)
        return EXIT_VIOLATION
    seconds = time.monotonic() - t0
    if args.json:
        out(json.dumps({"value": value, "proposed": args.value, "node": node, "seconds": round(seconds, 4)}))
    else:
        out(value)
    return EXIT_OK

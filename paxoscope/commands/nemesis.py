"""``paxoscope nemesis``: clients and faults against a real local cluster, then the verdict on its history.

    paxoscope nemesis --data DIR [--seconds 60] [--clients 10] [--seed N]
                      [--faults kill,pause,partition,restart] [--json] [--html OUT]

Starts a cluster of the replicated key-value service in DIR (an empty directory), its replicas talking
through proxies the nemesis can cut; runs concurrent clients doing random ``get``/``put``/``cas``/
``delete`` on a few keys while the nemesis kills, pauses, restarts and partitions replicas; heals every
fault, reads every key, stops every process it started, and judges: the history (DIR/history.edn) is
linearizable, no acknowledged write was lost, every replica applied the same state, and the service
answered once the faults were healed.

Exit codes: 0 all four hold (a linearizability check out of time is said, not failed), 1 one does not
(with the picture of the failure), 2 bad usage or input, 3 an internal error, 130 interrupted (the
cluster is stopped all the same).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
from typing import Any

from ..console import EXIT_OK, EXIT_VIOLATION, UsageError, out
from ..spec.constants import positive_int, positive_seconds
from . import add_command, arg

DEFAULT_PROTOCOL = "multipaxos"
HISTORY_FILE = "history.edn"


def _kinds(text: str) -> tuple[str, ...]:
    from ..impl.nemesis.faults import KINDS

    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fault {unknown[0]!r} (known: {', '.join(KINDS)})")
    return kinds


def add_parser(sub: Any) -> None:
    add_command(
        sub,
        "nemesis",
        "attack a local cluster with faults while clients run, and check their history is linearizable",
        "Start a cluster of the replicated key-value service in DIR (an empty directory), its replicas talking "
        "through proxies on loopback; run concurrent clients doing random get/put/cas/delete while a nemesis "
        "kills (SIGKILL, then restarts), pauses (SIGSTOP/SIGCONT), restarts and partitions replicas (links cut "
        "one way or both), from a schedule drawn from the seed. Then heal, read every key, stop every process, "
        "and check: the history (DIR/history.edn, Jepsen's EDN) is linearizable, no acknowledged write was lost, "
        "every replica applied the same state, the service answered once healed.",
        [
            arg("--data", required=True, metavar="DIR", help="an empty directory for the cluster and the history"),
            arg("--seconds", type=positive_seconds, default=60.0, metavar="S", help="how long the clients run"),
            arg("--clients", type=positive_int, default=10, metavar="N", help="concurrent clients (default: 10)"),
            arg("--seed", type=int, default=0, metavar="N", help="draws the faults and the operations (default: 0)"),
            arg(
                "--faults",
                type=_kinds,
                default=("kill", "pause", "partition", "restart"),
                metavar="KINDS",
                help="the faults to inject, comma-separated (default: kill,pause,partition,restart; '' for none)",
            ),
            arg("--max-faults", type=int, metavar="N", help="inject at most N faults (default: one a second)"),
            arg("--nodes", type=positive_int, default=3, metavar="N", help="replicas (default: 3)"),
            arg("--protocol", default=DEFAULT_PROTOCOL, help=f"the service's protocol (default: {DEFAULT_PROTOCOL})"),
            arg(
                "--bug",
                action="append",
                default=[],
                metavar="NAME",
                help="run a known-wrong variant of the implementation (see: paxoscope bugs); repeatable",
            ),
            arg("--timeout", type=positive_seconds, default=120.0, metavar="S", help="the linearizability check's"),
            arg("--json", action="store_true", help="print a machine-readable report"),
            arg("--html", metavar="OUT", help="the history (the smallest failing sub-history) as an HTML page"),
        ],
        epilog="Exit codes: 0 linearizable, nothing lost, replicas equal; 1 not so; 2 bad usage or input; "
        "3 internal error; 130 interrupted (every process started is stopped).",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..impl.nemesis import run as nemesis
    from ..impl.nemesis.service import local_cluster

    if args.max_faults is not None and args.max_faults < 0:
        raise UsageError(f"--max-faults must be 0 or more, not {args.max_faults}")
    data = Path(args.data)
    target = local_cluster(data, args.protocol, args.nodes, frozenset(args.bug))

    def say(line: str) -> None:
        print(f"nemesis: {line}", file=sys.stderr, flush=True)

    history = data / HISTORY_FILE
    # A SIGTERM stops the run as Ctrl-C does: through the cleanup that stops every process it started.
    signal.signal(signal.SIGTERM, _interrupt)
    result = nemesis.run(
        target,
        args.seconds,
        args.clients,
        args.seed,
        args.faults,
        args.max_faults,
        say=say,
        history_file=history,
        check_timeout=args.timeout,
    )
    if args.json:
        out(json.dumps(report(result, str(history)), indent=2))
    else:
        show(result, str(history))
    if args.html:
        from ..explorer import linchart

        linchart.write(result.check, args.html, f"{history}: {result.check.verdict}", True)
    return EXIT_OK if result.ok or _only_unknown(result) else EXIT_VIOLATION


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _only_unknown(result: Any) -> bool:
    """The check ran out of time, and nothing else failed: unknown, not a failure."""
    from ..explorer.lincheck import UNKNOWN_VERDICT

    return (
        result.check.verdict == UNKNOWN_VERDICT
        and not result.lost
        and result.replicas_equal
        and result.answered_after_heal
    )


def _operations(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """``{"put:ok": 3}`` as ``{"put": {"ok": 3}}``."""
    table: dict[str, dict[str, int]] = {}
    for name, n in sorted(counts.items()):
        f, _, outcome = name.partition(":")
        table.setdefault(f, {})[outcome] = n
    return table


def _windows(result: Any) -> dict[str, Any]:
    seconds = sorted(w for kind, w in result.unavailable if kind == "kill" and w is not None)
    return {
        "leader_kills": sum(1 for kind, _ in result.unavailable if kind == "kill"),
        "median": statistics.median(seconds) if seconds else None,
        "worst": seconds[-1] if seconds else None,
        "never_recovered": sum(1 for kind, w in result.unavailable if kind == "kill" and w is None),
    }


def report(result: Any, history: str) -> dict[str, Any]:
    from .lincheck import report as lincheck_report

    return {
        "verdict": result.check.verdict,
        "ok": result.ok,
        "seed": result.seed,
        "seconds": result.seconds,
        "clients": result.clients,
        "history": history,
        "operations": _operations(result.counts),
        "faults": [f.report() for f in result.faults],
        "lost_writes": [{"f": e.f, "key": e.key, "value": e.value, "process": e.process} for e in result.lost],
        "replicas_equal": result.replicas_equal,
        "answered_after_heal": result.answered_after_heal,
        "replicas_applied": result.states,
        "replicas_stored": None if result.stored is None else {n: _digest(s) for n, s in result.stored.items()},
        "unavailability_after_leader_kill": _windows(result),
        "lincheck": lincheck_report(history, result.check),
    }


def show(result: Any, history: str) -> None:
    from ..explorer.linchart import result_text

    ops = sum(result.counts.values())
    by_outcome: dict[str, int] = {}
    for name, n in result.counts.items():
        outcome = name.partition(":")[2]
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(by_outcome.items()))
    out(f"seed {result.seed}: {ops} operations by {result.clients} clients in {result.seconds:g} s ({outcomes})")
    out(f"faults injected: {len(result.faults)} ({', '.join(f.fault.describe(f.node) for f in result.faults)})")
    out(f"acknowledged writes lost: {len(result.lost)}")
    for e in result.lost[:10]:
        out(f"  {e.f} {e.key} {e.value!r} by process {e.process} at {e.time:.3f} s")
    stored = "" if result.stored is None else f", stored states {sorted({_digest(s) for s in result.stored.values()})}"
    out(f"replicas' applied state equal: {'yes' if result.replicas_equal else 'no'} (applied {result.states}{stored})")
    if not result.answered_after_heal:
        missing = ", ".join(k for k in result.keys if k not in result.final)
        out(f"unavailable: once every fault was healed, reads of {missing} got no answer")
    windows = _windows(result)
    if windows["leader_kills"]:
        out(
            f"unavailable after a leader kill: median {_s(windows['median'])}, worst {_s(windows['worst'])} "
            f"({windows['leader_kills']} kills, {windows['never_recovered']} without a write after)"
        )
    for line in result_text(history, result.check):
        out(line)


def _digest(state: Any) -> str:
    """A replica's stored state in short: its applied index and a hash of its machine's state."""
    import hashlib

    if not isinstance(state, tuple):
        return str(state)
    index, machine = state
    return f"{index}:{hashlib.sha256(str(machine).encode()).hexdigest()[:12]}"


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"

"""Safety and availability of the replicated key-value service under faults: N nemesis runs of S seconds.

Each run starts a fresh 3-replica cluster (real processes on loopback, peers through proxies), runs
10 clients while the nemesis kills, pauses, restarts and partitions replicas (every fault kind, the
schedule drawn from the run's seed), then judges it as ``paxoscope nemesis`` does. One line per run;
at the end: how many histories were not linearizable, how many acknowledged writes were lost, how many
runs ended with replicas whose applied state differed or a service that did not answer once healed, and
the unavailability after a leader was
killed (seconds from the kill to the return of the first write called after it that succeeded),
median and worst over every run.

    python benchmarks/nemesis.py                       # 100 runs of 30 s (about an hour)
    python benchmarks/nemesis.py --runs 5 --seconds 10
    python benchmarks/nemesis.py --protocol multipaxos --keep DIR   # keep each run's history in DIR
    python benchmarks/nemesis.py --bug stale-leader-read --faults partition,pause --until-caught

Exit 1 if any run failed a check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from paxoscope.explorer.lincheck import LINEARIZABLE, NOT_LINEARIZABLE
from paxoscope.impl.nemesis import run as nemesis
from paxoscope.impl.nemesis.faults import KILL, KINDS
from paxoscope.impl.nemesis.service import local_cluster


def one_run(args: argparse.Namespace, seed: int) -> nemesis.NemesisResult:
    data = Path(tempfile.mkdtemp(prefix=f"paxoscope-nemesis-{seed}-"))
    try:
        history = (args.keep / f"history-{seed}.edn") if args.keep else data / "history.edn"
        target = local_cluster(data / "cluster", args.protocol, bugs=frozenset(args.bug))
        return nemesis.run(target, args.seconds, args.clients, seed, args.faults, history_file=history)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # through the run's cleanup, which stops the cluster it started


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--protocol", default="multipaxos")
    parser.add_argument("--keep", type=Path, help="a directory for every run's history")
    parser.add_argument("--faults", type=lambda t: tuple(t.split(",")), default=KINDS, help="kill,pause,...")
    parser.add_argument("--bug", action="append", default=[], help="a known-wrong variant to run (repeatable)")
    parser.add_argument("--until-caught", action="store_true", help="stop at the first run that fails a check")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    totals = {
        "runs": 0,
        "not_linearizable": 0,
        "unknown": 0,
        "lost_writes": 0,
        "replicas_differ": 0,
        "unanswered_after_heal": 0,
        "operations": 0,
        "faults": 0,
    }
    windows: list[float] = []
    never = 0
    started = time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.runs):
        r = one_run(args, seed)
        kills = [w for kind, w in r.unavailable if kind == KILL]
        windows += [w for w in kills if w is not None]
        never += sum(1 for w in kills if w is None)
        ops = sum(r.counts.values())
        ok = sum(n for k, n in r.counts.items() if k.endswith(":ok"))
        totals["runs"] += 1
        totals["not_linearizable"] += r.check.verdict == NOT_LINEARIZABLE
        totals["unknown"] += r.check.verdict not in (LINEARIZABLE, NOT_LINEARIZABLE)
        totals["lost_writes"] += len(r.lost)
        totals["replicas_differ"] += not r.replicas_equal
        totals["unanswered_after_heal"] += not r.answered_after_heal
        totals["operations"] += ops
        totals["faults"] += len(r.faults)
        print(
            f"seed {seed:3d}: {r.check.verdict:16s} {ops:6d} ops ({ok} ok) {len(r.faults):2d} faults "
            f"lost {len(r.lost)} replicas {'equal' if r.replicas_equal else 'DIFFER'}"
            f"{'' if r.answered_after_heal else ' UNANSWERED after heal'} "
            f"leader kills {len(kills)}: {', '.join('-' if w is None else f'{w:.2f}s' for w in kills)}",
            flush=True,
        )
        if args.until_caught and not r.ok and r.check.verdict != "unknown":
            break
    windows.sort()
    summary = {
        **totals,
        "seconds_each": args.seconds,
        "wall_seconds": round(time.monotonic() - started, 1),
        "leader_kills": len(windows) + never,
        "unavailable_median_s": statistics.median(windows) if windows else None,
        "unavailable_worst_s": windows[-1] if windows else None,
        "leader_kills_without_a_write_after": never,
    }
    print(json.dumps(summary, indent=2) if args.json else summary)
    failed = any(totals[k] for k in ("not_linearizable", "lost_writes", "replicas_differ", "unanswered_after_heal"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

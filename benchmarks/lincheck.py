"""Linearizability checking speed: histories/s over the real histories in tests/data/histories, the slowest one,
a generated 50-client ``kv`` history (a sequential run whose operations' intervals are then widened), and
generated etcd-like ``cas-register`` runs with crashed clients, by number of clients, each as recorded and with
one read corrupted to a value never written (not linearizable), within a time limit.

Porcupine (Go) checks 102 Jepsen etcd histories of this kind in 0.6 s in total (about 170 histories/s) and a
50-client kv history in 0.2 s. Checking time only, in CPU seconds (the verdict, as Porcupine's CheckOperations gives
it): reading the files and cutting down a failing sub-history are not counted. The time limit of the generated runs
is wall time, as ``--timeout`` is.

Run: ``python benchmarks/lincheck.py [--rounds N] [--limit S] [DIR ...]``; each DIR's ``*.log``/``*.txt``/``*.edn``
histories are timed too (for example Porcupine's own test data, checked out beside).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

from paxoscope.explorer.histories import load
from paxoscope.explorer.lincheck import MODELS, UNKNOWN, Operation, check

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "histories"


def widened_kv_history(clients: int = 50, per_client: int = 20, keys: int = 10, seed: int = 1) -> list[Operation]:
    """Operations taking effect one at a time, in slots, their intervals widened over their neighbours."""
    rng = random.Random(seed)
    model = MODELS["kv"]
    state = model.init
    ops: list[Operation] = []
    for i in range(clients * per_client):
        f = rng.choice(["get", "put", "append"])
        key = str(rng.randrange(keys))
        value = None if f == "get" else f"x{i}y"
        output, state = model.step(state, (f, key, value))
        slot = 10 * i
        ops.append(
            Operation(i, i % clients, (f, key, value), output, slot - rng.randint(1, 300), slot + rng.randint(1, 300))
        )
    return ops


def crashing_cas_run(
    clients: int, operations: int = 300, crashes: float = 0.15, seed: int = 1, corrupt: bool = False
) -> list[Operation]:
    """A cas-register run as Jepsen's etcd test makes one: each client's operation takes effect at a random
    instant of its interval; a crashed one (``:info``) took effect or not, and its client is replaced by a new
    one. With ``corrupt``, one read returns a stale value: one written before it was called, but not the one it
    read (what a deposed leader answering from its own state returns), and no timed-out operation wrote."""
    rng = random.Random(seed)
    model = MODELS["cas-register"]
    free_at = dict.fromkeys(range(clients), 0.0)
    calls = []
    for i in range(operations):
        client = min(free_at, key=free_at.__getitem__)
        start = free_at.pop(client) + rng.random()
        f = rng.choice(["read", "write", "cas"])
        value = {"read": None, "write": rng.randrange(5), "cas": (rng.randrange(5), rng.randrange(5))}[f]
        length = rng.expovariate(2 / clients)
        crashed = rng.random() < crashes
        calls.append((start, start + rng.random() * length, start + length, client, f, value, crashed, i))
        free_at[clients + i if crashed else client] = start + length
    state, outputs = model.init, {}
    for _, _, _, _, f, value, crashed, i in sorted(calls, key=lambda c: c[1]):
        if not (crashed and rng.random() < 0.5):
            outputs[i], state = model.step(state, (f, None, value))
    ops = [
        Operation(i, client, (f, None, value), UNKNOWN if crashed else outputs[i], start, math.inf if crashed else end)
        for start, _, end, client, f, value, crashed, i in calls
    ]
    if corrupt:
        middle = ops[len(ops) // 2].call
        read = rng.choice([op for op in ops if op.input[0] == "read" and not op.pending and op.call > middle])
        written = {op.input[2] for op in ops if op.input[0] == "write" and op.ret < read.call}
        timed_out = {_written(op) for op in ops if op.pending and op.input[0] != "read"}
        written -= timed_out | {read.output}
        stale = rng.choice(sorted(written)) if written else 99
        ops[read.index] = Operation(read.index, read.client, read.input, stale, read.call, read.ret)
    return ops


def _written(op: Operation) -> int:
    f, _, value = op.input
    return value if f == "write" else value[1]


def crashing_runs(limit: float) -> None:
    print(f"generated etcd-like cas-register runs, 300 operations, 15% crashed (time limit {limit:g} s):")
    for clients in (5, 10, 20, 50):
        for corrupt in (False, True):
            verdicts, times = [], []
            for seed in range(5):
                ops = crashing_cas_run(clients, seed=seed, corrupt=corrupt)
                started = time.process_time()
                verdicts.append(check(MODELS["cas-register"], ops, timeout=limit, explain=False).verdict)
                times.append(time.process_time() - started)
            counts = ", ".join(f"{verdicts.count(v)} {v}" for v in sorted(set(verdicts)))
            kind = "one read stale" if corrupt else "as recorded"
            print(f"  {clients:2} clients, {kind:18}: {counts}; slowest {max(times):.3f} s")


def main(rounds: int = 3, limit: float = 10.0, extra: tuple[Path, ...] = ()) -> None:
    files = sorted(HISTORIES.iterdir()) + [p for folder in extra for p in sorted(folder.rglob("*"))]
    loaded = {_name(path): load(path) for path in files if path.suffix in (".log", ".txt", ".edn")}
    times: dict[str, float] = {}
    for name, (model, ops) in loaded.items():
        best = min(_timed(model, ops) for _ in range(rounds))
        times[name] = best
        print(f"{name:24} {model.name:13} {len(ops):4} ops  {best * 1000:8.2f} ms")
    total = sum(times.values())
    slowest = max(times, key=times.__getitem__)
    print(
        f"{len(times)} histories in {total:.3f} s: {len(times) / total:.0f} histories/s; slowest {slowest} "
        f"({times[slowest] * 1000:.1f} ms)"
    )
    etcd = [t for name, t in times.items() if Path(name).name.startswith("etcd")]
    print(
        f"{len(etcd)} etcd histories: {len(etcd) / sum(etcd):.0f} histories/s (Porcupine: 102 in 0.6 s, 170/s); "
        f"102 would take {102 * sum(etcd) / len(etcd):.2f} s"
    )
    kv = widened_kv_history()
    best = min(_timed(MODELS["kv"], kv) for _ in range(rounds))
    print(f"generated 50-client kv history, {len(kv)} ops: {best:.3f} s (Porcupine: 0.2 s)")
    crashing_runs(limit)


def _name(path: Path) -> str:
    return path.name if path.parent == HISTORIES else f"{path.parent.name}/{path.name}"


def _timed(model, ops) -> float:
    # CPU time of this process: on a shared machine, wall time measures the neighbours too.
    started = time.process_time()
    result = check(model, ops, explain=False)
    elapsed = time.process_time() - started
    assert result.verdict != "unknown"
    return elapsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="more histories to time (e.g. Porcupine's test data)")
    parser.add_argument("--rounds", type=int, default=3, help="each history is timed this many times; the best counts")
    parser.add_argument("--limit", type=float, default=10.0, help="time limit per generated run, in seconds")
    args = parser.parse_args()
    main(args.rounds, args.limit, tuple(args.folders))

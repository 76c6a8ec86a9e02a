"""Linearizability checking speed: histories/s over the real histories in tests/data/histories, the slowest one,
and a generated 50-client ``kv`` history (a sequential run whose operations' intervals are then widened).

Porcupine (Go) checks 102 Jepsen etcd histories of this kind in 0.6 s in total (about 170 histories/s) and a
50-client kv history in 0.2 s. Checking time only: reading the files is not counted.

Run: ``python benchmarks/lincheck.py [rounds]``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from paxoscope.explorer.histories import load
from paxoscope.explorer.lincheck import MODELS, Operation, check

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


def main(rounds: int = 3) -> None:
    loaded = {path.name: load(path) for path in sorted(HISTORIES.iterdir()) if path.suffix in (".log", ".txt")}
    times: dict[str, float] = {}
    for name, (model, ops) in loaded.items():
        best = min(_timed(model, ops) for _ in range(rounds))
        times[name] = best
        print(f"{name:16} {model.name:13} {len(ops):4} ops  {best * 1000:8.2f} ms")
    total = sum(times.values())
    slowest = max(times, key=times.__getitem__)
    print(
        f"{len(times)} histories in {total:.3f} s: {len(times) / total:.0f} histories/s; slowest {slowest} "
        f"({times[slowest] * 1000:.1f} ms)"
    )
    etcd = [t for name, t in times.items() if name.startswith("etcd")]
    print(
        f"etcd histories: {len(etcd) / sum(etcd):.0f} histories/s (Porcupine: 102 in 0.6 s, 170/s); "
        f"102 would take {102 * sum(etcd) / len(etcd):.2f} s"
    )
    kv = widened_kv_history()
    best = min(_timed(MODELS["kv"], kv) for _ in range(rounds))
    print(f"generated 50-client kv history, {len(kv)} ops: {best:.3f} s (Porcupine: 0.2 s)")


def _timed(model, ops) -> float:
    started = time.perf_counter()
    result = check(model, ops)
    elapsed = time.perf_counter() - started
    assert result.verdict != "unknown"
    return elapsed


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

"""Replicated writes per second on 3 replicas, real processes on loopback: paxoscope's key-value service
(durable: one fsync per batch, nothing acknowledged before it) beside PySyncObj, a Raft library for Python,
on PySyncObj's own benchmark workload, in the same run.

The workload is PySyncObj's (its repository's benchmarks/benchmarks.py and testobj.py): three nodes, each
submitting R/3 commands a second of a 10-byte random string, asynchronously, for a measured period after
a warm-up; a rate counts as sustained when at least 90 % of the commands are acknowledged by the end.
The highest sustained rate is searched by bisection between a floor and a ceiling. PySyncObj runs with
its defaults (in memory, no fsync); its node is written here anew (a replicated counter, as there),
not copied. paxoscope's nodes run ``put KEY VALUE`` with the same values, each node's share submitted
by pipelined clients of the service.

Latency is from the submission of a command to its acknowledgement, p50 and p99, at the highest
sustained rate; paxoscope's group commit is reported as the sizes of the batches one fsync covered.
Each trial also reports the commands acknowledged a second during its measured period: what the replicas
kept up with. Above that, a rate can still pass the 90 % criterion on what the drain acknowledges late,
at a latency of seconds.

    pip install pysyncobj                # only for this benchmark; not a dependency of paxoscope
    python benchmarks/kv.py              # both, bisection over 1,000..40,000 writes/s (PySyncObj's bounds: 10..40,000)
    python benchmarks/kv.py --only pysyncobj --seconds 8 --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

WARMUP = 4.0  # seconds after a leader is known before the measured period (PySyncObj's testobj.py)
DRAIN = 4.0  # seconds after the period for the last acknowledgements (likewise)
SUSTAINED = 0.9  # PySyncObj's criterion: 90 % acknowledged
VALUE_SIZE = 10


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def random_value(rng: random.Random) -> str:
    return f"{rng.randrange(16**VALUE_SIZE):0{VALUE_SIZE}x}"


def submit_at_rate(
    rate: float,
    seconds: float,
    submit: Callable[[str, Callable[[bool], None]], None],
    flush: Callable[[], None] = lambda: None,
) -> dict:
    """Submit ``rate`` commands a second, a second's worth at a time (as PySyncObj's testobj does), each
    acknowledged through its callback, ``flush`` called after each second's worth (PySyncObj queues
    what is submitted and sends it in batches of its own); the counts and latencies once the drain is over."""
    rng = random.Random()
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"sent": 0, "ok": 0, "error": 0, "ok_in_period": 0}
    start = time.monotonic()

    def done(started: float) -> Callable[[bool], None]:
        def callback(ok: bool) -> None:
            with lock:
                counts["ok" if ok else "error"] += 1
                if ok:
                    now = time.monotonic()
                    latencies.append(now - started)
                    counts["ok_in_period"] += now - start < seconds

        return callback

    while time.monotonic() - start < seconds:
        second = time.monotonic()
        for _ in range(int(rate)):
            submit(random_value(rng), done(time.monotonic()))
            counts["sent"] += 1
        flush()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
    time.sleep(DRAIN)
    with lock:
        return {**counts, "latencies": list(latencies)}


# -- PySyncObj ---------------------------------------------------------------------------------------


def pysyncobj_node(rate: float, seconds: float, me: str, partners: list[str]) -> None:
    """One PySyncObj node submitting its share: prints its counts and latencies as JSON."""
    from pysyncobj import FAIL_REASON, SyncObj, replicated

    class Counter(SyncObj):
        def __init__(self) -> None:
            super().__init__(me, partners)
            self.applied = 0

        @replicated
        def add(self, value: str) -> None:
            self.applied += 1

    node = Counter()
    while node._getLeader() is None:
        time.sleep(0.1)
    time.sleep(WARMUP)

    def submit(value: str, callback: Callable[[bool], None]) -> None:
        node.add(value, callback=lambda result, error: callback(error == FAIL_REASON.SUCCESS))

    print(json.dumps(submit_at_rate(rate, seconds, submit)), flush=True)
    node.destroy()


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def pysyncobj_trial(rate: float, seconds: float) -> dict:
    addresses = [f"127.0.0.1:{p}" for p in free_ports(3)]
    procs = []
    for me in addresses:
        others = [a for a in addresses if a != me]
        command = [sys.executable, __file__, "--pysyncobj-node", str(rate / 3), str(seconds), me, *others]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    reports, errors = [], []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
        reports.append(json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else None)
        errors += [line for line in stderr.splitlines() if line and not line.startswith((" ", "Traceback"))]
    result = merge(rate, seconds, reports)
    if errors:  # PySyncObj logs a traceback for each of its errors under overload: counted, the commonest shown
        common = Counter(line[:70] for line in errors).most_common(2)
        result["logged"] = f"{len(errors)} lines of its own errors: " + "; ".join(f"{n} x {t!r}" for t, n in common)
    return result


def merge(rate: float, seconds: float, reports: list[dict | None]) -> dict:
    got = [r for r in reports if r is not None]
    sent = sum(r["sent"] for r in got) or 1
    ok = sum(r["ok"] for r in got)
    latencies = [x for r in got for x in r["latencies"]]
    return {
        "rate": rate,
        "sent": sent,
        "acknowledged": ok,
        "success": ok / sent if len(got) == len(reports) else 0.0,
        # What the replicas kept up with, whatever the criterion: commands acknowledged a second during the
        # measured period (a rate above capacity passes the criterion on what the drain acknowledges late).
        "acknowledged_per_s": round(sum(r["ok_in_period"] for r in got) / seconds),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# -- paxoscope -----------------------------------------------------------------------------------------


class PipelinedWriters:
    """3 replicas of the key-value service (durable, in a directory on disk) and 3 writers, each on one
    connection to the leader, sending their requests without waiting for the answers (pipelined), many
    to a frame (``Requests``; the answers come many to a frame too), as PySyncObj's nodes send theirs.

    The batch sizes of the group commit are read from the leader's kernel counters: each batch is one
    write to its log (``/proc/PID/io``'s ``syscw``; messages go out by ``send``, which it does not count),
    so commands applied per log write is the mean number of commands one fsync covered."""

    def __init__(self, data: str):
        self.data = data
        self.pending: dict[tuple[str, int], Callable[[bool], None]] = {}
        self.lock = threading.Lock()
        self.socks: list[socket.socket] = []
        self.rids = [0, 0, 0]

    def __enter__(self) -> PipelinedWriters:
        from paxoscope.impl.nemesis.service import leader
        from paxoscope.impl.protocol import load_protocol
        from paxoscope.impl.supervise import start_cluster

        cluster = start_cluster(self.data, 3, protocol=load_protocol("multipaxos"))
        deadline = time.monotonic() + 20
        while (name := leader(self.data)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no leader within 20 s")
            time.sleep(0.1)
        self.leader = cluster.node(name)
        for _ in range(3):
            sock = socket.create_connection((self.leader.host, self.leader.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(sock)
            threading.Thread(target=self._read, args=(sock,), daemon=True).start()
        time.sleep(WARMUP)
        self.start = self._counters()
        return self

    def __exit__(self, *exc: object) -> None:
        from paxoscope.impl.supervise import stop_cluster

        for sock in self.socks:
            sock.close()
        stop_cluster(self.data)

    def submitter(self, i: int) -> tuple[Callable[[str, Callable[[bool], None]], None], Callable[[], None]]:
        """Writer ``i``'s submit (a put, queued) and flush (the queued requests sent in one write, 512 to
        a frame)."""
        from paxoscope.impl.multipaxos.messages import CODEC, Requests

        client = f"bench{i}"
        sock = self.socks[i]
        queued: list[list] = []

        def submit(value: str, callback: Callable[[bool], None]) -> None:
            self.rids[i] += 1
            with self.lock:
                self.pending[client, self.rids[i]] = callback
            queued.append([client, self.rids[i], "put", [f"key{i}", value]])

        def flush() -> None:
            sock.sendall(b"".join(CODEC.encode(Requests(queued[at : at + 512])) for at in range(0, len(queued), 512)))
            queued.clear()

        return submit, flush

    def _read(self, sock: socket.socket) -> None:
        from paxoscope.impl.multipaxos.messages import CODEC, OK, Replies

        try:
            for frame in CODEC.messages(sock):
                for reply in frame.each() if isinstance(frame, Replies) else (frame,):
                    with self.lock:
                        callback = self.pending.pop((reply.client, reply.rid), None)
                    if callback is not None:
                        callback(reply.status == OK)
        except (OSError, ValueError):
            return

    def _counters(self) -> tuple[int | None, int]:
        """(the leader's applied index, None if it did not say within 10 s; its write syscalls so far)."""
        from paxoscope.impl.multipaxos.messages import CODEC, Status, StatusReply

        with open(f"/proc/{self.leader.pid}/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        try:
            applied = CODEC.request(self.leader.host, self.leader.port, Status(), StatusReply, timeout=10).applied
        except OSError:
            applied = None
        return applied, int(io["syscw"])

    def batch_sizes(self) -> dict:
        (applied0, writes0), (applied1, writes1) = self.start, self._counters()
        writes = max(1, writes1 - writes0)
        per_write = None if None in (applied0, applied1) else round((applied1 - applied0) / writes, 1)
        return {"log_writes": writes, "commands_per_log_write": per_write}


def paxoscope_trial(rate: float, seconds: float) -> dict:
    """3 replicas of the key-value service, durable; each third of the rate submitted by one writer."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="paxoscope-kv-", dir=os.path.expanduser("~")) as data:
        with PipelinedWriters(data) as writers:
            reports: list[dict | None] = [None] * 3

            def share(i: int) -> None:
                reports[i] = submit_at_rate(rate / 3, seconds, *writers.submitter(i))

            threads = [threading.Thread(target=share, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            result = merge(rate, seconds, reports)
            result["batches"] = writers.batch_sizes()
    return result


# -- the search ----------------------------------------------------------------------------------------


def highest_sustained(trial: Callable[[float, float], dict], low: float, high: float, steps: int, seconds: float):
    """Bisection as PySyncObj's benchmark does it: the highest rate whose trial acknowledged 90 %."""
    best: dict | None = None
    for _ in range(steps):
        rate = (low + high) / 2
        result = trial(rate, seconds)
        sustained = result["success"] >= SUSTAINED
        print(
            f"  {rate:8.0f}/s: {result['success']:.1%} acknowledged ({result['acknowledged_per_s']}/s during the "
            f"period), p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms"
            + (f", batches {result['batches']}" if "batches" in result else "")
            + (f"; {result['logged']}" if "logged" in result else ""),
            flush=True,
        )
        if sustained:
            low, best = rate, result
        else:
            high = rate
    return best


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--pysyncobj-node":
        rate, seconds, me, *partners = sys.argv[2:]
        pysyncobj_node(float(rate), float(seconds), me, partners)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("pysyncobj", "paxoscope"))
    parser.add_argument("--seconds", type=float, default=25.0, help="measured period of a trial (PySyncObj's: 25)")
    parser.add_argument("--steps", type=int, default=6, help="bisection steps")
    parser.add_argument("--low", type=float, default=1000.0)
    parser.add_argument("--high", type=float, default=40000.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name, trial in (("pysyncobj", pysyncobj_trial), ("paxoscope", paxoscope_trial)):
        if args.only in (None, name):
            print(f"{name}: 3 replicas on loopback, {args.seconds:g} s a trial", flush=True)
            results[name] = highest_sustained(trial, args.low, args.high, args.steps, args.seconds)
            print(f"{name}: highest sustained {results[name]}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

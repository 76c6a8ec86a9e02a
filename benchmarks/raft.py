"""Raft on MCraft_2s_t2_l1_m2.cfg's configuration and on larger ones, beside a straightforward search.

The TLC configuration: 2 servers, 1 value, MaxTerm 2, MaxLogLen 1,
MaxMsgCopies 1, MaxInFlight 2, MCraft's eight invariants on every state.
TLC 2.20 with one worker reports 15,254 distinct states, 152,835 generated,
depth 32, in 7-9 s of CPU and 660 MB. Larger ones follow: 2 values with
logs of 2 entries; terms up to 3, the largest of two servers that runs in
about a minute of CPU (MaxTerm 3 with MaxLogLen 2 has more than 1.2 million
states); and three servers, where TLC took 541 s for 2.4 million states
(its bounds not given): with terms up to 2, one message in flight, and
empty logs (705,532 states, about a minute of CPU) or logs of one entry
(2,379,781 states, about 3 minutes: TLC's 2.4 million, as near as it
says). Each run is a fresh process on one core (the harness of ``multipaxos.py``), so that its peak
memory is its own; the baseline (``baseline_bfs.raft_bfs``: whole states in
the seen set) runs the same spec in the same run: only the ratio carries
over to another machine.

    python benchmarks/raft.py            # the five configurations, each beside the baseline (about 12 min of CPU)

Every figure is checked against its pin: the script fails if a count moves.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from multipaxos import HERE, run  # noqa: E402 -- the harness: a fresh process per run, on one core

TLC = {"states": 15_254, "generated": 152_835, "depth": 32, "cpu_seconds": 8, "peak_mb": 660}

EXPLORER = """
from paxoscope.explorer.bfs import check
from paxoscope.spec.raft import Raft
r = check(Raft(**{sizes!r}))
verdict, states, generated, depth = r.verdict, r.distinct_states, r.states_generated, r.depth
"""

BASELINE = """
import sys
sys.path.insert(0, {here!r})
from baseline_bfs import raft_bfs
states, depth, generated = raft_bfs(**{sizes!r})
verdict = "ok"
"""

PINNED = dict(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=2)
LARGER = dict(PINNED, values=2, max_log=2)
LARGEST = dict(PINNED, max_term=3)
THREE_SERVERS = dict(PINNED, servers=3, max_log=0, max_in_flight=1)
THREE_SERVERS_PINNED = (705_532, 8_683_474, 39)
THREE_SERVERS_LOGS = dict(THREE_SERVERS, max_log=1)
# name, sizes, (distinct states, states generated, depth) pinned
CONFIGS = [
    ("2 servers, MaxTerm 2, MaxLogLen 1, MaxInFlight 2 (MCraft_2s_t2_l1_m2.cfg)", PINNED, (15_254, 152_835, 32)),
    ("2 servers, 2 values, MaxTerm 2, MaxLogLen 2, MaxInFlight 2", LARGER, (129_050, 1_375_021, 43)),
    ("2 servers, MaxTerm 3, MaxLogLen 1, MaxInFlight 2", LARGEST, (689_211, 7_223_351, 47)),
    ("3 servers, MaxTerm 2, MaxLogLen 0, MaxInFlight 1", THREE_SERVERS, THREE_SERVERS_PINNED),
    ("3 servers, MaxTerm 2, MaxLogLen 1, MaxInFlight 1", THREE_SERVERS_LOGS, (2_379_781, 28_169_044, 53)),
]


def line(name: str, r: dict) -> str:
    return (
        f"{name}: {r['verdict']}, {r['states']:,} distinct states, {r['generated']:,} generated, "
        f"depth {r['depth']}; {r['cpu_seconds']:.1f} s CPU ({r['seconds']:.1f} s wall), "
        f"{r['states'] / r['cpu_seconds']:,.0f} states/s of CPU, peak {r['peak_mb']:,.0f} MB"
    )


def main() -> None:
    for name, sizes, pinned in CONFIGS:
        ours = run(EXPLORER.format(sizes=sizes))
        print(line(name, ours), flush=True)
        base = run(BASELINE.format(here=HERE, sizes=sizes))
        print(line("  baseline: plain BFS, whole states", base), flush=True)
        for r in (ours, base):
            assert r["verdict"] == "ok", (name, r)
            assert (r["states"], r["generated"], r["depth"]) == pinned, (name, r)
        print(
            f"  speed-up over the baseline: {base['cpu_seconds'] / ours['cpu_seconds']:.1f}x; "
            f"memory {ours['peak_mb']:.0f} MB vs {base['peak_mb']:.0f} MB"
        )
        if sizes == PINNED:
            print(
                f"  TLC 2.20, one worker: {TLC['states']:,} distinct states, {TLC['generated']:,} generated, "
                f"depth {TLC['depth']}, 7-9 s CPU, {TLC['peak_mb']} MB: the explorer takes "
                f"{ours['cpu_seconds'] / TLC['cpu_seconds']:.2f}x its CPU time (against 8 s) "
                f"and {ours['peak_mb'] / TLC['peak_mb']:.2f}x its memory"
            )


if __name__ == "__main__":
    main()

"""What ``paxoscope conform --protocol multipaxos`` costs and reaches, and
whether it catches each known-wrong variant of the Multi-Paxos core, with
every feature and fault on.

    python benchmarks/conform_multipaxos.py [SEEDS]

Prints, for the default run: its CPU time, the schedules, faults, states
visited and the steps taken beyond MultiPaxos.tla; then, for each variant of
``IMPL_BUGS`` over seeds 0..SEEDS-1 (default 10), how many seeds caught it,
by what (a step no sequence of spec steps makes, or an answer the spec did
not give) and the CPU time.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

from paxoscope.impl.multipaxos.core import IMPL_BUGS

from paxoscope.cli import main


def conform(*args: str) -> tuple[int, str, float]:
    """Exit code, output and CPU seconds of one ``paxoscope conform --protocol multipaxos`` run."""
    out = io.StringIO()
    start = time.process_time()
    with contextlib.redirect_stdout(out):
        code = main(["conform", "--protocol", "multipaxos", *args])
    return code, out.getvalue(), time.process_time() - start


def caught_by(output: str) -> str:
    if "no sequence of the spec's steps" in output:
        return "step"
    return "answer" if "broke an obligation" in output else "?"


def main_(seeds: int) -> None:
    code, out, cpu = conform("--json", "--no-coverage")
    doc = json.loads(out)
    beyond = ", ".join(f"{n} {name}" for name, n in doc["steps_beyond_tla"].items())
    print(
        f"default: exit {code}, {cpu:.1f} s CPU, {doc['schedules']} schedules, {doc['faults']} faults, "
        f"{doc['states_visited']} states, runs up to {doc['depth']} steps; beyond the TLA+: {beyond}"
    )
    for bug in sorted(IMPL_BUGS):
        runs = [conform("--bug", bug, "--seed", str(seed), "--no-coverage") for seed in range(seeds)]
        caught = [caught_by(out) for code, out, _cpu in runs if code == 1]
        kinds = ", ".join(f"{caught.count(k)} by {k}" for k in sorted(set(caught)))
        cpu = sum(c for _code, _out, c in runs)
        print(f"{bug}: caught on {len(caught)} of {seeds} seeds ({kinds}); {cpu / seeds:.1f} s CPU a seed")


if __name__ == "__main__":
    main_(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

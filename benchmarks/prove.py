"""Benchmark of the Z3 proofs (Paxos, Multi-Paxos) and of their cross-checks against the executable specs.

    python benchmarks/prove.py                  # proof figures, then the full cross-checks
                                                # (Paxos: 3 acceptors, 2 values, ballots 0..2;
                                                # Multi-Paxos: 2 replicas, 1 write, 1 read and 3, 1, 0)
    python benchmarks/prove.py --quick          # cross-checks on 3 acceptors, 2 values, ballots 0..1
                                                # and on 2 replicas, 1 write, 1 read
    python benchmarks/prove.py --no-crosscheck  # proof figures only
    python benchmarks/prove.py --houdini        # also invariant inference (a minute or two)

Prints, for Paxos and Multi-Paxos: the CPU time of a whole ``prove SPEC``
process (best of several runs, as /usr/bin/time would), the CPU time of the
proof in this process, the slowest obligations, the gallery's failing
obligations and times (a variant that proves fails the run), then the
cross-checks' figures (states, steps and conjunct values compared, rate),
with progress on the way;
with --houdini, the figures of invariant inference (templates, survivors,
whether they prove Consistency, time per stage).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time


def process_cpu(runs: int, command: list[str]) -> list[float]:
    """User + system CPU seconds of whole processes running ``command``."""
    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, *command], check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="whole-process runs to time (default 5)")
    ap.add_argument("--quick", action="store_true", help="cross-check a smaller configuration")
    ap.add_argument("--no-crosscheck", action="store_true")
    ap.add_argument("--houdini", action="store_true", help="also run invariant inference (Houdini)")
    args = ap.parse_args()

    from paxoscope.proofs import multipaxos, paxos

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for spec in ("paxos", "multipaxos"):
        cpu = process_cpu(args.runs, ["-m", "paxoscope.cli", "prove", spec])
        print(
            f"paxoscope prove {spec}, whole process: best {min(cpu):.3f} s CPU, median "
            f"{sorted(cpu)[len(cpu) // 2]:.3f} s ({args.runs} runs: {', '.join(f'{x:.3f}' for x in cpu)})"
        )
    proven_variants = [*proof_figures(paxos), *proof_figures(multipaxos)]
    if proven_variants:
        # Each variant is wrong: a proof of one means its model lost the bug.
        print(f"FAILED: gallery variants proven: {', '.join(proven_variants)}")
        return 1

    if args.houdini:
        from paxoscope.proofs.houdini import houdini

        h = houdini()
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in h.seconds.items())
        print(
            f"houdini: {h.templates} templates, {h.after_filter} true on the reachable states of 3 acceptors, "
            f"2 values, ballots 0..1, {len(h.inductive)} inductive ({len(h.dropped_unbounded)} dropped by the "
            f"unbounded check); proves Consistency on its own: {'yes' if h.proves_consistency else 'no'} ({stages})"
        )
    if args.no_crosscheck:
        return 0
    from paxoscope.proofs.crosscheck import crosscheck, report_text

    sizes = (3, 2, 2) if args.quick else (3, 2, 3)

    def progress(p) -> None:
        print(f"  ... {p.states:,} states, queue {p.queue:,}, {p.seconds:.0f} s", file=sys.stderr, flush=True)

    last = [0.0]

    def every_10s(p) -> None:
        if p.seconds - last[0] >= 10:
            last[0] = p.seconds
            progress(p)

    reports = [crosscheck(paxos.model_for(), *sizes, z3_every=1000, progress=every_10s)]
    reports += [
        multipaxos_crosscheck(mp_sizes, every_10s)
        for mp_sizes in ([(2, 1, 1)] if args.quick else [(2, 1, 1), (3, 1, 0)])
    ]
    for r in reports:
        print(report_text(r))
        print(f"  rate: {r.states / r.seconds:,.0f} states/s, {r.transitions / r.seconds:,.0f} steps/s")
    return 0 if all(r.ok for r in reports) else 1


def proof_figures(module) -> list[str]:
    """Print the proof's figures and the gallery's for the proof model of ``module``; the variants proven."""
    from paxoscope.proofs.obligations import prove

    cpu = time.process_time()
    report = prove(module.model_for())
    cpu = time.process_time() - cpu
    assert report.verdict == "proven", [o.name for o in report.failed]
    solver = sum(o.seconds for o in report.outcomes)
    print(
        f"prove {report.spec}: {len(report.outcomes)} obligations proven in {report.seconds:.3f} s "
        f"({cpu:.3f} s CPU), of which queries {solver:.3f} s"
    )
    for o in sorted(report.outcomes, key=lambda o: -o.seconds)[:5]:
        print(f"    {o.name:<28} {o.seconds:.3f} s")
    print(f"{report.spec} bug gallery (timeout 1 s per query):")
    proven = []
    for name in module.BUG_MODELS:
        start = time.perf_counter()
        r = prove(module.model_for(name), timeout=1.0)
        failed = ", ".join(o.name for o in r.failed)
        cex = r.failed[0].counterexample if r.failed else None
        reach = "" if cex is None else f"; first counterexample reachable: {cex.reachable}"
        print(f"  {name:<26} {r.verdict} in {time.perf_counter() - start:5.2f} s: {failed}{reach}")
        if r.verdict == "proven":
            proven.append(name)
    for name, why in getattr(module, "NO_PROOF", {}).items():
        print(f"  {name:<26} no proof variant: {why}")
    return proven


def multipaxos_crosscheck(sizes: tuple[int, int, int], progress):
    from paxoscope.proofs.crosscheck import crosscheck_abstraction
    from paxoscope.proofs.multipaxos import empty_structure, model_for, structure_of_spec
    from paxoscope.spec.multipaxos import MultiPaxos

    spec = MultiPaxos(*sizes)
    return crosscheck_abstraction(model_for(), spec, empty_structure(spec), structure_of_spec, progress=progress)


if __name__ == "__main__":
    sys.exit(main())

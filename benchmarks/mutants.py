"""Mutation score of the conformance check: cosmic-ray mutates the modules
that decide what a node stores and sends, and ``paxoscope conform`` at its
defaults is the test that must fail on each mutant.

Prints killed / survived / equivalent, out of how many were run, and every
surviving mutant that is not known to be equivalent (with its diff). A
mutant is equivalent when no run of the program can tell it from the
original: ``EQUIVALENT`` names each one, keyed by the line it changes and
what it changes it to, with the reason.

cosmic-ray mutates the files in place and puts each back after its test, so
the script refuses a tree with changes in those files, and checks (and
restores, from git) that they are unchanged afterwards. The session file
keeps the results: run again with the same ``--session`` to resume an
interrupted run, or with ``--report-only`` to print the figures again.

    pip install -e '.[mutation]'
    python benchmarks/mutants.py [--module impl/core.py ...] [--session FILE] [--timeout S] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["impl/core.py"]
TEST = [sys.executable, "-m", "paxoscope.cli", "conform"]

# Mutants no run can distinguish from the original, keyed by
# "module: original line => mutated line" (both stripped), with the reason.
EQUIVALENT: dict[str, str] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="a module to mutate (repeatable; default impl/core.py)")
    parser.add_argument("--session", default=None, help="cosmic-ray's session file (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one test run may take (default 120)")
    parser.add_argument("--report-only", action="store_true", help="print the figures of an existing --session")
    parser.add_argument("--show", type=int, default=50, help="surviving mutants to show with their diff")
    args = parser.parse_args()
    modules = args.module or MODULES
    with tempfile.TemporaryDirectory(prefix="paxoscope-mutants-") as tmp:
        session = Path(args.session or Path(tmp) / "session.sqlite").resolve()
        if not args.report_only:
            run(modules, session, args.timeout, Path(tmp))
        return report(session, args.show)


def run(modules: list[str], session: Path, timeout: float, tmp: Path) -> None:
    dirty = git("status", "--porcelain", "--", *modules)
    if dirty.strip():
        sys.exit(f"mutants.py: {', '.join(modules)} has uncommitted changes; commit them first (they are mutated)")
    config = tmp / "cosmic-ray.toml"
    # TOML's basic strings and arrays of them read as JSON does
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(modules)}\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(' '.join(TEST))}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    try:
        if not session.exists():
            subprocess.run([*cosmic, "init", str(config), str(session)], cwd=ROOT, check=True)
        subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=ROOT, check=True)
    finally:
        if git("diff", "--name-only", "--", *modules).strip():
            git("checkout", "--", *modules)
            print(f"mutants.py: restored {', '.join(modules)} from git after an interrupted run", file=sys.stderr)


def report(session: Path, show: int) -> int:
    from cosmic_ray.work_db import WorkDB, use_db

    counts: Counter[str] = Counter()
    survivors: list[tuple[str, str]] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        for item, result in db.completed_work_items:
            key = describe(item, result.diff or "")
            if result.is_killed:
                counts["killed"] += 1
            elif key in EQUIVALENT:
                counts["equivalent"] += 1
            else:
                counts["survived"] += 1
                survivors.append((key, result.diff or ""))
    run_ = sum(counts.values())
    print(
        f"mutants: {total} generated, {run_} run; killed {counts['killed']}, survived {counts['survived']}, "
        f"equivalent {counts['equivalent']} (test: {' '.join(['paxoscope', *TEST[3:]])})"
    )
    for key, diff in survivors[:show]:
        print(f"\nSURVIVED {key}\n{diff.rstrip()}")
    return 0


def describe(item, diff: str) -> str:
    """A mutant named by what it changes: "module: original => mutated"."""
    module = Path(item.mutations[0].module_path).name if item.mutations else "?"
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return f"{module}: {' / '.join(removed)} => {' / '.join(added)}"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    sys.exit(main())

"""``paxoscope tour [PROTOCOL]``: a walk through a protocol's bug gallery for learners.

Each stop is one known-wrong variant, shown five ways: the code that was
changed (a diff against the readable spec it overrides), why the change
looks harmless and how it goes wrong, the shortest run that breaks safety
(found by the explorer, drawn as a message sequence chart), the proof
obligation that the change breaks (found by Z3, with its counterexample to
induction; a variant without a proof model says so), and the one-line fix.
Everything but the prose is computed afresh on each run, so the tour cannot
drift from the code it describes.

The Paxos tour has one more stop, ``flp``, asked for by name: not a bug but
the limit of every consensus protocol, FLP, shown as a lasso (a run in which
two proposers preempt each other forever) and the assumption that escapes it
(a stable leader), both checked as the tour runs.

A ``Tour`` says, for one protocol, how to find a variant's shortest
counterexample; its gallery, its proof model and the variants that have none
come from the protocol registry. ``TOURS`` holds one per protocol that has a
gallery. In a terminal the tour pauses after each
variant; ``--html DIR`` writes the whole tour as one page,
``DIR/index.html``, with each chart also as ``DIR/NAME.svg``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the specs are imported when the tour runs, not when the command line is parsed
    from .explorer.trace import Trace

MAX_BALLOTS = 4  # the explorer looks for a Paxos counterexample with ballots 0..0, then 0..1, ... up to this
WIDTH = 88


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "tour",
        help="a guided tour of the bug gallery: the change, the counterexample, the broken proof, the fix",
        description="Walk through the gallery of known-wrong variants of a protocol (Paxos unless one is "
        f"named first: {', '.join(TOURS)}), one at a time: what was changed, why it looks harmless, the "
        "shortest counterexample as a message sequence chart, which proof obligation breaks, and the "
        "one-line fix. Every counterexample and proof is computed as the tour runs (about fifteen seconds "
        "for the whole Paxos gallery).",
        epilog="Exit codes: 0 every variant was caught as the gallery says, 1 a variant was not caught, 2 bad usage.",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"a protocol first ({', '.join(TOURS)}; default paxos), then only these variants (default: all); "
        f"for Paxos, {FLP} is the stop where no variant is wrong: FLP's endless run, and the stable leader",
    )
    p.add_argument(
        "--html", metavar="DIR", help="write the tour as one HTML page, DIR/index.html, instead of printing it"
    )
    p.add_argument("--no-pause", action="store_true", help="do not wait for Enter between variants")
    p.add_argument("--no-color", action="store_true", help="no colours in the terminal chart (also: NO_COLOR=1)")


# ---------------------------------------------------------------------------
# A tour: one protocol's gallery, and how to catch each of its variants
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What the explorer found for one variant: its shortest counterexample (None: none
    in the configurations tried), how many distinct states it visited, the command that
    finds it again, and what fails at the trace's last state."""

    trace: Trace | None
    explored: int
    command: str
    failure: str
    tried: str  # the configurations searched, for "None found with ..."
    scenario: bool = False  # the trace is a scenario played step by step, not the result of a search
    shortest: bool = True  # no shorter one exists: a search's, or a scenario as short (benchmarks/raft_bugs.py)


@dataclass(frozen=True)
class Tour:
    """One protocol's tour of its gallery (the registry's: variant classes, each a
    ``spec.gallery.Variant`` and a small override of the readable spec).
    ``find(variant, status)`` finds the shortest counterexample."""

    protocol: str
    title: str
    find: Callable[[type, Callable[[str], None]], Found]
    intro: str

    def prove(self, name: str) -> Any:
        """The proof report of variant ``name``, or (a string) why it has none: the
        protocol's proof model and the variants it cannot model, as the registry names them."""
        from . import registry
        from .proofs.obligations import prove

        protocol = registry.protocol(self.protocol)
        if protocol.proof is None:
            return f"{self.title} has no proof model at all"
        no_proof = registry.resolve(protocol.no_proof) if protocol.no_proof else {}
        return no_proof[name] if name in no_proof else prove(registry.resolve(protocol.proof)(name))

    def prove_command(self, name: str) -> str:
        # Paxos is what `prove` takes when no protocol is named, as in the Paxos tour's pages
        protocol = "" if self.protocol == "paxos" else f" {self.protocol}"
        return f"paxoscope prove{protocol} --bug {name}"

    def variants(self) -> dict[str, type]:
        """The protocol's gallery of spec variants, as the registry names it."""
        from . import registry

        return registry.resolve(registry.protocol(self.protocol).gallery.spec)


def _first_failure(runs: list[tuple[str, Callable[[], Any]]], status: Callable[[str], None], tried: str) -> Found:
    """Check each (command, check) in order until one finds a violation: the smallest
    configuration that shows the variant, and its shortest counterexample there.
    ``failure`` is left as the name of the property that fails."""
    explored, command = 0, ""
    for command, run in runs:
        status(f"exploring: {command} ...")
        result = run()
        explored = result.distinct_states
        if result.violation is not None:
            return Found(result.violation.trace, explored, command, result.violation.property, tried)
    return Found(None, explored, command, "", tried)


def find_paxos(bug: type, status: Callable[[str], None]) -> Found:
    from .explorer.bfs import check

    runs = [
        (
            f"paxoscope check --bug {bug.name} --ballots {ballots} --invariant Consistency",
            lambda ballots=ballots: check(bug(ballots=ballots), ["Consistency"]),
        )
        for ballots in range(1, MAX_BALLOTS + 1)
    ]
    found = _first_failure(runs, status, f"up to {MAX_BALLOTS} ballots")
    return replace(found, failure="Consistency fails: two values are chosen")


PAXOS_INTRO = (
    "Each variant below is Paxos with one small change that looks harmless, and each lets two different values "
    "be chosen."
)
PAXOS = Tour("paxos", "Paxos", find_paxos, PAXOS_INTRO)

# Two replicas and one write first (a replica that never replies already deadlocks there),
# then MultiPaxos_MC_small.cfg's three replicas, one write and one read.
MULTIPAXOS_SIZES = ((2, 1, 0), (3, 1, 1))
MULTIPAXOS_FAILURES = {
    "Linearizability": "Linearizability fails: no order of the commands explains what the clients saw",
    "Deadlock": "deadlock: nothing more can happen, and a request is still unanswered",
}


def find_multipaxos(bug: type, status: Callable[[str], None]) -> Found:
    from .explorer.bfs import check

    runs = [
        (
            f"paxoscope check multipaxos --bug {bug.name} --replicas {r} --writes {w} --reads {n} --symmetry",
            lambda sizes=(r, w, n): check(bug(*sizes), symmetry=True, deadlock=True),
        )
        for r, w, n in MULTIPAXOS_SIZES
    ]
    tried = " and with ".join(f"{r} replicas, {w} write(s) and {n} read(s)" for r, w, n in MULTIPAXOS_SIZES)
    found = _first_failure(runs, status, tried)
    return replace(found, failure=MULTIPAXOS_FAILURES.get(found.failure, f"{found.failure} fails"))


MP_INTRO = (
    "Each variant below is Multi-Paxos (MultiPaxos-SMR: a replicated log of client writes and reads) with one "
    "small change that looks harmless. Each either lets the clients see a history that no order of their "
    "commands explains (Linearizability fails), or leaves a request unanswered forever (a deadlock)."
)
MULTIPAXOS = Tour("multipaxos", "Multi-Paxos", find_multipaxos, MP_INTRO)

RAFT_FAILURES = {
    "MoreThanOneLeaderInv": "MoreThanOneLeaderInv fails: two leaders in one term",
    "ElectionsHistoryInv": "ElectionsHistoryInv fails: two servers won the same term",
    "LogMatchingInv": "LogMatchingInv fails: two logs share an entry but not the entries before it",
    "LogInv": "LogInv fails: two servers committed different entries at the same index",
    "LeaderCompletenessInv": "LeaderCompletenessInv fails: a leader lacks an entry committed in an earlier term",
}


def find_raft(bug: type, status: Callable[[str], None]) -> Found:
    """The explorer's shortest counterexample at the smallest sizes that show the variant, or,
    where those sizes are too large to search during a tour, its scenario played step by step."""
    from .explorer.bfs import check
    from .explorer.scenario import play
    from .spec.raft_bugs import SHOWN

    shown = SHOWN[bug.name]
    spec = bug(**shown.sizes)
    command = shown.command(bug.name, symmetry=bool(shown.scenario))
    tried = spec.config_text()
    if not shown.scenario:
        found = _first_failure([(command, lambda: check(spec))], status, tried)
    else:
        status(f"playing the scenario of {bug.name} ...")
        trace = play(spec, shown.scenario)
        broken = len(trace) == len(shown.scenario) + 1 and not spec.invariants[shown.invariant](trace.states[-1])
        shortest = broken and shown.shortest == len(trace)
        found = Found(trace if broken else None, 0, command, shown.invariant, tried, scenario=True, shortest=shortest)
    return replace(found, failure=RAFT_FAILURES.get(found.failure, f"{found.failure} fails"))


RAFT_INTRO = (
    "Each variant below is Raft (raft.tla, bounded as MCraft.tla) with one small change that looks harmless, "
    "and each breaks one of the invariants TLC checks: two leaders in one term, logs that disagree, or a "
    "committed entry lost. The variants that two servers show are found by exhaustive search, shortest first; "
    "those that need three servers are shown by a scenario played step by step, since their state spaces are "
    "too large to search during a tour."
)
RAFT = Tour("raft", "Raft", find_raft, RAFT_INTRO)

TOURS: dict[str, Tour] = {t.protocol: t for t in (PAXOS, MULTIPAXOS, RAFT)}


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


@dataclass
class Stop:
    """One variant, with everything the tour shows of it."""

    number: int
    bug: type
    diff: str
    found: Found
    report: Any  # the proof report (proofs.obligations.Report), or None: the variant has no proof model
    tour: Tour = PAXOS
    no_proof: str = ""  # why the variant has no proof model

    @property
    def name(self) -> str:
        return self.bug.name

    @property
    def trace(self) -> Trace | None:
        return self.found.trace

    @property
    def check_command(self) -> str:
        return self.found.command

    @property
    def explored(self) -> int:
        return self.found.explored

    @property
    def mark(self) -> dict[int, str]:
        return {len(self.trace): self.found.failure} if self.trace else {}

    @property
    def caught(self) -> bool:
        return self.trace is not None and (self.report is None or self.report.verdict != "proven")


def choose(names: list[str]) -> tuple[Tour, list[str]]:
    """The tour a command line names (its first word, if a protocol; else Paxos's) and its variants."""
    from . import registry
    from .spec.constants import ConfigError

    tour = TOURS.get(names[0]) if names else None
    if names and tour is None and names[0] in {p.name for p in registry.protocols()}:
        raise ConfigError(f"{names[0]} has no gallery to tour; the tours: {', '.join(TOURS)}")
    names = names[1:] if tour is not None else names
    tour = tour or PAXOS
    gallery = tour.variants()
    unknown = [n for n in names if n not in gallery and not (tour is PAXOS and n == FLP)]
    if unknown:
        raise ConfigError(f"unknown bug {unknown[0]!r}; the {tour.title} gallery has: {', '.join(gallery)}")
    return tour, names or list(gallery)


def run(args: argparse.Namespace, out: Any = print) -> int:
    from .console import stdout_closed
    from .spec.constants import ConfigError

    tour, names = choose(args.names)
    if args.html and Path(args.html).exists() and not Path(args.html).is_dir():
        raise ConfigError(f"--html: {args.html} is a file; give a directory for index.html and the charts")
    colour = sys.stdout.isatty() and not args.no_color and not _no_color_env()
    pause = sys.stdin.isatty() and sys.stdout.isatty() and not args.no_pause and not args.html
    gallery = tour.variants()
    stops = []
    for number, name in enumerate(names, start=1):
        if args.html:
            out(f"{number}/{len(names)} {name} ...")
        status = _status if sys.stderr.isatty() else None
        stop = flp_stop(number, status) if name == FLP else visit(number, gallery[name], status=status, tour=tour)
        stops.append(stop)
        if args.html:
            out(f"    {_verdicts(stop)}")
            continue
        out(stop_text(stop, len(names), colour))
        if stdout_closed():  # e.g. `paxoscope tour | head`: nobody reads the rest
            break
        if pause and number < len(names):
            try:
                answer = input("\npress Enter for the next variant, q then Enter to stop: ")
            except EOFError:
                answer = "q"
            if answer.strip().lower().startswith("q"):
                break
    if args.html:
        page = write_html(stops, Path(args.html), tour)
        out(f"wrote the tour of {len(stops)} variant{'s' * (len(stops) != 1)} to {page}")
    missed = [s.name for s in stops if not s.caught]
    if missed:
        out(f"NOT CAUGHT: {', '.join(missed)}")
        return 1
    return 0


def _no_color_env() -> bool:
    import os

    return bool(os.environ.get("NO_COLOR"))


# ---------------------------------------------------------------------------
# What each stop computes
# ---------------------------------------------------------------------------


def _status(text: str) -> None:
    sys.stderr.write("\r\x1b[K" + (f"  {text}" if text else ""))
    sys.stderr.flush()


def visit(number: int, bug: type, status: Any = None, tour: Tour = PAXOS) -> Stop:
    """Find the shortest counterexample of ``bug`` and prove it, reporting
    what is being done to ``status`` (which is called with "" at the end)."""
    status = status or (lambda text: None)
    found = tour.find(bug, status)
    status(f"{bug.name}: proving with Z3 ...")
    report = tour.prove(bug.name)
    report, no_proof = (None, report) if isinstance(report, str) else (report, "")
    status("")
    return Stop(number, bug, changed_code(bug), found, report, tour, no_proof)


def reference_of(bug: type) -> type:
    """The spec a gallery variant changes: the first of its classes that is no ``Variant``."""
    from .spec.gallery import Variant

    return next(cls for cls in bug.__mro__ if not issubclass(cls, Variant))


def changed_code(bug: type) -> str:
    """The methods of ``bug`` that carry a ``# BUG`` line, as a unified diff
    against the method of the spec it changes (docstrings left out). A method
    that calls the one it overrides is shown whole, as added lines: the call
    keeps the original."""
    reference = reference_of(bug)
    parts = []
    for name, member in vars(bug).items():
        if not inspect.isfunction(member):
            continue
        new = _code(member)
        if not any("# BUG" in line for line in new):
            continue
        base = getattr(reference, name, None)
        here, there = _file(bug), _file(reference)
        if not inspect.isfunction(base):
            old, where = [], f"{there} ({reference.__name__} has no {name})"
        elif f"super().{name}(" in "".join(new):  # an extension: what it adds is the change
            old, where = [], f"{reference.__name__}.{name}  {there} (called by the override, unchanged)"
        else:
            old, where = _code(base), f"{reference.__name__}.{name}  {there}"
        diff = difflib.unified_diff(old, new, where, f"{bug.__name__}.{name}  {here}", n=2)
        parts.append("\n".join(line.rstrip("\n") for line in diff))
    return "\n\n".join(parts)


def _file(cls: type) -> str:
    """Where a class is written, as its folder and file (``spec/bugs.py``)."""
    path = Path(inspect.getsourcefile(cls))
    return f"{path.parent.name}/{path.name}"


def _code(function: Any) -> list[str]:
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source).body[0]
    lines = source.splitlines()
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if doc is not None and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
        del lines[doc.lineno - 1 : doc.end_lineno]
    return lines


def failed(stop: Stop) -> list[Any]:
    return [o for o in stop.report.outcomes if o.result != "proven"] if stop.report is not None else []


def obligation_sentence(o: Any) -> str:
    from .proofs.report import what_failed

    if o.result == "unknown":
        return f"{o.name}: Z3 could not decide it (unknown)"
    return f"{o.name}: {what_failed(o)}"


CTI = (
    "A counterexample to induction is a state that satisfies every conjunct of the invariant, and a "
    "step of the variant from it that breaks one: the invariant is no longer preserved, so the proof "
    "of safety fails at that step."
)


def reachability(cti: Any) -> str:
    if cti.reachable is True:
        return "Its first state is reachable from Init (prove prints the run), so this step really happens."
    if cti.reachable is False:
        return "Its first state is not reachable from Init; the explorer's counterexample above shows the real failure."
    return f"Whether its first state is reachable was not decided: {cti.reach_note}"


def _verdicts(stop: Stop) -> str:
    if isinstance(stop, FlpStop):
        holds = "holds" if stop.stable_holds else "FAILS"
        return f"lasso of {len(stop.trace)} states; with a stable leader: {holds}"
    found = f"counterexample of {len(stop.trace)} states" if stop.trace else "NO counterexample"
    if stop.report is None:
        return f"{found}; no proof model"
    broken = ", ".join(o.name for o in failed(stop)) or "NO obligation fails"
    return f"{found}; proof: {broken}"


# ---------------------------------------------------------------------------
# The stop that is no bug: FLP, and the stable leader that escapes it
# ---------------------------------------------------------------------------

FLP = "flp"
FLP_COMMAND = "paxoscope check paxos-proposers --invariant EventuallyChosen"
STABLE_COMMAND = "paxoscope check paxos-proposers --stable-leader --invariant EventuallyChosen"
FLP_SAYS = (
    "Fischer, Lynch and Paterson (1985): in an asynchronous system, where messages take any finite time, no "
    "deterministic protocol can guarantee that consensus terminates if even one process may crash. Paxos keeps "
    "safety under any timing: it never chooses two values. What it cannot keep is termination: a run may go on "
    "forever without choosing anything, and no crash is even needed for it."
)
FLP_READ = (
    "Each proposer gathers a quorum of promises and asks for votes; before a quorum votes, the other proposer's "
    "higher ballot takes the acceptors' promises, so the first starts a ballot higher still, and so on. Every "
    "message is delivered and every process keeps taking steps (the fairness assumed), and still nothing is "
    "ever chosen. Ballots climb forever, but only their order matters, so the run is a cycle of the state graph."
)
FLP_ESCAPE = (
    "Every real system assumes that, eventually, one proposer runs alone long enough to finish: a stable leader, "
    "elected with timeouts once the network behaves (partial synchrony; Chandra and Toueg's Omega). With it, every "
    "fair run chooses a value. Safety never depended on the assumption; only termination does."
)


@dataclass
class FlpStop:
    """The FLP stop: the lasso in which two proposers duel forever, and the check with a stable leader."""

    number: int
    trace: Trace
    mark: dict[int, str]
    loop: int
    explored: int
    fairness: list[str]
    stable_holds: bool
    stable_explored: int
    name: str = FLP

    @property
    def caught(self) -> bool:
        return self.stable_holds

    def blocks(self) -> list[tuple]:
        cycle = len(self.trace) - 1 - self.loop
        stable = "holds" if self.stable_holds else "FAILS"
        return [
            ("p", "Not a bug: the limit of every consensus protocol (FLP), and the assumption that escapes it."),
            ("h3", "What FLP says"),
            ("p", FLP_SAYS),
            ("h3", "The lasso: two proposers preempting each other forever"),
            ("pre", FLP_COMMAND),
            (
                "p",
                f"{self.loop} steps, then a cycle of {cycle} steps that repeats forever, found among "
                f"{self.explored:,} states, under the fairness {', '.join(self.fairness)}:",
            ),
            ("trace", self.trace, self.mark),
            ("p", FLP_READ),
            ("h3", "The assumption that escapes it"),
            ("pre", f"{STABLE_COMMAND}\nEventuallyChosen {stable} on every fair run ({self.stable_explored:,} states)"),
            ("p", FLP_ESCAPE),
        ]


def flp_stop(number: int, status: Any = None) -> FlpStop:
    """The FLP stop, computed: the duel's lasso, and the stable leader's verdict."""
    from .explorer.liveness import check
    from .explorer.render import violation_marks
    from .spec.paxos_proposers import PaxosProposers

    status = status or (lambda text: None)
    status(f"exploring: {FLP_COMMAND} ...")
    duel = check(PaxosProposers(), ["EventuallyChosen"])
    status(f"exploring: {STABLE_COMMAND} ...")
    stable = check(PaxosProposers(stable_leader=True), ["EventuallyChosen"])
    status("")
    v = duel.violation
    return FlpStop(
        number,
        v.trace,
        violation_marks(v),
        v.loop,
        duel.distinct_states,
        duel.fairness,
        stable.verdict == "ok",
        stable.distinct_states,
    )


# ---------------------------------------------------------------------------
# What a stop says, once, for the terminal and the page
# ---------------------------------------------------------------------------


def stop_blocks(stop: Stop) -> list[tuple]:
    """The stop as blocks of ``explorer.chart.Section``: ``("p", text)``,
    ``("h3", text)``, ``("pre", text)`` and ``("trace", trace, mark)``."""
    if isinstance(stop, FlpStop):
        return stop.blocks()
    blocks: list[tuple] = [
        ("p", stop.bug.summary),
        ("h3", "What was changed"),
        ("pre", stop.diff),
        ("h3", "Why it looks harmless, and why it is not"),
        ("p", stop.bug.explanation),
        ("h3", "The shortest counterexample" if stop.found.shortest else "A counterexample"),
    ]
    if stop.trace is None:
        blocks.append(("p", f"None found with {stop.found.tried}: the variant is NOT caught."))
    else:
        blocks.append(("pre", stop.check_command))
        blocks.append(("p", _found_sentence(stop)))
        blocks.append(("trace", stop.trace, stop.mark))
    blocks += [("h3", "The proof obligation that breaks"), *proof_blocks(stop)]
    blocks += [("h3", "The one-line fix"), ("p", stop.bug.fix)]
    return blocks


def _found_sentence(stop: Stop) -> str:
    if stop.found.scenario and stop.found.shortest:
        return (
            f"{len(stop.trace)} states, a scenario played step by step with {stop.found.tried}; the command above "
            "searches those sizes in a few minutes and finds none shorter:"
        )
    if stop.found.scenario:
        return (
            f"{len(stop.trace)} states, a scenario played step by step with {stop.found.tried} (the command above "
            "searches those sizes for the shortest, which takes far longer than a tour):"
        )
    return f"{len(stop.trace)} states, found among {stop.explored:,}:"


def proof_blocks(stop: Stop) -> list[tuple]:
    """The obligations the variant breaks, and the first counterexample to induction, charted."""
    from .proofs.report import mark_broken

    if stop.report is None:
        return [("p", f"None: this variant has no proof model, because {stop.no_proof}.")]
    broken = failed(stop)
    sentences = "\n".join(obligation_sentence(o) for o in broken)
    command = stop.tour.prove_command(stop.name)
    blocks: list[tuple] = [("pre", f"{command}\n{sentences or 'every obligation is proven: NOT caught'}")]
    cti = next((o.counterexample for o in broken if o.counterexample is not None), None)
    if cti is not None:
        blocks.append(("p", f"{CTI} The counterexample to induction of {broken[0].name}:"))
        blocks.append(("trace", cti.trace(), mark_broken(cti, cti.trace())))
        blocks.append(("p", reachability(cti)))
    return blocks


def stop_text(stop: Stop, total: int, colour: bool) -> str:
    """The stop for a terminal: each trace as a text chart."""
    from .explorer.chart import sequence_text

    def heading(text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if colour else text

    def indent(text: str) -> str:
        return textwrap.indent(text, "  ")

    rule = "━" * WIDTH
    summary, *rest = stop_blocks(stop)
    lines = [rule, heading(f"{stop.number}/{total} · {stop.name}"), summary[1], rule]
    previous = None
    for kind, *what in rest:
        if kind == "h3":
            lines += ["", heading(what[0])]
        else:
            if previous in ("p", "pre", "trace"):
                lines.append("")
            if kind == "p":
                lines.append(indent(_wrap(what[0])))
            elif kind == "pre":
                lines.append(indent(_paint_diff(what[0], colour)))
            else:
                lines.append(indent(sequence_text(*what, colour=colour)))
        previous = kind
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=WIDTH - 2)


def _paint_diff(diff: str, colour: bool) -> str:
    if not colour:
        return diff
    codes = {"+": "32", "-": "31", "@": "36"}
    painted = []
    for line in diff.splitlines():
        code = codes.get(line[:1]) if not line.startswith(("+++", "---")) else "1"
        painted.append(f"\x1b[{code}m{line}\x1b[0m" if code else line)
    return "\n".join(painted)


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------


def write_html(stops: list[Stop], directory: Path, tour: Tour = PAXOS) -> Path:
    from .explorer.chart import write_page, write_svg

    directory.mkdir(parents=True, exist_ok=True)
    sections = [_section(stop) for stop in stops]
    for stop in stops:
        if stop.trace is not None:
            write_svg(stop.trace, directory / f"{stop.name}.svg", stop.mark)
    command = "paxoscope tour" + ("" if tour is PAXOS else f" {tour.protocol}")
    intro = [
        f"{tour.intro} For each one: the change, why it looks harmless and why it is not, the shortest "
        "run that goes wrong (found by exhaustive search, drawn as a message sequence chart beside its step "
        "table), the proof obligation that the change breaks (found by Z3), and the fix.",
        f"Written by: {command} --html DIR. In a terminal: {command}.",
    ]
    page = directory / "index.html"
    write_page(page, f"A tour of the {tour.title} bug gallery", sections, intro)
    return page


def _section(stop: Stop):
    from .explorer.chart import Section

    return Section(f"{stop.number}. {stop.name}", stop_blocks(stop), anchor=stop.name)

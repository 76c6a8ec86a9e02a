"""The protocols paxoscope knows: one entry each, naming its parts.

A ``Protocol`` declares its specs and their parameters (from which the size
flags of ``check`` and ``pin`` are made), its gallery of known-wrong
variants (one ``Variant`` each, saying whether it exists in the spec, the
proof model and the implementation), its proof model, its implementation
core and refinement mapping, how its traces are charted, and its tour.
Every part is named by module path and imported only when asked for, so
listing protocols or checking a spec never imports z3 or hypothesis.

Adding a protocol adds an entry here and files of its own beside the
others; no command names a protocol.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .spec.constants import ConfigError, positive_int, whole_number_at_least

PARTS = ("spec", "proof", "impl")
PART_WORDS = {"spec": "spec", "proof": "proof model", "impl": "implementation"}


def resolve(ref: str) -> Any:
    """The object a ``package.module:name`` reference names."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def acceptor_names(text: str) -> list[str]:
    """An argparse type: a quorum as comma-separated acceptor names."""
    import argparse

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no acceptor (write e.g. a1,a2)")
    return names


@dataclass(frozen=True)
class Param:
    """A spec's constructor parameter, as the command line sets it.

    ``name`` is the keyword the spec's factory takes (and a pin's key);
    ``flag`` the option of ``check``; ``repeat``: each use of the flag adds
    one item to a list (``--quorum``). Two specs that share a flag declare it
    alike (everything but ``default``), or the registry refuses to load."""

    name: str
    flag: str
    help: str
    type: Callable[[str], Any] = positive_int
    default: Any = None
    metavar: str = "N"
    repeat: bool = False

    def alike(self) -> tuple:
        return (self.name, self.flag, self.help, self.type, self.metavar, self.repeat)


@dataclass(frozen=True)
class SpecEntry:
    """A built-in spec: ``factory`` (a reference, or a callable) is called with every parameter."""

    name: str
    factory: str | Callable[..., Any]
    summary: str
    params: tuple[Param, ...] = ()
    cost: str | None = None  # (sizes, symmetry, bug) -> (bytes, why): what building it takes, refused if too much

    def build(self, given: dict[str, Any], factory: Callable[..., Any] | None = None, what: str = "") -> Any:
        """The spec (or, with ``factory``, a variant of it) with the parameters ``given``
        and the declared defaults for the rest; ``what`` names it in an error."""
        unknown = [k for k in given if k not in self.defaults()]
        if unknown:
            takes = self.flags() or "no size options"
            raise ConfigError(f"{what or self.name} takes {takes}, not {flag_of(unknown[0])}")
        if factory is None:
            factory = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        return factory(**{**self.defaults(), **given})

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def flags(self) -> str:
        return ", ".join(p.flag for p in self.params)


@dataclass(frozen=True)
class Variant:
    """One known-wrong variant of a protocol: its story, and where it exists.

    ``parts`` says which of the spec, the proof model and the implementation
    have it; ``build`` makes the spec variant (None when it has none)."""

    name: str
    protocol: str
    summary: str
    explanation: str = ""
    fix: str = ""
    parts: tuple[str, ...] = ()
    spec: str | None = None  # the spec it varies
    build: Callable[..., Any] | None = None

    def commands(self) -> list[str]:
        """The commands that show this variant caught, one per part it exists in."""
        # paxos is what check and prove take when no spec is named
        spec = "" if self.spec in (None, "paxos") else f"{self.spec} "
        verbs = {"spec": f"check {spec}", "proof": f"prove {spec}", "impl": "conform "}
        return [f"paxoscope {verbs[part]}--bug {self.name}" for part in self.parts]


@dataclass(frozen=True)
class Gallery:
    """Where a protocol's variants live, by reference: ``spec`` maps names to
    classes (with ``summary``, ``explanation`` and ``fix``) that build like the
    spec ``varies``; ``proof`` maps names to proof models; ``impl`` maps the
    implementation's variant names to their stories (``summary``, ``explanation``, ``fix``)."""

    spec: str | None = None
    varies: str | None = None
    proof: str | None = None
    impl: str | None = None


@dataclass(frozen=True)
class Protocol:
    """One protocol: its specs (the first is the one its gallery, proof and
    implementation are about), and its other parts by reference, None when
    it has none."""

    name: str
    summary: str
    specs: tuple[SpecEntry, ...]
    gallery: Gallery = field(default_factory=Gallery)
    proof: str | None = None  # the proof model's factory (``prove``): model_for(bug)
    #: ``prove --crosscheck``: (model, sizes, progress=) -> report, and the sizes it explores by default
    crosscheck: str | None = None
    crosscheck_sizes: tuple[tuple[str, int], ...] = ()
    no_proof: str | None = None  # variants that cannot have a proof model -> why not
    implementation: str | None = None  # the sans-I/O core
    mapping: str | None = None  # the implementation's refinement mapping to the spec
    chart: str | None = None  # how its traces are charted (a hook on the spec), when not one lane per variable
    tour: str | None = None  # the command that walks its gallery

    def has(self) -> dict[str, bool]:
        """Which parts this protocol has, by the names ``paxoscope protocols`` shows."""
        return {
            "spec": bool(self.specs),
            "proof": self.proof is not None,
            "impl": self.implementation is not None,
            "chart": self.chart is not None,
            "tour": self.tour is not None,
        }

    def variants(self, parts: Iterable[str] = PARTS) -> dict[str, Variant]:
        """The gallery (name -> Variant), reading only the galleries of ``parts`` (so that
        ``check`` never imports the proofs): each Variant's ``parts`` are among those."""
        return _variants(self.name, tuple(p for p in PARTS if p in set(parts)))


# ---------------------------------------------------------------------------
# The entries
# ---------------------------------------------------------------------------


def _consensus(values: int) -> Any:
    from .spec.consensus import Consensus

    return Consensus(tuple(f"v{i + 1}" for i in range(values)))


ACCEPTORS = Param("acceptors", "--acceptors", "acceptors a1..aN", default=3)
VALUES = Param("values", "--values", "values v1..vN", default=2)
BALLOTS = Param("ballots", "--ballots", "ballots 0..N-1", default=3)
QUORUMS = Param(
    "quorums",
    "--quorum",
    "a quorum, as acceptor names (repeat for each; default: every majority). "
    "Quorums that do not intersect are allowed: a known bug to see fail",
    type=acceptor_names,
    metavar="A,B,..",
    repeat=True,
)
RMS = Param("rms", "--rms", "resource managers r1..rN", default=3)
PAXOS_SIZES = (ACCEPTORS, VALUES, BALLOTS, QUORUMS)

PROTOCOLS: tuple[Protocol, ...] = (
    Protocol(
        "paxos",
        "single-decree Paxos, refining Voting and Consensus",
        (
            SpecEntry(
                "paxos",
                "paxoscope.spec.paxos:Paxos",
                "single-decree Paxos (Paxos.tla)",
                PAXOS_SIZES,
                cost="paxoscope.sizing:paxos_cost",
            ),
            SpecEntry(
                "voting",
                "paxoscope.spec.voting:Voting",
                "Voting, the abstraction Paxos refines",
                PAXOS_SIZES,
                cost="paxoscope.sizing:voting_cost",
            ),
            SpecEntry(
                "consensus",
                _consensus,
                "Consensus: at most one value is ever chosen",
                (VALUES,),
                cost="paxoscope.sizing:values_cost",
            ),
        ),
        Gallery(
            spec="paxoscope.spec.bugs:BUGS",
            varies="paxos",
            proof="paxoscope.proofs.paxos:BUG_MODELS",
            impl="paxoscope.impl.paxos:IMPL_BUGS",
        ),
        proof="paxoscope.proofs.paxos:model_for",
        crosscheck="paxoscope.proofs.paxos:crosscheck_spec",
        crosscheck_sizes=(("acceptors", 3), ("values", 2), ("ballots", 3)),
        implementation="paxoscope.impl.paxos.core:Node",
        mapping="paxoscope.impl.paxos.mapping:abstract_state",
        chart="a lifeline per proposer, per acceptor and for the learners",
        tour="paxoscope tour",
    ),
    Protocol(
        "twophase",
        "two-phase commit, refining transaction commit",
        (
            SpecEntry(
                "twophase",
                "paxoscope.spec.twophase:TwoPhase",
                "two-phase commit (TwoPhase.tla)",
                (RMS,),
                cost="paxoscope.sizing:rms_cost",
            ),
            SpecEntry(
                "tcommit",
                "paxoscope.spec.twophase:TCommit",
                "transaction commit, the spec two-phase commit refines",
                (RMS,),
                cost="paxoscope.sizing:rms_cost",
            ),
        ),
    ),
    Protocol(
        "multipaxos",
        "Multi-Paxos for state machine replication (MultiPaxos-SMR)",
        (
            SpecEntry(
                "multipaxos",
                "paxoscope.spec.multipaxos:MultiPaxos",
                "a replicated log of client writes and reads (MultiPaxos.tla)",
                (
                    Param("replicas", "--replicas", "replicas s1..sN", default=3),
                    Param("writes", "--writes", "client writes w1..wN", default=1),
                    Param(
                        "reads", "--reads", "client reads r1..rN, or none: 0", type=whole_number_at_least(0), default=1
                    ),
                    Param(
                        "max_ballot",
                        "--max-ballot",
                        "ballots 1..N, N at least 2",
                        type=whole_number_at_least(2),
                        default=2,
                    ),
                ),
            ),
        ),
        Gallery(
            spec="paxoscope.spec.multipaxos_bugs:BUGS",
            varies="multipaxos",
            proof="paxoscope.proofs.multipaxos:BUG_MODELS",
            impl="paxoscope.impl.multipaxos:IMPL_BUGS",
        ),
        proof="paxoscope.proofs.multipaxos:model_for",
        crosscheck="paxoscope.proofs.multipaxos:crosscheck_spec",
        crosscheck_sizes=(("replicas", 2), ("writes", 1), ("reads", 1), ("max_ballot", 2)),
        no_proof="paxoscope.proofs.multipaxos:NO_PROOF",
        implementation="paxoscope.impl.multipaxos.core:Node",
        mapping="paxoscope.impl.multipaxos.mapping:abstract_node",
        chart="a lifeline per replica and one for the clients, with ballots and log slots on the messages",
        tour="paxoscope tour multipaxos",
    ),
)


# ---------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------


def protocols() -> tuple[Protocol, ...]:
    return PROTOCOLS


def protocol(name: str) -> Protocol:
    for p in PROTOCOLS:
        if p.name == name:
            return p
    raise ConfigError(f"unknown protocol {name!r}; registered: {', '.join(p.name for p in PROTOCOLS)}")


_protocol = protocol  # for functions whose parameter of that name shadows it


def spec_names() -> list[str]:
    return [s.name for p in PROTOCOLS for s in p.specs]


def spec_entry(name: str) -> SpecEntry:
    for p in PROTOCOLS:
        for s in p.specs:
            if s.name == name:
                return s
    raise ConfigError(
        f"unknown spec {name!r}; built in: {', '.join(spec_names())}; or give path/to/file.py:Name or module:Name"
    )


def protocol_of(spec: str) -> Protocol:
    """The protocol whose entry declares the built-in spec ``spec``."""
    entry = spec_entry(spec)
    return next(p for p in PROTOCOLS if entry in p.specs)


def is_builtin(name: str) -> bool:
    return name in spec_names()


def params() -> dict[str, Param]:
    """Every declared parameter by name, each once (the first declaration; all agree)."""
    out: dict[str, Param] = {}
    for p in PROTOCOLS:
        for s in p.specs:
            for param in s.params:
                out.setdefault(param.name, param)
    return out


def flag_of(name: str) -> str:
    """The command-line flag of a parameter (``quorums`` -> ``--quorum``), or ``--name`` for a user's."""
    param = params().get(name)
    return param.flag if param is not None else f"--{name}"


def variants_named(name: str, protocol: str | None = None, part: str | None = None) -> list[Variant]:
    """Every variant called ``name`` that exists in ``part`` (any part: None), of
    ``protocol`` or of any protocol; reads only the galleries of that part."""
    parts = PARTS if part is None else (part,)
    scope = [_protocol(protocol)] if protocol is not None else list(PROTOCOLS)
    found = (p.variants(parts).get(name) for p in scope)
    return [v for v in found if v is not None]


def variant(name: str, protocol: str | None = None, part: str | None = "spec") -> Variant:
    """The variant called ``name`` that exists in ``part`` (any part: None),
    of ``protocol`` or of whichever protocol has it; ``ConfigError`` naming
    what there is when there is no such variant, or when several protocols
    have one of that name and none was named."""
    found = variants_named(name, protocol, part)
    if len(found) == 1:
        return found[0]
    if found:
        owners = " and ".join(v.protocol for v in found)
        raise ConfigError(
            f"bug {name!r} is a variant of {owners}: name the protocol (e.g. check {found[-1].spec} --bug)"
        )
    scope = [_protocol(protocol)] if protocol is not None else list(PROTOCOLS)
    parts = PARTS if part is None else (part,)
    galleries = [(p.name, list(p.variants(parts))) for p in scope]
    listed = [
        f"{owner}: {', '.join(names)}" if len(scope) > 1 else ", ".join(names) for owner, names in galleries if names
    ]
    kind, has = ("implementation bug", "known") if part == "impl" else ("bug", "the gallery has")
    where = f" of {protocol}" if protocol is not None else ""
    raise ConfigError(f"unknown {kind} {name!r}{where}; {has}: {'; '.join(listed) or 'none'}")


@cache
def _variants(name: str, parts: tuple[str, ...]) -> dict[str, Variant]:
    """One protocol's gallery merged from its parts' galleries, spec variants first."""
    gallery = _protocol(name).gallery
    texts: dict[str, dict[str, Any]] = {}
    if "spec" in parts and gallery.spec is not None:
        for key, cls in resolve(gallery.spec).items():
            story = {"summary": cls.summary, "explanation": cls.explanation, "fix": cls.fix}
            texts[key] = {**story, "parts": ["spec"], "spec": gallery.varies, "build": cls}
    if "proof" in parts and gallery.proof is not None:
        for key in resolve(gallery.proof):
            texts.setdefault(key, {"summary": "", "parts": []})["parts"].append("proof")
    if "impl" in parts and gallery.impl is not None:
        for key, bug in resolve(gallery.impl).items():
            story = {"summary": bug.summary, "explanation": bug.explanation, "fix": bug.fix}
            texts.setdefault(key, {**story, "parts": []})["parts"].append("impl")
    return {key: Variant(key, name, **{**t, "parts": tuple(t["parts"])}) for key, t in texts.items()}


def _check_flags() -> None:
    """Two specs that share a flag must mean the same by it: one option serves both."""
    seen: dict[str, Param] = {}
    for p in PROTOCOLS:
        for s in p.specs:
            for param in s.params:
                first = seen.setdefault(param.flag, param)
                if first.alike() != param.alike():
                    raise TypeError(f"{param.flag} is declared two ways: {first} and {param} ({s.name})")


_check_flags()

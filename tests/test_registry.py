"""The protocol registry: every entry's parts are where it says, the flags come from the declarations,
and ``protocols``, ``bugs`` and ``check`` speak of what is registered."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from paxoscope.spec.base import Spec
from paxoscope.spec.constants import ConfigError

from paxoscope import registry
from paxoscope.cli import build_parser, main
from paxoscope.registry import Param, Protocol, SpecEntry

ROOT = Path(__file__).resolve().parent.parent


def every_variant():
    return [v for p in registry.protocols() for v in p.variants().values()]


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


# ---------------------------------------------------------------------------
# Consistency: every part is where the entry says
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [s for p in registry.protocols() for s in p.specs], ids=lambda s: s.name)
def test_every_spec_builds_with_its_declared_defaults(entry):
    spec = entry.build({})
    assert isinstance(spec, Spec) and spec.name == entry.name
    factory = registry.resolve(entry.factory) if isinstance(entry.factory, str) else entry.factory
    signature = inspect.signature(factory).parameters
    for param in entry.params:
        assert param.name in signature, (entry.name, param.name)
        if signature[param.name].default is not inspect.Parameter.empty:
            assert signature[param.name].default == param.default, (entry.name, param.name)


@pytest.mark.parametrize("variant", [v for v in every_variant() if "spec" in v.parts], ids=lambda v: v.name)
def test_every_spec_variant_builds_its_spec_variant(variant):
    entry = registry.spec_entry(variant.spec)
    assert registry.protocol_of(variant.spec).name == variant.protocol
    spec = entry.build({}, variant.build)
    base = registry.resolve(entry.factory) if isinstance(entry.factory, str) else entry.factory
    # a small override of the spec it varies, or of that spec's readable twin (spec/paxos_reference.py)
    assert isinstance(spec, base) or base.name in {vars(c).get("name") for c in type(spec).__mro__}
    assert next(iter(spec.init())) is not None
    assert variant.summary and variant.explanation and variant.fix


@pytest.mark.parametrize("variant", [v for v in every_variant() if "proof" in v.parts], ids=lambda v: v.name)
def test_every_proof_variant_has_a_proof_model(variant):
    protocol = registry.protocol(variant.protocol)
    model = registry.resolve(protocol.proof)(variant.name)
    assert type(model).__name__ != type(registry.resolve(protocol.proof)(None)).__name__


@pytest.mark.parametrize("variant", [v for v in every_variant() if "impl" in v.parts], ids=lambda v: v.name)
def test_every_implementation_variant_is_a_switch_of_the_implementation_core(variant):
    implementation = registry.protocol(variant.protocol).implementation
    core = sys.modules[registry.resolve(implementation).__module__]
    assert f"{variant.name!r}" in inspect.getsource(core).replace('"', "'")  # the core reads the switch
    assert variant.summary


def test_every_reference_of_every_entry_resolves():
    for p in registry.protocols():
        for ref in (p.proof, p.implementation, p.mapping, p.gallery.spec, p.gallery.proof, p.gallery.impl):
            if ref is not None:
                assert registry.resolve(ref) is not None, ref
        if p.gallery.varies is not None:
            assert registry.spec_entry(p.gallery.varies) in p.specs


def test_the_one_gallery_holds_the_three_galleries():
    from paxoscope.impl.paxos import IMPL_BUGS
    from paxoscope.proofs.paxos import BUG_MODELS
    from paxoscope.spec.bugs import BUGS

    paxos = registry.protocol("paxos").variants()
    assert {n for n, v in paxos.items() if "spec" in v.parts} == set(BUGS)
    assert {n for n, v in paxos.items() if "proof" in v.parts} == set(BUG_MODELS)
    assert {n for n, v in paxos.items() if "impl" in v.parts} == set(IMPL_BUGS)
    assert all(paxos[n].summary == cls.summary and paxos[n].fix == cls.fix for n, cls in BUGS.items())


def test_listing_the_galleries_of_one_part_reads_no_other():
    code = (
        "import sys; from paxoscope import registry; "
        "[registry.variants_named('x', p.name, 'spec') for p in registry.protocols()]; "
        "print(sorted(m for m in sys.modules if m.endswith(('proofs.paxos', 'impl.paxos.core')) or m.startswith('z3')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------


def test_a_name_unique_across_protocols_resolves_without_the_protocol():
    for v in every_variant():
        if len(registry.variants_named(v.name)) == 1:
            for part in v.parts:  # a lookup in one part reads that part's gallery only
                found = registry.variant(v.name, part=part)
                assert (found.name, found.protocol) == (v.name, v.protocol) and part in found.parts
            assert registry.variant(v.name, v.protocol, part=None) == v


def test_a_name_two_protocols_use_needs_the_protocol(monkeypatch):
    shared = registry.protocol("paxos").variants()["promise-not-kept"]
    twin = Protocol("twin", "a copy of paxos's gallery", (), registry.protocol("paxos").gallery)
    monkeypatch.setattr(registry, "PROTOCOLS", (*registry.PROTOCOLS, twin))
    with pytest.raises(ConfigError, match="promise-not-kept.*paxos and twin: name the protocol"):
        registry.variant("promise-not-kept")
    assert registry.variant("promise-not-kept", "paxos", part=None) == shared


@pytest.mark.parametrize(
    "part, words", [("spec", "unknown bug 'nope'; the gallery has: paxos: "), ("impl", "unknown implementation bug")]
)
def test_an_unknown_variant_is_one_config_error_naming_what_there_is(part, words):
    with pytest.raises(ConfigError) as raised:
        registry.variant("nope", part=part)
    message = str(raised.value)
    assert words in message and "\n" not in message
    for v in every_variant():
        if part in v.parts:
            assert v.name in message


def test_an_unknown_protocol_or_spec_names_the_registered_ones():
    with pytest.raises(ConfigError, match="unknown protocol 'zab'; registered: paxos, twophase, multipaxos, raft"):
        registry.protocol("zab")
    with pytest.raises(ConfigError, match="unknown spec 'zab'; built in: paxos, voting, .*multipaxos, raft"):
        registry.spec_entry("zab")


# ---------------------------------------------------------------------------
# Flags from declarations
# ---------------------------------------------------------------------------


def _check_options() -> dict[str, object]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {flag: action for action in sub.choices["check"]._actions for flag in action.option_strings}


def test_every_declared_parameter_is_a_flag_of_check():
    flags = _check_options()
    for name, param in registry.params().items():
        action = flags[param.flag]
        if param.switch:  # a flag without a value
            assert action.dest == name and action.const is True and action.nargs == 0
        else:
            assert action.dest == name and action.type is param.type and action.metavar == param.metavar
        assert action.default is None  # not given: the spec's declared default applies


def test_a_new_protocol_gets_its_flags_from_its_declaration(monkeypatch, capsys):
    from paxoscope.spec.base import action

    class Counter(Spec):
        name = "counter"

        def __init__(self, limit: int = 2):
            self.limit = limit

        def init(self):
            yield 0

        def next(self, s):
            if s < self.limit:
                yield action("Inc"), s + 1

        @property
        def invariants(self):
            return {"Bounded": lambda s: s <= self.limit}

    limit = Param("limit", "--limit", "count up to N", default=2)
    counting = Protocol("counting", "a counter", (SpecEntry("counter", Counter, "counts", (limit,)),))
    monkeypatch.setattr(registry, "PROTOCOLS", (*registry.PROTOCOLS, counting))
    assert "--limit" in _check_options()
    assert main(["check", "counter", "--limit", "7", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["distinct_states"] == 8
    assert main(["check", "counter", "--acceptors", "3"]) == 2
    assert "counter takes --limit, not --acceptors" in capsys.readouterr().err


def test_a_flag_declared_two_ways_is_refused(monkeypatch):
    other = Param("values", "--values", "something else entirely", default=2)
    clash = Protocol("clash", "", (SpecEntry("clash", dict, "", (other,)),))
    monkeypatch.setattr(registry, "PROTOCOLS", (*registry.PROTOCOLS, clash))
    with pytest.raises(TypeError, match="--values is declared two ways"):
        registry._check_flags()


def test_pin_keys_are_the_declared_single_value_parameters():
    from paxoscope.pins import keys, parse_config

    assert set(keys()) == {n for n, p in registry.params().items() if not p.repeat}
    assert parse_config("multipaxos:replicas=2,reads=0") == {"spec": "multipaxos", "replicas": 2, "reads": 0}
    with pytest.raises(ConfigError, match="max_ballot"):
        parse_config("multipaxos:max_ballot=1")


# ---------------------------------------------------------------------------
# protocols
# ---------------------------------------------------------------------------


def test_protocols_lists_each_protocol_its_specs_flags_variants_and_parts(capsys):
    assert main(["protocols"]) == 0
    text = capsys.readouterr().out
    for p in registry.protocols():
        assert f"\n{p.name} " in "\n" + text, p.name
        for s in p.specs:
            line = next(line for line in text.splitlines() if line.strip().startswith(f"spec {s.name} "))
            assert line.split()[2:] == [word for a in s.params for word in (a.flag, a.metavar) if word]
        has = ", ".join(part for part, yes in p.has().items() if yes)
        assert f"parts: {has}\n" in text
        assert f"variants: {len(p.variants()) or 'none'}" in text


def test_protocols_json(capsys):
    assert main(["protocols", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in doc] == [p.name for p in registry.protocols()]
    for entry, p in zip(doc, registry.protocols()):
        assert entry["parts"] == p.has()
        assert entry["variants"] == len(p.variants())
        assert sum(entry["variants_in"].values()) >= entry["variants"]
        assert [s["name"] for s in entry["specs"]] == [s.name for s in p.specs]
        for s, spec in zip(entry["specs"], p.specs):
            assert [f["flag"] for f in s["flags"]] == [a.flag for a in spec.params]
    paxos = doc[0]
    assert paxos["parts"] == {"spec": True, "proof": True, "impl": True, "chart": True, "tour": True}


def test_the_readme_shows_protocols_as_the_command_prints_it(capsys):
    assert main(["protocols"]) == 0
    listing = capsys.readouterr().out
    assert "$ paxoscope protocols\n" + listing in (ROOT / "README.md").read_text()


# ---------------------------------------------------------------------------
# bugs, grouped by protocol
# ---------------------------------------------------------------------------


def test_bugs_lists_each_protocols_variants_under_its_name(capsys):
    assert main(["bugs"]) == 0
    text = capsys.readouterr().out
    groups = [p for p in registry.protocols() if p.variants()]
    heads = [text.index(f"{p.name}: {p.summary}\n") for p in groups]
    assert heads == sorted(heads)
    for p, start, end in zip(groups, heads, [*heads[1:], len(text)]):
        for v in p.variants().values():
            assert f"  {v.name} " in text[start:end], v.name


def test_bugs_json_keeps_its_keys_and_names_the_protocol(capsys):
    assert main(["bugs", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(e["protocol"], e["name"]) for e in doc] == [(v.protocol, v.name) for v in every_variant()]
    assert all({"name", "summary", "protocol", "parts"} == set(e) and e["summary"] for e in doc)


def test_bugs_of_one_protocol_as_json(capsys):
    assert main(["bugs", "multipaxos", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in doc] == list(registry.protocol("multipaxos").variants())
    assert len(doc) >= 5 and {e["protocol"] for e in doc} == {"multipaxos"}


def test_bugs_explains_an_implementation_variant_and_says_how_to_see_it(capsys):
    assert main(["bugs", "reply-before-durable"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("reply-before-durable: The acceptor answers before its new state is durable.")
    assert "Because a crash between the two loses what the answer" in text  # its story, as the spec's are told
    assert "fix: Write and fsync maxBal" in text
    assert "a variant of paxos, in its implementation" in text
    assert "see it fail: paxoscope conform --bug reply-before-durable" in text


@pytest.mark.parametrize(
    "args",
    [
        ["bugs", "nope"],
        ["check", "--bug", "nope"],
        ["check", "multipaxos", "--bug", "nope"],
        ["check", "twophase", "--bug", "promise-not-kept"],
        ["check", "nope"],
        ["check", "multipaxos", "--replicas", "0"],
        ["check", "multipaxos", "--acceptors", "3"],
        ["pin", "p.json", "multipaxos:acceptors=3"],
    ],
    ids=" ".join,
)
def test_unknown_names_are_one_line_and_exit_2(tmp_path, args):
    proc = subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = one_line(proc.stderr)
    assert any(word in line for word in ("nope", "--replicas", "--acceptors", "acceptors=3", "twophase")), line


# ---------------------------------------------------------------------------
# check and pin over the registry: Multi-Paxos, its variants, deadlocks
# ---------------------------------------------------------------------------


def test_check_multipaxos_without_reads_up_to_symmetry(capsys):
    assert main(["check", "multipaxos", "--replicas", "3", "--writes", "1", "--reads", "0", "--symmetry"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("multipaxos · 3 replicas, 1 write, 0 reads, max ballot 2\n")
    assert "2,628 distinct states, 4,697 generated, depth 19" in text


def test_check_multipaxos_bug_picks_the_protocol_from_the_name(capsys):
    unique = [
        v for v in registry.protocol("multipaxos").variants().values() if len(registry.variants_named(v.name)) == 1
    ]
    caught = 0
    for v in unique:
        for args in (["check", "--bug", v.name], ["check", "multipaxos", "--bug", v.name]):
            code = main([*args, "--replicas", "2", "--reads", "0", "--json"])
            doc = json.loads(capsys.readouterr().out)
            assert doc["spec"] == "multipaxos" and code == (1 if doc["verdict"] == "violation" else 0)
            caught += doc["verdict"] == "violation"
    assert caught >= 2


DEADLOCKING = textwrap.dedent(
    """
    from paxoscope.spec.base import Spec, action


    class Stuck(Spec):
        name = "stuck"
        check_deadlock = True
        invariants = {"Small": lambda s: s <= 2}

        def init(self):
            return [0]

        def next(self, s):
            return [(action("Inc"), s + 1)] if s < 2 else []


    class Lenient(Stuck):
        check_deadlock = False


    class Plain:  # no Spec base: a plain class asks the same way
        check_deadlock = True

        def init(self):
            return [0]

        def next(self, s):
            return []
    """
)


def test_a_spec_that_asks_for_deadlocks_fails_on_one_with_the_trace(tmp_path):
    (tmp_path / "stuck.py").write_text(DEADLOCKING)

    def check(*args):
        return subprocess.run(
            [sys.executable, "-m", "paxoscope.cli", "check", *args], cwd=tmp_path, capture_output=True, text=True
        )

    proc = check("stuck.py:Stuck")
    assert proc.returncode == 1, proc.stderr
    assert "VIOLATION: deadlock Deadlock fails after 2 steps" in proc.stdout
    assert "Inc()" in proc.stdout and "Deadlock fails here" in proc.stdout
    assert check("stuck.py:Lenient").returncode == 0
    assert check("stuck.py:Lenient", "--deadlock").returncode == 1
    assert "VIOLATION: deadlock Deadlock fails after 0 steps" in check("stuck.py:Plain").stdout


def test_pin_and_gate_multipaxos(tmp_path):
    def paxoscope(*args):
        return subprocess.run(
            [sys.executable, "-m", "paxoscope.cli", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    pinned = paxoscope("pin", "p.json", "multipaxos:replicas=2,reads=0")
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.startswith("multipaxos (replicas=2,reads=0): ok,")
    gate = paxoscope("check", "--against", "p.json", "--replicas", "3")
    assert gate.returncode == 2 and "takes no --replicas" in gate.stderr
    assert paxoscope("check", "--against", "p.json").returncode == 0


def test_the_gallery_file_tells_every_variant_of_every_part_and_nothing_else():
    """spec/gallery.toml holds the stories: each variant that exists in a spec, a proof model or an
    implementation has one, and each story there belongs to a variant that exists."""
    from paxoscope.spec.gallery import stories

    told = {(protocol, name) for protocol, variants in stories().items() for name in variants}
    existing = {(p.name, name) for p in registry.protocols() for name in p.variants()}
    assert told == existing
    for p in registry.protocols():
        for v in p.variants().values():
            assert v.summary and v.explanation and v.fix, v.name


def test_a_variant_may_tell_its_own_story_and_one_the_gallery_lacks_is_named():
    from paxoscope.spec.bugs import Bug

    class Mine(Bug):
        name = "my-own"
        summary, explanation, fix = "one line", "why", "how"

    assert (Mine.summary, Mine.fix) == ("one line", "how")
    with pytest.raises(KeyError, match="no story of paxos's variant 'not-told'"):
        type("NotTold", (Bug,), {"name": "not-told"})

"""The guided tour: each stop shows the real change, a shortest counterexample
that is a behaviour of the variant, and the obligation that the change breaks;
the HTML page holds every part; the committed page in docs/ is current."""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from paxoscope.explorer.bfs import check
from paxoscope.explorer.chart import sequence_svg
from paxoscope.explorer.trace import validate
from paxoscope.spec.bugs import BUGS
from paxoscope.spec.multipaxos import MultiPaxos
from paxoscope.spec.multipaxos_bugs import BUGS as MP_BUGS
from paxoscope.spec.paxos_reference import PaxosReference
from test_multipaxos_bugs import CAUGHT
from test_proofs import FAILS
from test_prove_multipaxos import FAILS as MP_FAILS

from paxoscope.cli import main
from paxoscope.tour import MAX_BALLOTS, MULTIPAXOS, changed_code, reference_of, visit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "tour"
# The method each variant changes, and the action whose obligations it must break.
CHANGED = {"promise-not-kept": "Phase1b", "accept-below-promise": "Phase2b", "amnesia-restart": "Restart"}


def bug_lines(name: str) -> list[str]:
    source = inspect.getsource(BUGS[name])
    return [line.strip() for line in source.splitlines() if "# BUG" in line]


@pytest.mark.parametrize("name", list(BUGS))
def test_the_diff_shows_each_line_marked_as_the_bug(name):
    diff = changed_code(BUGS[name])
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert bug_lines(name) and all(line in added for line in bug_lines(name))
    assert '"""' not in diff  # docstrings are left out


@pytest.mark.parametrize("name", list(BUGS))
def test_each_variant_changes_a_few_lines_of_the_readable_spec(name):
    assert reference_of(BUGS[name]) is PaxosReference
    diff = changed_code(BUGS[name])
    assert 1 <= len(changed_lines(diff)) <= 6, diff
    assert "spec/paxos_reference.py" in diff and "spec/bugs.py" in diff


@pytest.mark.parametrize("name", list(CHANGED))
def test_a_stop_has_a_shortest_counterexample_and_the_obligation_the_change_breaks(name):
    stop = visit(1, BUGS[name])
    spec = stop.trace.spec
    assert validate(spec, stop.trace) is None  # a behaviour of the variant
    assert len(spec.chosen(stop.trace.states[-1].msgs)) == 2
    ballots = int(re.search(r"--ballots (\d+)", stop.check_command).group(1))
    assert spec.k.ballots == tuple(range(ballots))
    for fewer in range(1, ballots):  # the smallest configuration that has a counterexample
        assert check(BUGS[name](ballots=fewer), ["Consistency"]).verdict == "ok"
    assert len(stop.trace) == len(check(BUGS[name](ballots=ballots), ["Consistency"]).violation.trace)
    broken = {o.name for o in stop.report.failed}
    assert broken == FAILS[name]
    assert all(o.action == CHANGED[name] for o in stop.report.failed if o.kind == "consecution")


def test_the_terminal_tour_shows_change_reason_chart_obligation_and_fix(capsys):
    assert main(["tour", "promise-not-kept", "--no-pause"]) == 0
    out = capsys.readouterr().out
    bug = BUGS["promise-not-kept"]
    assert "1/1 · promise-not-kept" in out and bug.summary in out
    for line in bug_lines("promise-not-kept"):
        assert line in out
    assert " ".join(bug.explanation.split()[:8]) in " ".join(out.split())
    assert "✗ Consistency fails: two values are chosen" in out
    assert re.search(r"●─+┼?─*▶", out)  # at least one arrow of the chart
    assert "Phase1b/Msg1bBelowPromise: a counterexample to induction: Phase1b breaks Msg1bBelowPromise" in out
    assert "✗ Msg1bBelowPromise fails here" in out  # the counterexample to induction, charted
    assert bug.fix in out
    assert "\x1b[" not in out  # no colours when not on a terminal


def test_bad_input_exits_2_before_any_work(tmp_path, capsys):
    assert main(["tour", "no-such-bug"]) == 2
    assert "unknown bug 'no-such-bug'" in capsys.readouterr().err
    afile = tmp_path / "a-file"
    afile.write_text("keep me")
    assert main(["tour", "--html", str(afile), "promise-not-kept"]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and err.count("\n") == 1
    assert afile.read_text() == "keep me"


class _Page(HTMLParser):
    """The sections of a page: id -> headings (h2, h3) and the number of charts."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None
        self.tag: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.current = self.sections.setdefault(attrs.get("id"), {"headings": [], "charts": 0, "pre": []})
        elif tag == "svg" and self.current is not None:
            self.current["charts"] += 1
        self.tag = tag

    def handle_data(self, data):
        if self.current is not None and self.tag in ("h2", "h3"):
            self.current["headings"].append(data)
        if self.current is not None and self.tag == "pre":
            self.current["pre"].append(data)
        self.tag = None if self.tag in ("h2", "h3") else self.tag


def read_page(path: Path) -> dict[str, dict]:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.sections


PARTS = ["What was changed", "Why it looks harmless, and why it is not", "The shortest counterexample"]


def test_the_html_tour_is_one_page_with_a_section_per_variant(tmp_path, capsys):
    names = ["promise-not-kept", "amnesia-restart"]
    assert main(["tour", "--html", str(tmp_path / "tour"), *names]) == 0
    sections = read_page(tmp_path / "tour" / "index.html")
    assert list(sections) == names
    for name in names:
        s = sections[name]
        assert s["headings"][1:4] == PARTS and "The proof obligation that breaks" in s["headings"]
        assert s["charts"] == 2  # the counterexample and the counterexample to induction
        svg = (tmp_path / "tour" / f"{name}.svg").read_text(encoding="utf-8")
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
        stop = visit(1, BUGS[name])
        assert svg == sequence_svg(stop.trace, stop.mark)


def test_the_committed_tour_in_docs_is_current():
    """docs/tour is written by `paxoscope tour --html docs/tour`; the README links it."""
    sections = read_page(DOCS / "index.html")
    assert list(sections) == list(BUGS)
    for name, s in sections.items():
        assert s["charts"] == 2
        assert set(re.findall(r"^(\S+/\S+|safety):", "\n".join(s["pre"]), re.M)) == FAILS[name]
        bug = BUGS[name]
        for ballots in range(1, MAX_BALLOTS + 1):
            r = check(bug(ballots=ballots), ["Consistency"])
            if r.violation is not None:
                break
        mark = {len(r.violation.trace): "Consistency fails: two values are chosen"}
        assert (DOCS / f"{name}.svg").read_text(encoding="utf-8") == sequence_svg(r.violation.trace, mark)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/tour/index.html" in readme and "paxoscope tour --html docs/tour" in readme


def test_the_readme_shows_a_stop_of_the_tour_as_the_command_prints_it(capsys):
    assert main(["tour", "two-proposals-per-ballot", "--no-pause"]) == 0
    out = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ paxoscope tour two-proposals-per-ballot\n", 1)[1].split("\n```", 1)[0]
    # the explorer's part is deterministic; the proof's counterexample is Z3's choice, so only its verdict is compared
    cut = "The proof obligation that breaks"
    assert shown.split(cut)[0] == out.split(cut)[0]
    verdict = [line for line in out.splitlines() if line.startswith("  Phase2a/")]
    assert verdict and all(line in shown for line in verdict)


def test_on_a_terminal_the_tour_pauses_after_each_variant_and_q_stops_it():
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    code = "import sys; from paxoscope.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "tour", "promise-not-kept", "amnesia-restart"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "NO_COLOR": ""},
    )
    os.close(follower)
    seen = b""
    while b"press Enter" not in seen:
        try:
            chunk = os.read(leader, 65536)  # waits for the tour to write
        except OSError:  # the process ended without pausing
            chunk = b""
        assert chunk, f"no pause: {seen.decode(errors='replace')[-500:]}"
        seen += chunk
    os.write(leader, b"q\n")
    try:
        while chunk := os.read(leader, 65536):
            seen += chunk
    except OSError:  # the other end closed: the process is gone
        pass
    assert proc.wait() == 0
    text = seen.decode()
    assert "1/2 · promise-not-kept" in text and "2/2" not in text
    assert "\x1b[" in text  # colours on a terminal


# ---------------------------------------------------------------------------
# The Multi-Paxos tour
# ---------------------------------------------------------------------------


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("name", list(MP_BUGS))
def test_each_multipaxos_variant_changes_a_few_lines_of_the_spec(name):
    diff = changed_code(MP_BUGS[name])
    assert reference_of(MP_BUGS[name]) is MultiPaxos
    assert 1 <= len(changed_lines(diff)) <= 8, diff
    assert "spec/multipaxos.py" in diff and "spec/multipaxos_bugs.py" in diff
    marked = [line.strip() for line in inspect.getsource(MP_BUGS[name]).splitlines() if "# BUG" in line]
    assert marked and all(line in [x[1:].strip() for x in changed_lines(diff)] for line in marked)


@pytest.mark.parametrize("name", ["commit-on-too-few-replies", "silent-acceptor"])
def test_a_multipaxos_stop_has_the_pinned_shortest_counterexample(name):
    stop = visit(1, MP_BUGS[name], tour=MULTIPAXOS)
    sizes, prop, length = CAUGHT[name]
    spec = stop.trace.spec
    assert type(spec) is MP_BUGS[name] and (len(spec.replicas), len(spec.writes), len(spec.reads)) == sizes
    assert len(stop.trace) == length and validate(spec, stop.trace) is None
    assert stop.mark[length].startswith(prop.lower() if prop == "Deadlock" else prop)
    assert {o.name for o in stop.report.failed} == MP_FAILS[name] if name in MP_FAILS else stop.report is None
    assert stop.caught


def test_the_multipaxos_tour_in_a_terminal(capsys):
    names = ["commit-on-too-few-replies", "stale-leader-read"]
    assert main(["tour", "multipaxos", *names, "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "1/2 · commit-on-too-few-replies" in out and "2/2 · stale-leader-read" in out
    for name in names:
        bug = MP_BUGS[name]
        assert bug.summary in out and " ".join(bug.fix.split()[:6]) in " ".join(out.split())
    assert "self.replies_to_commit = self.majority_num - 1  # BUG: a majority is needed" in out
    assert re.search(r"^\s+C\s+s1\s+s2\s+s3$", out, re.M)  # a lane for the clients, one per replica
    assert "slot=1" in out  # the log slot on the messages
    assert out.count("✗ Linearizability fails") == 2
    assert "Commit/CommittedIsChosen: a counterexample to induction: Commit breaks CommittedIsChosen" in out
    assert "✗ CommittedIsChosen fails here" in out
    assert (
        "LocalRead/ReadSeesEarlierWrites: a counterexample to induction: LocalRead breaks ReadSeesEarlierWrites" in out
    )
    assert "✗ ReadSeesEarlierWrites fails here" in out


def test_a_name_of_another_gallery_is_refused_and_paxos_is_the_default(capsys):
    assert main(["tour", "multipaxos", "promise-not-kept"]) == 2
    err = capsys.readouterr().err
    assert "unknown bug 'promise-not-kept'; the Multi-Paxos gallery has: commit-on-too-few-replies" in err
    assert main(["tour", "silent-acceptor"]) == 2
    assert "the Paxos gallery has: non-intersecting-quorums" in capsys.readouterr().err
    assert main(["tour", "twophase"]) == 2
    assert "twophase has no gallery to tour; the tours: paxos, multipaxos" in capsys.readouterr().err


def test_the_committed_multipaxos_tour_in_docs_is_current():
    """docs/tour/multipaxos is written by `paxoscope tour multipaxos --html docs/tour/multipaxos`."""
    sections = read_page(DOCS / "multipaxos" / "index.html")
    assert list(sections) == list(MP_BUGS)
    for name, s in sections.items():
        assert s["headings"][1:4] == PARTS
        assert s["charts"] == (2 if name in MP_FAILS else 1)
        if name in MP_FAILS:
            assert set(re.findall(r"^(\S+/\S+):", "\n".join(s["pre"]), re.M)) == MP_FAILS[name]
        found = MULTIPAXOS.find(MP_BUGS[name], lambda text: None)
        svg = sequence_svg(found.trace, {len(found.trace): found.failure})
        assert (DOCS / "multipaxos" / f"{name}.svg").read_text(encoding="utf-8") == svg
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (
        "docs/tour/multipaxos/index.html" in readme
        and "paxoscope tour multipaxos --html docs/tour/multipaxos" in readme
    )


def test_a_protocol_without_a_proof_model_is_toured_without_one(monkeypatch):
    import dataclasses

    from paxoscope import registry
    from paxoscope.tour import stop_text

    unproven = tuple(dataclasses.replace(p, proof=None) if p.name == "multipaxos" else p for p in registry.PROTOCOLS)
    monkeypatch.setattr(registry, "PROTOCOLS", unproven)
    stop = visit(1, MP_BUGS["commit-on-too-few-replies"], tour=MULTIPAXOS)
    assert stop.report is None and stop.caught
    text = " ".join(stop_text(stop, 1, colour=False).split())
    assert "The proof obligation that breaks None: this variant has no proof model, because Multi-Paxos has no" in text

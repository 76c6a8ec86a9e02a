"""The drift gate: pinned state spaces, and JUnit reports for CI."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SHRUNK = '''
from paxoscope.spec.paxos import Paxos, State


class Shrunk(Paxos):
    """Phase1b also requires maxVBal[a] = -1: every invariant stays green, states are lost."""

    def phase1b(self, s):
        steps = []
        max_bal, max_vbal, max_val = self.acceptor_vars(s)
        for a in self.acceptor_ids:
            for b in self.k.ballots:
                if s.msgs & self.bit_1a[b] and b > max_bal[a] and (max_vbal[a] == -1 or not STRONGER):
                    act, keep, promised = self.promise[a][b]
                    report = self.bit_1b[a][b, max_vbal[a], max_val[a]]
                    steps.append((act, State(s.acc & keep | promised, s.msgs | report)))
        return steps
'''


def paxoscope(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paxoscope.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_paxoscopes_own_builtin_specs_are_as_pinned():
    proc = paxoscope(ROOT, "check", "--against", "pins/builtin.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MOVED" not in proc.stdout and "twophase (rms=3)" in proc.stdout


def test_a_guard_made_too_strong_is_caught_though_every_invariant_holds(tmp_path):
    (tmp_path / "myspec.py").write_text("STRONGER = False\n" + SHRUNK)
    pinned = paxoscope(tmp_path, "pin", "pins.json", "myspec.py:Shrunk@ballots=2")
    assert pinned.returncode == 0, pinned.stderr
    assert paxoscope(tmp_path, "check", "--against", "pins.json").returncode == 0
    (tmp_path / "myspec.py").write_text("STRONGER = True\n" + SHRUNK)
    # the edited spec still passes every check on its own ...
    assert paxoscope(tmp_path, "check", "myspec.py:Shrunk", "--ballots", "2").returncode == 0
    # ... but the gate sees the state space shrink
    gate = paxoscope(tmp_path, "check", "--against", "pins.json")
    assert gate.returncode == 1
    assert "MOVED" in gate.stdout and "distinct states: 3,921 →" in gate.stdout
    assert "the reachable set changed" in gate.stdout


def test_a_corrupt_pin_file_is_bad_input(tmp_path):
    (tmp_path / "pins.json").write_text("{not json")
    proc = paxoscope(tmp_path, "check", "--against", "pins.json")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "pins.json" in proc.stderr


def test_junit_reports_have_the_usual_shape_and_carry_the_counterexample(tmp_path):
    proc = paxoscope(tmp_path, "check", "--bug", "two-proposals-per-ballot", "--ballots", "2", "--junit", "c.xml")
    assert proc.returncode == 1
    suite = ET.parse(tmp_path / "c.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("tests") == str(len(cases)) == "4" and suite.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert failed[0].get("name") == "RefinesVoting"
    text = failed[0].find("failure").text
    assert "Phase2a(b=0, v=" in text and "<< RefinesVoting fails here" in text
    ok = paxoscope(tmp_path, "check", "--ballots", "1", "--junit", "ok.xml")
    assert ok.returncode == 0
    suite = ET.parse(tmp_path / "ok.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and all(c.find("failure") is None for c in suite.findall("testcase"))
    conf = paxoscope(tmp_path, "conform", "--ballots", "1", "--examples", "120", "--junit", "k.xml")
    assert conf.returncode == 0
    names = [c.get("name") for c in ET.parse(tmp_path / "k.xml").getroot().iter("testcase")]
    batches = [tuple(map(int, n.split()[1].split("-"))) for n in names if n.startswith("schedules ")]
    assert batches[0] == (1, 100) and all(b[0] == a[1] + 1 for a, b in zip(batches, batches[1:]))
    assert batches[-1][1] % 120 == 0 and "coverage" in names  # --examples 120 for each proposer layout
    proof = paxoscope(tmp_path, "prove", "--junit", "p.xml")
    assert proof.returncode == 0
    suite = ET.parse(tmp_path / "p.xml").getroot().find("testsuite")
    assert suite.get("tests") == "54" and suite.get("failures") == "0"
    bad = paxoscope(tmp_path, "prove", "--bug", "two-proposals-per-ballot", "--junit", "pb.xml")
    assert bad.returncode == 1
    failed = [c for c in ET.parse(tmp_path / "pb.xml").getroot().iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["Phase2a/Msg2aUnique"]
    assert "Msg2aUnique fails here" in failed[0].find("failure").text


def test_check_draws_the_counterexample_as_svg_and_html(tmp_path):
    proc = paxoscope(
        tmp_path, "check", "--bug", "two-proposals-per-ballot", "--ballots", "2", "--svg", "c.svg", "--html", "c.html"
    )
    assert proc.returncode == 1
    svg = ET.parse(tmp_path / "c.svg").getroot()
    texts = "".join(svg.itertext())
    assert "2a(bal=0, val=v1)" in texts and "2a(bal=0, val=v2)" in texts and "RefinesVoting fails here" in texts
    page = (tmp_path / "c.html").read_text()
    assert "<svg" in page and "Phase2a(b=0, v=v2)" in page
    clean = paxoscope(tmp_path, "check", "--ballots", "1", "--svg", "none.svg")
    assert clean.returncode == 0 and not (tmp_path / "none.svg").exists()


# Phase2a adopts the reported vote with the LOWEST ballot instead of the highest.
# At ballots 0..1 every reported vote is at ballot 0, so lowest and highest agree
# and nothing moves; only with votes at several ballots reported together does it show.
LOWEST = """
from paxoscope.spec.paxos import Paxos


class Lowest(Paxos):
    def safe_values(self, reports):
        votes = [m for m in reports if m.mbal >= 0]
        if not votes:
            return self.k.values
        low = min(m.mbal for m in votes)
        return tuple(sorted({m.mval for m in votes if m.mbal == low}))
"""


def test_the_builtin_pins_include_three_ballots_and_a_change_seen_only_there_moves_it(tmp_path):
    pins = json.loads((ROOT / "pins" / "builtin.json").read_text())["pins"]
    by_config = {json.dumps(p["config"], sort_keys=True): p for p in pins}
    three = by_config[json.dumps({"spec": "paxos", "ballots": 3}, sort_keys=True)]
    two = by_config[json.dumps({"spec": "paxos", "ballots": 2}, sort_keys=True)]
    # The same pins, pointed at the edited spec (same state encoding, so equal figures mean no change).
    (tmp_path / "lowest.py").write_text(LOWEST)
    for p in (two, three):
        p["config"] = {"spec": "lowest.py:Lowest", "ballots": p["config"]["ballots"]}
    (tmp_path / "pins.json").write_text(json.dumps({"format": 1, "pins": [two, three]}))
    gate = paxoscope(tmp_path, "check", "--against", "pins.json")
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "same   lowest.py:Lowest (ballots=2)" in gate.stdout
    assert "MOVED  lowest.py:Lowest (ballots=3)" in gate.stdout

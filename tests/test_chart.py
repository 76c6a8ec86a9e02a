"""Pictures of traces: the SVG chart of every gallery bug is well-formed, names
every acceptor and message, and a real SVG renderer draws it."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
import resvg_py
from paxoscope.explorer.bfs import as_spec, check
from paxoscope.explorer.chart import sequence_svg, sequence_text, trace_html, write_html, write_svg
from paxoscope.explorer.render import trace_table
from paxoscope.explorer.trace import Step, Trace
from paxoscope.spec.base import action
from paxoscope.spec.bugs import BUGS
from paxoscope.spec.multipaxos import MultiPaxos
from paxoscope.spec.twophase import TwoPhase

SVG = "{http://www.w3.org/2000/svg}"
BALLOTS = {"any-reported-value": 3}


def counterexample(name: str) -> Trace:
    r = check(BUGS[name](ballots=BALLOTS.get(name, 2)), ["Consistency"])
    assert r.verdict == "violation"
    return r.violation.trace


def texts(svg: str, cls: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prior = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prior[i], prior[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prior = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


@pytest.mark.parametrize("name", list(BUGS))
def test_the_chart_of_each_gallery_bug_names_every_acceptor_and_message(name):
    trace = counterexample(name)
    spec = trace.spec
    svg = sequence_svg(trace, mark={len(trace): "Consistency fails"})
    final = spec.variables(trace.states[-1])["msgs"]
    # a proposer per ballot that the trace uses, every acceptor, the learners
    proposers = sorted({f"proposer b{m.bal}" for m in final})
    assert texts(svg, "lifeline") == [*proposers, *spec.k.acceptors, "learners"]
    assert sorted(texts(svg, "message")) == sorted(str(m) for m in final)
    assert texts(svg, "step") == ["Init", *(str(a) for a in trace.actions)]
    assert texts(svg, "mark") == ["✗ Consistency fails"]
    # the acceptors' state changes are written beside their lifelines
    changes = texts(svg, "change")
    assert any(line.startswith("maxBal -1 → ") for line in changes)
    assert any(line.startswith("maxVal None → v") for line in changes)


@pytest.mark.parametrize("name", list(BUGS))
def test_the_chart_of_each_gallery_bug_renders_to_a_picture(name):
    trace = counterexample(name)
    svg = sequence_svg(trace, mark={len(trace): "Consistency fails"})
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg))
    width, height = struct.unpack(">II", png[16:24])
    assert 800 <= width <= 4000 and 400 <= height <= 4000
    # a small render, decoded in pure Python: something is drawn, and it is not one blot
    w, h, pixels = decode_png(bytes(resvg_py.svg_to_bytes(svg_string=svg, zoom=0.25)))
    assert (w, h) == (round(width / 4), round(height / 4)) or abs(w - width / 4) <= 1
    ink = sum(1 for p in pixels if max(p) < 200)
    assert 0.002 < ink / len(pixels) < 0.3


def test_text_is_escaped_for_xml():
    twophase = TwoPhase(rms=2)
    [s0] = list(twophase.init())
    _, s1 = next(iter(twophase.next(s0)))
    trace = Trace(twophase, [Step(None, s0), Step(action("Odd", text="<&>\"'"), s1)])
    svg = sequence_svg(trace, mark={2: "a < b & c"})
    assert texts(svg, "step") == ["Init", "Odd(text=<&>\"')"]
    assert texts(svg, "mark") == ["✗ a < b & c"]


def test_a_trace_of_another_spec_gets_a_lifeline_per_variable():
    twophase = TwoPhase(rms=2)
    steps = [Step(None, next(iter(twophase.init())))]
    for _ in range(4):  # a run of two-phase commit: each step the first action that changes something
        act, nxt = next((a, t) for a, t in twophase.next(steps[-1].state) if t != steps[-1].state)
        steps.append(Step(act, nxt))
    trace = Trace(twophase, steps)
    svg = sequence_svg(trace)
    assert texts(svg, "lifeline") == list(twophase.variables(steps[0].state))
    assert texts(svg, "message") == []
    assert texts(svg, "step") == ["Init", *(str(a) for a in trace.actions)]
    assert len(texts(svg, "change")) >= len(trace)


def test_the_html_page_has_the_table_beside_the_chart(tmp_path):
    trace = counterexample("ignore-reported-values")
    mark = {len(trace): "Consistency fails"}
    page = trace_html(trace, "ignore-reported-values <bug>", mark)
    assert "<title>ignore-reported-values &lt;bug&gt;</title>" in page
    table = trace_table(trace, mark).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert table in page
    assert page.count("<svg ") == 1 and "</svg>" in page
    svg = page[page.index("<svg ") : page.index("</svg>") + len("</svg>")]
    assert texts(svg, "mark") == ["✗ Consistency fails"]
    written = write_html(trace, tmp_path / "trace.html", "t", mark)
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    svg_file = write_svg(trace, tmp_path / "reports" / "trace.svg", mark)  # the folder is made
    assert ET.parse(svg_file).getroot().tag == f"{SVG}svg"


@pytest.mark.parametrize("name", ["two-proposals-per-ballot", "amnesia-restart"])
def test_the_text_chart_draws_every_message_as_an_arrow_and_every_step(name):
    trace = counterexample(name)
    final = trace.spec.variables(trace.states[-1])["msgs"]
    text = sequence_text(trace, mark={len(trace): "Consistency fails"})
    lines = text.splitlines()
    proposers = sorted({f"b{m.bal}" for m in final})
    assert lines[0].split() == [*proposers, *trace.spec.k.acceptors, "L"]
    arrows = [line for line in lines if "●" in line]
    assert sorted(line.rsplit("   ", 1)[1] for line in arrows) == sorted(str(m) for m in final)
    for line in arrows:  # an arrow runs from its sender to its receivers, with nothing else on it
        drawn = line[line.index("●") - 1 :] if "◀" not in line else line[line.index("◀") :]
        assert set(drawn.split("   ")[0].strip()) <= set("●▶◀─┼│ ")
    numbered = [line for line in lines if line[:3].strip().isdigit()]
    labels = ["Init", *map(str, trace.actions)]
    assert len(numbered) == len(labels)
    assert all(line.startswith(f"{i:>2} {label} ") for i, (line, label) in enumerate(zip(numbered, labels), 1))
    assert lines[-1].endswith("✗ Consistency fails")
    assert "\x1b[" not in text and "\x1b[" in sequence_text(trace, colour=True)


def test_the_text_chart_of_another_spec_has_a_column_per_variable():
    twophase = TwoPhase(rms=2)
    steps = [Step(None, next(iter(twophase.init())))]
    act, nxt = next((a, t) for a, t in twophase.next(steps[0].state) if t != steps[0].state)
    steps.append(Step(act, nxt))
    text = sequence_text(Trace(twophase, steps))
    assert text.splitlines()[0].split() == list(twophase.variables(steps[0].state))
    assert f"{str(act).split('(')[0]}" in text and "◆" in text


# ---------------------------------------------------------------------------
# Lanes and messages come from the spec's chart hook
# ---------------------------------------------------------------------------


class Counters:
    """A user's spec written as a plain class: two counters, no chart of its own."""

    def init(self):
        yield (0, 0)

    def next(self, s):
        if s[0] < 2:
            yield "IncA", (s[0] + 1, s[1])
        yield "IncB", (s[0], min(s[1] + 1, 1))

    def variables(self, s):
        return {"a": s[0], "b": s[1]}


def walk(spec, *names):
    """The trace of ``spec`` that takes the named actions in turn."""
    steps = [Step(None, next(iter(spec.init())))]
    for name in names:
        steps.append(Step(*next((a, t) for a, t in spec.next(steps[-1].state) if a.name == name)))
    return Trace(spec, steps)


def test_by_default_a_user_spec_gets_a_lane_per_variable_and_no_messages():
    spec = as_spec(Counters())
    trace = walk(spec, "IncA", "IncB", "IncB")
    chart = spec.chart([(step.action, step.state) for step in trace.steps])
    assert chart.lanes == ("a", "b") and all(frame.arrows == () for frame in chart.frames)
    assert [dict(frame.beside) for frame in chart.frames][-1] == {"a": {"a": 1}, "b": {"b": 1}}
    svg = sequence_svg(trace)
    assert texts(svg, "lifeline") == ["a", "b"] and texts(svg, "message") == []
    assert texts(svg, "change") == ["= 0", "= 0", "0 → 1", "0 → 1"]
    assert texts(svg, "note") == ["(nothing changes: a stutter)"]  # b is 1 already


class Relay(Counters):
    """The same spec with a chart of its own: the middle lane relays a token
    to both sides, then sends one to itself."""

    def chart(self, steps):
        from paxoscope.spec.base import Arrow, Chart, Frame

        arrows = [(), (Arrow("token", "mid", ("left", "right"), "Token(1)"),), (Arrow("self", "mid", ("mid",), "Me"),)]
        frames = [Frame({"mid": {"a": s[0]}}, {"b": s[1]}, arrows[min(i, 2)]) for i, (_, s) in enumerate(steps)]
        return Chart(("left", "mid", "right"), tuple(frames), short={"left": "L", "right": "R"}, legend=("L, R: ends",))


def test_a_chart_hook_on_a_plain_class_gives_its_lanes_and_arrows():
    trace = walk(as_spec(Relay()), "IncA", "IncB")
    svg = sequence_svg(trace)
    assert texts(svg, "lifeline") == ["left", "mid", "right"]
    assert texts(svg, "message") == ["Token(1)", "Me"]
    assert texts(svg, "change") == ["a = 0", "a 0 → 1"] and texts(svg, "note") == ["b = 0", "b: 0 → 1"]
    lines = sequence_text(trace).splitlines()
    assert lines[0].split() == ["L", "mid", "R"] and lines[1].strip() == "L, R: ends"
    token = next(line for line in lines if line.endswith("Token(1)"))
    assert token.index("◀") < token.index("●") < token.index("▶")  # to both sides of its sender
    assert next(line for line in lines if line.endswith("Me")).count("↺") == 1


def multipaxos_run(replicas: int = 3):
    """The shortest run of Multi-Paxos (one write, one read) in which every command is acknowledged."""
    spec = MultiPaxos(replicas, 1, 1)
    r = check(spec, [], invariants={"NotAllAcknowledged": lambda s: not spec.terminated(s)})
    return r.violation.trace


def test_a_multipaxos_chart_has_a_lane_per_replica_and_slots_and_ballots_on_its_messages():
    trace = multipaxos_run()
    last = trace.states[-1]
    svg = sequence_svg(trace, mark={len(trace): "every command acknowledged"})
    assert texts(svg, "lifeline") == ["clients", "s1", "s2", "s3"]
    labels = texts(svg, "message")
    # every message sent is drawn once, and the clients' requests and acknowledgements
    assert sorted(label.split(" [")[0] for label in labels if label[:3] not in ("Req", "Ack")) == sorted(
        map(str, last.msgs)
    )
    assert sorted(label for label in labels if label[:3] in ("Req", "Ack")) == sorted(map(str, last.observed))
    assert all("bal=" in label for label in labels if label[:3] not in ("Req", "Ack"))
    slots = [label for label in labels if label.startswith(("Accept(", "AcceptReply("))]
    assert slots and all("slot=" in label for label in slots)
    assert {label.split("slot=")[1][0] for label in slots} == {"1", "2"}  # both log slots were used
    # the replicas' own variables stand beside their lanes, under the TLA+ names
    changes = texts(svg, "change")
    assert "leader = none" in changes and any(line.startswith("insts[2] Empty → Accepting ") for line in changes)


def test_a_multipaxos_reply_goes_to_the_leader_of_its_ballot():
    trace = multipaxos_run()
    sent = {str(m): m for m in trace.states[-1].msgs}
    leader = {m.bal: m.src for m in sent.values() if m.type == "Prepare"}
    chart = trace.spec.chart([(step.action, step.state) for step in trace.steps])
    arrows = [a for frame in chart.frames for a in frame.arrows]
    replies = [a for a in arrows if a.kind in ("PrepareReply", "AcceptReply")]
    assert replies and all(a.targets == (leader[sent[a.label].bal],) for a in replies)
    assert any(a.targets == (a.source,) for a in replies)  # a leader answers itself
    broadcasts = [a for a in arrows if a.kind in ("Prepare", "Accept", "CommitNotice")]
    assert broadcasts and all(set(a.targets) == {"s1", "s2", "s3"} - {a.source} for a in broadcasts)
    text = sequence_text(trace)
    assert text.splitlines()[0].split() == ["C", "s1", "s2", "s3"] and "↺" in text


def test_a_multipaxos_chart_renders_to_a_picture():
    svg = sequence_svg(multipaxos_run(), mark={1: "start"})
    w, h, pixels = decode_png(bytes(resvg_py.svg_to_bytes(svg_string=svg, zoom=0.25)))
    assert 200 <= w <= 1000 and 100 <= h <= 1000
    ink = sum(1 for p in pixels if max(p) < 200)
    assert 0.002 < ink / len(pixels) < 0.3

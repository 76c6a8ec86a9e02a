"""A busy core holds back what clients send, not what peers send, nor a status request: the host reads
no more from a client's stream while the core has more requests waiting than it can soon propose."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from paxoscope.impl.clusterfile import HOST, NodeInfo
from paxoscope.impl.multipaxos import PROTOCOL
from paxoscope.impl.multipaxos.core import NodeConfig
from paxoscope.impl.multipaxos.messages import CODEC, OK, REFUSED, Reply, Request, Status, StatusReply
from paxoscope.impl.multipaxos.store import LogStore
from paxoscope.impl.net import NodeRuntime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def _stream_to_a_leader(info: NodeInfo) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A replica that leads a cluster of one, served on ``info``'s port, and a client's stream to it."""
    runtime = NodeRuntime(NodeConfig("n1", ("n1",), election_ticks=1), [info], LogStore(info.data), port=info.port)
    await runtime.start()
    try:
        while runtime.node.role != "leader":
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection(HOST, info.port)
        yield reader, writer
        writer.close()
    finally:
        await runtime.stop()


async def _reply(reader: asyncio.StreamReader) -> Reply:
    return CODEC.decode(await reader.readexactly(int.from_bytes(await reader.readexactly(4), "big")))


def test_a_busy_core_holds_back_a_clients_stream_and_still_answers_a_status(tmp_path, monkeypatch):
    busy = {"now": False}
    protocol = replace(PROTOCOL, busy=lambda node: busy["now"])
    monkeypatch.setattr(NodeConfig, "protocol", property(lambda self: protocol))
    info = NodeInfo("n1", HOST, _free_port(), tmp_path / "n1")

    async def scenario() -> tuple[list[Reply], bool, StatusReply]:
        async with _stream_to_a_leader(info) as (reader, writer):
            writer.write(CODEC.encode(Request("c", 1, "put", ["k", "a"])))
            replies = [await _reply(reader)]
            busy["now"] = True
            # The read already waiting takes the next request; the one after it waits in the socket.
            writer.write(CODEC.encode(Request("c", 2, "put", ["k", "b"])))
            replies.append(await _reply(reader))
            writer.write(CODEC.encode(Request("c", 3, "put", ["k", "c"])))
            try:
                await asyncio.wait_for(asyncio.shield(read := asyncio.ensure_future(_reply(reader))), 0.5)
                held = False
            except TimeoutError:
                held = True
            status = await asyncio.to_thread(CODEC.request, HOST, info.port, Status(), StatusReply, 5.0)
            busy["now"] = False  # the next batch (a tick's, at the latest) lets the stream go on
            replies.append(await read)
            return replies, held, status

    replies, held, status = asyncio.run(scenario())
    assert held  # busy: the third request stayed in the socket, unread and unanswered
    assert status.role == "leader"  # a status request on a stream of its own is read all the same
    assert [(r.rid, r.status, r.result) for r in replies] == [(1, OK, None), (2, OK, "a"), (3, OK, "b")]


def test_requests_read_in_one_go_reach_the_core_as_one_event_and_are_answered_in_order(tmp_path, monkeypatch):
    from paxoscope.impl.protocol import ClientRequest, ClientRequests

    events: list = []
    apply = NodeRuntime.apply
    monkeypatch.setattr(NodeRuntime, "apply", lambda self, event: (events.append(event), apply(self, event))[1])
    info = NodeInfo("n1", HOST, _free_port(), tmp_path / "n1")

    async def scenario() -> list[Reply]:
        async with _stream_to_a_leader(info) as (reader, writer):
            writer.write(b"".join(CODEC.encode(Request("c", i, "put", ["k", str(i)])) for i in range(1, 21)))
            return [await _reply(reader) for _ in range(20)]

    replies = asyncio.run(scenario())
    # Each put answers the value it replaced: the requests were applied in the order they were sent.
    assert [(r.rid, r.status, r.result) for r in replies] == [(1, OK, None)] + [
        (i, OK, str(i - 1)) for i in range(2, 21)
    ]
    batches = [len(e.requests) if isinstance(e, ClientRequests) else 1 for e in events]
    batches = [n for e, n in zip(events, batches) if isinstance(e, ClientRequest | ClientRequests)]
    assert sum(batches) == 20 and max(batches) > 1  # one read brought several: one event for them


def test_many_requests_in_one_frame_are_applied_in_order_and_answered_many_to_a_frame(tmp_path):
    from paxoscope.impl.multipaxos.messages import Replies, Requests

    info = NodeInfo("n1", HOST, _free_port(), tmp_path / "n1")
    n = 300  # more answers than one frame carries

    async def scenario() -> tuple[list, list[Reply]]:
        async with _stream_to_a_leader(info) as (reader, writer):
            reqs = [["c", i, "put", ["k", str(i)]] for i in range(1, n + 1)]
            reqs[99] = ["c", 100, "frobnicate", []]  # one the service refuses: the others are served all the same
            writer.write(CODEC.encode(Requests(reqs[:150])) + CODEC.encode(Requests(reqs[150:])))
            frames, answers = [], []
            while len(answers) < n:
                frames.append(await _reply(reader))
                answers += frames[-1].each() if isinstance(frames[-1], Replies) else [frames[-1]]
            # A client of one request a frame, on the same replica, is still answered one a frame.
            writer.write(CODEC.encode(Request("c", n + 1, "get", ["k"])))
            frames.append(await _reply(reader))
            return frames, answers + [frames[-1]]

    frames, answers = asyncio.run(asyncio.wait_for(scenario(), 60))  # a frame not understood: no answer
    expected = [(1, OK, None)] + [(i, OK, str(i - 1 - (i == 101))) for i in range(2, n + 1)] + [(n + 1, OK, str(n))]
    expected[99] = (100, REFUSED, expected[99][2])
    # Each put answers the value it replaced: applied in the order sent (a refusal is answered at once).
    answered = sorted(answers, key=lambda r: r.rid)
    assert [(r.rid, r.status, r.result if r.status == OK else expected[r.rid - 1][2]) for r in answered] == expected
    assert "frobnicate" in answered[99].result
    assert any(isinstance(f, Replies) and len(f.replies) > 1 for f in frames)  # merged, not one a frame
    assert type(frames[-1]) is Reply


def test_a_frame_of_many_requests_with_a_malformed_one_is_refused_whole_naming_what_is_wrong():
    import json

    from paxoscope.impl.framing import MalformedMessage
    from paxoscope.impl.multipaxos.messages import Requests

    good = ["c", 1, "put", ["k", "v"]]
    for bad, named in (([good, ["c", 2, "put"]], "each of reqs is"), ([good, ["c", -1, "put", []]], "reqs: rid")):
        payload = b'{"v":1,"type":"requests","reqs":%s}' % json.dumps(bad).encode()
        with pytest.raises(MalformedMessage, match=named):
            CODEC.decode(payload)
    assert CODEC.decode(CODEC.encode(Requests([good]))[4:]).each() == [Request("c", 1, "put", ["k", "v"])]

"""Every message a Multi-Paxos replica sends fits in one frame, whatever the size of the commands:
batches are cut by bytes as well as by count, a candidate far behind is caught up rather than sent
every chosen slot in one Promise, and a snapshot larger than a frame goes to a lagging replica in parts."""

from __future__ import annotations

import json

import pytest
from paxoscope.impl.framing import MAX_FRAME, MalformedMessage
from paxoscope.impl.multipaxos.core import LogState, Node, NodeConfig
from paxoscope.impl.multipaxos.messages import CODEC, Accept, Accepted, CatchUp, Prepare, Promise
from paxoscope.impl.multipaxos.transfer import Assembly
from paxoscope.impl.protocol import ClientRequest, Receive, Timeout

NAMES = ("n1", "n2", "n3")
BIG = "x" * 4000  # a value near the limit of one string


def leader(**config) -> Node:
    node = Node(NodeConfig("n1", NAMES, election_ticks=1, **config), LogState())
    node.handle(Timeout(1.0))  # stands: Prepare to the others
    for peer in ("n2", "n3"):
        node.handle(Receive(peer, Promise(peer, node.state.bal_max_known, [], 0, 0)))
    assert node.role == "leader"
    return node


def requests(node: Node, n: int, value: str, keys: bool = False) -> list:
    """What ``node`` sends for ``n`` pipelined puts of ``value`` (to key k, or to n keys)."""
    sent = []
    for rid in range(1, n + 1):
        key = f"k{rid}" if keys else "k"
        fx = node.handle(ClientRequest(client="c", request_id=rid, command=("put", (key, value)), src="client"))
        sent += [msg for _, msg in fx.send]
    return sent


def frame_sizes(msgs: list) -> list[int]:
    return [len(CODEC.encode(m)) for m in msgs]  # encode raises for a frame over the limit


def test_a_batch_of_large_commands_is_cut_by_bytes_and_every_frame_fits():
    node = leader()
    batches = chosen(node, 1200, BIG)
    assert node.state.commit == 1200
    assert max(frame_sizes(batches)) <= MAX_FRAME
    assert 1 < max(len(a.cmds) for a in batches) < 512  # by count alone, 512 commands of 4 KB: 2 MB


def test_the_retransmission_of_what_is_in_flight_is_cut_the_same_way():
    node = leader(window=1000)
    requests(node, 600, BIG)  # 600 batches of one, none answered: all in flight, 2.4 MB of them
    resent = [m for _, m in node.handle(Timeout(2.0)).send if isinstance(m, Accept) and m.cmds]
    assert resent and max(frame_sizes(resent)) <= MAX_FRAME


def test_small_commands_still_go_512_to_a_batch():
    node = leader()
    batches = chosen(node, 1200, "v")
    assert max(len(a.cmds) for a in batches) == 512


def chosen(node: Node, n: int, value: str, keys: bool = False) -> list[Accept]:
    """``n`` commands of ``value`` proposed by ``node``, each batch accepted by n2 (so all are chosen):
    the batches, in the order they went out."""
    pending = [m for m in requests(node, n, value, keys) if isinstance(m, Accept) and m.cmds]
    batches = []
    while pending:
        accept = pending.pop(0)
        batches.append(accept)
        last = accept.first + len(accept.cmds) - 1
        fx = node.handle(Receive("n2", Accepted("n2", accept.bal, accept.first, last, 0)))
        pending += [m for dest, m in fx.send if dest == "n2" and isinstance(m, Accept) and m.cmds]
    return batches


def test_a_candidate_far_behind_is_caught_up_instead_of_sent_every_chosen_slot():
    node = leader()
    chosen(node, 400, BIG)
    assert node.state.commit == 400
    fx = node.handle(Receive("n3", Prepare("n3", node.state.bal_max_known + 1, 1)))
    promise = next(m for _, m in fx.send if isinstance(m, Promise))
    catch_up = next(m for _, m in fx.send if isinstance(m, CatchUp))
    assert promise.truncated >= 1  # read as from a truncated log: the candidate does not count it
    assert max(frame_sizes([promise, catch_up])) <= MAX_FRAME
    assert catch_up.first == 1 and len(catch_up.cmds) >= 1


def test_a_candidate_a_little_behind_gets_the_slots_in_its_promise():
    node = leader()
    chosen(node, 3, "v")
    fx = node.handle(Receive("n3", Prepare("n3", node.state.bal_max_known + 1, 1)))
    promise = next(m for _, m in fx.send if isinstance(m, Promise))
    assert [doc[0] for doc in promise.insts] == [1, 2, 3] and promise.truncated == 0


def test_a_snapshot_larger_than_a_frame_reaches_a_lagging_replica_in_parts():
    node = leader(snapshot_every=100)
    chosen(node, 300, BIG, keys=True)
    assert node.state.snapshot_index > 200  # its state: over 200 values of 4 KB, 0.8 MB of JSON and more
    behind = Node(NodeConfig("n3", NAMES, election_ticks=1), LogState())
    sizes, t = [], 2.0
    for _ in range(20):
        t += 1.0
        said = Accepted("n3", node.state.bal_prepared, 1, 0, behind.state.commit)  # its commit index, behind
        fx = node.handle(Receive("n3", said))
        node.handle(Timeout(t))
        for catch_up in [m for _, m in fx.send if isinstance(m, CatchUp)]:
            sizes.append(len(CODEC.encode(catch_up)))
            behind.handle(Receive("n1", CODEC.decode(CODEC.encode(catch_up)[4:])))
        if behind.applied == node.applied:
            break
    assert len(sizes) > 1 and max(sizes) <= MAX_FRAME  # in parts, each within a frame
    assert behind.applied == node.applied == 300
    assert behind.kv.to_json() == node.kv.to_json()  # the machine came over whole


def test_a_part_of_a_snapshot_is_checked_on_the_wire_and_a_bad_whole_is_not_installed():
    good = {"index": 5, "part": 0, "parts": 2, "data": "{"}
    for bad in ({**good, "part": 2}, {**good, "data": 7}, {**good, "extra": 1}, {**good, "index": True}):
        with pytest.raises(MalformedMessage):
            CODEC.decode(CODEC.encode(CatchUp("n1", 1, None, 6, [], 5))[4:].replace(b'"snapshot":null', _json(bad)))
    parts = Assembly()
    assert parts.add(good) is None  # one of two
    assert parts.add({**good, "part": 1, "data": "not json"}) is None  # the whole does not read: dropped
    replica = Node(NodeConfig("n3", NAMES, election_ticks=1), LogState())
    replica.handle(Receive("n1", CatchUp("n1", 1, {**good, "data": "[1,"}, 6, [], 5)))
    replica.handle(Receive("n1", CatchUp("n1", 1, {**good, "part": 1, "data": "2]"}, 6, [], 5)))
    assert replica.applied == 0 and replica.state.snapshot_index == 0  # [1, 2] is no machine's state


def _json(doc: dict) -> bytes:
    return b'"snapshot":' + json.dumps(doc, separators=(",", ":")).encode()

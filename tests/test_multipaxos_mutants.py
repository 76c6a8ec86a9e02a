"""What the Multi-Paxos core does beyond the spec's steps, checked exactly:
batches and the pipeline window, snapshots, catch-up, noops in holes, a
candidate standing again. ``conform`` runs the core as the spec has it (one
command a slot, none of these), so these fast checks are the rest of the
test that ``benchmarks/mutants.py --target multipaxos`` runs on each mutant."""

from __future__ import annotations

from collections import deque

from paxoscope.impl.multipaxos.core import LogState, Node, NodeConfig
from paxoscope.impl.multipaxos.messages import OK, Accept
from paxoscope.impl.protocol import ClientRequest, Effects, Receive, Timeout

NAMES = ("s1", "s2", "s3")


class Net:
    """Three replicas and a FIFO network between them; ``replies`` keeps every answer to a client."""

    def __init__(self, **config) -> None:
        self.nodes = {n: Node(NodeConfig(n, NAMES, election_ticks=1, **config), LogState()) for n in NAMES}
        self.flight: deque[tuple[str, str, object]] = deque()
        self.sent: list[tuple[str, str, object]] = []
        self.replies: list = []

    def handle(self, name: str, event) -> Effects:
        fx = self.nodes[name].handle(event)
        for dst, msg in fx.send:
            self.flight.append((name, dst, msg))
            self.sent.append((name, dst, msg))
        self.replies.extend(reply for _, reply in fx.reply)
        return fx

    def settle(self) -> None:
        while self.flight:
            src, dst, msg = self.flight.popleft()
            self.handle(dst, Receive(src, msg))

    def lead(self, name: str = "s1") -> Node:
        self.handle(name, Timeout(1.0))
        self.settle()
        assert self.nodes[name].role == "leader"
        return self.nodes[name]

    def put(self, name: str, client: str, key: str, value: str, rid: int = 1) -> Effects:
        request = ClientRequest(client=client, request_id=rid, command=("put", (key, value)), src=client)
        return self.handle(name, request)


def accepts(sent: list, src: str, dst: str) -> list[Accept]:
    return [m for s, d, m in sent if s == src and d == dst and isinstance(m, Accept) and m.cmds]


def test_commands_waiting_for_room_in_the_window_go_out_together_in_batches_of_at_most_batch():
    net = Net(batch=2, window=2)
    net.lead()
    net.sent.clear()
    for i in range(7):
        net.put("s1", f"c{i}", "k", str(i))
    # Two batches in flight fill the window: the other five wait, none is sent
    assert [len(m.cmds) for m in accepts(net.sent, "s1", "s2")] == [1, 1]
    net.settle()
    sizes = [len(m.cmds) for m in accepts(net.sent, "s1", "s2")]
    assert sizes == [1, 1, 2, 2, 1]
    firsts = [m.first for m in accepts(net.sent, "s1", "s2")]
    assert firsts == [1, 2, 3, 5, 7]
    assert [(r.client, r.status) for r in net.replies] == [(f"c{i}", OK) for i in range(7)]
    states = {n: node.kv.to_json() for n, node in net.nodes.items()}
    assert states["s1"]["kv"] == {"k": "6"} and net.nodes["s1"].state.commit == 7

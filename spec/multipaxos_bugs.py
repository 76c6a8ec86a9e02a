"""The Multi-Paxos bug gallery: known-wrong variants of ``MultiPaxos``, each one small change.

Every variant is a subclass of ``MultiPaxos`` that overrides one method; the
line that differs is marked ``# BUG``. The first two are the ways to break
the spec that MultiPaxos-SMR's README suggests; the others are mistakes real
systems made or guard against. Each safety variant lets a client see a
history that no order of its commands explains (``Linearizability`` fails);
the silent acceptor never lets anything commit (a deadlock). The explorer
finds the shortest way there; tests/test_multipaxos_bugs.py pins how short.

``BUGS`` maps each variant's name to its class; their stories are in
``spec/gallery.toml``.
"""

from __future__ import annotations

from .gallery import Variant, gallery
from .multipaxos import Accept, MPState, MultiPaxos, Node, PrepareReply, ack_event, observe, req_event


class MultiPaxosBug(Variant, MultiPaxos):
    """A known-wrong Multi-Paxos (see ``Variant`` for its story's fields)."""

    protocol = "multipaxos"


class CommitOnTooFewReplies(MultiPaxosBug):
    name = "commit-on-too-few-replies"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies_to_commit = self.majority_num - 1  # BUG: a majority is needed


class SilentAcceptor(MultiPaxosBug):
    name = "silent-acceptor"

    def handle_accept(self, s, i, r, msgs):
        for act, t in super().handle_accept(s, i, r, msgs):
            yield act, t._replace(msgs=s.msgs)  # BUG: the vote is kept, its AcceptReply is not sent


class IgnorePrepareVotes(MultiPaxosBug):
    name = "ignore-prepare-votes"

    def reports_to_adopt(self, r: str, prs: list[PrepareReply]) -> list[PrepareReply]:
        return [pr for pr in prs if pr.src == r]  # BUG: only the leader's own votes are looked at


class StaleLeaderRead(MultiPaxosBug):
    name = "stale-leader-read"

    def propose_request(self, s: MPState, i: int, r: str, slot: int, c: str) -> MPState:
        applied_all = s.node[i].commit_up_to == slot - 1  # every slot it logged is committed and applied
        if c not in self.reads or not applied_all:
            return super().propose_request(s, i, r, slot, c)
        answered = observe(observe(s.observed, req_event(c)), ack_event(c, s.node[i].kvalue))
        pending = tuple(p for p in s.pending if p != c)
        return s._replace(observed=answered, pending=pending)  # BUG: answered from local state, no quorum asked


class AcceptBelowPromise(MultiPaxosBug):
    name = "accept-below-promise"

    def may_accept(self, n: Node, m: Accept) -> bool:
        return m.bal > n.insts[m.slot - 1].voted.bal  # BUG: m.bal >= n.bal_max_known is not required


BUGS: dict[str, type[MultiPaxosBug]] = gallery(MultiPaxosBug)

"""The Multi-Paxos bug gallery: known-wrong variants of ``MultiPaxos``, each one small change.

Every variant is a subclass of ``MultiPaxos`` that overrides one method; the
line that differs is marked ``# BUG``. The first two are the ways to break
the spec that MultiPaxos-SMR's README suggests; the others are mistakes real
systems made or guard against. Each safety variant lets a client see a
history that no order of its commands explains (``Linearizability`` fails);
the silent acceptor never lets anything commit (a deadlock). The explorer
finds the shortest way there; tests/test_multipaxos_bugs.py pins how short.

``BUGS`` maps each variant's name to its class.
"""

from __future__ import annotations

from .gallery import Variant, gallery
from .multipaxos import Accept, MPState, MultiPaxos, Node, PrepareReply, ack_event, observe, req_event


class MultiPaxosBug(Variant, MultiPaxos):
    """A known-wrong Multi-Paxos (see ``Variant`` for its story's fields)."""


class CommitOnTooFewReplies(MultiPaxosBug):
    name = "commit-on-too-few-replies"
    summary = "A leader commits a slot on one AcceptReply fewer than a majority."
    explanation = (
        "The leader has voted for its own command, so with one more reply it already has two votes out "
        "of three; waiting for a majority looks like a formality. But a vote that only a minority holds "
        "can be missed by the next leader: s1 commits w1 with its own vote alone and acknowledges it, "
        "s2 takes over with s3, hears of no vote, and answers a later read r1 with the initial value, "
        "as if the acknowledged write had never happened."
    )
    fix = "Commit a slot only once a majority of replicas (the leader included) replied to its Accept."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies_to_commit = self.majority_num - 1  # BUG: a majority is needed


class SilentAcceptor(MultiPaxosBug):
    name = "silent-acceptor"
    summary = "A replica votes on an Accept but never sends its AcceptReply."
    explanation = (
        "The vote is recorded, so the replica did its part; the reply is only news for the leader. "
        "But the news is all the leader has: without a majority of AcceptReplies it can never commit, "
        "the client is never acknowledged and no replica can ever leave its loop. The explorer reports "
        "a deadlock, a state where nothing can happen before every request is answered: in this spec "
        "termination stands in for liveness."
    )
    fix = "In HandleAccept, send the AcceptReply along with the vote."

    def handle_accept(self, s, i, r, msgs):
        for act, t in super().handle_accept(s, i, r, msgs):
            yield act, t._replace(msgs=s.msgs)  # BUG: the vote is kept, its AcceptReply is not sent


class IgnorePrepareVotes(MultiPaxosBug):
    name = "ignore-prepare-votes"
    summary = "A new leader re-proposes only what its own log holds, ignoring the votes the PrepareReplies report."
    explanation = (
        "The new leader has its own log, and every replica's log should hold the same commands, so "
        "reading the others' votes looks redundant. But a slot may have been committed by an old leader "
        "with a majority the new leader was not part of; the PrepareReplies of the new leader's majority "
        "are the only place where that vote survives. Ignoring them, the new leader sees slot 1 empty, "
        "puts the read r1 there and answers it with the initial value, after the write w1 in that slot "
        "was acknowledged."
    )
    fix = "For every unfinished slot, adopt the command voted at the highest ballot among all the PrepareReplies."

    def reports_to_adopt(self, r: str, prs: list[PrepareReply]) -> list[PrepareReply]:
        return [pr for pr in prs if pr.src == r]  # BUG: only the leader's own votes are looked at


class StaleLeaderRead(MultiPaxosBug):
    name = "stale-leader-read"
    summary = "A leader answers a read from its own state at once, without a quorum."
    explanation = (
        "Reads change nothing, so running them through the log (an Accept round to a majority) looks "
        "wasteful: once the leader has committed and applied every slot in its log, it can answer from its "
        "own state. "
        "But a leader does not know it has been deposed: while s1 still believes it leads ballot 1, s2 "
        "takes ballot 2, commits the write w1 and acknowledges it; then s1 answers the read r1 with the "
        "old value. This is why ZooKeeper's reads are only as fresh as the replica that serves them, and "
        "a client that needs the latest value issues a `sync` first; systems that do serve reads locally "
        "use a leader lease that a new leader must wait out."
    )
    fix = "Put reads through the log like writes (or hold a leader lease before answering them locally)."

    def propose_request(self, s: MPState, i: int, r: str, slot: int, c: str) -> MPState:
        applied_all = s.node[i].commit_up_to == slot - 1  # every slot it logged is committed and applied
        if c not in self.reads or not applied_all:
            return super().propose_request(s, i, r, slot, c)
        answered = observe(observe(s.observed, req_event(c)), ack_event(c, s.node[i].kvalue))
        pending = tuple(p for p in s.pending if p != c)
        return s._replace(observed=answered, pending=pending)  # BUG: answered from local state, no quorum asked


class AcceptBelowPromise(MultiPaxosBug):
    name = "accept-below-promise"
    summary = "A replica votes on an Accept whose ballot is below the highest ballot it knows."
    explanation = (
        "An Accept comes from a leader that was prepared by a majority, so voting for it looks safe "
        "whatever its ballot. But by replying to a higher Prepare the replica promised that ballot's "
        "leader it would vote in no lower ballot, and that leader counted on the promise when it found "
        "slot 1 empty. Voting for the old leader's w1 anyway lets w1 be committed and acknowledged while "
        "the new leader puts the read r1 in the same slot and answers it with the initial value."
    )
    fix = "In HandleAccept, vote only if the Accept's ballot is at least the highest ballot known."

    def may_accept(self, n: Node, m: Accept) -> bool:
        return m.bal > n.insts[m.slot - 1].voted.bal  # BUG: m.bal >= n.bal_max_known is not required


BUGS: dict[str, type[MultiPaxosBug]] = gallery(MultiPaxosBug)

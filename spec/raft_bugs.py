"""The Raft bug gallery: known-wrong variants of ``Raft``, each one small change.

Every variant is a subclass of ``RaftBug`` that overrides one method of
``Raft`` (one action, or one of its guards such as ``grants_vote``), the line
that differs marked ``# BUG``; its story is in ``spec/gallery.toml`` under
``[raft.<name>]``. The first is the paper's Figure 8; the one that forgets
its term on a restart is ``Raft_Term_Not_Persisted.tla`` of the raft.tla
repository. Each breaks one of MCraft.tla's invariants, and the explorer finds
the shortest way there; tests/test_raft_bugs.py pins how short.
"""

from __future__ import annotations

from .gallery import Variant, gallery
from .raft import NIL, AppendEntriesRequest, Raft, RaftLog, RaftState, RequestVoteRequest, except_at, last_term


class RaftBug(Variant, Raft):
    """A known-wrong Raft (see ``Variant`` for its story's fields)."""

    protocol = "raft"


class CommitEarlierTerm(RaftBug):
    name = "commit-earlier-term"

    def commits_by_counting(self, s: RaftState, i: int, index: int) -> bool:
        return True  # BUG: an entry of an earlier term is committed by counting its replicas too


class VoteForStaleLog(RaftBug):
    name = "vote-for-stale-log"

    def grants_vote(self, s: RaftState, i: int, j: str, m: RequestVoteRequest, log_ok: bool) -> bool:
        return m.mterm == s.currentTerm[i] and s.votedFor[i] in (NIL, j)  # BUG: log_ok is not required


class TermNotPersisted(RaftBug):
    name = "term-not-persisted"

    def restart(self, s, i):
        for act, t in super().restart(s, i):
            forgotten = except_at(t.currentTerm, i, last_term(t.log[i]) or 1)  # BUG: currentTerm is not on disk
            yield act, t._replace(currentTerm=forgotten, votedFor=except_at(t.votedFor, i, NIL))


class NoConsistencyCheck(RaftBug):
    name = "no-consistency-check"

    def log_matches_prev(self, log: RaftLog, m: AppendEntriesRequest) -> bool:
        return True  # BUG: the log at prevLogIndex is not compared with the leader's


class CommitOnMinority(RaftBug):
    name = "commit-on-minority"

    def quorum_agrees(self, s: RaftState, i: int, index: int) -> bool:
        match = s.matchIndex[i]
        agree = [k for k in self.ids if k == i or match[k] >= index]
        return len(agree) >= len(self.servers) // 2  # BUG: a majority is one more than half, rounded down


class OwnVoteCountedTwice(RaftBug):
    name = "own-vote-counted-twice"

    def timeout(self, s, i):
        for act, t in super().timeout(s, i):
            own = frozenset({self.servers[i]})
            yield act, t._replace(votesGranted=except_at(t.votesGranted, i, own))  # BUG: votedFor stays Nil


BUGS: dict[str, type[RaftBug]] = gallery(RaftBug)

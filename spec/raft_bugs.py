"""The Raft bug gallery: known-wrong variants of ``Raft``, each one small change.

Every variant is a subclass of ``RaftBug`` that overrides one method of
``Raft`` (one action, or one of its guards such as ``grants_vote``), the line
that differs marked ``# BUG``; its story is in ``spec/gallery.toml`` under
``[raft.<name>]``. The first is the paper's Figure 8; the one that forgets
its term on a restart is ``Raft_Term_Not_Persisted.tla`` of the raft.tla
repository. Each breaks one of MCraft.tla's invariants, and the explorer finds
the shortest way there; tests/test_raft_bugs.py pins how short.

``SHOWN`` says where each variant goes wrong: the smallest sizes of Raft that
show it, the invariant that fails, and, for the variants that need three
servers (a state space too large to search in a moment), a scenario: the
steps of a behaviour that breaks it, as ``explorer.scenario.play`` takes them.
Where a breadth-first search of those sizes has run to its violation, it
also records how many states the shortest counterexample has
(benchmarks/raft_bugs.py searches again and compares).
"""

from __future__ import annotations

from typing import Any, NamedTuple

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


# ----------------------------------------------------------------------
# Where each variant goes wrong
# ----------------------------------------------------------------------


class Shown(NamedTuple):
    """Raft's sizes that show a variant, the invariant that fails, the steps of a
    scenario that breaks it there (none: the explorer finds the shortest at once),
    and the states of the shortest counterexample that a breadth-first search of
    those sizes finds (None: the search is beyond reach)."""

    sizes: dict[str, Any]
    invariant: str
    scenario: tuple[str, ...] = ()
    shortest: int | None = None

    def command(self, name: str, symmetry: bool = False) -> str:
        """The command line that searches these sizes for the variant ``name``."""
        sizes = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in self.sizes.items())
        return f"paxoscope check raft --bug {name} {sizes}" + " --symmetry" * symmetry


def elect(leader: str, voters: tuple[str, ...], timeouts: int = 1, restart: bool = False) -> list[str]:
    """``leader`` times out into a new term and wins it with its own vote and those of
    ``voters``, each of an older term, one message in flight at a time."""
    steps = [f"Restart {leader}"] * restart + [f"Timeout {leader}"] * timeouts
    for voter in (leader, *voters):
        steps += [f"RequestVote {leader} {voter}", *["UpdateTerm *"] * (voter != leader)]
        steps += ["HandleRequestVoteRequest *", "HandleRequestVoteResponse *"]
    return [*steps, f"BecomeLeader {leader}"]


def append(leader: str, follower: str, handled: int, update_term: bool = False, answered: bool = True) -> list[str]:
    """``leader`` sends ``follower`` an AppendEntries that it handles ``handled`` times (it
    rejects it, or drops a conflicting entry, appends, and says so), and the answer is heard."""
    handling = ["UpdateTerm *"] * update_term + ["HandleAppendEntriesRequest *"] * handled
    return [f"AppendEntries {leader} {follower}", *handling, *["HandleAppendEntriesResponse *"] * answered]


TWO_SERVERS = dict(max_log=0, max_in_flight=1)
FIGURE_8 = (
    *elect("s1", ("s2",)),  # term 2
    "ClientRequest s1 v1",
    *elect("s2", ("s3",)),  # term 3: s2 and s3 have empty logs
    "ClientRequest s2 v2",
    *elect("s1", ("s3",), timeouts=2, restart=True),  # term 4: s3's log is still empty
    *append("s1", "s3", 1),  # rejected: nextIndex backs up to 1
    *append("s1", "s3", 2),  # s3 appends v1@2
    "AdvanceCommitIndex s1",  # v1@2, of term 2, is held by s1 and s3: committed
    *elect("s2", ("s3",), timeouts=2, restart=True),  # term 5: v2@3 is newer than s3's v1@2
    *append("s2", "s3", 1),
    *append("s2", "s3", 3),  # s3 drops v1@2 and appends v2@3
    "AdvanceCommitIndex s2",  # v2@3 committed at index 1 too
)
ELECTED_WITH_AN_ENTRY = (*elect("s1", ("s2",)), "ClientRequest s1 v1")
SHOWN: dict[str, Shown] = {
    "commit-earlier-term": Shown(dict(servers=3, values=2, max_term=5, max_in_flight=1), "LogInv", FIGURE_8),
    "vote-for-stale-log": Shown(
        dict(servers=3, max_term=3, max_in_flight=1),
        "LeaderCompletenessInv",
        (*ELECTED_WITH_AN_ENTRY, *append("s1", "s2", 2), "AdvanceCommitIndex s1", *elect("s3", ("s2",), timeouts=2)),
        shortest=26,
    ),
    "term-not-persisted": Shown(TWO_SERVERS, "MoreThanOneLeaderInv", shortest=21),
    "no-consistency-check": Shown(
        dict(servers=3, max_term=4, max_log=2, max_in_flight=1),
        "LogMatchingInv",
        (
            *ELECTED_WITH_AN_ENTRY,  # s1: v1@2
            *elect("s2", ("s3",)),
            "ClientRequest s2 v1",  # s2: v1@3
            *elect("s2", ("s3",), restart=True),  # term 4, nextIndex 2
            "ClientRequest s2 v1",  # s2: v1@3, v1@4
            *append("s2", "s1", 1, update_term=True, answered=False),  # s1: v1@2, v1@4
        ),
    ),
    "commit-on-minority": Shown(
        dict(servers=3, max_term=3, max_in_flight=1),
        "LeaderCompletenessInv",
        (*ELECTED_WITH_AN_ENTRY, "AdvanceCommitIndex s1", *elect("s2", ("s3",))),
        shortest=21,
    ),
    "own-vote-counted-twice": Shown(TWO_SERVERS, "MoreThanOneLeaderInv", shortest=11),
}

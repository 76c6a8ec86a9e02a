"""Raft, step for step as Diego Ongaro's raft.tla (github.com/ongardie/raft.tla),
bounded as MCraft.tla bounds it for TLC.

Servers s1..sN, client values v1..vV. Variables, under raft.tla's names:

- ``messages``        a bag of messages: each message with its count of copies
  in flight (raft.tla's function Message -> count; a message whose last copy
  is received or dropped leaves the bag);
- ``currentTerm``, ``state``, ``votedFor``    per server;
- ``log``, ``commitIndex``                     per server, a log being a tuple
  of entries (index k is ``log[k - 1]``);
- ``votesResponded``, ``votesGranted``         per candidate;
- ``nextIndex``, ``matchIndex``                per leader, per server;
- ``voterLog``, ``elections``, ``allLogs``     history variables raft.tla keeps
  for its proof: each voter's log as it voted, every election won (term,
  leader, logs and votes), every log that ever was.

Every action is a method of ``Raft``, its guard then its effect, named after
raft.tla's: ``Restart``, ``Timeout``, ``RequestVote``, ``BecomeLeader``,
``ClientRequest``, ``AdvanceCommitIndex``, ``AppendEntries``; ``Receive`` of
a message, by one of its handlers (``UpdateTerm``,
``HandleRequestVoteRequest``, ``HandleRequestVoteResponse``,
``HandleAppendEntriesRequest`` -- reject, return to follower, or accept --,
``HandleAppendEntriesResponse``, ``DropStaleResponse``); and the network's
``DuplicateMessage`` and ``DropMessage``. A variant of the protocol overrides
one of these methods.

The bounds are MCraft.tla's state constraint (``within_bounds``): no term
above MaxTerm, no log longer than MaxLogLen, no message with more than
MaxMsgCopies copies, at most MaxInFlight copies in all. As with TLC, a step
out of them counts among the states generated and goes nowhere: the state
it reaches is not one of the model's.

The invariants are MCraft.tla's eight: election safety (now and over the
history), the leader's entries of its term, log matching, commit index
within the log, state machine safety, leader completeness, terms ascending
in every log. Beyond them, ``RefinesLog``: what the servers ever committed
refines the per-slot log of spec/log.py, the specification Multi-Paxos
refines too. A server forgets its commit index when it restarts, so that
check explores the spec with one more history variable, ``committed``
(every entry some server ever counted as committed), kept only then.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator
from functools import cached_property
from itertools import permutations, product
from operator import itemgetter
from typing import Any, NamedTuple

from .base import Action, Refinement, Spec, action, except_at, record
from .constants import ConfigError
from .log import Log, LogState

NIL = "Nil"
FOLLOWER, CANDIDATE, LEADER = "Follower", "Candidate", "Leader"
RV_REQUEST, RV_RESPONSE = "RequestVoteRequest", "RequestVoteResponse"
AE_REQUEST, AE_RESPONSE = "AppendEntriesRequest", "AppendEntriesResponse"


class Entry(NamedTuple):
    term: int
    value: str

    def __str__(self) -> str:
        return f"{self.value}@{self.term}"


RaftLog = tuple[Entry, ...]


def show_log(log: RaftLog) -> str:
    return "[" + ", ".join(map(str, log)) + "]"


# Messages lead with their type, so that messages of different types compare
# at their first field (the symmetry's canonical form sorts them).


RequestVoteRequest = record(
    "RequestVoteRequest",
    "mtype mterm mlastLogTerm mlastLogIndex msource mdest",
    "RequestVote({msource}->{mdest}, term={mterm}, lastLogTerm={mlastLogTerm}, lastLogIndex={mlastLogIndex})",
)
#: mlog, the voter's log, is there for the history variable voterLog only.
RequestVoteResponse = record(
    "RequestVoteResponse",
    "mtype mterm mvoteGranted mlog msource mdest",
    "RequestVoteResponse({msource}->{mdest}, term={mterm}, granted={mvoteGranted})",
)
AppendEntriesResponse = record(
    "AppendEntriesResponse",
    "mtype mterm msuccess mmatchIndex msource mdest",
    "AppendEntriesResponse({msource}->{mdest}, term={mterm}, success={msuccess}, match={mmatchIndex})",
)


class AppendEntriesRequest(NamedTuple):
    mtype: str
    mterm: int
    mprevLogIndex: int
    mprevLogTerm: int
    mentries: RaftLog
    mlog: RaftLog  # the leader's whole log: a history variable of the proof
    mcommitIndex: int
    msource: str
    mdest: str

    def __str__(self) -> str:
        return (
            f"AppendEntries({self.msource}->{self.mdest}, term={self.mterm}, prev={self.mprevLogIndex}"
            f"@{self.mprevLogTerm}, entries={show_log(self.mentries)}, commit={self.mcommitIndex})"
        )


Message = RequestVoteRequest | RequestVoteResponse | AppendEntriesRequest | AppendEntriesResponse
#: A bag of messages: (message, copies) pairs, each message once, copies >= 1.
Bag = frozenset[tuple[Message, int]]
#: A function from servers to logs (voterLog[i]): its (server, log) pairs, sorted by server.
LogsByServer = tuple[tuple[str, RaftLog], ...]


class Election(NamedTuple):
    eterm: int
    eleader: str
    elog: RaftLog
    evotes: frozenset[str]
    evoterLog: LogsByServer


class RaftState(NamedTuple):
    messages: Bag
    currentTerm: tuple[int, ...]
    state: tuple[str, ...]
    votedFor: tuple[str, ...]
    log: tuple[RaftLog, ...]
    commitIndex: tuple[int, ...]
    votesResponded: tuple[frozenset[str], ...]
    votesGranted: tuple[frozenset[str], ...]
    voterLog: tuple[LogsByServer, ...]
    nextIndex: tuple[tuple[int, ...], ...]
    matchIndex: tuple[tuple[int, ...], ...]
    elections: frozenset[Election]
    allLogs: frozenset[RaftLog]
    #: Kept only to check RefinesLog (else None): every (index, entry) in some committed prefix, ever.
    committed: frozenset[tuple[int, Entry]] | None = None


Step = tuple[Action, RaftState]
NOTHING: frozenset = frozenset()


# ----------------------------------------------------------------------
# raft.tla's helpers
# ----------------------------------------------------------------------


def last_term(log: RaftLog) -> int:
    """LastTerm: the term of the last entry, 0 for an empty log."""
    return log[-1].term if log else 0


def with_message(m: Message, msgs: Bag) -> Bag:
    """WithMessage: one more copy of m."""
    bag = dict(msgs)
    bag[m] = bag.get(m, 0) + 1
    return frozenset(bag.items())


def without_message(m: Message, msgs: Bag) -> Bag:
    """WithoutMessage: one copy of m less; its last copy takes it out of the bag."""
    bag = dict(msgs)
    if m in bag:
        if bag[m] <= 1:
            del bag[m]
        else:
            bag[m] -= 1
    return frozenset(bag.items())


def reply(response: Message, request: Message, msgs: Bag) -> Bag:
    """Reply: send the response, discard the request."""
    return without_message(request, with_message(response, msgs))


def extended(function: LogsByServer, j: str, log: RaftLog) -> LogsByServer:
    """``function @@ (j :> log)``: j keeps the log it has, if it has one."""
    if any(k == j for k, _ in function):
        return function
    return tuple(sorted((*function, (j, log))))


def _names(prefix: str, count: Any, flag: str) -> tuple[str, ...]:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(f"--{flag} must be a whole number of at least 1, not {count!r}")
    return tuple(f"{prefix}{k + 1}" for k in range(count))


def _bound(value: Any, flag: str, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigError(f"--{flag} must be a whole number of at least {least}, not {value!r}")
    return value


class Raft(Spec):
    name = "raft"
    actions = (
        "Restart",
        "Timeout",
        "RequestVote",
        "BecomeLeader",
        "ClientRequest",
        "AdvanceCommitIndex",
        "AppendEntries",
        "UpdateTerm",
        "HandleRequestVoteRequest",
        "HandleRequestVoteResponse",
        "HandleAppendEntriesRequest",
        "HandleAppendEntriesResponse",
        "DropStaleResponse",
        "DuplicateMessage",
        "DropMessage",
    )
    #: MCraft's INVARIANTS; RefinesLog is checked when named.
    default_properties = (
        "MoreThanOneLeaderInv",
        "ElectionsHistoryInv",
        "ElectionSafetyInv",
        "LogMatchingInv",
        "CommitIndexBoundInv",
        "LogInv",
        "LeaderCompletenessInv",
        "LogTermMonotonicInv",
    )

    def __init__(
        self,
        servers: int = 2,
        values: int = 1,
        max_term: int = 2,
        max_log: int = 1,
        max_copies: int = 1,
        max_in_flight: int = 2,
        commit_history: bool = False,
    ):
        self.servers = _names("s", servers, "servers")
        self.values = _names("v", values, "values")
        self.max_term = _bound(max_term, "max-term", 1)
        self.max_log = _bound(max_log, "max-log", 0)
        self.max_copies = _bound(max_copies, "max-copies", 1)
        self.max_in_flight = _bound(max_in_flight, "max-in-flight", 0)
        self.commit_history = commit_history
        self.index = {name: k for k, name in enumerate(self.servers)}
        self.ids = range(len(self.servers))
        self.state_constraint = self.within_bounds
        self._log_memo: dict[LogState, LogState] = {}

    # ------------------------------------------------------------------
    # Init and Next
    # ------------------------------------------------------------------

    def init(self) -> Iterator[RaftState]:
        n = len(self.servers)
        yield RaftState(
            messages=NOTHING,
            currentTerm=(1,) * n,
            state=(FOLLOWER,) * n,
            votedFor=(NIL,) * n,
            log=((),) * n,
            commitIndex=(0,) * n,
            votesResponded=(NOTHING,) * n,
            votesGranted=(NOTHING,) * n,
            voterLog=((),) * n,
            nextIndex=((1,) * n,) * n,
            matchIndex=((0,) * n,) * n,
            elections=NOTHING,
            allLogs=NOTHING,
            committed=NOTHING if self.commit_history else None,
        )

    def next(self, s: RaftState) -> Iterator[Step]:
        # allLogs' = allLogs \cup {log[i] : i \in Server}, whatever the step: set
        # once here, every action below leaves it as it finds it. A state whose
        # allLogs holds its logs already stays the same object, so that a step
        # that changes nothing is seen as a stutter without hashing the state.
        if not s.allLogs.issuperset(s.log):
            s = s._replace(allLogs=s.allLogs.union(s.log))
        steps = self.steps(s)
        if self.commit_history:
            steps = ((act, self.record_commits(t)) for act, t in steps)
        yield from steps

    def steps(self, s: RaftState) -> Iterator[Step]:
        for i in self.ids:
            yield from self.restart(s, i)
            yield from self.timeout(s, i)
            for j in self.ids:
                yield from self.request_vote(s, i, j)
            yield from self.become_leader(s, i)
            for v in self.values:
                yield from self.client_request(s, i, v)
            yield from self.advance_commit_index(s, i)
            for j in self.ids:
                yield from self.append_entries(s, i, j)
        for m, _ in s.messages:
            yield from self.receive(s, m)
            yield from self.duplicate_message(s, m)
            yield from self.drop_message(s, m)

    # ------------------------------------------------------------------
    # The servers' actions
    # ------------------------------------------------------------------

    def restart(self, s: RaftState, i: int) -> Iterator[Step]:
        """Server i restarts from stable storage: it keeps currentTerm, votedFor and log, and loses the rest."""
        n = len(self.servers)
        if self.restarted_already(s, i):
            yield action("Restart", i=self.servers[i]), s  # nothing to lose: a stutter
            return
        yield (
            action("Restart", i=self.servers[i]),
            s._replace(
                state=except_at(s.state, i, FOLLOWER),
                votesResponded=except_at(s.votesResponded, i, NOTHING),
                votesGranted=except_at(s.votesGranted, i, NOTHING),
                voterLog=except_at(s.voterLog, i, ()),
                nextIndex=except_at(s.nextIndex, i, (1,) * n),
                matchIndex=except_at(s.matchIndex, i, (0,) * n),
                commitIndex=except_at(s.commitIndex, i, 0),
            ),
        )

    def restarted_already(self, s: RaftState, i: int) -> bool:
        """Whether Restart of i would leave s as it is."""
        n = len(self.servers)
        return (
            s.state[i] == FOLLOWER
            and s.commitIndex[i] == 0
            and not s.votesResponded[i]
            and not s.votesGranted[i]
            and not s.voterLog[i]
            and s.nextIndex[i] == (1,) * n
            and s.matchIndex[i] == (0,) * n
        )

    def timeout(self, s: RaftState, i: int) -> Iterator[Step]:
        """Server i times out and starts a new election (its own vote it will ask itself for)."""
        if s.state[i] in (FOLLOWER, CANDIDATE):
            yield (
                action("Timeout", i=self.servers[i]),
                s._replace(
                    state=except_at(s.state, i, CANDIDATE),
                    currentTerm=except_at(s.currentTerm, i, s.currentTerm[i] + 1),
                    votedFor=except_at(s.votedFor, i, NIL),
                    votesResponded=except_at(s.votesResponded, i, NOTHING),
                    votesGranted=except_at(s.votesGranted, i, NOTHING),
                    voterLog=except_at(s.voterLog, i, ()),
                ),
            )

    def request_vote(self, s: RaftState, i: int, j: int) -> Iterator[Step]:
        """Candidate i asks j (itself too) for its vote."""
        if s.state[i] == CANDIDATE and self.servers[j] not in s.votesResponded[i]:
            log = s.log[i]
            m = RequestVoteRequest(RV_REQUEST, s.currentTerm[i], last_term(log), len(log), *self.pair(i, j))
            yield action("RequestVote", i=self.servers[i], j=self.servers[j]), self.send(s, m)

    def become_leader(self, s: RaftState, i: int) -> Iterator[Step]:
        """Candidate i, granted the votes of a quorum, becomes leader."""
        if s.state[i] == CANDIDATE and self.is_quorum(s.votesGranted[i]):
            n = len(self.servers)
            won = Election(s.currentTerm[i], self.servers[i], s.log[i], s.votesGranted[i], s.voterLog[i])
            yield (
                action("BecomeLeader", i=self.servers[i]),
                s._replace(
                    state=except_at(s.state, i, LEADER),
                    nextIndex=except_at(s.nextIndex, i, (len(s.log[i]) + 1,) * n),
                    matchIndex=except_at(s.matchIndex, i, (0,) * n),
                    elections=s.elections | {won},
                ),
            )

    def client_request(self, s: RaftState, i: int, v: str) -> Iterator[Step]:
        """Leader i appends a client's value v to its log, in its term."""
        if s.state[i] == LEADER:
            entry = Entry(s.currentTerm[i], v)
            yield (
                action("ClientRequest", i=self.servers[i], v=v),
                s._replace(log=except_at(s.log, i, (*s.log[i], entry))),
            )

    def advance_commit_index(self, s: RaftState, i: int) -> Iterator[Step]:
        """Leader i commits up to the last index a quorum holds, if that entry is of its own term."""
        if s.state[i] == LEADER:
            agree_indexes = [index for index in range(1, len(s.log[i]) + 1) if self.quorum_agrees(s, i, index)]
            new_commit_index = s.commitIndex[i]
            if agree_indexes and self.commits_by_counting(s, i, max(agree_indexes)):
                new_commit_index = max(agree_indexes)
            yield (
                action("AdvanceCommitIndex", i=self.servers[i]),
                s._replace(commitIndex=except_at(s.commitIndex, i, new_commit_index)),
            )

    def quorum_agrees(self, s: RaftState, i: int, index: int) -> bool:
        """Agree(index) is a quorum: leader i and the servers it knows to match it up to index."""
        match = s.matchIndex[i]
        return self.is_quorum([self.servers[k] for k in self.ids if k == i or match[k] >= index])

    def commits_by_counting(self, s: RaftState, i: int, index: int) -> bool:
        """Only an entry of the leader's own term is committed by counting its replicas (the paper's Figure 8)."""
        return s.log[i][index - 1].term == s.currentTerm[i]

    def append_entries(self, s: RaftState, i: int, j: int) -> Iterator[Step]:
        """Leader i sends j the entry at nextIndex[i][j] (none past its log's end), with the one before it."""
        if i != j and s.state[i] == LEADER:
            log, next_index = s.log[i], s.nextIndex[i][j]
            prev_log_index = next_index - 1
            prev_log_term = log[prev_log_index - 1].term if prev_log_index > 0 else 0
            last_entry = min(len(log), next_index)
            entries = log[next_index - 1 : last_entry]
            m = AppendEntriesRequest(
                AE_REQUEST,
                s.currentTerm[i],
                prev_log_index,
                prev_log_term,
                entries,
                log,
                min(s.commitIndex[i], last_entry),
                *self.pair(i, j),
            )
            yield action("AppendEntries", i=self.servers[i], j=self.servers[j]), self.send(s, m)

    # ------------------------------------------------------------------
    # Receive: i the recipient, j the sender, m the message
    # ------------------------------------------------------------------

    def receive(self, s: RaftState, m: Message) -> Iterator[Step]:
        """Any message of a newer term first updates the recipient's term; then each type has its handler."""
        i, j = self.index[m.mdest], m.msource
        yield from self.update_term(s, i, j, m)
        if m.mtype == RV_REQUEST:
            yield from self.handle_request_vote_request(s, i, j, m)
        elif m.mtype == RV_RESPONSE:
            yield from self.drop_stale_response(s, i, j, m)
            yield from self.handle_request_vote_response(s, i, j, m)
        elif m.mtype == AE_REQUEST:
            yield from self.handle_append_entries_request(s, i, j, m)
        else:
            yield from self.drop_stale_response(s, i, j, m)
            yield from self.handle_append_entries_response(s, i, j, m)

    def update_term(self, s: RaftState, i: int, j: str, m: Message) -> Iterator[Step]:
        """A message of a newer term: i takes that term and becomes a follower; m stays, to be handled next."""
        if m.mterm > s.currentTerm[i]:
            yield (
                action("UpdateTerm", m=m),
                s._replace(
                    currentTerm=except_at(s.currentTerm, i, m.mterm),
                    state=except_at(s.state, i, FOLLOWER),
                    votedFor=except_at(s.votedFor, i, NIL),
                ),
            )

    def drop_stale_response(self, s: RaftState, i: int, j: str, m: Message) -> Iterator[Step]:
        """A response of an older term is discarded."""
        if m.mterm < s.currentTerm[i]:
            yield action("DropStaleResponse", m=m), s._replace(messages=without_message(m, s.messages))

    def handle_request_vote_request(self, s: RaftState, i: int, j: str, m: RequestVoteRequest) -> Iterator[Step]:
        """i grants its vote if the request is of its term, the candidate's log is at least as up to date
        as its own, and it voted for no one else in this term; it answers either way."""
        if m.mterm <= s.currentTerm[i]:
            log = s.log[i]
            log_ok = m.mlastLogTerm > last_term(log) or (
                m.mlastLogTerm == last_term(log) and m.mlastLogIndex >= len(log)
            )
            grant = self.grants_vote(s, i, j, m, log_ok)
            response = RequestVoteResponse(RV_RESPONSE, s.currentTerm[i], grant, log, self.servers[i], j)
            yield (
                action("HandleRequestVoteRequest", m=m),
                s._replace(
                    votedFor=except_at(s.votedFor, i, j) if grant else s.votedFor,
                    messages=reply(response, m, s.messages),
                ),
            )

    def grants_vote(self, s: RaftState, i: int, j: str, m: RequestVoteRequest, log_ok: bool) -> bool:
        return m.mterm == s.currentTerm[i] and log_ok and s.votedFor[i] in (NIL, j)

    def handle_request_vote_response(self, s: RaftState, i: int, j: str, m: RequestVoteResponse) -> Iterator[Step]:
        """A response of i's term is tallied (also when i is no candidate: it is then never looked at)."""
        if m.mterm == s.currentTerm[i]:
            granted, voter_log = s.votesGranted[i], s.voterLog[i]
            if m.mvoteGranted:
                granted, voter_log = granted | {j}, extended(voter_log, j, m.mlog)
            yield (
                action("HandleRequestVoteResponse", m=m),
                s._replace(
                    votesResponded=except_at(s.votesResponded, i, s.votesResponded[i] | {j}),
                    votesGranted=except_at(s.votesGranted, i, granted),
                    voterLog=except_at(s.voterLog, i, voter_log),
                    messages=without_message(m, s.messages),
                ),
            )

    def handle_append_entries_request(self, s: RaftState, i: int, j: str, m: AppendEntriesRequest) -> Iterator[Step]:
        """An AppendEntries of i's term or older: rejected, or it makes a candidate a follower, or accepted."""
        if m.mterm > s.currentTerm[i]:
            return
        log_ok = self.log_matches_prev(s.log[i], m)
        term = s.currentTerm[i]
        act = action("HandleAppendEntriesRequest", m=m)
        if m.mterm < term or (m.mterm == term and s.state[i] == FOLLOWER and not log_ok):
            rejected = AppendEntriesResponse(AE_RESPONSE, term, False, 0, self.servers[i], j)
            yield act, s._replace(messages=reply(rejected, m, s.messages))
        elif m.mterm == term and s.state[i] == CANDIDATE:
            yield act, s._replace(state=except_at(s.state, i, FOLLOWER))  # m stays, to be accepted next
        elif m.mterm == term and s.state[i] == FOLLOWER and log_ok:
            yield from self.accept_append_entries(s, i, j, m, act)

    def log_matches_prev(self, log: RaftLog, m: AppendEntriesRequest) -> bool:
        """logOk: the log holds the leader's entry at prevLogIndex (of term prevLogTerm), or prevLogIndex is 0."""
        return m.mprevLogIndex == 0 or (
            0 < m.mprevLogIndex <= len(log) and m.mprevLogTerm == log[m.mprevLogIndex - 1].term
        )

    def accept_append_entries(
        self, s: RaftState, i: int, j: str, m: AppendEntriesRequest, act: Action
    ) -> Iterator[Step]:
        """Follower i, its log matching at prevLogIndex: done already (then it answers), or it drops its
        last entry where the new one conflicts, or it appends the new one (both leave m to be handled again)."""
        log, index = s.log[i], m.mprevLogIndex + 1
        if not m.mentries or (len(log) >= index and log[index - 1].term == m.mentries[0].term):
            done = AppendEntriesResponse(
                AE_RESPONSE, s.currentTerm[i], True, m.mprevLogIndex + len(m.mentries), self.servers[i], j
            )
            # commitIndex may go down, on an old duplicated request; raft.tla lets it.
            yield (
                act,
                s._replace(
                    commitIndex=except_at(s.commitIndex, i, m.mcommitIndex), messages=reply(done, m, s.messages)
                ),
            )
        elif len(log) >= index and log[index - 1].term != m.mentries[0].term:
            yield act, s._replace(log=except_at(s.log, i, log[:-1]))
        elif len(log) == m.mprevLogIndex:
            yield act, s._replace(log=except_at(s.log, i, (*log, m.mentries[0])))

    def handle_append_entries_response(self, s: RaftState, i: int, j: str, m: AppendEntriesResponse) -> Iterator[Step]:
        """A response of i's term: on success, j matches up to mmatchIndex; else i backs nextIndex[i][j] up one."""
        if m.mterm == s.currentTerm[i]:
            k = self.index[j]
            next_index, match_index = s.nextIndex[i], s.matchIndex[i]
            if m.msuccess:
                next_index = except_at(next_index, k, m.mmatchIndex + 1)
                match_index = except_at(match_index, k, m.mmatchIndex)
            else:
                next_index = except_at(next_index, k, max(next_index[k] - 1, 1))
            yield (
                action("HandleAppendEntriesResponse", m=m),
                s._replace(
                    nextIndex=except_at(s.nextIndex, i, next_index),
                    matchIndex=except_at(s.matchIndex, i, match_index),
                    messages=without_message(m, s.messages),
                ),
            )

    # ------------------------------------------------------------------
    # The network
    # ------------------------------------------------------------------

    def duplicate_message(self, s: RaftState, m: Message) -> Iterator[Step]:
        yield action("DuplicateMessage", m=m), self.send(s, m)

    def drop_message(self, s: RaftState, m: Message) -> Iterator[Step]:
        yield action("DropMessage", m=m), s._replace(messages=without_message(m, s.messages))

    def send(self, s: RaftState, m: Message) -> RaftState:
        return s._replace(messages=with_message(m, s.messages))

    def pair(self, i: int, j: int) -> tuple[str, str]:
        """(msource, mdest) of a message from i to j."""
        return self.servers[i], self.servers[j]

    def is_quorum(self, servers: Collection[str]) -> bool:
        return len(servers) * 2 > len(self.servers)

    # ------------------------------------------------------------------
    # Bounds: MCraft.tla's StateConstraint
    # ------------------------------------------------------------------

    def within_bounds(self, s: RaftState) -> bool:
        if max(s.currentTerm) > self.max_term or max(map(len, s.log)) > self.max_log:
            return False
        # A loop, not all() and sum(): this runs on every step generated.
        in_flight = 0
        for _, count in s.messages:
            if count > self.max_copies:
                return False
            in_flight += count
        return in_flight <= self.max_in_flight

    # ------------------------------------------------------------------
    # Invariants: MCraft.tla's eight
    # ------------------------------------------------------------------

    @cached_property
    def invariants(self):
        return {
            "MoreThanOneLeaderInv": self.more_than_one_leader_inv,
            "ElectionsHistoryInv": elections_history_inv,
            "ElectionSafetyInv": self.election_safety_inv,
            "LogMatchingInv": log_matching_inv,
            "CommitIndexBoundInv": commit_index_bound_inv,
            "LogInv": self.log_inv,
            "LeaderCompletenessInv": self.leader_completeness_inv,
            "LogTermMonotonicInv": log_term_monotonic_inv,
        }

    def more_than_one_leader_inv(self, s: RaftState) -> bool:
        """Election safety: no two leaders in one term."""
        terms = [s.currentTerm[i] for i in self.ids if s.state[i] == LEADER]
        return len(terms) == len(set(terms))

    def election_safety_inv(self, s: RaftState) -> bool:
        """A leader holds the last entry of its term that any server holds."""
        for i in self.ids:
            if s.state[i] == LEADER:
                term = s.currentTerm[i]
                own = last_index_of_term(s.log[i], term)
                if any(last_index_of_term(log, term) > own for log in s.log):
                    return False
        return True

    def committed_prefix(self, s: RaftState, i: int) -> RaftLog:
        """Committed(i): the first commitIndex[i] entries of i's log."""
        return s.log[i][: s.commitIndex[i]]

    def log_inv(self, s: RaftState) -> bool:
        """State machine safety: of two committed prefixes, one is a prefix of the other (so each is
        a prefix of the longest)."""
        prefixes = [self.committed_prefix(s, i) for i in self.ids]
        longest = max(prefixes, key=len)
        return all(is_prefix(p, longest) for p in prefixes)

    def leader_completeness_inv(self, s: RaftState) -> bool:
        """A leader holds every entry that a server of its term or older counts as committed."""
        if LEADER not in s.state:
            return True
        return all(
            is_prefix(self.committed_prefix(s, j), s.log[i])
            for i in self.ids
            if s.state[i] == LEADER
            for j in self.ids
            if s.currentTerm[i] >= s.currentTerm[j]
        )

    @cached_property
    def symmetry(self):
        """Servers are interchangeable, and so are values."""
        return _Canonicalizer(self)

    # ------------------------------------------------------------------
    # Refinement: what was committed is a per-slot log
    # ------------------------------------------------------------------

    @cached_property
    def log_spec(self) -> Log:
        return Log(self.max_log, self.values, at_once=True)  # a commit index may move past several entries

    @cached_property
    def refinements(self) -> tuple[Refinement, ...]:
        return (Refinement(self.log_spec, self.to_log),)

    def checking(self, properties: Collection[str]) -> Spec:
        """RefinesLog reads the history variable ``committed``: the same Raft, keeping it."""
        if "RefinesLog" in properties and not self.commit_history:
            return self.with_commit_history()
        return self

    def with_commit_history(self) -> Raft:
        """This spec (a variant stays that variant), keeping ``committed``."""
        twin = copy.copy(self)
        twin.commit_history = True
        return twin

    def record_commits(self, t: RaftState) -> RaftState:
        """committed' = committed \\cup every (index, entry) of every committed prefix in t."""
        now = {(k, e) for i in self.ids for k, e in enumerate(self.committed_prefix(t, i), 1)}
        return t if now <= t.committed else t._replace(committed=t.committed | now)

    def to_log(self, s: RaftState) -> LogState:
        """Per index, the values of the entries ever committed there."""
        chosen = [set() for _ in range(self.max_log)]
        for k, e in s.committed:
            if k <= self.max_log:
                chosen[k - 1].add(e.value)
        image = tuple(frozenset(c) for c in chosen)
        # Equal images are one object: the explorer sees a stutter of the log by identity.
        return self._log_memo.setdefault(image, image)

    # ------------------------------------------------------------------
    # Reports
    # ------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        return {
            "servers": len(self.servers),
            "values": len(self.values),
            "max_term": self.max_term,
            "max_log": self.max_log,
            "max_copies": self.max_copies,
            "max_in_flight": self.max_in_flight,
        }

    def config_text(self) -> str:
        copies = "1 copy" if self.max_copies == 1 else f"{self.max_copies} copies"
        entries = "1 entry" if self.max_log == 1 else f"{self.max_log} entries"
        servers = f"{len(self.servers)} server{'s' * (len(self.servers) != 1)}"
        values = f"{len(self.values)} value{'s' * (len(self.values) != 1)}"
        return (
            f"{servers}, {values}, terms up to {self.max_term}, logs up to {entries}, "
            f"at most {copies} of a message and {self.max_in_flight} in flight"
        )

    def variables(self, s: RaftState) -> dict[str, Any]:
        per_server = {
            "currentTerm": s.currentTerm,
            "state": s.state,
            "votedFor": s.votedFor,
            "log": tuple(map(show_log, s.log)),
            "commitIndex": s.commitIndex,
            "votesResponded": s.votesResponded,
            "votesGranted": s.votesGranted,
            "nextIndex": s.nextIndex,
            "matchIndex": s.matchIndex,
        }
        out: dict[str, Any] = {"messages": {str(m): count for m, count in sorted(s.messages)}}
        out.update({name: dict(zip(self.servers, value)) for name, value in per_server.items()})
        out["voterLog"] = {i: {j: show_log(log) for j, log in f} for i, f in zip(self.servers, s.voterLog)}
        out["elections"] = sorted(f"term {e.eterm}: {e.eleader} {show_log(e.elog)}" for e in s.elections)
        out["allLogs"] = sorted(map(show_log, s.allLogs))
        if s.committed is not None:
            out["committed"] = sorted(f"{k}: {e}" for k, e in s.committed)
        return out

    def chart(self, steps):
        """A lane per server, terms and log entries on the messages (see ``raft_chart``)."""
        from .raft_chart import raft_chart

        return raft_chart(self, steps)


def last_index_of_term(log: RaftLog, term: int) -> int:
    """MaxOrZero({n \\in DOMAIN log : log[n].term = term})."""
    return max((n for n, e in enumerate(log, 1) if e.term == term), default=0)


def is_prefix(p: RaftLog, q: RaftLog) -> bool:
    return len(p) <= len(q) and q[: len(p)] == p


def elections_history_inv(s: RaftState) -> bool:
    """Election safety over the history: one leader per term, ever."""
    leaders: dict[int, str] = {}
    return all(leaders.setdefault(e.eterm, e.eleader) == e.eleader for e in s.elections)


def log_matching_inv(s: RaftState) -> bool:
    """Two logs with an entry of the same term at the same index agree up to there."""
    return all(
        p[n - 1].term != q[n - 1].term or p[:n] == q[:n]
        for p in s.log
        for q in s.log
        for n in range(1, len(p) + 1)
        if n <= len(q)
    )


def commit_index_bound_inv(s: RaftState) -> bool:
    return all(c <= len(log) for c, log in zip(s.commitIndex, s.log))


def log_term_monotonic_inv(s: RaftState) -> bool:
    return all(log[n].term <= log[n + 1].term for log in s.log for n in range(len(log) - 1))


class _Canonicalizer:
    """The canonical form of a state under renamings of the servers and of the
    values: the least, over the renamings that put the servers in the order of
    their profiles (``server_profile``), of the renamed state written with its
    sets as sorted tuples (so that states compare).

    A profile says of a server only what no renaming changes, so every state of
    an orbit has the same profiles, and the renamings that sort them lead from
    any state of the orbit to the same set of states: the least of them is the
    orbit's. Servers whose profiles differ are thereby ordered at once, and only
    the servers that tie are tried in every order: a state of three servers in
    different terms or roles is renamed once, not six times."""

    def __init__(self, spec: Raft):
        self.spec = spec
        self.value_renamings = [dict(zip(spec.values, q)) for q in permutations(spec.values)]

    def __call__(self, s: RaftState):
        spec = self.spec
        renamings = [
            (dict(zip((spec.servers[k] for k in order), spec.servers)), values)
            for order in self.sorting_orders(s)
            for values in self.value_renamings
        ]
        if len(renamings) == 1:
            # One candidate: it is the orbit's (every state of the orbit has exactly one); no need to compare.
            return rename(spec, s, *renamings[0])
        return min(sortable(rename(spec, s, servers, values)) for servers, values in renamings)

    def sorting_orders(self, s: RaftState) -> Iterator[tuple[int, ...]]:
        """Every order of the servers (by position) that sorts their profiles: servers of equal
        profiles in any order among themselves."""
        spec = self.spec
        profiles = [server_profile(s, i, spec.servers[i]) for i in spec.ids]
        groups: dict[tuple, list[int]] = {}
        for i in sorted(spec.ids, key=profiles.__getitem__):
            groups.setdefault(profiles[i], []).append(i)
        if len(groups) == len(profiles):
            return iter([tuple(i for g in groups.values() for i in g)])
        return (sum(choice, ()) for choice in product(*(permutations(g) for g in groups.values())))


def server_profile(s: RaftState, i: int, name: str) -> tuple:
    """What a renaming of servers or values does not change about server i: its term, role, whether it
    voted and for itself, the terms of its log's entries, its commit index, and how many answered it."""
    voted = s.votedFor[i]
    return (
        s.currentTerm[i],
        s.state[i],
        0 if voted == NIL else 1 if voted != name else 2,
        tuple(e.term for e in s.log[i]),
        s.commitIndex[i],
        len(s.votesResponded[i]),
        len(s.votesGranted[i]),
    )


def rename(spec: Raft, s: RaftState, servers: dict[str, str], values: dict[str, str]) -> RaftState:
    """``s`` with server ``a`` called ``servers[a]`` and value ``v`` called ``values[v]``."""
    same_values = all(v == w for v, w in values.items())
    if same_values and all(a == b for a, b in servers.items()):
        return s
    names = {**servers, NIL: NIL}
    # The server now at position k was at moved[k]; there are at least two (one server has no other name).
    was = {new: old for old, new in servers.items()}
    per_server = itemgetter(*(spec.index[was[a]] for a in spec.servers))

    def log(entries: RaftLog) -> RaftLog:
        if same_values:
            return entries
        return tuple(Entry(e.term, values[e.value]) for e in entries)

    def logs_by_server(f: LogsByServer) -> LogsByServer:
        return tuple(sorted((servers[j], log(x)) for j, x in f))

    def message(m: Message) -> Message:
        # Every message's last two fields are msource and mdest.
        m = m._make((*m[:-2], servers[m.msource], servers[m.mdest]))
        if same_values:
            return m
        if m.mtype == AE_REQUEST:
            return m._replace(mentries=log(m.mentries), mlog=log(m.mlog))
        if m.mtype == RV_RESPONSE:
            return m._replace(mlog=log(m.mlog))
        return m

    def election(e: Election) -> Election:
        votes = frozenset(servers[j] for j in e.evotes)
        return Election(e.eterm, servers[e.eleader], log(e.elog), votes, logs_by_server(e.evoterLog))

    return RaftState(
        messages=frozenset((message(m), count) for m, count in s.messages),
        currentTerm=per_server(s.currentTerm),
        state=per_server(s.state),
        votedFor=per_server(tuple(names[v] for v in s.votedFor)),
        log=per_server(tuple(map(log, s.log))),
        commitIndex=per_server(s.commitIndex),
        votesResponded=per_server(tuple(frozenset(servers[j] for j in x) for x in s.votesResponded)),
        votesGranted=per_server(tuple(frozenset(servers[j] for j in x) for x in s.votesGranted)),
        voterLog=per_server(tuple(map(logs_by_server, s.voterLog))),
        nextIndex=per_server(tuple(map(per_server, s.nextIndex))),
        matchIndex=per_server(tuple(map(per_server, s.matchIndex))),
        elections=frozenset(map(election, s.elections)),
        allLogs=s.allLogs if same_values else frozenset(map(log, s.allLogs)),
        committed=s.committed
        if s.committed is None or same_values
        else frozenset((k, log((e,))[0]) for k, e in s.committed),
    )


def sortable(s: RaftState) -> tuple:
    """``s`` with every set a sorted tuple: a value that compares."""
    return (
        tuple(sorted(s.messages)),
        s.currentTerm,
        s.state,
        s.votedFor,
        s.log,
        s.commitIndex,
        tuple(tuple(sorted(x)) for x in s.votesResponded),
        tuple(tuple(sorted(x)) for x in s.votesGranted),
        s.voterLog,
        s.nextIndex,
        s.matchIndex,
        tuple(sorted(e._replace(evotes=tuple(sorted(e.evotes))) for e in s.elections)),
        tuple(sorted(s.allLogs)),
        None if s.committed is None else tuple(sorted(s.committed)),
    )

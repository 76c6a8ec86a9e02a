"""Multi-Paxos for state machine replication, step for step as Guanzhou Hu's
MultiPaxos.tla (TLA+ Examples, ``specifications/MultiPaxos-SMR``).

Replicas s1..sN each keep a log of instances (one per slot); clients issue
write commands w1..wW (each writes its own name as the value of a single key)
and read commands r1..rR. A replica steps up as leader with a fresh ballot,
gathers PrepareReplies (each carrying the replier's votes for every slot),
re-proposes the highest voted command of every unfinished slot, fills empty
slots with pending requests, commits a slot once a majority replied to its
Accept, acknowledges the client and tells followers with a CommitNotice.

Variables, as in the TLA+ (the PlusCal translation is the reference):

- ``msgs``      every message ever sent (it only grows: loss, delay,
  duplication and reordering are "a message may or may not be acted on");
- ``node[r]``   replica r: leader, kvalue, commitUpTo, balPrepared,
  balMaxKnown and insts (per slot: status, cmd, voted bal/cmd);
- ``pending``   the client requests not yet acknowledged, in order;
- ``observed``  the client-visible history of Req and Ack events;
- ``pc[r]``     "rloop" while r runs its loop, "Done" once it left it.

Each replica loops until ``terminated`` (every command requested and
acknowledged); then each leaves its loop (``Exit``), and once all have,
``Terminating`` stutters, so that only a state where nothing can happen
before termination is a deadlock. Safety is ``Linearizability`` of the
observed history at termination, as MultiPaxos_MC.tla states it.

Beyond the TLA+: every slot refines Consensus (``RefinesLog``, the per-slot
log of spec/log.py), and ``CommittedIsChosen`` says that replicas commit only
chosen commands; MultiPaxos-SMR does not have that property (a follower
commits on a CommitNotice whatever its instance holds), so it is checked
only when named.

"nil" and "none" are kept as the strings the TLA+ uses: states then compare
as plain tuples, which the symmetry's canonical form needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from itertools import permutations
from typing import Any, NamedTuple

from .base import Action, Refinement, Spec, action, eventually, except_at, record, weak
from .constants import ConfigError
from .log import Log, LogState

NIL, NONE = "nil", "none"
EMPTY, PREPARING, ACCEPTING, COMMITTED = "Empty", "Preparing", "Accepting", "Committed"
RLOOP, DONE = "rloop", "Done"


# ----------------------------------------------------------------------
# Records (TLA+ records as named tuples; messages and events lead with
# their type, so that a set of them sorts)
# ----------------------------------------------------------------------


class Vote(NamedTuple):
    bal: int
    cmd: str


class Inst(NamedTuple):
    status: str
    cmd: str
    voted: Vote


class Node(NamedTuple):
    leader: str
    kvalue: str
    commit_up_to: int
    bal_prepared: int
    bal_max_known: int
    insts: tuple[Inst, ...]  # slot s is insts[s - 1]


NULL_VOTE = Vote(0, NIL)
NULL_INST = Inst(EMPTY, NIL, NULL_VOTE)


# Messages lead with their type, so that a set of them sorts by type.
Prepare = record("Prepare", "type src bal", "Prepare({src}, bal={bal})")
Accept = record("Accept", "type src bal slot cmd", "Accept({src}, bal={bal}, slot={slot}, cmd={cmd})")
AcceptReply = record("AcceptReply", "type src bal slot", "AcceptReply({src}, bal={bal}, slot={slot})")
CommitNotice = record("CommitNotice", "type upto", "CommitNotice(upto={upto})")


class PrepareReply(NamedTuple):
    type: str
    src: str
    bal: int
    votes: tuple[Vote, ...]  # slot s's vote is votes[s - 1]

    def __str__(self) -> str:
        votes = ", ".join(f"{v.cmd}@{v.bal}" for v in self.votes)
        return f"PrepareReply({self.src}, bal={self.bal}, votes=[{votes}])"


class Event(NamedTuple):
    """A client-observed event: ``Req(cmd)``, or ``Ack(cmd, val)`` with val the value read or overwritten."""

    type: str
    cmd: str
    val: str = ""  # an Ack's; a Req has none

    def __str__(self) -> str:
        return f"Req({self.cmd})" if self.type == "Req" else f"Ack({self.cmd}, {self.val})"


def prepare_msg(r: str, b: int) -> Prepare:
    return Prepare("Prepare", r, b)


def prepare_reply_msg(r: str, b: int, votes: tuple[Vote, ...]) -> PrepareReply:
    return PrepareReply("PrepareReply", r, b, votes)


def accept_msg(r: str, b: int, s: int, c: str) -> Accept:
    return Accept("Accept", r, b, s, c)


def accept_reply_msg(r: str, b: int, s: int) -> AcceptReply:
    return AcceptReply("AcceptReply", r, b, s)


def commit_notice_msg(u: int) -> CommitNotice:
    return CommitNotice("CommitNotice", u)


def req_event(c: str) -> Event:
    return Event("Req", c)


def ack_event(c: str, v: str) -> Event:
    return Event("Ack", c, v)


def votes_by_node(n: Node) -> tuple[Vote, ...]:
    return tuple(inst.voted for inst in n.insts)


def restart_preparing(insts: tuple[Inst, ...]) -> tuple[Inst, ...]:
    """Every Accepting instance goes back to Preparing (a new ballot began)."""
    return tuple(inst._replace(status=PREPARING) if inst.status == ACCEPTING else inst for inst in insts)


def peak_voted_cmd(prs: list[PrepareReply], s: int) -> str:
    """The command voted in slot ``s`` at the highest ballot among the replies ("nil": none voted).

    TLA+'s CHOOSE picks one command if two replies tie at the highest ballot
    with different commands; the protocol never sends such replies (one
    leader per ballot, one command per slot in it), and the least name is
    taken here so the choice is deterministic all the same."""
    top = max(pr.votes[s - 1].bal for pr in prs)
    if top == 0:
        return NIL
    return min(pr.votes[s - 1].cmd for pr in prs if pr.votes[s - 1].bal == top)


class MPState(NamedTuple):
    msgs: frozenset
    node: tuple[Node, ...]  # indexed by replica position: s1 is 0
    pending: tuple[str, ...]
    observed: tuple[Event, ...]
    pc: tuple[str, ...]


Step = tuple[Action, MPState]
#: The messages sent, by type, each list in a fixed order (whatever the hash seed).
MsgsByType = dict[str, list]
MESSAGE_TYPES = ("Prepare", "PrepareReply", "Accept", "AcceptReply", "CommitNotice")


def by_type(msgs: frozenset) -> MsgsByType:
    """``msgs`` by type: "every Accept in msgs" is ``by_type(msgs)["Accept"]``."""
    out: MsgsByType = {t: [] for t in MESSAGE_TYPES}
    for m in sorted(msgs):
        out[m.type].append(m)
    return out


def _names(prefix: str, count: Any, flag: str, least: int) -> tuple[str, ...]:
    if not isinstance(count, int) or isinstance(count, bool) or count < least:
        raise ConfigError(f"--{flag} must be a whole number of at least {least}, not {count!r}")
    return tuple(f"{prefix}{i + 1}" for i in range(count))


class MultiPaxos(Spec):
    name = "multipaxos"
    actions = (
        "BecomeLeader",
        "HandlePrepare",
        "HandlePrepareReplies",
        "TakeNewRequest",
        "HandleAccept",
        "HandleAcceptReplies",
        "HandleCommitNotice",
        "Exit",
        "Terminating",
    )
    #: MultiPaxos_MC_small.cfg asks for CHECK_DEADLOCK TRUE: a state where no
    #: replica can act before every request is acknowledged is a failure.
    check_deadlock = True
    #: What TLC checks on MultiPaxos_MC_small.cfg; the refinement to the log
    #: (RefinesLog) and CommittedIsChosen are checked when named.
    default_properties = ("TypeOK", "Linearizability")
    #: Every message is eventually handled by each replica it can move, a leader
    #: acts on its replies and on pending requests, and some replica eventually
    #: runs for leader while ballots remain: under these, ``EveryCommandAcknowledged``.
    fairness = (
        weak("BecomeLeader"),
        weak("HandlePrepare", "r", "m"),
        weak("HandlePrepareReplies", "r"),
        weak("TakeNewRequest", "r"),
        weak("HandleAccept", "r", "m"),
        weak("HandleAcceptReplies", "r"),
        weak("HandleCommitNotice", "r"),
    )

    def __init__(self, replicas: int = 3, writes: int = 1, reads: int = 1, max_ballot: int = 2):
        self.replicas = _names("s", replicas, "replicas", 1)
        self.writes = _names("w", writes, "writes", 1)
        self.reads = _names("r", reads, "reads", 0)
        if not isinstance(max_ballot, int) or isinstance(max_ballot, bool) or max_ballot < 2:
            raise ConfigError(f"--max-ballot must be a whole number of at least 2, not {max_ballot!r}")
        self.commands = self.writes + self.reads
        self.num_commands = len(self.commands)
        self.majority_num = len(self.replicas) // 2 + 1
        self.replies_to_commit = self.majority_num  # AcceptReplies a leader needs to commit a slot
        self.ballots = range(1, max_ballot + 1)
        self.slots = range(1, self.num_commands + 1)
        # Messages and nodes found well typed (a pure check, so each is checked once).
        self._messages_ok: set = set()
        self._nodes_ok: set = set()
        self._chosen_memo: dict[frozenset, LogState] = {}
        self._log_memo: dict[LogState, LogState] = {}

    # ------------------------------------------------------------------
    # The protocol
    # ------------------------------------------------------------------

    def init(self) -> Iterator[MPState]:
        null_node = Node(NONE, NIL, 0, 0, 0, (NULL_INST,) * self.num_commands)
        n = len(self.replicas)
        # InitPending: the writes, then the reads (any order is symmetric to this one).
        yield MPState(frozenset(), (null_node,) * n, self.writes + self.reads, (), (RLOOP,) * n)

    def next(self, s: MPState) -> Iterator[Step]:
        msgs = by_type(s.msgs)
        done = self.terminated(s)
        for i, r in enumerate(self.replicas):
            if s.pc[i] != RLOOP:
                continue
            if done:
                yield action("Exit", r=r), s._replace(pc=except_at(s.pc, i, DONE))
                continue
            yield from self.become_leader(s, i, r)
            yield from self.handle_prepare(s, i, r, msgs)
            yield from self.handle_prepare_replies(s, i, r, msgs)
            yield from self.take_new_request(s, i, r)
            yield from self.handle_accept(s, i, r, msgs)
            yield from self.handle_accept_replies(s, i, r, msgs)
            yield from self.handle_commit_notice(s, i, r, msgs)
        if all(pc == DONE for pc in s.pc):
            # Terminating: infinite stuttering once every replica is done, so
            # that termination is no deadlock.
            yield action("Terminating"), s

    def become_leader(self, s: MPState, i: int, r: str) -> Iterator[Step]:
        """A replica that is not leader picks a ballot above any it knows and
        no one else prepared, prepares it and replies to itself at once."""
        n = s.node[i]
        if n.leader == r:
            return
        taken = {m.bal for m in s.msgs if m.type == "Prepare"}
        for b in self.ballots:
            if b > n.bal_max_known and b not in taken:
                node = n._replace(leader=r, bal_prepared=0, bal_max_known=b, insts=restart_preparing(n.insts))
                sent = {prepare_msg(r, b), prepare_reply_msg(r, b, votes_by_node(node))}
                yield action("BecomeLeader", r=r, b=b), self.update(s, i, node, sent)

    def handle_prepare(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """On a Prepare above any ballot it knows, a replica follows its
        sender and replies with its votes for every slot."""
        n = s.node[i]
        for m in msgs["Prepare"]:
            if m.bal > n.bal_max_known:
                node = n._replace(leader=m.src, bal_max_known=m.bal, insts=restart_preparing(n.insts))
                sent = {prepare_reply_msg(r, m.bal, votes_by_node(node))}
                yield action("HandlePrepare", r=r, m=m), self.update(s, i, node, sent)

    def handle_prepare_replies(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """A leader with a majority of PrepareReplies for its ballot is prepared:
        each slot takes the highest voted command reported, and every slot in
        progress is proposed again with an Accept."""
        n = s.node[i]
        if not (n.leader == r and n.bal_prepared == 0):
            return
        prs = [m for m in msgs["PrepareReply"] if m.bal == n.bal_max_known]
        if len(prs) >= self.majority_num:
            reports = self.reports_to_adopt(r, prs)
            insts = []
            for slot, inst in zip(self.slots, n.insts):
                peak = peak_voted_cmd(reports, slot)
                resume = inst.status == PREPARING or (inst.status == EMPTY and peak != NIL)
                insts.append(inst._replace(status=ACCEPTING if resume else inst.status, cmd=peak))
            node = n._replace(bal_prepared=n.bal_max_known, insts=tuple(insts))
            sent = {
                accept_msg(r, node.bal_prepared, slot, inst.cmd)
                for slot, inst in zip(self.slots, node.insts)
                if inst.status == ACCEPTING
            }
            yield action("HandlePrepareReplies", r=r), self.update(s, i, node, sent)

    def take_new_request(self, s: MPState, i: int, r: str) -> Iterator[Step]:
        """A prepared leader puts the first pending request it has not logged
        yet into its first empty slot, votes for it and sends Accepts."""
        n = s.node[i]
        if not (n.leader == r and n.bal_prepared == n.bal_max_known):
            return
        empty = [slot for slot, inst in zip(self.slots, n.insts) if inst.status == EMPTY]
        unseen = self.unseen_pending(s, n.insts)
        if empty and unseen:
            step = action("TakeNewRequest", r=r), self.propose_request(s, i, r, empty[0], unseen[0])
            # TLC enumerates the witnesses of the guard "\E s \in Slots: insts[s].status = "Empty"",
            # generating this same step once per empty slot; yielding it as often keeps "states
            # generated" equal to TLC's.
            for _ in empty:
                yield step

    def propose_request(self, s: MPState, i: int, r: str, slot: int, c: str) -> MPState:
        """Leader r logs request ``c`` in ``slot``: it votes for it, replies
        to itself and asks every replica to accept it."""
        n = s.node[i]
        b = n.bal_prepared
        node = n._replace(insts=except_at(n.insts, slot - 1, Inst(ACCEPTING, c, Vote(b, c))))
        sent = {accept_msg(r, b, slot, c), accept_reply_msg(r, b, slot)}
        return self.update(s, i, node, sent, observed=observe(s.observed, req_event(c)))

    def handle_accept(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """On an Accept at a ballot it may vote in, above its vote in that
        slot, a replica follows the sender, votes and replies."""
        n = s.node[i]
        for m in msgs["Accept"]:
            if self.may_accept(n, m):
                inst = Inst(ACCEPTING, m.cmd, Vote(m.bal, m.cmd))
                node = n._replace(leader=m.src, bal_max_known=m.bal, insts=except_at(n.insts, m.slot - 1, inst))
                sent = {accept_reply_msg(r, m.bal, m.slot)}
                yield action("HandleAccept", r=r, m=m), self.update(s, i, node, sent)

    def handle_accept_replies(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """A prepared leader whose next slot to commit has a majority of
        AcceptReplies at its ballot commits it, applies the command,
        acknowledges the client and sends a CommitNotice."""
        n = s.node[i]
        if not (n.leader == r and n.bal_prepared == n.bal_max_known and self.next_slot_accepting(n)):
            return
        slot = n.commit_up_to + 1
        c, v = n.insts[slot - 1].cmd, n.kvalue
        ars = [m for m in msgs["AcceptReply"] if m.slot == slot and m.bal == n.bal_prepared]
        if len(ars) >= self.replies_to_commit:
            yield action("HandleAcceptReplies", r=r), self.commit(s, i, slot, {commit_notice_msg(slot)}, ack=(c, v))

    def handle_commit_notice(self, s: MPState, i: int, r: str, msgs: MsgsByType) -> Iterator[Step]:
        """A follower whose next slot to commit is Accepting commits it on a
        CommitNotice for that slot, and applies its command."""
        n = s.node[i]
        if not (n.leader != r and self.next_slot_accepting(n)):
            return
        slot = n.commit_up_to + 1
        for m in msgs["CommitNotice"]:
            if m.upto == slot:
                yield action("HandleCommitNotice", r=r, upto=slot), self.commit(s, i, slot, set())

    # -- helpers of the actions ------------------------------------------

    def reports_to_adopt(self, r: str, prs: list[PrepareReply]) -> list[PrepareReply]:
        """The PrepareReplies whose votes a new leader r adopts: all of them."""
        return prs

    def may_accept(self, n: Node, m: Accept) -> bool:
        """A replica votes on an Accept at a ballot no lower than any it knows,
        and above its own vote in that slot."""
        return m.bal >= n.bal_max_known and m.bal > n.insts[m.slot - 1].voted.bal

    def next_slot_accepting(self, n: Node) -> bool:
        return n.commit_up_to < self.num_commands and n.insts[n.commit_up_to].status == ACCEPTING

    def commit(self, s: MPState, i: int, slot: int, sent: set, ack: tuple[str, str] | None = None) -> MPState:
        """Replica i marks ``slot`` Committed and applies its command; with
        ``ack`` (the leader's case) the client sees the Ack and the command
        leaves pending."""
        n = s.node[i]
        c = n.insts[slot - 1].cmd
        insts = except_at(n.insts, slot - 1, n.insts[slot - 1]._replace(status=COMMITTED))
        kvalue = c if c in self.writes else n.kvalue
        node = n._replace(insts=insts, commit_up_to=slot, kvalue=kvalue)
        if ack is None:
            return self.update(s, i, node, sent)
        pending = tuple(p for p in s.pending if p != ack[0])
        return self.update(s, i, node, sent, observed=observe(s.observed, ack_event(*ack)), pending=pending)

    def update(self, s: MPState, i: int, node: Node, sent: set, **changes: Any) -> MPState:
        """``s`` with replica i's node replaced and ``sent`` added to msgs."""
        msgs = s.msgs if sent <= s.msgs else s.msgs | sent
        return s._replace(node=except_at(s.node, i, node), msgs=msgs, **changes)

    def unseen_pending(self, s: MPState, insts: tuple[Inst, ...]) -> tuple[str, ...]:
        logged = {inst.cmd for inst in insts}
        return tuple(c for c in s.pending if c not in logged)

    def terminated(self, s: MPState) -> bool:
        reqs = {e.cmd for e in s.observed if e.type == "Req"}
        acks = {e.cmd for e in s.observed if e.type == "Ack"}
        return not s.pending and len(reqs) == self.num_commands and len(acks) == self.num_commands

    # ------------------------------------------------------------------
    # Properties, as MultiPaxos_MC.tla states them
    # ------------------------------------------------------------------

    @cached_property
    def invariants(self):
        return {
            "TypeOK": self.type_ok,
            "Linearizability": self.linearizability,
            "CommittedIsChosen": self.committed_is_chosen,
        }

    @cached_property
    def liveness(self):
        """Termination, as a liveness property rather than only the absence of deadlock:
        under the fairness above, every client command is requested and acknowledged."""
        return {"EveryCommandAcknowledged": eventually(self.terminated)}

    def type_ok(self, s: MPState) -> bool:
        commands = set(self.commands)
        reqs = {e.cmd for e in s.observed if e.type == "Req"}
        acks = {e.cmd for e in s.observed if e.type == "Ack"}
        return (
            all_ok(s.msgs, self.message_ok, self._messages_ok)
            and len(s.node) == len(self.replicas)
            and all_ok(s.node, self.node_ok, self._nodes_ok)
            and len(s.pending) <= self.num_commands
            and len(set(s.pending)) == len(s.pending)
            and set(s.pending) <= commands
            and len(s.observed) <= 2 * self.num_commands
            and len(set(s.observed)) == len(s.observed)
            and len(reqs) >= len(acks)
            and all(self.event_ok(e) for e in s.observed)
        )

    def message_ok(self, m: Any) -> bool:
        replicas, ballots, slots, commands = set(self.replicas), self.ballots, self.slots, set(self.commands)
        if type(m) is Prepare:
            return m.src in replicas and m.bal in ballots
        if type(m) is PrepareReply:
            return m.src in replicas and m.bal in ballots and self.votes_ok(m.votes)
        if type(m) is Accept:
            return m.src in replicas and m.bal in ballots and m.slot in slots and m.cmd in commands
        if type(m) is AcceptReply:
            return m.src in replicas and m.bal in ballots and m.slot in slots
        return type(m) is CommitNotice and m.upto in slots

    def votes_ok(self, votes: tuple) -> bool:
        return len(votes) == self.num_commands and all(self.vote_ok(v) for v in votes)

    def vote_ok(self, v: Any) -> bool:
        return type(v) is Vote and (v.bal == 0 or v.bal in self.ballots) and (v.cmd == NIL or v.cmd in self.commands)

    def node_ok(self, n: Node) -> bool:
        statuses = (EMPTY, PREPARING, ACCEPTING, COMMITTED)
        return (
            (n.leader == NONE or n.leader in self.replicas)
            and (n.kvalue == NIL or n.kvalue in self.writes)
            and (n.commit_up_to == 0 or n.commit_up_to in self.slots)
            and (n.bal_prepared == 0 or n.bal_prepared in self.ballots)
            and (n.bal_max_known == 0 or n.bal_max_known in self.ballots)
            and len(n.insts) == self.num_commands
            and all(
                inst.status in statuses and (inst.cmd == NIL or inst.cmd in self.commands) and self.vote_ok(inst.voted)
                for inst in n.insts
            )
        )

    def event_ok(self, e: Event) -> bool:
        if e.type == "Req":
            return e.cmd in self.commands and e.val == ""
        return e.type == "Ack" and e.cmd in self.commands and (e.val == NIL or e.val in self.writes)

    def linearizability(self, s: MPState) -> bool:
        """Once terminated, some order of all the commands explains every
        result (each read sees, each write overwrites, the last write before
        it) and respects real time (a command acknowledged before another
        was requested comes first)."""
        if not self.terminated(s):
            return True
        # CHOOSE i \in 1..Len(observed): TLC takes the first such position.
        req_pos, ack_pos, result = {}, {}, {}
        for pos, e in enumerate(s.observed, 1):
            if e.type == "Req":
                req_pos.setdefault(e.cmd, pos)
            elif e.cmd not in ack_pos:
                ack_pos[e.cmd], result[e.cmd] = pos, e.val
        return any(
            self.is_linear_order(order, result) and obeys_real_time(order, req_pos, ack_pos)
            for order in permutations(self.commands)
        )

    def is_linear_order(self, order: tuple[str, ...], result: dict[str, str]) -> bool:
        last_write = NIL
        for c in order:
            if result[c] != last_write:
                return False
            if c in self.writes:
                last_write = c
        return True

    # ------------------------------------------------------------------
    # Refinement: every slot of the log is a Consensus
    # ------------------------------------------------------------------

    @cached_property
    def log(self) -> Log:
        return Log(len(self.slots), self.commands)

    @cached_property
    def refinements(self) -> tuple[Refinement, ...]:
        return (Refinement(self.log, self.to_log),)

    def to_log(self, s: MPState) -> LogState:
        """Per slot, the commands chosen: voted by a majority in one ballot
        (AcceptReplies for that ballot and slot, whose Accept carried the
        command), as Paxos's value is chosen by a quorum of 2b messages.

        Commits are not counted: a follower commits on a CommitNotice, which
        names a slot but no ballot or command, whatever its own instance
        holds, and that may be a command never chosen there (see
        ``committed_is_chosen``)."""
        known = self._chosen_memo.get(s.msgs)
        if known is None:
            image = self._chosen_by_votes(s.msgs)
            # Equal images are one object: the explorer then sees a stutter of the log by identity.
            known = self._chosen_memo[s.msgs] = self._log_memo.setdefault(image, image)
        return known

    def committed_is_chosen(self, s: MPState) -> bool:
        """CommittedIsChosen: a replica commits, and applies, in each slot only
        the command chosen there.

        Not a property of MultiPaxos-SMR, and not checked unless named: a
        deposed leader logs a request in a slot with its own vote alone,
        follows the new leader, and on the CommitNotice for that slot commits
        its own command, while the new leader chose another one there. The
        clients never see it (followers answer no one), so Linearizability
        holds; the replica's state machine has diverged all the same."""
        chosen = self.to_log(s)
        return all(inst.cmd in chosen[k] for n in s.node for k, inst in enumerate(n.insts) if inst.status == COMMITTED)

    def _chosen_by_votes(self, msgs: frozenset) -> LogState:
        voters: dict[tuple[int, int], set[str]] = {}
        for m in msgs:
            if m.type == "AcceptReply":
                voters.setdefault((m.bal, m.slot), set()).add(m.src)
        chosen: list[set[str]] = [set() for _ in self.slots]
        for m in msgs:
            if m.type == "Accept" and len(voters.get((m.bal, m.slot), ())) >= self.majority_num:
                chosen[m.slot - 1].add(m.cmd)
        return tuple(frozenset(c) for c in chosen)

    # ------------------------------------------------------------------
    # Symmetry, reporting
    # ------------------------------------------------------------------

    @cached_property
    def symmetry(self):
        return _Canonicalizer(self)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "replicas": len(self.replicas),
            "writes": len(self.writes),
            "reads": len(self.reads),
            "max_ballot": len(self.ballots),
        }

    def variables(self, s: MPState) -> dict[str, Any]:
        return {
            "msgs": frozenset(str(m) for m in s.msgs),
            "node": {r: dict(n._asdict()) for r, n in zip(self.replicas, s.node)},
            "pending": s.pending,
            "observed": tuple(str(e) for e in s.observed),
            "pc": dict(zip(self.replicas, s.pc)),
        }

    def chart(self, steps):
        """A lane per replica and for the clients, slots and ballots on the messages (see ``multipaxos_chart``)."""
        from .multipaxos_chart import multipaxos_chart

        return multipaxos_chart(self, steps)


def all_ok(xs: Iterable, ok: Callable[[Any], bool], known: set) -> bool:
    """Every x in ``xs`` passes ``ok``; those that do join ``known``, whose
    members pass without being checked again."""
    if known.issuperset(xs):
        return True
    for x in xs:
        if x not in known:
            if not ok(x):
                return False
            known.add(x)
    return True


def observe(observed: tuple[Event, ...], e: Event) -> tuple[Event, ...]:
    """Observe(e): append the event unless it was observed already."""
    return observed if e in observed else (*observed, e)


def obeys_real_time(order: tuple[str, ...], req_pos: dict[str, int], ack_pos: dict[str, int]) -> bool:
    index = {c: j for j, c in enumerate(order)}
    return all(
        index[c1] < index[c2] for c1 in order for c2 in order if c1 in ack_pos and ack_pos[c1] < req_pos.get(c2, 0)
    )


class _Canonicalizer:
    """The canonical form of a state under renamings of replicas, of writes
    and of reads (MultiPaxos_MC.tla's SymmetricPerms): the least renamed
    state, compared as (node, pc, sorted msgs, pending, observed).

    TLC takes its least state over the union of the three permutation sets;
    here it is over every combination of them (the group they generate), so
    that equal forms are exactly the renamings of one another. With one
    write and one read (MultiPaxos_MC_small.cfg) the two coincide."""

    def __init__(self, spec: MultiPaxos):
        self.replicas = spec.replicas
        self.index = {r: i for i, r in enumerate(spec.replicas)}
        self.replica_perms = [dict(zip(spec.replicas, p)) for p in permutations(spec.replicas)]
        # Each renaming of a message or a node is computed once, then looked up.
        self.renamed = [_Renamed(rename) for rename in self.replica_perms]
        # Under a renaming, the replica now at position j is the one that was at moved_from[j].
        self.moved_from = [
            tuple(spec.replicas.index(r) for r in sorted(spec.replicas, key=lambda r: self.index[rename[r]]))
            for rename in self.replica_perms
        ]
        cmd_perms = [
            {**dict(zip(spec.writes, w)), **dict(zip(spec.reads, q)), NIL: NIL, "": ""}
            for w in permutations(spec.writes)
            for q in permutations(spec.reads)
        ]
        self.cmd_perms = cmd_perms if len(cmd_perms) > 1 else []

    def __call__(self, s: MPState):
        if not self.cmd_perms:
            return self.replica_form(s, ordered=False)
        return min(self._rename_commands(self.replica_form(s, ordered=True), c) for c in self.cmd_perms)

    def replica_form(self, s: MPState, ordered: bool):
        """The least (node, pc) over renamings of the replicas, with the
        messages renamed as by the renaming that gives it (the least sorted
        messages among those, if several do). ``ordered``: the messages as a
        sorted tuple, so that forms compare; else as a set, and nothing is
        sorted unless two renamings tie."""
        # by_renaming[p][k]: replica k's node under the p-th renaming
        by_renaming = list(zip(*map(self.node_renamings, s.node)))
        heads = [
            ((tuple(map(nodes.__getitem__, moved)), tuple(map(s.pc.__getitem__, moved))), renamed)
            for nodes, moved, renamed in zip(by_renaming, self.moved_from, self.renamed)
        ]
        head = min(h for h, _ in heads)
        tied = [renamed for h, renamed in heads if h == head]
        if len(tied) == 1 and not ordered:
            msgs: Any = frozenset(map(tied[0].__getitem__, s.msgs))
        else:
            msgs = min(tuple(sorted(map(renamed.__getitem__, s.msgs))) for renamed in tied)
            msgs = msgs if ordered else frozenset(msgs)
        return head, msgs, s.pending, s.observed

    def node_renamings(self, n: Node) -> tuple[Node, ...]:
        """Node n under each renaming of the replicas."""
        return tuple(renamed[n] for renamed in self.renamed)

    def _rename_commands(self, key, c: dict):
        """A replica-canonical key with commands renamed by ``c``, then put
        back in canonical order (renaming commands reorders states too)."""
        (node, pc), msgs, pending, observed = key

        def vote(v):
            return Vote(v.bal, c[v.cmd])

        node = tuple(
            n._replace(
                kvalue=c[n.kvalue],
                insts=tuple(Inst(x.status, c[x.cmd], vote(x.voted)) for x in n.insts),
            )
            for n in node
        )
        renamed = []
        for m in msgs:
            if m.type == "PrepareReply":
                m = m._replace(votes=tuple(vote(v) for v in m.votes))
            elif m.type == "Accept":
                m = m._replace(cmd=c[m.cmd])
            renamed.append(m)
        observed = tuple(Event(e.type, c[e.cmd], c[e.val]) for e in observed)
        pending = tuple(c[p] for p in pending)
        state = MPState(frozenset(renamed), node, pending, observed, pc)
        # Renaming commands can change which replica order is least: canonicalise replicas again.
        return self.replica_form(state, ordered=True)


class _Renamed(dict):
    """Message or node -> the same with replicas renamed by ``rename``, computed on first use."""

    def __init__(self, rename: dict[str, str]):
        super().__init__()
        self.rename = rename

    def __missing__(self, x):
        if type(x) is Node:
            y = x if x.leader == NONE else x._replace(leader=self.rename[x.leader])
        elif type(x) is CommitNotice:
            y = x
        else:
            y = x._replace(src=self.rename[x.src])
        self[x] = y
        return y

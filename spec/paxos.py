"""Single-decree Paxos, step for step as Lamport's Paxos.tla (TLA+ Examples), encoded for speed.

To learn Paxos, read ``spec/paxos_reference.py``: the same spec written the
way the TLA+ is (records, sets, each action its guard then its effect). This
one is what ``paxoscope check`` runs; the tests check that both reach the
same states, state for state (tests/test_reference.py).

Constants: acceptors a1..aN, values v1..vV, ballots 0..B-1 and a family of
quorums (every majority by default).

Variables, as in Paxos.tla:

- ``max_bal[a]``  the highest ballot acceptor ``a`` has promised or voted in (-1: none);
- ``max_vbal[a]`` the ballot of ``a``'s last vote (-1: none);
- ``max_val[a]``  the value of that vote (None: none);
- ``msgs``        every message ever sent. It only grows: loss, delay,
  duplication and reordering are all "a message in msgs may or may not be
  acted on".

The four actions below are the whole protocol; everything after them is
bookkeeping (how ``msgs`` is stored, invariants, mappings).

Storage: a state is two ints. ``msgs`` is a bitmask over the configuration's
possible messages (``MessageTable``), and the acceptors' variables are packed
into ``acc`` (``AcceptorCodec``). A student can ignore this: ``acceptor_vars``,
``messages`` and ``state`` read and build states in Paxos.tla's terms, and the
actions only use tables (``promise``, ``vote``, ``bit_1a``...) built once per
configuration. It is what lets the explorer visit 185,369 states in seconds
(three to four times as fast as the reference: ``benchmarks/reference.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any, NamedTuple

from .base import Action, Refinement, Spec, action
from .constants import Constants
from .voting import Voting, VotingState


class Msg1a(NamedTuple):
    bal: int

    def __str__(self) -> str:
        return f"1a(bal={self.bal})"


class Msg1b(NamedTuple):
    acc: str
    bal: int
    mbal: int
    mval: str | None

    def __str__(self) -> str:
        return f"1b({self.acc}, bal={self.bal}, mbal={self.mbal}, mval={self.mval})"


class Msg2a(NamedTuple):
    bal: int
    val: str

    def __str__(self) -> str:
        return f"2a(bal={self.bal}, val={self.val})"


class Msg2b(NamedTuple):
    acc: str
    bal: int
    val: str

    def __str__(self) -> str:
        return f"2b({self.acc}, bal={self.bal}, val={self.val})"


class IllFormed1b(Msg1b):
    """A 1b that Paxos never sends (it reports no vote below its ballot): a
    variant's, kept in the state so that TypeOK can fail there (see MessageTable)."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"ill-formed {super().__str__()}"


class OutsideConfiguration(NamedTuple):
    """A message that names no acceptor, ballot or value of the configuration
    (a variant's; see MessageTable): only its presence is kept."""

    what: str = "a message outside the configuration"

    def __str__(self) -> str:
        return self.what


Message = Msg1a | Msg1b | Msg2a | Msg2b
Step = tuple[Action, "PaxosState"]


class PaxosState(NamedTuple):
    """A Paxos state in two ints: ``acc`` packs every acceptor's maxBal,
    maxVBal and maxVal (``AcceptorCodec``), ``msgs`` is the set of messages
    sent as a bitmask (``MessageTable``). ``Paxos.acceptor_vars(s)`` and
    ``Paxos.messages(s)`` read them back; ``Paxos.state(...)`` builds one."""

    acc: int
    msgs: int


def State(acc: int, msgs: int) -> PaxosState:
    """Build a PaxosState (positional, without NamedTuple's slower __new__)."""
    return _tuple_new(PaxosState, (acc, msgs))


_tuple_new = tuple.__new__
_LOW_60 = (1 << 60) - 1


class Paxos(Spec):
    name = "paxos"
    actions = ("Phase1a", "Phase1b", "Phase2a", "Phase2b")
    default_properties = ("TypeOK", "Consistency", "RefinesVoting", "RefinesConsensus")

    def __init__(self, acceptors: int = 3, values: int = 2, ballots: int = 3, quorums=None):
        self.k = Constants.make(acceptors, values, ballots, quorums)
        self.n = len(self.k.acceptors)
        self.acceptor_ids = range(self.n)  # acceptors by position: a1 is 0
        self._build_tables()

    # ------------------------------------------------------------------
    # The protocol
    # ------------------------------------------------------------------

    def init(self) -> Iterator[PaxosState]:
        n = self.n
        yield self.state(max_bal=(-1,) * n, max_vbal=(-1,) * n, max_val=(None,) * n, msgs=())

    def next(self, s: PaxosState) -> list[Step]:
        return [*self.phase1a(s), *self.phase1b(s), *self.phase2a(s), *self.phase2b(s)]

    # Each action returns its steps, one per choice of its parameters, as
    # (Action, successor) pairs; a step that changes nothing has the state
    # itself as successor (a stutter). ``self.promise``, ``self.vote`` and
    # ``self.bit_*`` are tables built once, so that a step is a few int ops.

    def phase1a(self, s: PaxosState) -> list[Step]:
        """Phase1a(b): the proposer of ballot b asks for promises: send 1a(b).

        No guard: sending it again changes nothing."""
        acc, msgs = s.acc, s.msgs
        return [(act, s if msgs & bit else State(acc, msgs | bit)) for act, bit in self.ask_1a]

    def phase1b(self, s: PaxosState) -> list[Step]:
        """Phase1b(a): on a 1a(b) with b above its maxBal, acceptor a promises
        b (maxBal[a] := b) and sends 1b(a, b, maxVBal[a], maxVal[a])."""
        msgs = s.msgs
        return [(act, State(acc, msgs | report)) for act, acc, report in self.promises(s)]

    def phase2a(self, s: PaxosState) -> list[Step]:
        """Phase2a(b, v): if no 2a for ballot b was sent yet and a quorum has
        sent 1b(b), the proposer of ballot b sends 2a(b, v) for a value v
        that the quorum's reports leave safe (see ``safe_values``)."""
        steps = []
        for b in self.k.ballots:
            if not s.msgs & self.mask_2a_at[b]:
                for v in self.proposable(s.msgs, b):
                    steps.append((self.act_2a[b, v], self.send(s, self.bit_2a[b, v])))
        return steps

    def phase2b(self, s: PaxosState) -> list[Step]:
        """Phase2b(a): on a 2a(b, v) with b at least its maxBal, acceptor a
        votes: maxBal[a] := maxVBal[a] := b, maxVal[a] := v, send 2b(a, b, v)."""
        acc, msgs = s.acc, s.msgs
        return [(act, State(acc & keep | voted, msgs | sent)) for act, keep, voted, sent in self.votes_allowed(s)]

    # The guards of Phase1b and Phase2b read a few fields of a state, which
    # millions of states share: what they allow is worked out once for each.

    def promises(self, s: PaxosState) -> tuple[tuple[Action, int, int], ...]:
        """Each Phase1b(a) enabled in ``s``, for each 1a(b) it may answer:
        (the action, acc after the promise, the bit of the 1b sent)."""
        key = s.acc << self.table.size | s.msgs & self.mask_1a  # all that the guard and effect read
        found = self._promises_memo.get(key)
        if found is None:
            max_bal, max_vbal, max_val = self.acceptor_vars(s)
            found = self._promises_memo[key] = tuple(
                (act, s.acc & keep | promised, self.bit_1b[a][b, max_vbal[a], max_val[a]])
                for a in self.acceptor_ids
                for b in self.k.ballots
                if s.msgs & self.bit_1a[b] and b > max_bal[a]
                for act, keep, promised in [self.promise[a][b]]
            )
        return found

    def votes_allowed(self, s: PaxosState) -> tuple[tuple[Action, int, int, int], ...]:
        """Each Phase2b(a) enabled in ``s``, for each 2a(b, v) it may accept:
        (the action, then keep and set as in ``vote``, the bit of the 2b sent)."""
        key = (s.acc & self._max_bal_mask) << self.table.size | s.msgs & self.mask_2a
        found = self._votes_allowed_memo.get(key)
        if found is None:
            max_bal = self.acceptor_vars(s)[0]
            found = self._votes_allowed_memo[key] = tuple(
                self.vote[a][b, v] for a in self.acceptor_ids for b, v in self.proposals(s.msgs) if b >= max_bal[a]
            )
        return found

    def send(self, s: PaxosState, bit: int) -> PaxosState:
        """``s`` with one more message in msgs (``s`` itself if it was sent)."""
        if s.msgs & bit:
            return s
        return State(s.acc, s.msgs | bit)

    # ------------------------------------------------------------------
    # Reading and building states
    # ------------------------------------------------------------------

    def acceptor_vars(self, s: PaxosState) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str | None, ...]]:
        """(maxBal, maxVBal, maxVal), each a tuple indexed by acceptor position."""
        found = self._acc_memo.get(s.acc)
        if found is None:
            found = self._acc_memo[s.acc] = self.codec.decode(s.acc)
        return found

    def state(self, max_bal, max_vbal, max_val, msgs) -> PaxosState:
        """A state from per-acceptor sequences and an iterable of messages."""
        bits = 0
        for m in msgs:
            bits |= self.table.bit[m]
        return State(self.codec.encode(max_bal, max_vbal, max_val), bits)

    def safe_values(self, reports: list[Msg1b]) -> tuple[str, ...]:
        """The values Phase2a may propose on the 1b ``reports`` of one quorum
        (one report from each member): any value if none of them voted, else
        the value of a vote with the highest ballot among them."""
        votes = [m for m in reports if m.mbal >= 0]
        if not votes:
            return self.k.values
        top = max(m.mbal for m in votes)
        return tuple(sorted({m.mval for m in votes if m.mbal == top}))

    # ------------------------------------------------------------------
    # Derived quantities (definitions of Paxos.tla, and their memos)
    # ------------------------------------------------------------------

    def proposable(self, msgs: int, b: int) -> tuple[str, ...]:
        """Every v with Phase2a(b, v) enabled by some quorum's 1b(b) reports."""
        key = msgs & self.mask_1b_at[b]
        memo = self._proposable_memo[b]
        found = memo.get(key)
        if found is None:
            reports = self.table.decode(key)
            found = set()
            for q in self.k.quorums:
                answered = [m for m in reports if m.acc in q]
                if {m.acc for m in answered} == q:
                    found.update(self.safe_values(answered))
            found = memo[key] = tuple(sorted(found))
        return found

    def proposals(self, msgs: int) -> tuple[tuple[int, str], ...]:
        """(b, v) of every 2a message sent."""
        key = msgs & self.mask_2a
        found = self._sent_2a_memo.get(key)
        if found is None:
            found = self._sent_2a_memo[key] = tuple((m.bal, m.val) for m in self.table.decode(key))
        return found

    def votes(self, msgs: int) -> frozenset[tuple[str, int, str]]:
        """(a, b, v) for every 2b(a, b, v) sent: Voting's votes."""
        key = msgs & self.mask_2b
        found = self._votes_memo.get(key)
        if found is None:
            found = self._votes_memo[key] = self.voting.intern(
                frozenset((m.acc, m.bal, m.val) for m in self.table.decode(key))
            )
        return found

    def chosen(self, msgs: int) -> frozenset[str]:
        """Values some quorum voted for in one ballot (2b with the same b, v)."""
        key = msgs & self.mask_2b
        found = self._chosen_memo.get(key)
        if found is None:
            found = self._chosen_memo[key] = self.voting.chosen_in(self.votes(key))
        return found

    def messages(self, s: PaxosState) -> list[Message]:
        return self.table.decode(s.msgs)

    # ------------------------------------------------------------------
    # Properties
    # ------------------------------------------------------------------

    @cached_property
    def invariants(self):
        from . import paxos_invariants as inv

        return {"TypeOK": self.type_ok, "Consistency": self.consistency} | inv.conjuncts(self)

    def type_ok(self, s: PaxosState) -> bool:
        return s.msgs >> self.table.size == 0 and self._acceptors_type_ok(s.acc)

    def _acceptors_type_ok(self, acc: int) -> bool:
        found = self._acc_type_memo.get(acc)
        if found is None:
            max_bal, max_vbal, max_val = self.codec.decode(acc)
            bal = self._bal_or_none
            found = self._acc_type_memo[acc] = (
                acc >> self.codec.size == 0
                and bal.issuperset(max_bal)
                and bal.issuperset(max_vbal)
                and self._val_or_none.issuperset(max_val)
            )
        return found

    @cached_property
    def _bal_or_none(self) -> frozenset[int]:
        return frozenset((-1, *self.k.ballots))

    @cached_property
    def _val_or_none(self) -> frozenset[str | None]:
        return frozenset((None, *self.k.values))

    def consistency(self, s: PaxosState) -> bool:
        """At most one value is chosen."""
        return len(self.chosen(s.msgs)) <= 1

    @cached_property
    def action_properties(self):
        return {"MaxBalNeverDecreases": self.max_bal_never_decreases}

    def max_bal_never_decreases(self, s: PaxosState, _act: Action, t: PaxosState) -> bool:
        return all(x <= y for x, y in zip(self.acceptor_vars(s)[0], self.acceptor_vars(t)[0]))

    @cached_property
    def sometimes(self):
        return {
            "ValueChosen": lambda s: bool(self.chosen(s.msgs)),
            "ChosenAfterBallot0": lambda s: any(b > 0 for (_a, b, v) in self.votes(s.msgs) if v in self.chosen(s.msgs)),
            "ProposalAdoptsReportedVote": self.adopts_reported_vote,
        }

    def adopts_reported_vote(self, s: PaxosState) -> bool:
        """Some 2a re-proposes a value reported by a 1b with a vote (Phase2a's
        constraint actually bit)."""
        reported = {(m.bal, m.mval) for m in self.messages(s) if isinstance(m, Msg1b) and m.mbal >= 0}
        return any((b, v) in reported for b, v in self.proposals(s.msgs))

    # ------------------------------------------------------------------
    # Refinement: Paxos implements Voting implements Consensus
    # ------------------------------------------------------------------

    @cached_property
    def voting(self) -> Voting:
        return Voting(constants=self.k)

    @cached_property
    def refinements(self) -> tuple[Refinement, ...]:
        to_voting = Refinement(self.voting, self.to_voting)
        return (to_voting, Refinement(self.voting.consensus, self.voting.to_consensus, via=to_voting))

    def to_voting(self, s: PaxosState) -> VotingState:
        """maxBal is Voting's maxBal; Voting's votes are the 2b messages sent."""
        # Memoized on what it reads, so equal images are one object: the
        # explorer then recognises an abstract stutter by identity.
        try:
            return self._voting_memo[s.acc & self._max_bal_mask][s.msgs & self.mask_2b]
        except KeyError:
            images = self._voting_memo.setdefault(s.acc & self._max_bal_mask, {})
            image = images[s.msgs & self.mask_2b] = VotingState(self.acceptor_vars(s)[0], self.votes(s.msgs))
            return image

    def to_consensus(self, s: PaxosState) -> frozenset[str]:
        """Consensus's chosen: the values chosen by 2b messages (the chain's two links at once)."""
        return self.voting.to_consensus(self.to_voting(s))

    # ------------------------------------------------------------------
    # Symmetry, fingerprint, rendering
    # ------------------------------------------------------------------

    @cached_property
    def symmetry(self):
        return _Canonicalizer(self)

    def fingerprint(self, s: PaxosState) -> int:
        # hash(int) is the int modulo 2**61 - 1: bitmasks wider than that
        # would collide in patterns, so wide ones are hashed in chunks. A
        # configuration whose messages (and the ill-formed marker bit, see
        # MessageTable) fit in 60 bits uses plain hash (see _build_tables),
        # which the explorer calls without a Python frame.
        acc, msgs = s.acc, s.msgs
        if acc >> 60 or msgs >> 120:
            return hash((*self.table.chunks(acc), 0, *self.table.chunks(msgs)))
        if msgs >> 60:  # the common wide case, two chunks, without a loop
            return hash((acc, msgs & _LOW_60, msgs >> 60))
        return hash(s)

    @property
    def config(self) -> dict[str, Any]:
        return self.k.describe()

    def config_text(self) -> str:
        return self.k.in_words()

    def variables(self, s: PaxosState) -> dict[str, Any]:
        acc = self.k.acceptors
        max_bal, max_vbal, max_val = self.acceptor_vars(s)
        return {
            "maxBal": dict(zip(acc, max_bal)),
            "maxVBal": dict(zip(acc, max_vbal)),
            "maxVal": dict(zip(acc, max_val)),
            "msgs": frozenset(self.messages(s)),
        }

    # ------------------------------------------------------------------
    # Tables, built once per configuration, that turn steps into int ops
    # ------------------------------------------------------------------

    def _build_tables(self) -> None:
        self.table = MessageTable(self.k)
        self.codec = AcceptorCodec(self.k)
        # The marker bit of an ill-formed message (MessageTable) must fit too:
        # it puts hash(msgs) of such a state at or above 2**size, where no
        # well-formed state's is, whatever its one extra bit folds to.
        if self.table.size < 60 and self.codec.size <= 60:
            self.fingerprint = hash  # see fingerprint()
        t = self.table
        self._acc_memo: dict[int, tuple] = {}
        self._acc_type_memo: dict[int, bool] = {}
        self._voting_memo: dict[int, dict[int, VotingState]] = {}
        self._max_bal_mask = self.codec.max_bal_mask
        self._proposable_memo: list[dict[int, tuple[str, ...]]] = [{} for _ in self.k.ballots]
        self._chosen_memo: dict[int, frozenset[str]] = {}
        self._votes_memo: dict[int, frozenset] = {}
        self._sent_2a_memo: dict[int, tuple] = {}
        self._promises_memo: dict[int, tuple] = {}
        self._votes_allowed_memo: dict[int, tuple] = {}
        # Every action instance, built once: the explorer takes millions of steps.
        acc, bals, vals = self.k.acceptors, self.k.ballots, self.k.values
        self.act_1a = [action("Phase1a", b=b) for b in bals]
        self.act_1b = [[action("Phase1b", a=a, b=b) for b in bals] for a in acc]
        self.act_2a = {(b, v): action("Phase2a", b=b, v=v) for b in bals for v in vals}
        self.act_2b = [{(b, v): action("Phase2b", a=a, b=b, v=v) for b in bals for v in vals} for a in acc]
        # Effects as tables: promise[a][b] = (action, keep, set), so that
        # acc & keep | set is acceptor a's fields after promising b; and
        # vote[a][b, v] = (action, keep, set, the bit of 2b(a, b, v)).
        self.promise = [[(self.act_1b[i][b], *self.codec.write(i, max_bal=b)) for b in bals] for i in self.acceptor_ids]
        self.vote = [
            {
                (b, v): (
                    self.act_2b[i][b, v],
                    *self.codec.write(i, max_bal=b, max_vbal=b, max_val=v),
                    t.bit[Msg2b(a, b, v)],
                )
                for b in bals
                for v in vals
            }
            for i, a in enumerate(acc)
        ]
        self.bit_1a = [t.bit[Msg1a(b)] for b in bals]
        self.ask_1a = [(self.act_1a[b], self.bit_1a[b]) for b in bals]
        self.mask_1a = t.mask(lambda m: isinstance(m, Msg1a))
        self.bit_2a = {(b, v): t.bit[Msg2a(b, v)] for b in bals for v in vals}
        self.bit_1b = [t.bit_1b_of(a) for a in acc]
        self.mask_2a_at = [t.mask(lambda m, b=b: isinstance(m, Msg2a) and m.bal == b) for b in bals]
        self.mask_1b_at = [t.mask(lambda m, b=b: isinstance(m, Msg1b) and m.bal == b) for b in bals]
        self.mask_2a = t.mask(lambda m: isinstance(m, Msg2a))
        self.mask_2b = t.mask(lambda m: isinstance(m, Msg2b))

    # ------------------------------------------------------------------
    # Charts
    # ------------------------------------------------------------------

    def chart(self, steps):
        """A lane per proposer, acceptor and the learners, and the messages as arrows (see ``paxos_chart``)."""
        from .paxos_chart import paxos_chart

        return paxos_chart(self, steps)


class MessageTable:
    """Numbers every message a configuration can hold, so ``msgs`` is one int.

    Layout (low bits first): 1a messages, 2a messages, then each acceptor's
    1b and 2b messages in one block per acceptor (same layout in every
    block, which makes permuting acceptors cheap).

    Only well-formed messages are in the universe: a 1b reports a vote
    below its own ballot (mbal < bal), with a value exactly when mbal >= 0.
    Paxos never sends another (see the invariant Msg1bReportsVote), and
    keeping the universe small keeps the default configuration's msgs
    within one machine word.

    A variant that sends an ill-formed 1b (Phase1b on ``b >= maxBal[a]``
    can report a vote in its own ballot) still gets a state, and TypeOK is
    false there: bit ``size`` marks "an ill-formed message was sent" (TypeOK
    is ``msgs >> size == 0``), and the bits above it name which one, by a
    numbering of every (acceptor, bal, mbal, mval) that depends only on the
    configuration (so every process agrees on it). A well-formed state never
    touches these bits, so the explorer's steps pay nothing for them.
    """

    def __init__(self, k: Constants):
        self.k = k
        self.messages: list[Message] = []
        self.bit: dict[Message, int] = {}
        for b in k.ballots:
            self._add(Msg1a(b))
        for b in k.ballots:
            for v in k.values:
                self._add(Msg2a(b, v))
        self.shared_size = len(self.messages)
        self.block_base = len(self.messages)
        self.block = self._block(k)
        for a in k.acceptors:
            for m in self.block:
                self._add(m._replace(acc=a))
        self.size = len(self.messages)
        self.ill_formed = 1 << self.size
        self._acc_pos = {a: i for i, a in enumerate(k.acceptors)}
        self._val_pos = {None: 0} | {v: i + 1 for i, v in enumerate(k.values)}

    def ill_formed_bit(self, m: Message) -> int:
        """The bits of a message outside the universe: the marker, and the
        bit naming ``m`` when it is a 1b of this configuration's acceptors,
        ballots and values (any mbal from -1, any mval or None)."""
        k = self.k
        if not (
            isinstance(m, Msg1b)
            and m.acc in self._acc_pos
            and m.bal in k.ballots
            and -1 <= m.mbal < len(k.ballots)
            and m.mval in self._val_pos
        ):
            return self.ill_formed
        nb, nv = len(k.ballots), len(self._val_pos)
        rank = ((self._acc_pos[m.acc] * nb + m.bal) * (nb + 1) + m.mbal + 1) * nv + self._val_pos[m.mval]
        return self.ill_formed | self.ill_formed << (1 + rank)

    def _ill_formed_messages(self, high: int) -> list[IllFormed1b]:
        """The messages named by the bits above the marker (``high``: msgs >> size + 1)."""
        k = self.k
        nb, nv = len(k.ballots), len(self._val_pos)
        values = (None, *k.values)
        out: list[IllFormed1b] = []
        while high:
            low = high & -high
            rank = low.bit_length() - 1
            high ^= low
            rest, val = divmod(rank, nv)
            rest, mbal = divmod(rest, nb + 1)
            acc, bal = divmod(rest, nb)
            out.append(IllFormed1b(k.acceptors[acc], bal, mbal - 1, values[val]))
        return out

    @staticmethod
    def _block(k: Constants) -> list[Message]:
        """One acceptor's messages, with acc left as a placeholder."""
        out: list[Message] = [Msg1b("", b, -1, None) for b in k.ballots]
        out += [Msg1b("", b, mbal, v) for b in k.ballots for mbal in range(b) for v in k.values]
        out += [Msg2b("", b, v) for b in k.ballots for v in k.values]
        return out

    def _add(self, m: Message) -> None:
        self.bit[m] = 1 << len(self.messages)
        self.messages.append(m)

    def bit_1b_of(self, a: str) -> dict[tuple[int, int, str | None], int]:
        """(bal, mbal, mval) -> the bit of 1b(a, bal, mbal, mval)."""
        return _Reports(
            self,
            a,
            {(m.bal, m.mbal, m.mval): bit for m, bit in self.bit.items() if isinstance(m, Msg1b) and m.acc == a},
        )

    def mask(self, pred) -> int:
        return sum(bit for m, bit in self.bit.items() if pred(m))

    def decode(self, msgs: int) -> list[Message]:
        if msgs >> self.size:
            named = self._ill_formed_messages(msgs >> (self.size + 1))
            return self.decode(msgs & (self.ill_formed - 1)) + (named or [OutsideConfiguration()])
        out = []
        while msgs:
            low = msgs & -msgs
            out.append(self.messages[low.bit_length() - 1])
            msgs ^= low
        return out

    @staticmethod
    def chunks(msgs: int) -> tuple[int, ...]:
        out = []
        while msgs:
            out.append(msgs & _LOW_60)
            msgs >>= 60
        return tuple(out)


class _Reports(dict):
    """(bal, mbal, mval) -> the bits of acceptor ``acc``'s 1b; an ill-formed
    one (a variant's) gets the table's bits for it, which TypeOK rejects."""

    def __init__(self, table: MessageTable, acc: str, bits: dict):
        super().__init__(bits)
        self.table = table
        self.acc = acc

    def __missing__(self, key):
        bal, mbal, mval = key
        bits = self[key] = self.table.ill_formed_bit(Msg1b(self.acc, bal, mbal, mval))
        return bits


class AcceptorCodec:
    """Packs every acceptor's (maxBal, maxVBal, maxVal) into one int.

    Acceptor i owns bits [i*width, (i+1)*width): maxBal+1, then maxVBal+1,
    then the value's position+1 (0 for None)."""

    def __init__(self, k: Constants):
        self.values = k.values
        self.bal_bits = len(k.ballots).bit_length()
        self.val_bits = len(k.values).bit_length()
        self.width = 2 * self.bal_bits + self.val_bits
        self.n = len(k.acceptors)
        self.size = self.width * self.n
        self.max_bal_mask = sum(((1 << self.bal_bits) - 1) << i * self.width for i in range(self.n))
        self.val_pos = {v: i + 1 for i, v in enumerate(k.values)} | {None: 0}

    def fields(self, max_bal: int, max_vbal: int, max_val: str | None) -> int:
        return (max_bal + 1) | (max_vbal + 1) << self.bal_bits | self.val_pos[max_val] << 2 * self.bal_bits

    def encode(self, max_bal, max_vbal, max_val) -> int:
        acc = 0
        for i, fields in enumerate(zip(max_bal, max_vbal, max_val)):
            acc |= self.fields(*fields) << i * self.width
        return acc

    def decode(self, acc: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str | None, ...]]:
        bal_mask, val_mask = (1 << self.bal_bits) - 1, (1 << self.val_bits) - 1
        out: tuple[list, list, list] = ([], [], [])
        for i in range(self.n):
            f = acc >> i * self.width
            out[0].append((f & bal_mask) - 1)
            out[1].append((f >> self.bal_bits & bal_mask) - 1)
            pos = f >> 2 * self.bal_bits & val_mask
            out[2].append(None if pos == 0 else self.values[pos - 1] if pos <= len(self.values) else f"?{pos}")
        return tuple(out[0]), tuple(out[1]), tuple(out[2])

    def write(self, i: int, max_bal: int, max_vbal: int | None = None, max_val: str | None = "") -> tuple[int, int]:
        """(keep, set): ``acc & keep | set`` gives acceptor i these fields.

        With only max_bal given, maxVBal and maxVal are kept."""
        shift = i * self.width
        if max_vbal is None:
            keep = ~(((1 << self.bal_bits) - 1) << shift)
            return keep, (max_bal + 1) << shift
        keep = ~(((1 << self.width) - 1) << shift)
        return keep, self.fields(max_bal, max_vbal, max_val) << shift


class _Canonicalizer:
    """A canonical form of a Paxos state under permutations of acceptors and
    of values (both are interchangeable in the spec: nothing names one).

    For each value permutation, every acceptor gets a signature (its
    variables and its own messages, values renamed); sorting the signatures
    is the best acceptor permutation. The least (shared messages, sorted
    signatures) over value permutations is the canonical form.
    """

    def __init__(self, spec: Paxos):
        from itertools import permutations

        table = spec.table
        k = table.k
        self.spec = spec
        self.t = table
        self.n = len(k.acceptors)
        self.block_len = len(table.block)
        self.block_mask = (1 << self.block_len) - 1
        self.shared_mask = (1 << table.shared_size) - 1
        self.value_perms = []
        for perm in permutations(k.values):
            rename = dict(zip(k.values, perm))
            rename[None] = None
            self.value_perms.append(
                (
                    rename,
                    self._bit_map(table.messages[: table.shared_size], rename),
                    self._bit_map(table.block, rename),
                    {},
                    {},
                )
            )

    @staticmethod
    def _bit_map(msgs: list[Message], rename: dict) -> list[int]:
        index = {m: i for i, m in enumerate(msgs)}
        out = []
        for m in msgs:
            if isinstance(m, Msg1b):
                out.append(index[m._replace(mval=rename[m.mval])])
            elif isinstance(m, Msg1a):
                out.append(index[m])
            else:
                out.append(index[m._replace(val=rename[m.val])])
        return out

    @staticmethod
    def _apply(x: int, bit_map: list[int], memo: dict[int, int]) -> int:
        y = memo.get(x)
        if y is None:
            y, rest = 0, x
            while rest:
                low = rest & -rest
                y |= 1 << bit_map[low.bit_length() - 1]
                rest ^= low
            memo[x] = y
        return y

    def __call__(self, s: PaxosState):
        t, n, apply = self.t, self.n, self._apply
        msgs = s.msgs
        if msgs >> t.size:
            return self._with_ill_formed(s)
        max_bal, max_vbal, max_val = self.spec.acceptor_vars(s)
        best = None
        for rename, shared_map, block_map, m1, m2 in self.value_perms:
            shared = apply(msgs & self.shared_mask, shared_map, m1)
            sigs = sorted(
                (
                    max_bal[a],
                    max_vbal[a],
                    rename[max_val[a]] or "",
                    apply((msgs >> (t.block_base + a * self.block_len)) & self.block_mask, block_map, m2),
                )
                for a in range(n)
            )
            key = (shared, tuple(sigs))
            if best is None or key < best:
                best = key
        return best

    def _with_ill_formed(self, s: PaxosState):
        """The canonical form of a state with ill-formed messages (see
        MessageTable): that of its well-formed part, each acceptor's
        signature extended with its ill-formed 1b messages, values renamed,
        so that they move with their acceptor. (Rare: such a state breaks
        TypeOK.)"""
        t = self.t
        well = PaxosState(s.acc, s.msgs & (t.ill_formed - 1))
        max_bal, max_vbal, max_val = self.spec.acceptor_vars(s)
        bad = [m for m in t.decode(s.msgs & ~(t.ill_formed - 1)) if isinstance(m, IllFormed1b)]
        pos = {a: i for i, a in enumerate(t.k.acceptors)}
        best = None
        for rename, shared_map, block_map, m1, m2 in self.value_perms:
            shared = self._apply(well.msgs & self.shared_mask, shared_map, m1)
            sigs = sorted(
                (
                    max_bal[a],
                    max_vbal[a],
                    rename[max_val[a]] or "",
                    self._apply((well.msgs >> (t.block_base + a * self.block_len)) & self.block_mask, block_map, m2),
                    tuple(sorted((m.bal, m.mbal, rename[m.mval] or "") for m in bad if pos[m.acc] == a)),
                )
                for a in range(self.n)
            )
            key = (shared, tuple(sigs))
            if best is None or key < best:
                best = key
        return best

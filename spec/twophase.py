"""Two-phase commit (Gray; Lamport's TwoPhase.tla), and what it implements.

Nothing here is about Paxos: the same explorer checks it, which is the point.
Resource managers r1..rN and one transaction manager agree to commit or abort
a transaction. ``TCommit`` is the specification (every RM ends committed or
every RM ends aborted); ``TwoPhase`` implements it with messages and is
checked to refine it.

With ``coordinator_crash``, the transaction manager may crash once every
resource manager has prepared, before it decides, and never come back: the
run where two-phase commit blocks. No prepared RM may decide on its own, and
they wait forever; ``EveryRMDecides`` (every RM ends committed or aborted, under weak
fairness of every step but crashing and aborting on one's own) fails there,
and holds without the crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from itertools import permutations
from typing import NamedTuple

from .base import Action, Refinement, Spec, action, eventually, except_at, weak
from .constants import ConfigError

WORKING, PREPARED, COMMITTED, ABORTED = "working", "prepared", "committed", "aborted"


def _rm_names(rms: int) -> tuple[str, ...]:
    if not isinstance(rms, int) or isinstance(rms, bool) or rms < 1:
        raise ConfigError(f"--rms must be a whole number of at least 1, not {rms!r}")
    return tuple(f"r{i + 1}" for i in range(rms))


class TCommit(Spec):
    """Transaction commit: each RM goes working -> prepared -> committed or
    aborted; it may commit only once all are prepared, and may abort only
    if none has committed. TCConsistent: never one committed, one aborted."""

    name = "tcommit"
    actions = ("Prepare", "Decide")

    def __init__(self, rms: int = 3):
        self.rms = _rm_names(rms)

    def init(self) -> Iterator[tuple[str, ...]]:
        yield (WORKING,) * len(self.rms)

    def next(self, s: tuple[str, ...]) -> Iterator[tuple[Action, tuple[str, ...]]]:
        can_commit = all(x in (PREPARED, COMMITTED) for x in s)
        not_committed = all(x != COMMITTED for x in s)
        for i, rm in enumerate(self.rms):
            if s[i] == WORKING:
                yield action("Prepare", rm=rm), except_at(s, i, PREPARED)
            if s[i] == PREPARED and can_commit:
                yield action("Decide", rm=rm, to=COMMITTED), except_at(s, i, COMMITTED)
            if s[i] in (WORKING, PREPARED) and not_committed:
                yield action("Decide", rm=rm, to=ABORTED), except_at(s, i, ABORTED)

    @property
    def invariants(self):
        return {"TCConsistent": lambda s: not (COMMITTED in s and ABORTED in s)}

    @property
    def config(self):
        return {"rms": len(self.rms)}

    def variables(self, s):
        return {"rmState": dict(zip(self.rms, s))}


class TPState(NamedTuple):
    rm_state: tuple[str, ...]
    tm_state: str  # "init", "committed" or "aborted"
    tm_prepared: frozenset[str]
    msgs: frozenset[tuple[str, ...]]  # ("Prepared", rm), ("Commit",), ("Abort",)


class TwoPhase(Spec):
    name = "twophase"
    default_properties = ("TPTypeOK", "TCConsistent", "RefinesTCommit")
    actions = (
        "TMRcvPrepared",
        "TMCommit",
        "TMAbort",
        "RMPrepare",
        "RMChooseToAbort",
        "RMRcvCommitMsg",
        "RMRcvAbortMsg",
    )

    #: Every step a correct process keeps taking: each RM prepares and hears the
    #: decision, the TM hears each Prepared and decides. Not crashing, nor an RM's
    #: choice to abort: those may happen, never must.
    fairness = (
        weak("RMPrepare", "rm"),
        weak("TMRcvPrepared", "rm"),
        weak("TMCommit"),
        weak("TMAbort"),
        weak("RMRcvCommitMsg", "rm"),
        weak("RMRcvAbortMsg", "rm"),
    )

    def __init__(self, rms: int = 3, coordinator_crash: bool = False):
        self.rms = _rm_names(rms)
        self.coordinator_crash = coordinator_crash
        if coordinator_crash:
            self.actions = (*TwoPhase.actions, "TMCrash")

    def init(self) -> Iterator[TPState]:
        yield TPState((WORKING,) * len(self.rms), "init", frozenset(), frozenset())

    def next(self, s: TPState) -> Iterator[tuple[Action, TPState]]:
        for i, rm in enumerate(self.rms):
            # TMRcvPrepared(rm): the TM records rm's Prepared message.
            if s.tm_state == "init" and ("Prepared", rm) in s.msgs and rm not in s.tm_prepared:
                yield action("TMRcvPrepared", rm=rm), s._replace(tm_prepared=s.tm_prepared | {rm})
            # RMPrepare(rm): a working rm prepares and tells the TM.
            if s.rm_state[i] == WORKING:
                yield (
                    action("RMPrepare", rm=rm),
                    s._replace(rm_state=except_at(s.rm_state, i, PREPARED), msgs=s.msgs | {("Prepared", rm)}),
                )
            # RMChooseToAbort(rm): a working rm may abort on its own.
            if s.rm_state[i] == WORKING:
                yield action("RMChooseToAbort", rm=rm), s._replace(rm_state=except_at(s.rm_state, i, ABORTED))
            # RMRcvCommitMsg(rm) / RMRcvAbortMsg(rm): rm follows the TM's decision.
            if ("Commit",) in s.msgs and s.rm_state[i] != COMMITTED:
                yield action("RMRcvCommitMsg", rm=rm), s._replace(rm_state=except_at(s.rm_state, i, COMMITTED))
            if ("Abort",) in s.msgs and s.rm_state[i] != ABORTED:
                yield action("RMRcvAbortMsg", rm=rm), s._replace(rm_state=except_at(s.rm_state, i, ABORTED))
        # TMCommit: once every rm is prepared, the TM commits.
        if s.tm_state == "init" and len(s.tm_prepared) == len(self.rms):
            yield action("TMCommit"), s._replace(tm_state="committed", msgs=s.msgs | {("Commit",)})
        # TMAbort: the TM may abort any time before it decided.
        if s.tm_state == "init":
            yield action("TMAbort"), s._replace(tm_state="aborted", msgs=s.msgs | {("Abort",)})
        # TMCrash: with every RM prepared, the TM stops before it decides, for good.
        if self.coordinator_crash and s.tm_state == "init" and len(s.tm_prepared) == len(self.rms):
            yield action("TMCrash"), s._replace(tm_state="crashed")

    @cached_property
    def invariants(self):
        states = {WORKING, PREPARED, COMMITTED, ABORTED}
        return {
            "TPTypeOK": lambda s: (
                set(s.rm_state) <= states
                and s.tm_state in ("init", "committed", "aborted", "crashed")
                and s.tm_prepared <= set(self.rms)
            ),
            "TCConsistent": lambda s: not (COMMITTED in s.rm_state and ABORTED in s.rm_state),
        }

    @cached_property
    def liveness(self):
        return {"EveryRMDecides": eventually(lambda s: all(x in (COMMITTED, ABORTED) for x in s.rm_state))}

    @cached_property
    def sometimes(self):
        return {
            "AllCommitted": lambda s: all(x == COMMITTED for x in s.rm_state),
            "AllAborted": lambda s: all(x == ABORTED for x in s.rm_state),
        }

    @cached_property
    def refinements(self):
        return (Refinement(TCommit(len(self.rms)), lambda s: s.rm_state),)

    @cached_property
    def symmetry(self):
        """Resource managers are interchangeable: rename them in every order
        and keep the least encoding."""
        perms = [dict(zip(self.rms, p)) for p in permutations(self.rms)]
        index = {rm: i for i, rm in enumerate(self.rms)}

        def canonical(s: TPState):
            best = None
            for rename in perms:
                rm_state = [""] * len(self.rms)
                for rm, x in zip(self.rms, s.rm_state):
                    rm_state[index[rename[rm]]] = x
                key = (
                    tuple(rm_state),
                    s.tm_state,
                    tuple(sorted(rename[r] for r in s.tm_prepared)),
                    tuple(sorted(m if len(m) == 1 else (m[0], rename[m[1]]) for m in s.msgs)),
                )
                if best is None or key < best:
                    best = key
            return best

        return canonical

    @property
    def config(self):
        return {"rms": len(self.rms), **({"coordinator_crash": "allowed"} if self.coordinator_crash else {})}

    def variables(self, s: TPState):
        return {
            "rmState": dict(zip(self.rms, s.rm_state)),
            "tmState": s.tm_state,
            "tmPrepared": s.tm_prepared,
            "msgs": frozenset(m[0] if len(m) == 1 else f"{m[0]}({m[1]})" for m in s.msgs),
        }

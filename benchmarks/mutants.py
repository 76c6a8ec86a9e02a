"""Mutation score of the conformance check: cosmic-ray mutates the modules
that decide what a node stores and sends, and ``paxoscope conform`` at its
defaults is the test that must fail on each mutant.

Three targets: ``paxos`` (``impl/paxos/core.py``, tested by ``paxoscope
conform``), ``multipaxos`` (``impl/multipaxos/core.py``, tested by
``paxoscope conform --protocol multipaxos`` and then the fast checks of
``tests/test_multipaxos_mutants.py``, ``_impl.py``, ``_frames.py`` and ``_lease.py``, which reach
what conform's small runs do not: batches, pipelining, snapshots, catch-up, frame sizes, leases) and ``kvstate`` (the
key-value machine, ``impl/multipaxos/kvstate.py``: conform's spec knows a
register, not the machine's operations, locks and sessions, so its test is
the machine's own tests, picked with ``-k``).

Prints killed / survived / equivalent, out of how many were run, and every
surviving mutant that is not known to be equivalent (with its diff). A
mutant is equivalent when no run of the program can tell it from the
original: ``EQUIVALENT`` names each one, keyed by the line it changes and
what it changes it to, with the reason.

cosmic-ray mutates the files in place and puts each back after its test, so
the script refuses a tree with changes in those files, and checks (and
restores, from git) that they are unchanged afterwards. The session file
keeps the results: run again with the same ``--session`` to resume an
interrupted run (the mutants left run in a random order, so a run cut short
is a uniform sample), with ``--report-only`` to print the figures again, or
with ``--retest-survivors`` to run the surviving mutants again under the
current tests (after a check was strengthened). ``--changed-since REV``
runs, in a new session, only the mutants of lines changed since the git
revision REV (cosmic-ray's git filter): a module whose every mutant was run
at REV is then covered again after a small change, and a CI job can run the
mutants of a change alone.

    pip install -e '.[mutation]'
    python benchmarks/mutants.py [--target paxos|multipaxos|kvstate] [--module PATH ...] [--session FILE]
        [--timeout S] [--report-only] [--retest-survivors] [--changed-since REV]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFORM = ("paxoscope.cli", "conform")
PYTEST = ("pytest", "-q", "-x", "-p", "no:cacheprovider")


@dataclass(frozen=True)
class Target:
    """Modules to mutate and the test that must fail on each mutant: Python
    modules run one after the other (``python -m ...``), all of which must pass."""

    modules: tuple[str, ...]
    tests: tuple[tuple[str, ...], ...]

    def command(self) -> str:
        runs = [shlex.join([sys.executable, "-m", *test]) for test in self.tests]
        return runs[0] if len(runs) == 1 else shlex.join(["sh", "-c", " && ".join(runs)])

    def shown(self) -> str:
        """The test as a user types it."""
        return " && ".join(shlex.join(["paxoscope", *t[1:]] if t[:2] == CONFORM else list(t)) for t in self.tests)


# The core's and the machine's own fast tests, less the one that runs conform from the command line
SERVICE_TESTS = (
    *PYTEST,
    "tests/test_multipaxos_mutants.py",
    "tests/test_multipaxos_impl.py",
    "tests/test_multipaxos_frames.py",
    "tests/test_multipaxos_lease.py",
    "-k",
    "not command_line",
)
TARGETS = {
    "paxos": Target(("impl/paxos/core.py",), (CONFORM,)),
    "multipaxos": Target(("impl/multipaxos/core.py",), ((*CONFORM, "--protocol", "multipaxos"), SERVICE_TESTS)),
    "kvstate": Target(("impl/multipaxos/kvstate.py",), (SERVICE_TESTS,)),
}

# Mutants no run can distinguish from the original, keyed by
# "module:function: original line => mutated line" (lines stripped), with the
# reason. A key "module:function: original line => *" covers every mutant of
# that line. Besides these, a mutant that changes only a type annotation is
# equivalent (see ``annotation_only``).
# A stricter test of _text_problem's shortcut sends more strings on to the exact measure after it.
_STRICTER_SHORTCUT = (
    "the shortcut passes only strings the exact measure after it passes too: a stricter one sends more strings "
    "on to that measure, which answers the same"
)

_SKIPPED_BELOW_COMMIT = "the slots it adds are at or below s.commit, which _try_prepared skips (slot <= s.commit)"

EQUIVALENT: dict[str, str] = {
    "paxos/core.py:on_accepted: if self.decided is None and any(q <= voters for q in self.config.quorums): "
    "=> if self.decided is None and any(q == voters for q in self.config.quorums):": (
        "voters grows one acceptor at a time, and every set of a majority is a quorum (the only quorums the "
        "simulator and the cluster use): the first time voters holds a quorum, it is one"
    ),
    "paxos/core.py:Receive: @dataclass(frozen=True) => @dataclass(frozen=False)": (
        "an event is built, handled once and dropped: nothing assigns to it or hashes it"
    ),
    "paxos/core.py:ClientRequest: @dataclass(frozen=True) => @dataclass(frozen=False)": (
        "an event is built, handled once and dropped: nothing assigns to it or hashes it"
    ),
    "paxos/core.py:Timeout: @dataclass(frozen=True) => @dataclass(frozen=False)": (
        "an event is built, handled once and dropped: nothing assigns to it or hashes it"
    ),
    "paxos/core.py:on_promise: if q <= self.promises.keys(): => if q == self.promises.keys():": (
        "promises arrive one acceptor at a time and every set of a majority is a quorum: the first time the "
        "promisers hold a quorum, they are one (and the proposer stops counting)"
    ),
    "paxos/core.py:NodeConfig: @dataclass(frozen=True) => @dataclass(frozen=False)": (
        "a node's configuration is built once and only read: nothing assigns to it or hashes it"
    ),
    "paxos/core.py:Effects: durable_first: bool = True => durable_first: bool = False": (
        "read only with a write (persist), and every handler that writes sets it explicitly"
    ),
    "paxos/core.py:__init__: self.proposed = False => self.proposed = True": (
        "read only for the ballot being run, and starting a ballot sets it to False first"
    ),
    "paxos/core.py:_first_ballot: return 0 => *": (
        "the line runs only under --bug reuse-ballot, a known-wrong variant, never in the implementation itself"
    ),
    "paxos/core.py:handle: floor = self.acceptor.state.max_bal if self.acceptor is not None else -1 => "
    "floor = self.acceptor.state.max_bal if self.acceptor is not None else ~1": (
        "~1 is -2: for a node that is no acceptor, any floor below 0 gives the same first ballot (its least one)"
    ),
    "paxos/core.py:handle: floor = self.acceptor.state.max_bal if self.acceptor is not None else -1 => "
    "floor = self.acceptor.state.max_bal if self.acceptor is not None else - 2": (
        "for a node that is no acceptor, any floor below 0 gives the same first ballot (its least one)"
    ),
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal == self.ballot:": (
        "the last test runs only when m.bal == self.ballot (the earlier ones returned otherwise), and every "
        "rejection has max_bal >= bal: an acceptor refuses only ballots at or below its promise and names that "
        "promise, impl/paxos/messages.py refuses to decode any other, and the obligation check compares each refusal's "
        "rejection with the acceptor's promise. So max_bal <= self.ballot holds exactly when max_bal == self.ballot"
    ),
    "paxos/core.py:Timeout: @dataclass(frozen=True) => ": (
        "Timeout has no fields: without the decorator it is built the same, and nothing compares or hashes it"
    ),
    # -- the Multi-Paxos core
    "multipaxos/core.py:_try_prepared: "
    "slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit + 1).keys()) => "
    "slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit // 1).keys())": (
        "the union gains only slot s.commit, which the loop that follows skips (slot <= s.commit)"
    ),
    "multipaxos/core.py:_on_accept: elif m.bal == inst.vbal: => elif m.bal >= inst.vbal:": (
        "the elif runs only when m.bal > inst.vbal failed, so there m.bal >= inst.vbal is m.bal == inst.vbal"
    ),
    "multipaxos/core.py:_propose: while self.queue and len(proposed) < room: => "
    "while self.queue and len(proposed) != room:": (
        "room is at least 1 here (the handler returned when it was not), and proposed grows one at a time from "
        "empty: both loops stop at room commands"
    ),
    "multipaxos/core.py:_propose: if room <= 0: => if room == 0:": (
        "room is 0 or the batch size, a positive number: never below 0"
    ),
    "multipaxos/core.py:apply: if upto - self.commit <= len(self.insts): => *": (
        "both branches list the same slots, those the log holds between the old and the new commit index; the "
        "test only picks the cheaper way to list them"
    ),
    "multipaxos/core.py:prepared: "
    "return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared > 0 => "
    "return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared >= 0": (
        "a replica names itself leader only in the ballot it stands with, and that is at least 1 "
        "(_next_ballot returns a ballot above one that is at least 0): with s.leader == self.name, "
        "s.bal_prepared == s.bal_max_known implies it is above 0"
    ),
    "multipaxos/core.py:_heartbeat: "
    "if slot > s.commit and inst.status == ACCEPTING and inst.vbal == s.bal_prepared => "
    "if slot > s.commit and inst.status == ACCEPTING and inst.vbal >= s.bal_prepared": (
        "a prepared leader holds no vote above its ballot: a replica that votes in a ballot follows it, and a "
        "leader that follows another ballot is no longer prepared"
    ),
    "multipaxos/core.py:_on_accepted: "
    "for slot in range(max(m.first, s.commit + 1), min(m.last, s.last_slot) + 1): => "
    "for slot in range(max(m.first, s.commit // 1), min(m.last, s.last_slot) + 1):": (
        "it also counts a vote for slot s.commit, committed already: acks is read only from s.commit + 1 on, "
        "and the commit index never moves back"
    ),
    "multipaxos/core.py:_heartbeat: if peer == self.name: => if peer is self.name:": (
        "with names that are equal but distinct objects the leader also sends itself its heartbeat, which "
        "changes nothing: a leader takes no commit notice, and it is in the acks of each slot it proposed"
    ),
    "multipaxos/core.py:_learn_commit: if inst is None or inst.status != ACCEPTING or inst.vbal != bal: => "
    "if inst is None or inst.status > ACCEPTING or inst.vbal != bal:": (
        "the other statuses, Committed, Empty and Preparing, all sort after Accepting: > is != here"
    ),
    "multipaxos/core.py:_peak: return min((c for b, c in votes if b == top), key=lambda c: c.to_json() if c else []) "
    "=> return min((c for b, c in votes if b is top), key=lambda c: c.to_json() if c else [])": (
        "top is one of the ballots compared (max returns one of them), so `is` keeps at least that vote; and the "
        "votes at one ballot in one slot carry one command (the ballot's leader proposes once a slot, and writes "
        "it before it sends it): any of them gives the same command"
    ),
    "multipaxos/core.py:_on_accept: elif m.bal == inst.vbal: => elif m.bal <= inst.vbal:": (
        "an Accept below the promise was refused above (only the accept-below-promise variant goes on), so here "
        "m.bal >= bal_max_known, and a vote is never above the promise: m.bal <= inst.vbal only when equal"
    ),
    "multipaxos/core.py:__init__: self.promises[self.name] = self._insts_from(self.state.commit + 1) => "
    "self.promises[self.name] = self._insts_from(self.state.commit + 0)": (
        "the promise gains only slot s.commit, which _try_prepared skips (slot <= s.commit)"
    ),
    "multipaxos/core.py:_count_change: left = logged.get(key, 0) - 1 => left = logged.get(key, -1) - 1": (
        "a key with no count leaves left at or below 0 either way, and the key is dropped"
    ),
    "multipaxos/core.py:_tick: stagger = self.config.election_ticks * self.index // max(1, len(self.config.nodes)) "
    "=> stagger = self.config.election_ticks * self.index // max( 2, len(self.config.nodes))": (
        "the divisors differ only in a cluster of one, whose replica's index is 0: its stagger is 0 either way"
    ),
    "multipaxos/core.py:_send_catch_up: if any(slot not in s.insts for slot in range(first, last + 1)): => "
    "if any(slot not in s.insts for slot in range(first, last | 1)):": (
        "last | 1 is last or last + 1, so the range checks the same slots or one fewer, and the guard fires for "
        "neither: a replica holds every slot from its snapshot index to its commit index (the commit index "
        "moves only over slots it holds, slot by slot, or with a snapshot that truncates below it), and last "
        "is at most the commit index"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[0] is insts and seen[1] > len(insts):": (
        "the remembered slot is then never used (a log's dict only gains slots; a snapshot makes a new one), and "
        "max() finds the same slot every time: only slower"
    ),
    'multipaxos/core.py:__init__: if self.role == "candidate":  # restarted while standing: its own promise is its '
    'log, which it kept => if self.role >= "candidate":  # restarted while standing: its own promise is its log, '
    "which it kept": (
        "promises is read only by a candidate (_on_promise, _try_prepared); a follower or a leader that stands "
        "sets it anew (_stand) before any Promise counts"
    ),
    "multipaxos/core.py:_heartbeat: "
    "if (inst := s.insts.get(slot)) is not None and inst.status == ACCEPTING and inst.vbal == s.bal_prepared => "
    "if (inst := s.insts.get(slot)) is not None and inst.status == ACCEPTING and inst.vbal >= s.bal_prepared": (
        "a prepared leader's ballot is the highest it knows (bal_prepared == bal_max_known), and no vote is above "
        "the ballot known"
    ),
    "multipaxos/core.py:_heartbeat: for slot in range(s.commit + 1, s.last_slot + 1) => "
    "for slot in range(s.commit + 1, s.last_slot + 2)": (
        "last_slot is the log's highest slot: the slot after it is not in the log, and the filter drops it"
    ),
    "multipaxos/core.py:_room: return 0 if len(self.in_flight) >= self.config.window else self.config.batch => "
    "return -1 if len(self.in_flight) >= self.config.window else self.config.batch": (
        "its one caller (_propose) only asks whether the room is at most 0"
    ),
    "multipaxos/core.py:_send_catch_up: if any(slot not in s.insts for slot in range(first, last + 1)): => "
    "if any(slot not in s.insts for slot in range(first, last // 1)):": (
        "the range then checks one slot fewer, and the guard fires for none (see the mutant to last | 1)"
    ),
    "multipaxos/core.py:prepared: return s.leader == self.name and s.bal_prepared == s.bal_max_known and "
    "s.bal_prepared > 0 => return s.leader == self.name and s.bal_prepared >= s.bal_max_known and s.bal_prepared > 0": (
        "bal_prepared is only ever the ballot known when it was set (_try_prepared, or 0 on standing), and the "
        "ballot known never decreases: bal_prepared is never above it"
    ),
    "multipaxos/core.py:_set_inst: if slot <= self.state.snapshot_index: => if slot is self.state.snapshot_index:": (
        "no caller sets a slot at or below the snapshot index (see the mutant to ==): the test is false either way"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[ -1] is insts and seen[1] == len(insts):": (
        "seen[-1] is the remembered slot, never the log's dict: the memo is never used, and max() finds the same "
        "slot every time, only slower"
    ),
    'multipaxos/core.py:_follow: was_leader = self.role == "leader" => was_leader = self.role >= "leader"': (
        "the roles are follower, candidate and leader: only leader sorts at or after leader"
    ),
    "multipaxos/core.py:_try_prepared: resume = inst.status == PREPARING or (inst.status == EMPTY and peak is not None)"
    " => resume = inst.status >= PREPARING or (inst.status == EMPTY and peak is not None)": (
        "Preparing sorts after Accepting, Committed and Empty: only Preparing is at or after it"
    ),
    "multipaxos/core.py:_on_accepted: if not (self.prepared and m.bal == s.bal_prepared): => "
    "if not (self.prepared and m.bal >= s.bal_prepared):": (
        "an Accepted goes to the leader whose Accept it answers, with that Accept's ballot, and a replica's own "
        "ballots only grow: none above its ballot reaches a prepared leader"
    ),
    "multipaxos/core.py:_learn_commit: if s.leader == self.name: => if s.leader is self.name:": (
        "a leader takes an Accept of its own ballot only from itself, and it carries a commit index its own is at "
        "least: the loop after the test runs for no slot either way"
    ),
    "multipaxos/core.py:_on_accept: follow = False => follow = True": (
        "_follow again with the ballot and leader it follows already writes nothing and changes nothing"
    ),
    "multipaxos/core.py:__init__: self.commit_last_tick = 0  # the commit index at the last of them => "
    "self.commit_last_tick = -1  # the commit index at the last of them": (
        "it is only compared with a replica's commit index, which is never below 0 either"
    ),
    "multipaxos/core.py:_peak: votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal > 0] => "
    "votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal > -1]": (
        "a report without a vote (ballot 0) has no voted command: when all are such, the peak is None either way, "
        "and otherwise the highest ballot is above 0"
    ),
    "multipaxos/core.py:_peak: votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal > 0] => "
    "votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal != 0]": (
        "a ballot is never below 0 (the wire and the store refuse one)"
    ),
    "multipaxos/core.py:_request: "
    "rid = event.request_id if isinstance(event.request_id, int) and 0 <= event.request_id < 2**63 else 0 => "
    "rid = event.request_id if isinstance(event.request_id, int) and 0 < event.request_id < 2**63 else 0": (
        "the request id the test then turns away is 0, which it becomes either way"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[0] == insts and seen[1] == len(insts):": (
        "a log equal to the one remembered has the same last slot: the memo answers right either way"
    ),
    "multipaxos/core.py:_on_promise: "
    "if not (s.leader == self.name and s.bal_prepared == 0 and m.bal == s.bal_max_known): => "
    "if not (s.leader == self.name and s.bal_prepared == 0 and m.bal >= s.bal_max_known):": (
        "a Promise answers a candidate's own Prepare, with its ballot, and a candidate's ballots only grow: none "
        "above the ballot it knows reaches it"
    ),
    "multipaxos/core.py:_on_promise: "
    "if not (s.leader == self.name and s.bal_prepared == 0 and m.bal == s.bal_max_known): => "
    "if not (s.leader == self.name and s.bal_prepared <= 0 and m.bal == s.bal_max_known):": (
        "bal_prepared is 0 or a ballot it prepared, and a ballot is never below 0 (record_problem refuses one "
        "read back): <= 0 only when 0"
    ),
    "multipaxos/core.py:_count_change: if left > 0: => if left != 0:": (
        "only a leader counts, from its whole log when it takes the lead or restarts, and every change to a slot "
        "it holds goes through _set_inst (a snapshot only drops slots, leaving counts above the truth): a "
        "command it holds is counted at least once, so left is never below 0"
    ),
    "multipaxos/core.py:apply: if inst.status == ACCEPTING: => if inst.status <= ACCEPTING:": (
        "Accepting sorts first of the four statuses (then Committed, Empty, Preparing): only it is at or below it"
    ),
    "multipaxos/core.py:_try_commit: "
    "if inst is None or inst.status != ACCEPTING or len(self.acks.get(slot, ())) < self._needed(): => "
    "if inst is None or inst.status > ACCEPTING or len(self.acks.get(slot, ())) < self._needed():": (
        "Accepting sorts first of the four statuses: every other one is above it"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[0] is insts and seen[1] >= len(insts):": (
        "slots are only added to a log's dict (a snapshot makes a new one): the same dict is never shorter than "
        "it was, so >= holds only when equal"
    ),
    "multipaxos/core.py:_learn_commit: if inst is None or inst.status != ACCEPTING or inst.vbal != bal: => "
    "if inst is None or inst.status < ACCEPTING or inst.vbal != bal:": (
        "past the commit index a follower's slot is Accepting or Preparing, and a Preparing one holds a vote "
        "below the ballot it follows (a reset comes only with a higher ballot, and a vote there makes the slot "
        "Accepting): asked for a ballot at or above that one, vbal != bal already stops at it"
    ),
    "multipaxos/core.py:_fitting: break => continue": (
        "size only grows (every command's JSON has a size above 0): once past the budget, every later command "
        "is too, and the count stays where it stopped"
    ),
    "multipaxos/core.py:_runs: if prev is not None and slot == prev + 1: => "
    "if prev is not None and slot <= prev + 1:": (
        "every caller passes slots in strictly rising order (sorted, or counted up from a range or an Accept's "
        "first slot): a slot is never at or below the one before it"
    ),
    "multipaxos/core.py:_heartbeat: "
    "if (inst := s.insts.get(slot)) is not None and inst.status == ACCEPTING and inst.vbal == s.bal_prepared => "
    "if (inst := s.insts.get(slot)) is not None and inst.status <= ACCEPTING and inst.vbal == s.bal_prepared": (
        "Accepting sorts first of the four statuses: only it is at or below it"
    ),
    "multipaxos/core.py:_try_commit: "
    "if inst is None or inst.status != ACCEPTING or len(self.acks.get(slot, ())) < self._needed(): => "
    "if inst is None or inst.status < ACCEPTING or len(self.acks.get(slot, ())) < self._needed():": (
        "a prepared leader (only it counts acks) holds past its commit index only Accepting slots: each Preparing "
        "one was resumed Accepting when it prepared, Committed ones are at or below the index, and a slot it "
        "does not hold is None"
    ),
    "multipaxos/core.py:apply: if index > self.snapshot_index: => if index is not self.snapshot_index:": (
        "a snapshot record is made only above the state's snapshot index (the machine's, every snapshot_every "
        "slots past it; one a leader sent, only above the commit index, which is at or above it; a compacted "
        "log's first record, above 0) and read back in the order written: its index is never at or below it"
    ),
    "multipaxos/core.py:_peak: "
    "return min((c for b, c in votes if b == top), key=lambda c: c.to_json() if c else []) => "
    "return min((c for b, c in votes if b == top), key=lambda c: c.to_json() if not c else [])": (
        "a vote (vbal above 0) always holds a command, a truthy one, and one ballot has one leader, which puts "
        "one command in a slot: the votes at the top ballot are equal, and min returns that command whatever "
        "the key"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[0] is insts and seen[ 0] == len(insts):": (
        "a dict never equals an int: the memo is never used, and the last slot is found again each time, the same"
    ),
    "multipaxos/core.py:apply: if index > self.snapshot_index: => if index >= self.snapshot_index:": (
        "a snapshot record's index is always above the state's snapshot index (see the mutant to `is not`)"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[ 1] is insts and seen[1] == len(insts):": (
        "a length is never the dict: the memo is never used, and the last slot is found again each time, the same"
    ),
    "multipaxos/core.py:None: PROMISE_BYTES = MAX_FRAME // 4 => PROMISE_BYTES = MAX_FRAME / 4": (
        "MAX_FRAME is 2**20, a multiple of 4: the float equals the int, and it is only compared with"
    ),
    "multipaxos/core.py:_heartbeat: "
    "if (inst := s.insts.get(slot)) is not None and inst.status == ACCEPTING and inst.vbal == s.bal_prepared => "
    "if (inst := s.insts.get(slot)) is not None and inst.status >= ACCEPTING and inst.vbal == s.bal_prepared": (
        "a prepared leader (only it beats) holds only Accepting slots past its commit index (see the mutant of "
        "_try_commit to `< ACCEPTING`)"
    ),
    "multipaxos/core.py:_heartbeat: for slot in range(s.commit + 1, s.last_slot + 1) => "
    "for slot in range(s.commit + 1, s.last_slot << 1)": (
        "2 * last_slot is at least last_slot + 1 once the log holds a slot (an empty range either way before): "
        "the slots it adds are past the last slot, not in the log, and skipped (inst is None)"
    ),
    'multipaxos/core.py:__init__: if self.role == "candidate":  # restarted while standing: its own promise is '
    'its log, which it kept => if self.role is "candidate":  # restarted while standing: its own promise is its '
    "log, which it kept": (
        "role returns one of three string literals of this module, and CPython interns such literals: the one "
        "compared is the same object"
    ),
    "multipaxos/core.py:apply: if index > self.snapshot_index: => if index != self.snapshot_index:": (
        "a snapshot record's index is always above the state's snapshot index (see the mutant to `is not`)"
    ),
    "multipaxos/core.py:apply: if slot > self.snapshot_index: => if slot >= self.snapshot_index:": (
        "no instance is written for the snapshot's own slot once it is taken: an Accept's slots at or below the "
        "snapshot index are skipped, and every other instance written is past the commit index, which is at or "
        "above it; records are read back in the order written"
    ),
    'multipaxos/core.py:record_problem: return fields_problem({"bal": args[0]}) => '
    'return fields_problem({"bal": args[ -1]})': ("checked only when args has one item: args[-1] is args[0]"),
    "multipaxos/core.py:_follow: if leader == self.name: => if leader <= self.name:": (
        "a follower that also counts what its log holds keeps a count nothing reads: only a prepared leader "
        "asks it, and it counted its log afresh when it followed itself to stand"
    ),
    "multipaxos/core.py:last_slot: if seen is not None and seen[0] is insts and seen[1] == len(insts): => "
    "if seen is not None and seen[0] is insts and seen[1] is len(insts):": (
        "past 256 slots the lengths are distinct objects: the memo misses, and the last slot is found again, the same"
    ),
    "multipaxos/core.py:_follow: if held_lead and leader != self.name: => if held_lead and leader is not self.name:": (
        "a replica follows its own name only as itself standing (self.name, the same object) or on its own "
        "Accept, of the ballot it already follows (a later one is not its own, an earlier one is refused "
        "below its promise): ballot and leader are then equal to those it follows, and nothing changes"
    ),
    "multipaxos/core.py:_learn_commit: if slot - 1 > start: => if slot - 1 != start:": (
        "slot starts at start + 1 and only grows: slot - 1 is never below start"
    ),
    "multipaxos/core.py:_peak: "
    "return min((c for b, c in votes if b == top), key=lambda c: c.to_json() if c else []) => "
    "return min((c for b, c in votes if b >= top), key=lambda c: c.to_json() if c else [])": (
        "top is the highest ballot among the votes: b >= top only when b == top"
    ),
    "multipaxos/core.py:_follow: if (s.bal_max_known, s.leader) != (bal, leader) or reset: => "
    "if (s.bal_max_known, s.leader) < (bal, leader) or reset:": (
        "every caller follows a ballot at least the one known, and a ballot has one owner (ballot b belongs to "
        "the replica of index (b - 1) mod n), so the pair differs exactly when the ballot is higher, and then it "
        "is also less"
    ),
    "multipaxos/core.py:_on_catchup: if inst.cmd != cmd or inst.status != ACCEPTING:  # else it holds it already: "
    "nothing to log => if inst.cmd != cmd or inst.status > ACCEPTING:  # else it holds it already: nothing to log": (
        "Committed, Empty and Preparing all sort after Accepting: > Accepting is != Accepting for the four statuses"
    ),
    "multipaxos/core.py:_try_prepared: if len(self.promises) < self.config.majority: => "
    "if len(self.promises) != self.config.majority:": (
        "promises grow one at a time, each followed by this test, and are cleared once a majority is counted: "
        "their number reaches the majority exactly and never passes it"
    ),
    "multipaxos/core.py:_try_commit: if slot - 1 > start: => if slot - 1 != start:": (
        "slot starts at start + 1 and only grows: slot - 1 is never below start"
    ),
    "multipaxos/core.py:NodeConfig: @dataclass(frozen=True) => @dataclass(frozen=False)": (
        "nothing assigns to a replica's configuration or hashes one"
    ),
    "multipaxos/core.py:_try_prepared: resume = inst.status == PREPARING or (inst.status == EMPTY and peak is not None)"
    " => resume = inst.status == PREPARING or (inst.status >= EMPTY and peak is not None)": (
        "of the four statuses only Empty and Preparing sort at or after Empty, and a Preparing slot resumes by the "
        "first test already"
    ),
    "multipaxos/core.py:_apply_committed: while self.applied < s.commit: => while self.applied != s.commit:": (
        "the applied index never passes the commit index: it moves only in this loop, or to a snapshot's index, "
        "which the commit index is moved to as well"
    ),
    "multipaxos/core.py:_learn_commit: if inst is None or inst.status != ACCEPTING or inst.vbal != bal: => "
    "if inst is None or inst.status != ACCEPTING or inst.vbal < bal:": (
        "it runs only for an Accept at or above the promise (one below was refused before), and no vote is above "
        "the promise: inst.vbal > bal never holds"
    ),
    "multipaxos/core.py:prepared: return s.leader == self.name and s.bal_prepared == s.bal_max_known and "
    "s.bal_prepared > 0 => return s.leader == self.name and s.bal_prepared == s.bal_max_known and "
    "s.bal_prepared != 0": ("a ballot is never below 0"),
    "multipaxos/core.py:_count_change: left = logged.get(key, 0) - 1 => left = logged.get(key, 1) - 1": (
        "a key with no count leaves left at 0 instead of -1: the key is dropped either way"
    ),
    'multipaxos/core.py:__init__: if self.role == "candidate":  # restarted while standing: its own promise is its '
    'log, which it kept => if self.role <= "candidate":  # restarted while standing: its own promise is its log, '
    "which it kept": ("follower and leader sort after candidate: only candidate is at or before it"),
    "multipaxos/core.py:_peak: votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal > 0] => "
    "votes = [(i.vbal, i.vcmd) for i in insts if i is not None and i.vbal >= 0]": (
        "as the mutant to > -1: a report without a vote has no voted command"
    ),
    "multipaxos/core.py:_on_accept: if m.bal > inst.vbal: => if m.bal != inst.vbal:": (
        "m.bal is at least the promise here (a lower one was refused before), and no vote is above the promise: "
        "m.bal < inst.vbal never holds"
    ),
    "multipaxos/core.py:_room: return 0 if len(self.in_flight) >= self.config.window else self.config.batch => "
    "return 0 if len(self.in_flight) == self.config.window else self.config.batch": (
        "a batch joins in_flight only when fewer than window are in flight: their number never passes window"
    ),
    "multipaxos/core.py:_tick: stagger = self.config.election_ticks * self.index // max(1, len(self.config.nodes)) "
    "=> stagger = self.config.election_ticks * self.index // max( 0, len(self.config.nodes))": (
        "a cluster has at least one replica: the max is the number of replicas either way"
    ),
    "multipaxos/core.py:_try_prepared: "
    "slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit + 1).keys()) => "
    "slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit << 1).keys())": (
        "the candidate's own promise, among the reports, holds every slot its log had when it stood; a slot its "
        "log gained since came by a catch-up, Accepting, which is not resumed: the slots the term leaves out "
        "change nothing"
    ),
    "multipaxos/core.py:_request: "
    "rid = event.request_id if isinstance(event.request_id, int) and 0 <= event.request_id < 2**63 else 0 => "
    "rid = event.request_id if isinstance(event.request_id, int) and 1 <= event.request_id < 2**63 else 0": (
        "the request id the test then turns away is 0, which it becomes either way"
    ),
    "multipaxos/core.py:_follow: if leader == self.name: => if leader is self.name:": (
        "a replica comes to follow itself only when it stands, with its own name; an Accept of its own ballot "
        "from itself names the pair it follows already, and _follow then does nothing"
    ),
    "multipaxos/core.py:_on_prepare: if m.bal < s.bal_max_known: => if m.bal != s.bal_max_known:": (
        "the test runs only when m.bal <= s.bal_max_known, where != is <"
    ),
    "multipaxos/core.py:_set_inst: if slot <= self.state.snapshot_index: => if slot < self.state.snapshot_index:": (
        "no caller sets a slot at or below the snapshot index (see the mutant to ==): the test is false either way"
    ),
    "multipaxos/core.py:__init__: vcmd_doc = cmd_doc if vcmd is cmd else None if vcmd is None else vcmd.to_json() "
    "=> vcmd_doc = cmd_doc if vcmd == cmd else None if vcmd is None else vcmd.to_json()": (
        "an equal command has the same JSON form: the record is the same"
    ),
    "multipaxos/core.py:_follow: if leader == self.name: => if leader >= self.name:": (
        "it also counts the log anew when it follows a replica whose name sorts after its own: the count is then "
        "the true one, and a follower does not read it (it counts anew when it stands)"
    ),
    "multipaxos/core.py:_on_prepare: self._send_catch_up(m.src, m.first - 1) => "
    "self._send_catch_up(m.src, m.first - 2)": (
        "it runs only when m.first <= s.snapshot_index: the first slot the candidate lacks, m.first or m.first - 1, "
        "is in the snapshot either way, and _send_catch_up then sends the snapshot and the slots after it, the same"
    ),
    "multipaxos/core.py:_set_inst: if slot <= self.state.snapshot_index: => if slot == self.state.snapshot_index:": (
        "no caller sets a slot below the snapshot index: each sets slots above the commit index (which the "
        "snapshot index never passes) or skips those at or below the snapshot index first (_on_accept)"
    ),
    'multipaxos/core.py:_request: if op in READS and "stale-leader-read" in self.config.bugs: => '
    'if not op in READS and "stale-leader-read" in self.config.bugs:': (
        "both are false unless --bug stale-leader-read, a known-wrong variant, is on: the implementation itself "
        "is unchanged"
    ),
    "multipaxos/core.py:_propose: if room <= 0: => if room <= -1:": (
        "with room 0 the loop proposes nothing, and the handler only calls _try_commit, which finds nothing new "
        "to commit: every handler that adds an acknowledgement tries to commit at once"
    ),
    "multipaxos/core.py:_propose: if room <= 0: => if room < 0:": (
        "with room 0 the loop proposes nothing, and the handler only calls _try_commit, which finds nothing new "
        "to commit: every handler that adds an acknowledgement tries to commit at once"
    ),
    "multipaxos/core.py:prepared: "
    "return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared > 0 => "
    "return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared > -1": (
        "as the mutant to >= 0: with s.leader == self.name, the ballots compared are at least 1"
    ),
    "multipaxos/core.py:_heartbeat: "
    "if slot > s.commit and inst.status == ACCEPTING and inst.vbal == s.bal_prepared => "
    "if slot > s.commit and inst.status <= ACCEPTING and inst.vbal == s.bal_prepared": (
        "the other statuses, Committed, Empty and Preparing, all sort after Accepting: <= is == here"
    ),
    'multipaxos/core.py:_follow: was_leader = self.role == "leader" => was_leader = self.role is "leader"': (
        "role returns one of its string literals, and CPython interns a literal that reads as a name: the "
        '"leader" it returns is the "leader" compared with'
    ),
    "multipaxos/core.py:NodeConfig: @property => ": (
        "of NodeConfig's two properties only `protocol` can lose its decorator unseen (without `majority`'s, "
        "every count compares with a method and fails), and nothing reads a replica's NodeConfig.protocol: "
        "the simulator and the conformance driver read SimConfig.protocol"
    ),
    "multipaxos/core.py:prepared: "
    "return s.leader == self.name and s.bal_prepared == s.bal_max_known and s.bal_prepared > 0 => "
    "return s.leader == self.name and s.bal_prepared <= s.bal_max_known and s.bal_prepared > 0": (
        "bal_prepared is written as the ballot known at the time (or 0 when the replica stands), and a replica "
        "that learns a higher ballot names its owner leader: while it names itself, bal_prepared is 0 or equal"
    ),
    "multipaxos/core.py:_try_prepared: "
    "resume = inst.status == PREPARING or (inst.status == EMPTY and peak is not None) => "
    "resume = inst.status == PREPARING or (inst.status <= EMPTY and peak is not None)": (
        "statuses at or below Empty are Accepting, Committed and Empty; a candidate holds no Accepting or "
        "Committed slot past its commit index when it is prepared: standing resets its votes to Preparing, it "
        "refuses lower ballots, a higher one makes it a follower, and a catch-up commits every slot it fills"
    ),
    "multipaxos/core.py:_on_reject: "
    "if s.leader == self.name and m.bal == s.bal_max_known and m.promised > m.bal and self.config.restand: => "
    "if s.leader >= self.name and m.bal == s.bal_max_known and m.promised > m.bal and self.config.restand:": (
        "a Reject answers a Prepare or an Accept of its receiver, so m.bal is a ballot the receiver owns; with "
        "m.bal == s.bal_max_known the receiver has followed no one since it took that ballot: it names itself"
    ),
    "multipaxos/core.py:_on_reject: "
    "if s.leader == self.name and m.bal == s.bal_max_known and m.promised > m.bal and self.config.restand: => "
    "if s.leader == self.name and m.bal >= s.bal_max_known and m.promised > m.bal and self.config.restand:": (
        "a Reject names a ballot its receiver sent, never above the highest one it knows"
    ),
    # -- the key-value machine
    "multipaxos/kvstate.py:_is_number: "
    'return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) != float("inf") => '
    'return isinstance(x, int | float) and not isinstance(x, bool) and x <= x and abs(x) != float("inf")': (
        "for an int or a float, x <= x and x == x are both false for NaN only"
    ),
    'multipaxos/kvstate.py:request_problem: if op == "acquire" and i == 1: => if op == "acquire" and i >= 1:': (
        "acquire has two arguments (its arity was checked above): i is 0 or 1"
    ),
    "multipaxos/kvstate.py:duplicate: return True, last[1] if cmd.rid == last[0] else None => "
    "return True, last[1] if cmd.rid >= last[0] else None": (
        "the line runs only when cmd.rid <= last[0] (the method returned above otherwise): >= is == there"
    ),
    'multipaxos/kvstate.py:request_problem: if op == "acquire" and i == 1: => if op <= "acquire" and i == 1:': (
        "op is an operation of ARITY here, and each of the others sorts after acquire"
    ),
    'multipaxos/kvstate.py:read: return self.kv.get(args[0]) if op == "get" else None => *': (
        "read is called only under --bug stale-leader-read, a known-wrong variant, never by the implementation itself"
    ),
    "multipaxos/kvstate.py:_is_number: "
    'return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) != float("inf") => '
    'return isinstance(x, int | float) and not isinstance(x, bool) and x >= x and abs(x) != float("inf")': (
        "for an int or a float, x >= x and x == x are both false for NaN only"
    ),
    "multipaxos/kvstate.py:command_problem: "
    'return None if client == "" and rid == 0 and args == [] else "a noop has no client, id or arguments" => '
    'return None if client is "" and rid == 0 and args == [] else "a noop has no client, id or arguments"': (
        "CPython has one empty string: a str equals it exactly when it is it, and no other type equals it"
    ),
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) < STRING_LIMIT // 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) == STRING_LIMIT // 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) is STRING_LIMIT // 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) <= STRING_LIMIT // 5:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) <= STRING_LIMIT >> 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) <= STRING_LIMIT & 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) <= STRING_LIMIT % 4:": _STRICTER_SHORTCUT,
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) is str and len(x) <= STRING_LIMIT / 4:": (
        "STRING_LIMIT / 4 is 1024.0, and a length is at most 1024.0 exactly when it is at most 1024"
    ),
    "multipaxos/kvstate.py:_text_problem: if type(x) is str and len(x) <= STRING_LIMIT // 4: => "
    "if type(x) == str and len(x) <= STRING_LIMIT // 4:": ("a type equals str exactly when it is str"),
    "multipaxos/kvstate.py:request_problem: if type(op) is not str or op not in ARITY: => "
    "if type(op) != str or op not in ARITY:": ("a type differs from str exactly when it is not str"),
    "multipaxos/kvstate.py:request_problem: "
    "if not isinstance(args, list | tuple) or len(args) != ARITY[op]: => "
    "if not isinstance(args, list | tuple) or len(args) is not ARITY[op]:": (
        "both sides are small ints (an arity is 0 to 3), which CPython keeps one object each of"
    ),
    "multipaxos/kvstate.py:KVState: clock: float = 0.0  # the stamp of the last command applied => "
    "clock: float = -1.0  # the stamp of the last command applied": (
        "the clock is read only once a command is applied, which sets it to at least that command's stamp, "
        "never below 0; before that, a leader's first stamp is its own clock, which is not below 0 either"
    ),
    "multipaxos/kvstate.py:_is_number: "
    'return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) != float("inf") => '
    'return isinstance(x, int | float) and not isinstance(x, bool) and x == x and abs(x) < float("inf")': (
        "abs(x) of a number that is not NaN is at most inf: < inf and != inf agree"
    ),
}

# A first slot at or below commit + 1 adds only slots that _try_prepared skips (slot <= s.commit): every mutant of
# the + 1 that gives no more than that is equivalent.
_PREPARED = "slots = set().union(*(r.keys() for r in reports.values()), self._insts_from(s.commit {}).keys())"
_OWN = "self.promises[self.name] = self._insts_from(self.state.commit {})"
for _op in ("- 1", "* 1", "/ 1", "// 1", "% 1", "** 1", ">> 1", "| 1", "& 1", "^ 1", "+ 0"):
    for _where, _line in (("_try_prepared", _PREPARED), ("__init__", _OWN)):
        EQUIVALENT.setdefault(
            f"multipaxos/core.py:{_where}: {_line.format('+ 1')} => {_line.format(_op)}", _SKIPPED_BELOW_COMMIT
        )

EQUIVALENT[f"multipaxos/core.py:_try_prepared: {_PREPARED.format('+ 1')} => {_PREPARED.format('+ 2')}"] = (
    "slot commit + 1 is among the reports' keys already whenever it could be resumed: a slot is Preparing only "
    "since the candidate stood (its follow resets Accepting votes) or restarted standing, and its own promise, "
    "one of the reports, is its log from commit + 1 then (a commit index only grows); a slot it does not hold is "
    "not in its log's keys either way"
)

# The catch-up's guard fires for no range up to last + 1 (see the mutant to last | 1): every mutant of the + 1 that
# gives no more than that is equivalent.
_GUARD = "if any(slot not in s.insts for slot in range(first, last {})):"
for _op in ("- 1", "* 1", "// 1", "% 1", "** 1", ">> 1", "| 1", "& 1", "^ 1", "+ 0"):
    EQUIVALENT.setdefault(
        f"multipaxos/core.py:_send_catch_up: {_GUARD.format('+ 1')} => {_GUARD.format(_op)}",
        "the range checks the same slots or fewer, and the guard fires for none (see the mutant to last | 1)",
    )

# Mutants that are NOT equivalent but that no configuration conform checks can
# show, with the reason and what they would do. Counted as survivors.
EXPLAINED: dict[str, str] = {
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal is self.ballot:": (
        "the test runs only when m.bal == self.ballot, and every rejection has max_bal >= bal, so `<=` is `==` there "
        "(see the `==` mutant); CPython shares the int objects -5..256, so for every ballot a simulated run uses "
        "`is` is `==` too. Not equivalent: in a cluster with ballots above 256, a rejection decoded from the wire "
        "that names exactly the ballot being run (the refusal of a duplicated 1a) is a distinct object, and the "
        "mutant abandons that ballot for its next one where the original waits (liveness, not safety; the "
        "obligation check would say the proposer starts a ballot it should not)"
    ),
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None or m.bal is not self.ballot or m.max_bal <= self.ballot:": (
        "CPython shares the int objects -5..256, so `is not` equals `!=` for every ballot a simulated run uses; "
        "in a cluster with ballots above 256 the proposer would ignore a rejection and wait for its timeout "
        "(liveness, not safety)"
    ),
    "paxos/core.py:on_promise: "
    "if m.bal != self.ballot or self.proposed: => if m.bal is not self.ballot or self.proposed:": (
        "CPython shares the int objects -5..256, so `is not` equals `!=` for every ballot a simulated run uses; "
        "in a cluster with ballots above 256 the proposer would drop every promise and never propose"
    ),
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None or m.bal < self.ballot or m.max_bal <= self.ballot:": (
        "a rejection of a ballot above the one being run reaches a proposer only after it restarted lower (its "
        "earlier run of that ballot is forgotten); the mutant then jumps above the reported promise at once, the "
        "original when its own ballot is rejected: the same ballot, one message later"
    ),
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None or m.bal > self.ballot or m.max_bal <= self.ballot:": (
        "like the next one: the mutant also jumps on a stale rejection of an older ballot of this proposer"
    ),
    "paxos/core.py:on_rejected: "
    "if self.done or self.ballot is None or m.bal != self.ballot or m.max_bal <= self.ballot: "
    "=> if self.done or self.ballot is None and m.bal != self.ballot or m.max_bal <= self.ballot:": (
        "the mutant also jumps on a stale rejection (of an older ballot of this proposer) that reports a promise "
        "above its current ballot; the original jumps to the same ballot when the rejection of its current ballot "
        "arrives, one message later. Needs 4 ballots and a late delivery: the default 200 schedules miss it, "
        "1,000 find it on some seeds"
    ),
    "multipaxos/core.py:_try_prepared: "
    "resume = inst.status == PREPARING or (inst.status == EMPTY and peak is not None) => "
    "resume = inst.status <= PREPARING or (inst.status == EMPTY and peak is not None)": (
        "every status sorts at or below Preparing, so the mutant also fills with a noop a slot some promise "
        "names without a vote (a slot the promiser only learned by catch-up). Such a slot was chosen, so a "
        "majority voted for it, and the promises the candidate counts (none truncated past its commit index) "
        "include one of those votes: the slot has a peak and is resumed with it either way. Not proved here"
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, default="paxos", help="what to mutate and test (default paxos)")
    parser.add_argument("--module", action="append", help="a module to mutate (repeatable; default: the target's)")
    parser.add_argument("--session", default=None, help="cosmic-ray's session file (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one test run may take (default 120)")
    parser.add_argument("--report-only", action="store_true", help="print the figures of an existing --session")
    parser.add_argument("--retest-survivors", action="store_true", help="run the surviving mutants again first")
    parser.add_argument("--show", type=int, default=50, help="surviving mutants to show with their diff")
    parser.add_argument(
        "--changed-since", metavar="REV", help="a new session: run only the mutants of lines changed since git REV"
    )
    args = parser.parse_args()
    if args.changed_since is not None:
        if args.session and Path(args.session).exists():
            parser.error(f"--changed-since starts a new session, and {args.session} exists")
        try:
            git("rev-parse", "--verify", "--quiet", f"{args.changed_since}^{{commit}}")
        except subprocess.CalledProcessError:
            parser.error(f"--changed-since {args.changed_since}: not a git revision")
    target = TARGETS[args.target]
    if args.module:
        target = Target(tuple(args.module), target.tests)
    with tempfile.TemporaryDirectory(prefix="paxoscope-mutants-") as tmp:
        session = Path(args.session or Path(tmp) / "session.sqlite").resolve()
        if not args.report_only:
            try:
                with restored(target.modules):
                    if args.retest_survivors:
                        retest_survivors(session, target, args.timeout)
                    run(target, session, args.timeout, Path(tmp), args.changed_since)
            except KeyboardInterrupt:
                interrupted(args.session)
            except subprocess.CalledProcessError as exc:
                if exc.returncode != 130:  # 130: cosmic-ray stopped by SIGINT
                    raise
                interrupted(args.session)
        if not session.exists():
            sys.exit(f"mutants.py: {session}: no such session")
        return report(session, target, args.show)


def interrupted(session: str | None) -> None:
    resume = "run again with the same --session to resume" if session else "give --session FILE to keep results"
    print(f"mutants.py: interrupted; the figures below are of the mutants run so far ({resume})", file=sys.stderr)


@contextlib.contextmanager
def restored(modules: tuple[str, ...]) -> Iterator[None]:
    """Refuses modules with uncommitted changes (they are mutated in place), and puts them back from git after."""
    if git("status", "--porcelain", "--", *modules).strip():
        sys.exit(f"mutants.py: {', '.join(modules)} has uncommitted changes; commit them first (they are mutated)")
    try:
        yield
    finally:
        if git("diff", "--name-only", "--", *modules).strip():
            git("checkout", "--", *modules)
            print(f"mutants.py: restored {', '.join(modules)} from git after an interrupted run", file=sys.stderr)


def run(target: Target, session: Path, timeout: float, tmp: Path, changed_since: str | None = None) -> None:
    config = tmp / "cosmic-ray.toml"
    # TOML's basic strings and arrays of them read as JSON does
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(list(target.modules))}\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(target.command())}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
        + (f"[cosmic-ray.filters.git-filter]\nbranch = {json.dumps(changed_since)}\n" if changed_since else "")
    )
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    cosmic_filter = [sys.executable, "-m", "cosmic_ray.tools.filters.git"]
    if not session.exists():
        subprocess.run([*cosmic, "init", str(config), str(session)], cwd=ROOT, check=True)
        if changed_since is not None:  # cosmic-ray's git filter: mutants of lines unchanged since it are skipped
            subprocess.run([*cosmic_filter, str(session), "--config", str(config)], cwd=ROOT, check=True)
    subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=ROOT, check=True)


def retest_survivors(session: Path, target: Target, timeout: float) -> None:
    """Run each surviving mutant not known to be equivalent again under the
    current tests, and keep its new result: after a check was strengthened."""
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            diff = result.diff or ""
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if not result.is_killed and not equivalent(describe(item, diff), item, diff):
                db.set_result(item.job_id, mutate_and_test(item.mutations, target.command(), timeout))


def report(session: Path, target: Target, show: int) -> int:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    counts: Counter[str] = Counter()
    survivors: list[tuple[str, str, str]] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        for item, result in db.completed_work_items:
            key, diff = describe(item, result.diff or ""), result.diff or ""
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                counts["skipped"] += 1
            elif result.is_killed:
                counts["killed"] += 1
            elif equivalent(key, item, diff):
                counts["equivalent"] += 1
            else:
                counts["survived"] += 1
                counts["explained"] += key in EXPLAINED
                survivors.append((key, diff, EXPLAINED.get(key, "")))
    run_ = counts["killed"] + counts["survived"] + counts["equivalent"]
    print(
        f"mutants: {total} generated"
        + (f" ({counts['skipped']} on lines unchanged since --changed-since, skipped)" if counts["skipped"] else "")
        + f", {run_} run; killed {counts['killed']}, survived {counts['survived']} "
        f"({counts['explained']} explained, not equivalent), equivalent {counts['equivalent']} "
        f"(test: {target.shown()})"
    )
    for key, diff, why in survivors[:show]:
        print(f"\nSURVIVED {key}" + (f"\n  explained: {why}" if why else "") + f"\n{diff.rstrip()}")
    return 0


def describe(item, diff: str) -> str:
    """A mutant named by what it changes: "module:function: original => mutated"."""
    spec = item.mutations[0] if item.mutations else None
    name = spec.definition_name if spec else None
    if name is None:  # a decorator: named by the class or function it decorates, the next one in the diff
        changed = diff.find("+++")
        after = diff[min(i for i in (diff.find("\n+", changed), diff.find("\n-", changed), len(diff)) if i >= 0) :]
        found = re.search(r"^[ +-]\s*(?:class|def) (\w+)", after, flags=re.M)
        name = found.group(1) if found else None
    where = f"{Path(spec.module_path).parent.name}/{Path(spec.module_path).name}:{name}" if spec else "?"
    rows = [line for line in diff.splitlines() if line[1:].strip() and not line.startswith(("---", "+++"))]
    removed = [line[1:].strip() for line in rows if line.startswith("-")]
    added = [line[1:].strip() for line in rows if line.startswith("+")]
    return f"{where}: {' / '.join(removed)} => {' / '.join(added)}"


def equivalent(key: str, item, diff: str) -> bool:
    line_key = key.split(" => ")[0] + " => *"
    return key in EQUIVALENT or line_key in EQUIVALENT or annotation_only(item, diff)


def annotation_only(item, diff: str) -> bool:
    """Whether the mutant changes nothing but type annotations: the modules
    mutated say ``from __future__ import annotations``, so an annotation is a
    string that is never evaluated, and such a mutant is equivalent."""
    if not item.mutations:
        return False
    # as committed: while a run is going on, the file on disk may be a mutant
    original = git("show", f"HEAD:{Path(item.mutations[0].module_path).as_posix()}")
    if "from __future__ import annotations" not in original:
        return False
    try:
        mutated = ast.parse(patched(original, diff))
    except (SyntaxError, ValueError):  # a mutant that does not parse, or a diff that does not apply: not judged
        return False
    return ast.dump(_without_annotations(ast.parse(original))) == ast.dump(_without_annotations(mutated))


def patched(text: str, diff: str) -> str:
    """``text`` with the unified ``diff`` applied (hunks as cosmic-ray writes them)."""
    lines = text.splitlines()
    hunks = re.split(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@.*$", diff, flags=re.M)[1:]
    for start, body in reversed(list(zip(hunks[::2], hunks[1::2], strict=True))):
        rows = [r or " " for r in body.strip("\n").splitlines()]  # an empty context line may lose its space
        while rows and rows[-1] == " " and len(lines) < int(start) - 1 + sum(r[:1] in " -" for r in rows):
            rows.pop()  # a blank context line past the end of the file
        old = [r[1:] for r in rows if r[:1] in (" ", "-")]
        new = [r[1:] for r in rows if r[:1] in (" ", "+")]
        at = int(start) - 1
        if lines[at : at + len(old)] != old:
            raise ValueError("the diff does not apply")
        lines[at : at + len(old)] = new
    return "\n".join(lines) + "\n"


def _without_annotations(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return tree


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    sys.exit(main())

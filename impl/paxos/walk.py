"""Directed runs of the Paxos implementation: the restart ladders, and the
hooks of the coverage walk (``impl.conformance.coverage``) that drive the
simulator along a spec transition (``realise``) and through the handlers no
spec transition needs (``drive_other_handlers``).
"""

from __future__ import annotations

from ...spec.base import Action
from ...spec.paxos import Msg1b, Paxos, PaxosState
from ..conformance import fork
from ..sim import Crash, Deliver, Fire, Op, Request, Restart, Simulator
from .config import SimConfig
from .messages import Accept, Accepted, Prepare, Promise, Rejected


def restart_ladders(config: SimConfig) -> list[list[Op]]:
    """One directed schedule per proposer that is also an acceptor: every
    restart of it from each promise its store can hold.

    A proposer starts above its own acceptor's promise (the floor), and after
    a reboot that stored promise is all it knows. Random schedules seldom get
    a proposer's acceptor to promise a high ballot and then reboot and ask that
    node again, so the ballot arithmetic for high floors would go unchecked.
    The ladder of acceptor ``a`` climbs the schedule's ballots in order: the
    owner of each ballot starts it (asked, then its timer fired until it
    reaches it), ``a`` alone receives its 1a and promises it, then ``a``
    reboots, is asked to propose, and its timer fires. The obligations
    (``abstraction.Obligations``) check each ballot ``a`` starts is the least
    it owns above what it knows."""
    if not config.proposers:
        return []  # dedicated proposers: no node has a promise to start above
    return [_ladder(config, name) for name in config.proposer_names]


def _ladder(config: SimConfig, name: str) -> list[Op]:
    """The restart ladder of proposer ``name`` (see ``restart_ladders``), as
    the operations a simulator took to drive it: a schedule that replays."""
    sim, ops = Simulator(config), []

    def do(*steps: Op) -> None:
        for op in steps:
            sim.step(op)
            ops.append(op)

    node = config.node_names.index(name)
    for b in range(config.ballots):
        owner = config.proposer_names[b % len(config.proposer_names)]
        _start_ballot(sim, do, owner, b)
        at = next((i for i, (_s, dst, m) in enumerate(sim.flight) if dst == name and m == Prepare(b)), None)
        if at is None:
            continue  # the owner did not start b; the checks already said why if it should have
        do(Deliver(at), Crash(node), Restart(node), Request(config.proposer_names.index(name), 0), Fire(node))
    return ops


def _start_ballot(sim: Simulator, do, owner: str, b: int) -> None:
    """Get ``owner`` to run ballot ``b``: rebooted if it is past it, asked if
    it runs none, and its timer fired until it reaches it."""
    node, proposer = sim.config.node_names.index(owner), sim.config.proposer_names.index(owner)

    def running() -> int:
        ballot = sim.nodes[owner].proposer.ballot
        return -1 if ballot is None else ballot

    if running() > b:
        do(Crash(node), Restart(node))
    if sim.nodes[owner].proposer.ballot is None:
        do(Request(proposer, 0))
    for _ in range(sim.config.ballots):
        if running() >= b:
            return
        do(Fire(node))


def drive_other_handlers(sim: Simulator, restarted: set) -> int:
    """Drive, on clones of ``sim``, the handlers no spec transition needs
    (each run checked by the clone's checker); the number of handler runs.

    ``restarted`` holds the (acceptor, stored state) pairs already restarted
    from: a restart depends on nothing else, so each is driven once."""
    acceptors, proposers = sim.config.acceptor_names, sim.config.proposer_names
    runs = 0
    # each acceptor receives one 1a or 2a it refuses, and each proposer its rejections; every proposer's timer
    # fires. Once as they are, and once after the learners received every vote in flight (a1, which proposes
    # nothing, and the proposers, which stop once they learn a decision).
    for learners in ((), (acceptors[0], *proposers)):
        twin = fork(sim)
        twin.deliver_all(lambda dst, m, to=learners: dst in to and isinstance(m, Accepted))
        for a in acceptors:
            twin.deliver_to(a, lambda m, a=a, twin=twin: _refused(twin, a, m))
        twin.deliver_all(lambda dst, m: isinstance(m, Rejected))
        for name in proposers:
            twin.step(Fire(twin.names.index(name)))
        twin.deliver_all(lambda dst, m: isinstance(m, Rejected))
        runs += twin.observer.runs - sim.observer.runs
    # every proposer restarts and is asked again; every acceptor restarts from a stored state not restarted from yet
    twin = fork(sim)
    for i, name in enumerate(twin.names):
        if name in proposers or (name, sim.disk[name]) not in restarted:
            restarted.add((name, sim.disk.get(name)))
            twin.step(Crash(i))
            twin.step(Restart(i))
    for i in range(len(proposers)):
        twin.step(Request(i, i))
    return runs + twin.observer.runs - sim.observer.runs


def _refused(sim: Simulator, dst: str, m) -> bool:
    """Whether acceptor ``dst`` refuses ``m`` (a 1a or 2a below its promise): a stutter for the spec."""
    state = sim.disk.get(dst)
    if state is None:
        return False
    return (isinstance(m, Prepare) and m.bal <= state.max_bal) or (isinstance(m, Accept) and m.bal < state.max_bal)


def realise(spec: Paxos, sim: Simulator, s: PaxosState, act: Action) -> bool:
    """Make the implementation take spec step ``act`` from ``s`` (mapped from ``sim``)."""
    p = dict(act.params)
    if act.name == "Phase1a":
        sim.step(Request(p["b"], 0))  # the proposer of ballot b starts it
        return True
    if act.name == "Phase1b":
        return sim.deliver_to(p["a"], lambda m: isinstance(m, Prepare) and m.bal == p["b"])
    if act.name == "Phase2b":
        return sim.deliver_to(p["a"], lambda m: isinstance(m, Accept) and m.bal == p["b"] and m.val == p["v"])
    if act.name == "Phase2a":
        b, v = p["b"], p["v"]
        owner = sim.config.proposer_names[b]
        reports = [m for m in spec.messages(s) if isinstance(m, Msg1b) and m.bal == b]
        for q in sorted(spec.k.quorums, key=len):
            answered = [m for m in reports if m.acc in q]
            if len(answered) == len(q) and v in spec.safe_values(answered):
                if all(m.mbal < 0 for m in answered):  # v is free: it must be what the client asked
                    sim.step(Request(b, sim.config.value_names.index(v)))
                return all(
                    sim.deliver_to(owner, lambda m, a=a: isinstance(m, Promise) and m.bal == b and m.acc == a)
                    for a in sorted(q)
                )
        return False
    return False

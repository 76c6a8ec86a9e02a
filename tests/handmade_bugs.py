"""Realistic bugs made by hand in the protocol core, each as a patch that a
test applies with monkeypatch: the default ``paxoscope conform`` must catch
every one. (Not a test module: the tests import it.)"""

from __future__ import annotations

from paxoscope.impl.paxos import core
from paxoscope.impl.paxos.core import AcceptorState, Effects, Promise


def first_reported_vote(self, reports):
    votes = [r for r in reports if r.mbal >= 0]
    return votes[0].mval if votes else self.value


def learner_across_ballots(self, m):
    voters = self.votes.setdefault((-1, m.val), set())  # every ballot counted together
    voters.add(m.acc)
    if self.decided is None and any(q <= voters for q in self.config.quorums):
        self.decided = m.val
        return Effects(decide=m.val)
    return Effects()


def retry_same_ballot(self, floor):
    if self.done or self.value is None:
        return Effects()
    if self.ballot is None:
        return self._start(self._first_ballot(floor))
    return self._start(self.ballot)


_acceptor_init = core.Acceptor.__init__


def restart_forgets_promise(self, config, state):
    _acceptor_init(self, config, AcceptorState(state.max_vbal, state.max_vbal, state.max_val))


_on_prepare = core.Acceptor.on_prepare


def repromise_without_vote(self, src, m):
    s = self.state
    if m.bal == s.max_bal and s.max_vbal < m.bal:
        return Effects(send=[(src, Promise(self.config.name, m.bal, -1, None))])
    return _on_prepare(self, src, m)


def first_ballot_shift(self, floor):
    # `>>` typed for `-`: the same ballots for floors up to 2; above, a rebooted proposer whose own acceptor
    # promised one of its ballots starts that ballot again
    mine, step = self.index or 0, len(self.config.proposers)
    if floor < mine:
        return mine
    return mine + ((floor >> mine) // step + 1) * step


# name -> (class, method, replacement)
HANDMADE = {
    "first-reported-vote": (core.Proposer, "_safe_value", first_reported_vote),
    "learner-across-ballots": (core.Learner, "on_accepted", learner_across_ballots),
    "retry-same-ballot": (core.Proposer, "on_timeout", retry_same_ballot),
    "restart-forgets-promise": (core.Acceptor, "__init__", restart_forgets_promise),
    "repromise-without-vote": (core.Acceptor, "on_prepare", repromise_without_vote),
    "first-ballot-shift": (core.Proposer, "_first_ballot", first_ballot_shift),
}

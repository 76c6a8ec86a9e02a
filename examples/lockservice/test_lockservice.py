"""The lock service's safety gate: run ``pytest`` here; paxoscope's plugin does the rest.

Every test uses only the ``paxoscope`` fixture, which the plugin provides as
soon as paxoscope is installed. A failing check fails the test with the
counterexample as a trace table.
"""

from lockspec import LockService


def test_two_clients_never_share_the_lock(paxoscope):
    result = paxoscope.check(LockService(clients=2, lease=2, max_time=5))
    assert "MutualExclusion" in result.properties


def test_three_clients_longer_leases(paxoscope):
    paxoscope.check(LockService(clients=3, lease=3, max_time=8))


def test_the_paxos_underneath_is_proven(paxoscope):
    # The lock service's state lives in a Paxos-replicated cell, as Chubby's does.
    paxoscope.prove("paxos")


def test_the_paxos_implementation_conforms(paxoscope):
    paxoscope.conform(acceptors=3, values=2, ballots=2, examples=50, seed=0)

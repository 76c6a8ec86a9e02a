"""Paxos's configurations: of a simulated system, and of a node in a local cluster.

Simulated nodes, two layouts (every node is also a learner):

- ``proposers=0``: acceptors a1..aN and one proposer p{b+1} per ballot b.
  Every spec state is reachable (any ballot can be started first), which the
  coverage walk needs;
- ``proposers=P``: acceptors a1..aN, the first P of which also propose, as
  in a cluster where every node plays every role. Proposer i owns ballots
  i, i+P, ...: a timeout or a rejection moves it to another ballot, and its
  own acceptor's promise is the floor it starts above.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from ...spec.constants import majority_quorums
from ..clusterfile import ClusterDescription
from .core import AcceptorState, Node, NodeConfig


@dataclass(frozen=True)
class SimConfig:
    acceptors: int = 3
    values: int = 2
    ballots: int = 2
    bugs: frozenset[str] = frozenset()
    proposers: int = 0  # 0: one dedicated proposer per ballot; P: the first P acceptors propose

    @cached_property
    def acceptor_names(self) -> tuple[str, ...]:
        return tuple(f"a{i + 1}" for i in range(self.acceptors))

    @cached_property
    def proposer_names(self) -> tuple[str, ...]:
        if self.proposers:
            return self.acceptor_names[: self.proposers]
        return tuple(f"p{b + 1}" for b in range(self.ballots))

    @cached_property
    def node_names(self) -> tuple[str, ...]:
        return self.acceptor_names + tuple(p for p in self.proposer_names if p not in self.acceptor_names)

    @cached_property
    def value_names(self) -> tuple[str, ...]:
        return tuple(f"v{i + 1}" for i in range(self.values))

    # -- what the simulator reads (impl.protocol.SimSetup) --

    client_role = "proposer"

    @property
    def protocol(self) -> Any:
        from . import PROTOCOL

        return PROTOCOL

    @property
    def client_names(self) -> tuple[str, ...]:
        return self.proposer_names

    @property
    def timer_names(self) -> tuple[str, ...]:
        return self.proposer_names

    @property
    def request_values(self) -> tuple[str, ...]:
        return self.value_names

    @cached_property
    def _node_configs(self) -> dict[str, NodeConfig]:
        acc, names = self.acceptor_names, self.node_names
        config = NodeConfig("", acc, self.proposer_names, names, majority_quorums(acc), self.ballots, self.bugs)
        return {name: replace(config, name=name) for name in names}

    def node_config(self, name: str) -> NodeConfig:
        return self._node_configs[name]

    def new_node(self, name: str, stored: AcceptorState | None) -> Node:
        return Node(self._node_configs[name], stored)

    def initial_store(self, name: str) -> AcceptorState | None:
        return AcceptorState() if name in self.acceptor_names else None


def cluster_config(cluster: ClusterDescription, name: str) -> NodeConfig:
    """Node ``name``'s configuration in a local cluster: every node is acceptor,
    proposer and learner; majority quorums; unbounded ballots.

    A learner (a node that lost its store) is different in two ways only.
    It is no acceptor, so it never promises or votes; its peers still
    count it in the quorums, which stay the majorities of every node: it
    is to them an acceptor that never answers, which Paxos tolerates as it
    tolerates a crash, and every quorum still meets every earlier one in
    an acceptor that remembers. And it does not propose: a proposer that
    forgot its ballots could run one of them again with another value.
    Ballot ownership is left as it was (the learner stays in everyone
    else's list of proposers), so no ballot changes hands."""
    me = cluster.node(name)
    names = tuple(n.name for n in cluster.nodes)
    proposers = names if me.is_acceptor else tuple(n for n in names if n != name)
    return NodeConfig(
        name=name,
        acceptors=tuple(n.name for n in cluster.nodes if n.is_acceptor),
        proposers=proposers,
        learners=names,
        quorums=smallest_majorities(names),
        ballots=None,
        bugs=cluster.bugs,
    )


def smallest_majorities(names: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """The smallest majorities: a larger set contains one, and the core checks containment,
    so a cluster of 15 nodes checks 6,435 sets rather than every one of 16,384 majorities."""
    size = len(names) // 2 + 1
    return tuple(frozenset(q) for q in itertools.combinations(names, size))

"""The state graph of a small configuration, as a networkx DiGraph.

The explorer runs as usual with an observer that notes every state and step
it meets; the graph is built from those notes, so there is one search, not
two. Written as GraphML (networkx) or Graphviz DOT.
"""

from __future__ import annotations

from typing import Any

from ..spec.base import Action, Spec, State
from ..spec.constants import ConfigError
from .bfs import Observer, as_spec
from .liveness import check  # the liveness properties selected are checked on the same search
from .render import show


class GraphTooLarge(ConfigError):
    pass


class _Recorder(Observer):
    """Numbers every state the search meets and notes every step between them."""

    def __init__(self, limit: int):
        self._limit = limit
        self.ids: dict[Any, int] = {}
        self.states: list[Any] = []
        self.edges: set[tuple[int, int, str]] = set()

    def _id(self, s: State) -> int:
        found = self.ids.get(s)
        if found is None:
            if len(self.states) >= self._limit:
                raise GraphTooLarge(
                    f"the state graph has more than {self._limit} states; --graph is for small "
                    "configurations (try --ballots 1 or --ballots 2)"
                )
            found = self.ids[s] = len(self.states)
            self.states.append(s)
        return found

    def on_state(self, state: State) -> None:
        self._id(state)

    def on_step(self, state: State, act: Action, successor: State) -> None:
        self.edges.add((self._id(state), self._id(successor), str(act)))


def state_graph(spec: Spec, limit: int = 5000, **check_options):
    """(DiGraph, Result): every reachable state as a node, every step as an edge."""
    import networkx as nx

    spec = as_spec(spec)  # a plain class has no name or variables() of its own
    recorder = _Recorder(limit)
    observers = (*check_options.pop("observers", ()), recorder)
    result = check(spec, observers=observers, **check_options)
    initial = {recorder.ids[s] for s in spec.init() if s in recorder.ids}
    graph = nx.DiGraph(spec=spec.name)
    for i, s in enumerate(recorder.states):
        variables = spec.variables(s)
        label = "\n".join(f"{k} = {show(v)}" for k, v in variables.items())
        graph.add_node(i, label=label, initial=i in initial)
    for i, j, a in sorted(recorder.edges):
        if graph.has_edge(i, j):
            graph.edges[i, j]["label"] += "\n" + a
        else:
            graph.add_edge(i, j, label=a)
    return graph, result


def write_graph(graph, path: str) -> None:
    import networkx as nx

    if path.endswith(".graphml"):
        nx.write_graphml(graph, path)
    elif path.endswith((".dot", ".gv")):
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_dot(graph))
    else:
        raise ConfigError(f"--graph writes .graphml or .dot files, not {path!r}")


def to_dot(graph) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + '\\l"'

    lines = [f'digraph {q(graph.graph.get("spec", "spec"))[:-3]}" {{', '  node [shape=box, fontname="monospace"];']
    for n, data in graph.nodes(data=True):
        extra = ", peripheries=2" if data.get("initial") else ""
        lines.append(f"  {n} [label={q(data['label'])}{extra}];")
    for i, j, data in graph.edges(data=True):
        lines.append(f"  {i} -> {j} [label={q(data['label'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"

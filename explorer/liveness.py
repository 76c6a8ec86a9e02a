"""Liveness under fairness: "eventually", "leads to" and "always eventually",
each refuted by a lasso (a path from an initial state, then a cycle forever).

The reachable state graph is recorded during the usual breadth-first search
(one search: safety properties are checked on the way), with every step's
action. Behaviours are TLA+'s: a state may be repeated forever (stuttering),
so every state also has a stutter loop, and the fairness a spec declares
(``Spec.fairness``) is what rules out behaviours that stop or neglect an action.

The check is the standard one for fairness on a finite graph (Lichtenstein
and Pnueli, "Checking that finite state concurrent programs satisfy their
linear specification", POPL 1985; Emerson and Lei, "Modalities for model
checking", 1987; TLC's liveness checker works on the same principle): a
property fails iff the part of the graph where its goal never holds,
reached from a state that triggers it, has a strongly connected component
containing a fair cycle. For a component C and a fairness constraint A:

- A taken on an edge inside C: a cycle through all of C takes it;
- weak fairness, A enabled in every state of C and never taken inside C:
  every cycle in C neglects A, so C has no fair cycle;
- strong fairness, A enabled somewhere in C and never taken inside C: a
  fair cycle must avoid the states where A is enabled; those states are
  removed and what is left is split into components again, recursively.

A component that passes holds a fair cycle, which is built through it from
shortest paths: for each constraint enabled in it, an edge that takes it or,
for weak fairness, a state where it is disabled. The prefix is a shortest
path to it.
Strongly connected components come from networkx.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from itertools import count
from typing import Any

from ..spec.base import Action, Fairness, Liveness, Spec, State
from ..spec.constants import ConfigError
from . import bfs
from .bfs import CheckOptions, Observer, Result, SpecError, Violation, as_spec
from .trace import Step, Trace

Instance = tuple[int, tuple]  # (position of the constraint in spec.fairness, values of its ``each`` parameters)


def check(
    spec: Spec, properties: Iterable[str] | CheckOptions | None = None, options: CheckOptions | None = None, **keywords
) -> Result:
    """``bfs.check``, and the liveness properties among those selected (named,
    else the spec's defaults) checked on the state graph under the spec's fairness."""
    options = bfs.merged_options(properties, options, keywords)
    spec = as_spec(spec)
    names = selected(spec, options.properties)
    if not names:
        return bfs.check(spec, options)
    if options.symmetry:
        raise ConfigError("liveness is checked without --symmetry: fairness tells processes and messages apart")
    safety = None if options.properties is None else tuple(n for n in options.properties if n not in names)
    recorder = _Recorder()
    result = bfs.check(spec, replace(options, properties=safety, observers=(*options.observers, recorder)))
    result.properties = [*result.properties, *names]
    result.fairness = [str(f) for f in spec.fairness]
    if result.verdict != "ok":
        return result  # a safety violation first; an incomplete graph proves nothing about cycles
    started = time.perf_counter()
    graph = StateGraph(spec, recorder)
    for name in names:
        violation = graph.lasso(name, spec.liveness[name])
        if violation is not None:
            result.verdict, result.violation = "violation", violation
            break
    result.seconds += time.perf_counter() - started
    return result


def selected(spec: Spec, names: Iterable[str] | None) -> list[str]:
    """The liveness properties to check: those named, else those among the spec's defaults (all: None)."""
    live = spec.liveness
    if not isinstance(live, Mapping) or not all(isinstance(p, Liveness) for p in live.values()):
        what = "eventually(), leads_to() or always_eventually()"
        raise SpecError(f"spec {spec.name!r}: liveness must map names to {what}")
    if names is None:
        default = spec.default_properties
        names = live if default is None else default
    bad = [f for f in spec.fairness if not isinstance(f, Fairness)] if live else []
    if bad:
        raise SpecError(f"spec {spec.name!r}: fairness must list weak() or strong() constraints, not {bad[0]!r}")
    return [n for n in dict.fromkeys(names) if n in live]


class _Recorder(Observer):
    """Numbers every state the search meets and keeps every step that changes the state."""

    def __init__(self) -> None:
        self.ids: dict[State, int] = {}
        self.states: list[State] = []
        self.succ: list[list[tuple[Action, int]]] = []

    def _id(self, s: State) -> int:
        found = self.ids.get(s)
        if found is None:
            found = self.ids[s] = len(self.states)
            self.states.append(s)
            self.succ.append([])
        return found

    def on_state(self, state: State) -> None:
        self._id(state)

    def on_step(self, state: State, act: Action, successor: State) -> None:
        # A step that changes nothing is a stutter: it neither enables nor takes
        # an action (TLA+'s <<A>>_vars), and every state has one anyway.
        if successor != state:
            self.succ[self._id(state)].append((act, self._id(successor)))


class StateGraph:
    """The recorded graph, with the fairness constraints each state enables."""

    def __init__(self, spec: Spec, recorder: _Recorder):
        import networkx as nx

        self.spec = spec
        self.states, self.succ = recorder.states, recorder.succ
        self.fairness = spec.fairness
        self._instances: dict[Action, frozenset[Instance]] = {}
        self.enabled = [frozenset().union(*(self.instances(a) for a, _ in out)) for out in self.succ]
        # A state the constraint cut off was never expanded: no lasso may pass it.
        constraint = spec.constraint
        self.expanded = [constraint is None or bool(constraint(s)) for s in self.states]
        self.initial = [recorder.ids[s] for s in dict.fromkeys(spec.init())]
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(range(len(self.states)))
        self.graph.add_edges_from((i, j) for i, out in enumerate(self.succ) for _, j in out)
        self.prefix_parent, self.depth = self._breadth_first()

    def instances(self, act: Action) -> frozenset[Instance]:
        found = self._instances.get(act)
        if found is None:
            pairs = ((k, f.instance(act)) for k, f in enumerate(self.fairness))
            found = self._instances[act] = frozenset((k, v) for k, v in pairs if v is not None)
        return found

    def _breadth_first(self) -> tuple[dict[int, tuple[int, Action] | None], dict[int, int]]:
        """Each state's step on a shortest path from an initial state, and that path's length."""
        parent: dict[int, tuple[int, Action] | None] = dict.fromkeys(self.initial)
        depth = dict.fromkeys(self.initial, 0)
        queue = deque(self.initial)
        while queue:
            u = queue.popleft()
            for act, v in self.succ[u]:
                if v not in parent:
                    parent[v], depth[v] = (u, act), depth[u] + 1
                    queue.append(v)
        return parent, depth

    # -- the search for a fair cycle --------------------------------------

    def lasso(self, name: str, prop: Liveness) -> Violation | None:
        """A fair behaviour on which ``prop`` fails, as a lasso; None if there is none."""
        goal, trigger = prop.goal, prop.trigger
        bad = [self.expanded[i] and not goal(s) for i, s in enumerate(self.states)]
        if prop.kind == "eventually":
            sources = [i for i in self.initial if bad[i]]
        else:
            sources = [i for i, s in enumerate(self.states) if bad[i] and trigger(s)]
        distance, parent = self._avoiding(sources, bad)
        best = min(self.fair_components(distance), key=lambda c: min(distance[i] for i in c), default=None)
        if best is None:
            return None
        entry = min(best, key=lambda i: (distance[i], i))
        prefix = self._path_to(entry, parent)
        cycle = self._fair_cycle(entry, best)
        steps = [Step(None, self.states[prefix[0][1]]), *(Step(a, self.states[i]) for a, i in prefix[1:])]
        loop = len(steps) - 1
        steps += [Step(a, self.states[i]) for a, i in cycle]
        return Violation(name, "liveness", Trace(self.spec, steps), self._detail(name, prop, cycle), loop)

    def _avoiding(self, sources: list[int], bad: list[bool]) -> tuple[dict[int, int], dict[int, Any]]:
        """Shortest distances from an initial state to the states reached from a
        source through bad states only (a source counts the path to it)."""
        distance: dict[int, int] = {}
        parent: dict[int, Any] = {}
        order = count()  # ties go to the first pushed, never to comparing actions
        heap = [(self.depth[s], s, next(order), None) for s in sources]
        heapq.heapify(heap)
        while heap:
            d, u, _, via = heapq.heappop(heap)
            if u in distance:
                continue
            distance[u], parent[u] = d, via
            for act, v in self.succ[u]:
                if bad[v] and v not in distance:
                    heapq.heappush(heap, (d + 1, v, next(order), (u, act)))
        return distance, parent

    def fair_components(self, region: Iterable[int]) -> Iterator[set[int]]:
        """The strongly connected parts of ``region`` that hold a fair cycle (see the module doc)."""
        import networkx as nx

        pending = [set(c) for c in nx.strongly_connected_components(self.graph.subgraph(region))]
        while pending:
            component = pending.pop()
            taken = self._taken(component)
            somewhere = frozenset().union(*(self.enabled[i] for i in component))
            everywhere = frozenset.intersection(*(self.enabled[i] for i in component))
            if any(not self._strong(c) and c not in taken for c in everywhere):
                continue  # a weakly fair action enabled throughout and never taken: no fair cycle here
            neglected = {c for c in somewhere if self._strong(c) and c not in taken}
            if not neglected:
                yield component
                continue
            keep = [i for i in component if not self.enabled[i] & neglected]
            pending += [set(c) for c in nx.strongly_connected_components(self.graph.subgraph(keep))]

    def _strong(self, instance: Instance) -> bool:
        return self.fairness[instance[0]].strong

    def _taken(self, component: set[int]) -> frozenset[Instance]:
        inside = (self.instances(a) for i in component for a, j in self.succ[i] if j in component)
        return frozenset().union(*inside)

    # -- the lasso ----------------------------------------------------------

    def _path_to(self, entry: int, parent: dict[int, Any]) -> list[tuple[Action | None, int]]:
        """(action, state) steps from an initial state to ``entry``: along the
        avoiding search back to its source, then breadth-first to an initial state."""
        path = []
        i, links = entry, parent
        while True:
            via = links[i]
            if via is None and links is parent:
                links = self.prefix_parent
                via = links[i]
            if via is None:
                break
            path.append((via[1], i))
            i = via[0]
        path.append((None, i))
        return path[::-1]

    def _fair_cycle(self, entry: int, component: set[int]) -> list[tuple[Action | None, int]]:
        """Steps from ``entry`` back to it inside ``component`` that satisfy every
        constraint enabled there: a strongly fair one by taking it, a weakly fair
        one by taking it or by passing a state where it is disabled. A stutter
        when nothing is enabled at ``entry`` (the run stops there)."""
        somewhere = frozenset().union(*(self.enabled[i] for i in component))
        need_edge = {c for c in somewhere if self._strong(c)}  # each is taken inside (fair_components)
        need_any = {c for c in somewhere if not self._strong(c)} & self.enabled[entry]
        cycle: list[tuple[Action | None, int]] = []
        here = entry
        while need_edge or need_any:
            for act, i in self._walk(here, component, need_edge | need_any, need_any):
                cycle.append((act, i))
                need_edge -= self.instances(act)
                need_any -= self.instances(act)
                need_any -= need_any - self.enabled[i]
                here = i
        if not cycle:
            return [(None, entry)]
        if here != entry:
            cycle += self._walk(here, component, set(), set(), entry)
        return cycle

    def _walk(self, start: int, component: set[int], need_edge, need_off, goal: int | None = None):
        """A shortest path inside ``component`` from ``start`` to the nearest
        state ``goal``, state where a constraint of ``need_off`` is disabled, or
        edge that takes one of ``need_edge`` (that edge included)."""
        parent: dict[int, Any] = {start: None}
        queue = deque([start])
        while queue:
            u = queue.popleft()
            if u != start and (u == goal or need_off - self.enabled[u]):
                return self._unwind(u, parent)
            for act, v in self.succ[u]:
                if v not in component:
                    continue
                if self.instances(act) & need_edge:
                    return [*self._unwind(u, parent), (act, v)]
                if v not in parent:
                    parent[v] = (u, act)
                    queue.append(v)
        raise AssertionError("a fair component is strongly connected: every requirement is reachable in it")

    @staticmethod
    def _unwind(u: int, parent: dict[int, Any]) -> list[tuple[Action, int]]:
        path = []
        while parent[u] is not None:
            path.append((parent[u][1], u))
            u = parent[u][0]
        return path[::-1]

    def _detail(self, name: str, prop: Liveness, cycle: list[tuple[Action | None, int]]) -> str:
        if cycle[-1][0] is None and len(cycle) == 1:
            return (
                f"the run stops here and {name} never holds: no action the fairness requires is enabled, "
                "so stopping forever is a fair behaviour"
            )
        never = "never holds after the trigger" if prop.kind == "leads to" else "never holds in it"
        return (
            f"the cycle repeats forever and {name} {never}; it is fair: each action the fairness names "
            "is taken in it or, if weakly fair, disabled somewhere in it"
        )

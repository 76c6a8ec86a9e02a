"""Breadth-first search on several workers: processes on this machine, or Ray
actors on a cluster.

Each worker (a ``Shard``) owns the fingerprints that fall to it (the key
modulo the number of workers) and remembers them compactly (``store``). The
search goes level by level, as ``bfs.check`` does: every worker takes the
steps of its part of a level, in rounds of ``ROUND`` states, and sends the
key of each successor to its owner (8 bytes); each owner says which keys are
new, its own first; the worker that found a new state keeps it, checks it,
and takes its steps at the next level. States travel only when the parts of
the next level have drifted apart, to even them out. No worker starts a
level before every worker has finished the one before, so the first
counterexample is still a shortest one, and the counts (distinct states,
states generated, depth) are those of one process.

A counterexample is found as a key; the coordinator walks the parent links
back through the workers that kept each state, and replays the spec along
the chain. The per-state work is ``bfs``'s own (``_Search``): the same steps,
checks and reports, whichever engine runs them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from itertools import compress
from typing import Any

import numpy as np

from ..spec.base import Spec
from ..spec.constants import ConfigError
from . import liveness
from .bfs import (
    CheckOptions,
    Progress,
    Result,
    SpecError,
    Violation,
    _Checks,
    _Search,
    as_spec,
    merged_options,
    prepare,
    replay,
    state_key,
    without_cycle_collector,
)
from .store import ExactSet, FingerprintSet, Level, ParentLinks

SpecSource = Spec | Callable[[], Any]

# States each worker expands in a round, before their successors are shared out.
ROUND = 40_000


class RayMissing(ConfigError):
    """``--ray`` was asked for, and Ray is not installed."""


@dataclass
class _Pending:
    """A counterexample a worker found, before the coordinator rebuilds it:
    the key of its last state (at ``level``), and, for a bad step, what
    ``_Search.path_of`` needs to find that step: (property, key)."""

    end: Any
    level: int
    bad: tuple[str, Any] | None = None

    def __len__(self) -> int:
        return self.level + (self.bad is not None)


class Shard(_Search):
    """One worker: the states whose key falls to ``index`` of ``count``."""

    def __init__(
        self,
        source: SpecSource,
        index: int,
        count: int,
        options: CheckOptions,
        spill: str | None = None,
        stable: bool = False,
    ):
        spec = source if _is_spec(source) else source()
        spec, checks = prepare(spec, options)
        super().__init__(spec, checks, replace(options, progress=None, max_states=None))
        self.index, self.count = index, count
        self.owner_hash = stable_hash if stable else hash
        self.key = state_key(self.spec, self.symmetry, self.exact, self.owner_hash)
        self.visited = ExactSet() if self.exact else FingerprintSet()
        self.links = ParentLinks(f"worker{index}-of-{count}", self.exact, spill)
        # This round's successors, by key: (state, parent's key), first found first.
        self._round: dict[Any, tuple] = {}
        self._owners: list[Any] = []  # for each worker, the positions in ``_round`` of the keys it owns
        self._own = b""  # this round's keys that this worker owns, then its flags for them
        self._frontier = self._new_level()  # the level being expanded, of which the first ``_done`` states are
        self._done = 0
        self._expanding = False

    # -- the moves of a level ----------------------------------------------
    #
    # States stay with the worker that found them; only their keys travel.
    # ``expand`` takes the steps of this worker's part of the level and sends
    # each successor's key to its owner; ``dedup``, at the owner, tells each
    # sender which of its keys are new (the first sender of a key wins, the
    # owner itself first); ``admit`` keeps and checks the successors that
    # won: they are this worker's part of the next level. Between levels,
    # ``give`` and ``take`` even out the parts, should the finders drift apart.

    def start(self) -> dict:
        """Keep and check the initial states this worker owns: its part of the first level."""
        initial = self._initial_states(counts_out_of_model=self.index == 0)
        self._fingerprints([k for _, k in initial])  # a spec's own fingerprint is checked before it is kept
        mine = [(s, k) for s, k in initial if self._owner(k) == self.index]
        kept = [(s, k, None) for (s, k), new in zip(mine, self.visited.add([k for _, k in mine])) if new]
        found = self._keep(kept, initial=True)
        return self._report(found, self.generated)

    def next_level(self) -> None:
        """The states kept so far become the level to expand."""
        self._frontier, self.level, self._done = self.level, self._new_level(), 0
        self.depth += 1

    def expand(self, limit: int) -> list:
        """Take the steps of the next ``limit`` states of this worker's part of
        the level: the report, then for each worker the keys of the successors it owns.

        A level is expanded in rounds of ``limit`` states (each followed by
        ``dedup`` and ``admit``), so that the successors waiting for their
        owners' answer are a round's, not a level's."""
        chunk = self._frontier.expand_part(self._done, self._done + limit)
        self._done = min(self._done + limit, len(self._frontier))
        before = self.generated
        self._round = {}
        self._expanding = True
        found = self._expand(chunk, self._round, self._found_one)
        self._expanding = False
        keys = self._round.keys()
        if self.exact:
            owners = [self._owner(k) for k in keys]
            self._owners = [[i for i, o in enumerate(owners) if o == j] for j in range(self.count)]
            keys = list(keys)
            routed = [pickle.dumps([keys[i] for i in mine], pickle.HIGHEST_PROTOCOL) for mine in self._owners]
        else:
            keys = self._fingerprints(keys)
            owners = keys % self.count
            self._owners = [np.flatnonzero(owners == j) for j in range(self.count)]
            routed = [keys[mine].tobytes() for mine in self._owners]
        # This worker's own keys (and later its flags for them) stay here: no round trip to itself.
        self._own, routed[self.index] = routed[self.index], b""
        return [self._report(found, self.generated - before), *routed]

    def _found_one(self, t, k, ks) -> None:
        """``_expand``'s hand-over of a successor: kept for this round, once a key."""
        self._round[k] = (t, ks)

    def dedup(self, *keys: bytes) -> list[bytes]:
        """For each sender, which of the keys it sent (``keys[sender]``) are new."""
        flags = [b""] * self.count
        keys = (*keys[: self.index], self._own, *keys[self.index + 1 :])
        for sender in (self.index, *((self.index + j) % self.count for j in range(1, self.count))):
            sent = pickle.loads(keys[sender]) if self.exact else np.frombuffer(keys[sender], dtype=np.int64)
            flags[sender] = bytes(self.visited.add(sent))
        self._own, flags[self.index] = flags[self.index], b""
        return flags

    def admit(self, *flags: bytes) -> dict:
        """Keep and check the successors of this round that their owners said
        were new (``flags[owner]``): they join this worker's part of the next level."""
        new = np.zeros(len(self._round), dtype=bool)
        flags = (*flags[: self.index], self._own, *flags[self.index + 1 :])
        for mine, said in zip(self._owners, flags):
            new[mine] = np.frombuffer(said, dtype=bool)
        kept = [(t, k, ks) for k, (t, ks) in compress(self._round.items(), new.tolist())]
        self._round, self._owners = {}, []
        found = self._keep(kept, initial=False)
        return self._report(found, 0)

    def give(self, counts: list[int]) -> list[bytes | None]:
        """Send ``counts[j]`` states of the next level (and their keys) to each worker j, pickled."""
        return [pickle.dumps(self.level.take_last(n), pickle.HIGHEST_PROTOCOL) if n else None for n in counts]

    def take(self, *given: bytes | None) -> None:
        """Add the states other workers gave to the next level."""
        for data in given:
            if data:
                self.level.extend(*pickle.loads(data))

    def _new_level(self) -> Level:
        return Level(compact=not self.exact)

    def _fingerprints(self, keys: Any) -> np.ndarray | list:
        """``keys`` as a flat array (as they are if they are whole states);
        a spec's own fingerprint must be a 64-bit int, as ``hash`` gives."""
        if self.exact:
            return list(keys)
        try:
            return np.fromiter(keys, dtype=np.int64, count=len(keys))
        except (OverflowError, TypeError, ValueError):
            bad = next(k for k in keys if not (isinstance(k, int) and -(2**63) <= k < 2**63))
            raise SpecError(
                f"spec {self.spec.name!r}: fingerprint() must return an int of 64 bits, as hash() does, not {bad!r}"
            ) from None

    def _owner(self, k: Any) -> int:
        """The worker that owns key ``k`` (fingerprints: the key modulo the workers, as numpy computes it)."""
        return (self.owner_hash(k) if self.exact else k) % self.count

    def _keep(self, kept: list[tuple], initial: bool) -> Violation | None:
        """Record the parents of the states kept, then check each (as initial states, or as new ones)."""
        self.links.add(self.depth + 1, [k for _, k, _ in kept], [ks for _, _, ks in kept])
        check, t = self._check_initial if initial else self._check_state, None
        try:
            for t, k, _ in kept:
                found = check(t, k)
                if found is not None:
                    return found
        except (KeyboardInterrupt, SpecError, ConfigError):
            raise
        except Exception as exc:
            raise SpecError(self._blame(exc, t, None)) from exc
        return None

    def _report(self, found: Violation | None, generated: int) -> dict:
        return {
            "distinct": len(self.visited),
            "generated": generated,
            "queue": len(self.level),
            "left": len(self._frontier) - self._done,
            "violation": found,
            "hash_probe": self.owner_hash(_PROBE),
        }

    # -- what the coordinator asks at the end -----------------------------

    def parent_of(self, key: Any, level: int) -> tuple[bool, Any, int]:
        return self.links.parent_of(key, level)

    def summary(self) -> dict:
        return {"enabled": self.enabled, "witnesses": self.witnesses}

    def close(self) -> None:
        """The search is over, whatever its end: the spilled files go."""
        self.links.remove()

    # -- counterexamples are found here, rebuilt by the coordinator --------

    def _trace_to(self, k) -> Any:
        # A deadlocked state of the level being expanded, or a new state of
        # the level being admitted.
        return _Pending(k, self.depth if self._expanding else self.depth + 1)

    def _step_violation(self, name, kind, ks, act, t) -> Violation:
        return Violation(name, kind, _Pending(ks, self.depth, (name, self.key(t))))


class _ProcessShard(Shard):
    """A shard in a process of its own (a worker process, a Ray actor)."""

    def __init__(self, *args: Any) -> None:
        gc.disable()  # as in bfs: the states hold no cycles, and this process holds nothing else
        super().__init__(*args)


# Keys must be the same in every worker. A forked worker shares its parent's
# hashes; another process salts the hash of text (every worker is given the
# same seed) and, before Python 3.12, hashes None by its address: there,
# keys are computed by ``stable_hash``.
_PROBE = ("paxoscope", None, (1, frozenset({None, "x"})))
STABLE_HASH_NEEDED = sys.version_info < (3, 12)


def stable_hash(x: Any) -> int:
    """``hash(x)`` for values built of tuples, frozensets, frozen dataclasses
    and atoms, except that None hashes the same in every process."""
    if x is None:
        return 0x5EED
    if isinstance(x, tuple):
        return hash(tuple(map(stable_hash, x)))
    if isinstance(x, frozenset):
        return hash(frozenset(map(stable_hash, x)))
    if is_dataclass(x):
        return hash((type(x).__name__, *(stable_hash(getattr(x, f.name)) for f in fields(x))))
    return hash(x)


def _is_spec(source: Any) -> bool:
    return isinstance(source, Spec) or (
        callable(getattr(source, "init", None)) and callable(getattr(source, "next", None))
    )


# -- where the workers run ---------------------------------------------------


class _Workers:
    """Where the shards run; ``call`` asks each shard the same method, with
    its own arguments, and returns their answers in order."""

    count: int

    def call(self, method: str, args: list[tuple]) -> list:
        """The answers of the first ``len(args)`` shards."""
        raise NotImplementedError

    def everyone(self, method: str, *args: Any) -> list:
        return self.call(method, [args] * self.count)

    def expand(self, limit: int) -> list[dict]:
        """Every shard expands the next ``limit`` states of its part of the level; their reports."""
        out = self.everyone("expand", limit)
        self._routed = _transposed([o[1:] for o in out])
        return [o[0] for o in out]

    def admit(self) -> list[dict]:
        """Every owner says which keys it was sent are new; every shard keeps
        the new successors it found; their reports."""
        flags = self.call("dedup", self._routed)
        self._routed = []
        return self.call("admit", _transposed(flags))

    def balance(self, queues: list[int]) -> None:
        """Even out the next level's parts (``queues``), when they are far apart."""
        moves = _moves(queues)
        if moves:
            self.call("take", _transposed(self.call("give", [(row,) for row in moves])))

    def close(self) -> None:
        pass


# A level is evened out when its largest part is this much above the mean (and by more than this many states).
UNEVEN = 1.01
UNEVEN_STATES = 64


def _moves(queues: list[int]) -> list[list[int]] | None:
    """How many states each worker should give each other one (``moves[i][j]``)
    to even out parts of sizes ``queues``; None when they are even enough."""
    n, total = len(queues), sum(queues)
    mean = total / n
    if max(queues) <= max(UNEVEN * mean, mean + UNEVEN_STATES):
        return None
    fair = [total // n + (i < total % n) for i in range(n)]
    spare = [q - f for q, f in zip(queues, fair)]
    moves = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if spare[i] > 0 and spare[j] < 0:
                m = min(spare[i], -spare[j])
                moves[i][j] += m
                spare[i] -= m
                spare[j] += m
    return moves


def _transposed(rows: list) -> list[tuple]:
    """``rows[i][j]`` (what worker i has for worker j) as what each worker j gets."""
    return [tuple(row[j] for row in rows) for j in range(len(rows))]


class _InProcess(_Workers):
    """One worker, in this process."""

    def __init__(self, source: SpecSource, options: CheckOptions, spill: str | None):
        self.shards = [Shard(source, 0, 1, options, spill)]
        self.count = 1

    def call(self, method: str, args: list[tuple]) -> list:
        return [getattr(shard, method)(*a) for shard, a in zip(self.shards, args)]

    def close(self) -> None:
        self.shards[0].close()


class _Processes(_Workers):
    """Worker processes on this machine, each answering calls on a pipe."""

    def __init__(self, spec: Spec, source: SpecSource | None, count: int, options: CheckOptions, spill: str | None):
        # Forked workers inherit the spec as built (and Python's hash seed,
        # so that they agree on every key); elsewhere they build it anew.
        forking = "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if forking else "spawn")
        self.count = count
        self.conns, self.procs = [], []
        for i in range(count):
            mine, theirs = context.Pipe()
            built = spec if forking or source is None else source
            stable = STABLE_HASH_NEEDED and not forking
            proc = context.Process(target=_serve, args=(theirs, built, i, count, options, spill, stable), daemon=True)
            proc.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(proc)

    def call(self, method: str, args: list[tuple]) -> list:
        asked = self.conns[: len(args)]
        for conn, a in zip(asked, args):
            conn.send((method, a))
        return [self._answer(conn) for conn in asked]

    @staticmethod
    def _answer(conn) -> Any:
        try:
            status, value = conn.recv()
        except EOFError:
            raise SpecError("a worker process ended without an answer (killed, or out of memory?)") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", ()))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _serve(conn, source: SpecSource, *how: Any) -> None:
    """A worker process: build the shard, then answer calls until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides what an interrupt means
    try:
        shard = _ProcessShard(source, *how)
    except BaseException as exc:  # noqa: BLE001 - reported to the coordinator, whatever it is
        shard, error = None, exc
    while True:
        try:
            method, args = conn.recv()
        except EOFError:
            method = "close"
        if method == "close":
            if shard is not None:
                shard.close()
            return
        try:
            if shard is None:
                raise error
            conn.send(("ok", getattr(shard, method)(*args)))
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", _picklable(exc)))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return SpecError(str(exc))


class _RayActors(_Workers):
    """The same workers as Ray actors, on the cluster at ``address`` (or the
    Ray session this process already has). Keys and flags go from actor to
    actor through Ray's object store, not through here."""

    def __init__(self, address: str, source: SpecSource, count: int | None, options: CheckOptions, spill: str | None):
        ray = _import_ray()
        if not ray.is_initialized():
            if problem := _unreachable(address):
                raise ConfigError(f"--ray {address}: no Ray cluster to join there ({problem})")
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, ValueError, RuntimeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ConfigError(f"--ray {address}: no Ray cluster to join there ({reason})") from None
        self.ray = ray
        self.count = count or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Workers must agree on every key, and Python salts the hash of text
        # per process: every actor gets the same seed.
        actor = ray.remote(num_cpus=1, runtime_env={"env_vars": {"PYTHONHASHSEED": "0"}})(_ProcessShard)
        stable = STABLE_HASH_NEEDED
        self.actors = [actor.remote(source, i, self.count, options, spill, stable) for i in range(self.count)]

    def _get(self, refs: list) -> list:
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, Exception) else SpecError(str(exc).splitlines()[0])) from None

    def call(self, method: str, args: list[tuple]) -> list:
        return self._get([getattr(a, method).remote(*x) for a, x in zip(self.actors, args)])

    def expand(self, limit: int) -> list[dict]:
        n = self.count
        refs = [a.expand.options(num_returns=n + 1).remote(limit) for a in self.actors]
        self._routed = _transposed([r[1:] for r in refs])
        return self._get([r[0] for r in refs])

    def admit(self) -> list[dict]:
        flags = self._each("dedup", self._routed)
        self._routed = []
        return self._get([a.admit.remote(*f) for a, f in zip(self.actors, _transposed(flags))])

    def balance(self, queues: list[int]) -> None:
        moves = _moves(queues)
        if moves:
            given = self._each("give", [(row,) for row in moves])
            self._get([a.take.remote(*g) for a, g in zip(self.actors, _transposed(given))])

    def _each(self, method: str, args: list) -> list[list]:
        """Ask every actor ``method``, one result per actor, kept in the object store."""
        n = self.count
        refs = [getattr(a, method).options(num_returns=n).remote(*x) for a, x in zip(self.actors, args)]
        return [r if isinstance(r, list) else [r] for r in refs]  # Ray gives one return as itself

    def close(self) -> None:
        try:
            self.ray.get([a.close.remote() for a in self.actors], timeout=30)
        except Exception:  # noqa: BLE001 - an actor that failed has nothing left to remove
            pass
        for a in self.actors:
            self.ray.kill(a)


def _unreachable(address: str) -> str | None:
    """Why nothing can answer at ``address`` when it is host:port (None: something may). Ray itself
    retries an address that does not answer for minutes, logging as it goes; a user's mistyped port
    deserves one line at once. "auto" and ray:// addresses are Ray's to resolve."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep:
        return None
    if not port.isdigit() or not host:
        return "not host:port"
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayMissing("--ray needs Ray, which is not installed: pip install 'paxoscope[ray]'") from None
    return ray


# -- the coordinator -----------------------------------------------------------


def parallel_check(
    spec: Spec,
    properties: Iterable[str] | CheckOptions | None = None,
    options: CheckOptions | None = None,
    *,
    workers: int | None = None,
    ray: str | None = None,
    spill: str | None = None,
    source: Callable[[], Any] | None = None,
    **keywords,
) -> Result:
    """``bfs.check`` on ``workers`` processes (default: the machine's cores),
    or, with ``ray`` (a Ray address, or "auto"), on as many Ray actors
    (default: the cluster's CPUs). Same options and the same ``Result``.

    ``spill``: a directory where the workers write the parent links of the
    states they keep, instead of memory. ``source``: a function (picklable,
    such as a ``functools.partial`` of a module's function) that builds the
    spec in a worker that cannot inherit it: a Ray actor, or a process
    started without fork. The observers and ``digest`` of ``bfs.check``
    need every state in one process: they are not available here. With
    ``max_states`` the search stops after the round that reaches it.
    Liveness is checked on the state graph in one process: naming a
    liveness property here is an error."""
    options = merged_options(properties, options, keywords)
    live = liveness.selected(as_spec(spec), options.properties)
    if live:
        raise ConfigError(f"{live[0]} is a liveness property: it is checked in one process, not on workers")
    spec, checks = prepare(spec, options)
    if options.max_states is not None and options.max_states < 1:
        raise ConfigError(f"--max-states must be at least 1, not {options.max_states}")
    if options.observers:
        raise ConfigError("observers watch a search in one process; they do not go with workers")
    if options.digest:
        raise ConfigError("the digest of a reachable set is computed in one process; it does not go with workers")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if spill and options.exact:
        raise ConfigError("--spill writes fingerprints to disk; it does not go with --exact")
    shipped = replace(options, progress=None)
    if ray is not None:
        backend: _Workers = _RayActors(ray, source or spec, workers, shipped, spill)
    elif (workers or os.cpu_count() or 1) == 1:
        backend = _InProcess(spec, shipped, spill)
    else:
        backend = _Processes(spec, source, workers or os.cpu_count() or 1, shipped, spill)
    try:
        return _Coordinator(spec, checks, options, backend).run()
    finally:
        backend.close()


class _Coordinator:
    def __init__(self, spec: Spec, checks: _Checks, options: CheckOptions, backend: _Workers):
        self.search = _Search(spec, checks, options)  # for its counterexamples and its Result
        self.options = options
        self.backend = backend
        self.distinct = 0
        self.started = time.perf_counter()

    def run(self) -> Result:
        search = self.search
        verdict, violation = "ok", None
        try:
            with without_cycle_collector():  # as in bfs: the states hold no cycles
                found = self._levels()
                if found is not None:
                    violation = self._rebuild(found)
                    verdict = "violation"
                    search.depth = max(search.depth, len(violation.trace))
                elif search._cut:
                    verdict = "incomplete"
                self._merge_summaries()
        except KeyboardInterrupt:
            verdict = "interrupted"
        result = search._result(verdict, violation)
        result.distinct_states = self.distinct
        result.seconds = time.perf_counter() - self.started
        return result

    def _levels(self) -> Violation | None:
        search, backend = self.search, self.backend
        found = self._tally(backend.everyone("start"))
        if self.distinct == 0 and found is None:
            raise SpecError(f"spec {search.spec.name!r} has no initial state: init() yielded nothing")
        search.depth = 1
        while found is None and self.queue:
            search.max_queue = max(search.max_queue, self.queue)
            backend.balance(self.queues)
            backend.everyone("next_level")
            left = True
            while found is None and left:
                reports = backend.expand(ROUND)
                left = any(r["left"] for r in reports)
                found = self._tally(reports) or self._tally(backend.admit())
                self._progress()
                if found is None and self._reached_max_states():
                    return None
            if found is None and self.queue:
                search.depth += 1
        return found

    def _reached_max_states(self) -> bool:
        if self.options.max_states is None or self.distinct < self.options.max_states:
            return False
        self.search._cut = True
        self.search.depth += 1  # the states of the next level found so far count, as in bfs
        return True

    def _tally(self, reports: list[dict]) -> Violation | None:
        if len({r["hash_probe"] for r in reports}) > 1:
            raise ConfigError("the workers disagree on Python's hash of text (set PYTHONHASHSEED alike on every node)")
        search = self.search
        search.generated += sum(r["generated"] for r in reports)
        self.distinct = sum(r["distinct"] for r in reports)
        self.queues = [r["queue"] for r in reports]
        self.queue = sum(self.queues)
        found = [r["violation"] for r in reports if r["violation"] is not None]
        return min(found, key=lambda v: len(v.trace)) if found else None

    def _progress(self) -> None:
        if self.options.progress is not None:
            s = self.search
            self.options.progress(
                Progress(self.distinct, s.generated, s.depth, self.queue, time.perf_counter() - self.started)
            )

    def _merge_summaries(self) -> None:
        search = self.search
        for summary in self.backend.everyone("summary"):
            search.enabled |= summary["enabled"]
            for name, depth in summary["witnesses"].items():
                mine = search.witnesses.get(name)
                if depth is not None and (mine is None or depth < mine):
                    search.witnesses[name] = depth

    def _rebuild(self, found: Violation) -> Violation:
        """The worker's ``_Pending`` counterexample as a trace: parent links
        from the workers, a path from the first one, a replay here."""
        pending: _Pending = found.trace
        chain, level = [pending.end], pending.level
        while True:
            answers = self.backend.everyone("parent_of", chain[-1], level)
            known = next((a for a in answers if a[0]), None)
            if known is None:
                raise SpecError("a counterexample's parent link was lost (is a worker's --spill directory gone?)")
            _, parent, level = known
            if parent is None:
                break
            chain.append(parent)
            level -= 1
        chain.reverse()
        path = self.backend.call("path_of", [(chain, pending.bad)])[0]  # any worker can: the first
        if pending.bad is not None:
            return self.search.step_violation(found.property, found.kind, path)
        return Violation(found.property, found.kind, replay(self.search.spec, path), found.detail)

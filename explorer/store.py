"""What a search remembers of the states it has seen, compactly.

- ``FingerprintSet``: 64-bit fingerprints in one flat table (open
  addressing), 8 bytes a slot and at most 70% full: 8 to 16 bytes a state,
  where a Python set of ints takes about 60.
- ``ExactSet``: whole states, for ``--exact`` (no compaction is possible).
- ``ParentLinks``: for each level of a breadth-first search, the keys found
  there and their parents' keys (16 bytes a state), in memory or spilled to
  a directory: enough to walk a counterexample back to an initial state,
  which the engine then replays (as TLC, which keeps its trace on disk).
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np

# Slots are found from bits 20 and up of a fingerprint: the low bits decide
# which worker owns a state, so within one worker they are all alike.
_SLOT_SHIFT = 20
_MAX_LOAD = 0.7
_GROW_SLICE = 1 << 18


class FingerprintSet:
    """A set of 64-bit ints in one flat table (open addressing, linear
    probing); 0 marks an empty slot (the fingerprint 0 itself is remembered
    apart). Keys come and go in batches, and a batch is probed with numpy's
    whole-array operations, not a Python loop per key."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = np.zeros(max(8, 1 << (capacity - 1).bit_length()), dtype=np.int64)
        self._count = 0
        self._zero = False

    @property
    def nbytes(self) -> int:
        return self._table.nbytes

    def add(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Add ``keys``; for each, True if it was new (and the first of its value in ``keys``)."""
        keys = np.asarray(keys, dtype=np.int64)
        flags = np.zeros(len(keys), dtype=bool)
        nonzero = np.flatnonzero(keys)
        if len(nonzero) < len(keys):  # 0 marks an empty slot: the fingerprint 0 is kept apart
            flags[np.argmin(keys != 0)] = not self._zero
            self._zero = True
        # Room for every key even if all are new: probing always ends at an empty slot.
        while self._count + len(nonzero) >= len(self._table):
            self._grow()
        new = flags[nonzero] = self._insert(self._table, keys[nonzero])
        self._count += int(np.count_nonzero(new))
        if self._count > _MAX_LOAD * len(self._table):
            self._grow()
        return flags

    def __len__(self) -> int:
        return self._count + self._zero

    @staticmethod
    def _insert(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Put the nonzero ``keys`` in ``table`` (which has room for them all);
        True for each that was not there, and not earlier in ``keys``."""
        mask = len(table) - 1
        new = np.zeros(len(keys), dtype=bool)
        pending = np.arange(len(keys))  # positions in ``keys`` still probing
        at = (keys >> _SLOT_SHIFT) & mask
        while len(pending):
            seen = table[at]
            done = seen == keys
            moves = ~done  # on to the next slot, unless a key lost an empty slot (below)
            empty = np.flatnonzero(seen == 0)
            if len(empty):
                # Several keys may meet at one empty slot. Each writes its
                # mark there, the last write standing; in reverse order, so
                # the first key wins, and then writes itself. A loser stays
                # put: next round it meets the winner, which may be itself.
                slots = at[empty]
                marks = np.arange(1, len(empty) + 1, dtype=np.int64)
                table[slots[::-1]] = marks[::-1]
                won = empty[table[slots] == marks]
                table[at[won]] = keys[won]
                new[pending[won]] = True
                done[won] = True
                moves[empty] = False
            left = ~done
            pending, keys, at = pending[left], keys[left], (at[left] + moves[left]) & mask
        return new

    def _grow(self) -> None:
        old = self._table
        self._table = np.zeros(2 * len(old), dtype=np.int64)
        # A slice at a time: probing makes a few arrays the size of what it
        # inserts, and at millions of keys those would outweigh the table.
        for start in range(0, len(old), _GROW_SLICE):
            part = old[start : start + _GROW_SLICE]
            self._insert(self._table, part[part != 0])


class Level:
    """The states of one breadth-first level with their keys, side by side;
    fingerprints in a flat array (8 bytes, where a tuple and an int object
    per state take about 100), other keys in a list."""

    def __init__(self, compact: bool) -> None:
        self.states: list = []
        self.keys: Any = array("q") if compact else []

    def append(self, state: Any, key: Any) -> None:
        self.states.append(state)
        self.keys.append(key)

    def __len__(self) -> int:
        return len(self.states)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return zip(self.states, self.keys)

    def expand_part(self, start: int, stop: int) -> Iterator[tuple[Any, Any]]:
        """(state, key) for the states from ``start`` up to ``stop``, which the
        level lets go of: a level is expanded once, and the next one grows meanwhile."""
        states = self.states[start:stop]
        self.states[start:stop] = [None] * len(states)
        return zip(states, self.keys[start:stop])

    def take_last(self, n: int) -> tuple[list, Any]:
        """Remove the last ``n`` states; their states and keys."""
        at = len(self.states) - n
        taken = self.states[at:], self.keys[at:]
        del self.states[at:], self.keys[at:]
        return taken

    def extend(self, states: list, keys: Any) -> None:
        self.states += states
        self.keys += keys


class ExactSet:
    """Whole states (or their canonical forms), with ``FingerprintSet``'s interface."""

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, keys: Sequence[Hashable]) -> bytearray:
        seen, flags = self._seen, bytearray(len(keys))
        for j, k in enumerate(keys):
            if k not in seen:
                seen.add(k)
                flags[j] = 1
        return flags


class ParentLinks:
    """Per level (1 = the initial states), the keys found and their parents' keys.

    A level comes in parts, as a search finds it. Fingerprints are kept in
    flat arrays, or, with ``spill``, appended to ``spill/<name>-<level>.links``
    (a record per part: its length, its keys, their parents) and read back
    only to rebuild a trace. Exact keys (whole states) are kept in lists, in memory."""

    def __init__(self, name: str, exact: bool = False, spill: str | None = None) -> None:
        if exact and spill:
            raise ValueError("only fingerprints can be spilled to disk, not whole states")
        self.name = name
        self.exact = exact
        self.spill = spill
        self._levels: dict[int, tuple[Any, Any]] = {}
        if spill:
            os.makedirs(spill, exist_ok=True)

    def add(self, level: int, keys: list, parents: list) -> None:
        """Keys found at ``level`` and their parents' keys, after those found there before."""
        if self.exact:
            known = self._levels.setdefault(level, ([], []))
            known[0].extend(keys)
            known[1].extend(parents)
            return
        packed = array("q", keys), array("q", [0 if p is None else p for p in parents])
        if self.spill:
            with open(self._file(level), "ab") as f:
                f.write(len(packed[0]).to_bytes(8, "little"))
                packed[0].tofile(f)
                packed[1].tofile(f)
            self._levels[level] = None
        elif level in self._levels:
            self._levels[level][0].extend(packed[0])
            self._levels[level][1].extend(packed[1])
        else:
            self._levels[level] = packed

    def parent_of(self, key: Any, level: int) -> tuple[bool, Any, int]:
        """(found, the parent's key or None at level 1, the level ``key`` is
        at): ``level`` is looked at first, then the others."""
        for at in [level, *sorted((x for x in self._levels if x != level), reverse=True)]:
            if at not in self._levels:
                continue
            keys, parents = self._load(at)
            try:
                i = keys.index(key)
            except ValueError:
                continue
            return True, (None if at == 1 else parents[i]), at
        return False, None, 0

    def _load(self, level: int) -> tuple[Any, Any]:
        packed = self._levels[level]
        if packed is not None:
            return packed
        keys, parents = array("q"), array("q")
        with open(self._file(level), "rb") as f:
            while header := f.read(8):
                n = int.from_bytes(header, "little")
                keys.fromfile(f, n)
                parents.fromfile(f, n)
        return keys, parents

    def _file(self, level: int) -> str:
        return os.path.join(self.spill, f"{self.name}-{level}.links")

    def remove(self) -> None:
        """Delete the spilled files."""
        if self.spill:
            for level in self._levels:
                try:
                    os.remove(self._file(level))
                except FileNotFoundError:
                    pass

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
from collections.abc import Hashable, Sequence
from typing import Any

# Slots are found from bits 20 and up of a fingerprint: the low bits decide
# which worker owns a state, so within one worker they are all alike.
_SLOT_SHIFT = 20
_MAX_LOAD = 0.7


class FingerprintSet:
    """A set of 64-bit ints in one ``array('q')``; 0 marks an empty slot (the
    fingerprint 0 itself is remembered apart)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = array("q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._count = 0
        self._zero = False

    @property
    def nbytes(self) -> int:
        return len(self._table) * 8

    def add(self, keys: Sequence[int]) -> bytearray:
        """Add ``keys``; for each, 1 if it was new."""
        flags = bytearray(len(keys))
        table, mask, shift = self._table, self._mask, _SLOT_SHIFT
        room = int(len(table) * _MAX_LOAD) - self._count
        for j, k in enumerate(keys):
            if not k:
                if not self._zero:
                    self._zero = flags[j] = 1
                continue
            i = (k >> shift) & mask
            while True:
                x = table[i]
                if x == k:
                    break
                if not x:
                    table[i] = k
                    flags[j] = 1
                    self._count += 1
                    room -= 1
                    if not room:
                        table, mask = self._grow()
                        room = int(len(table) * _MAX_LOAD) - self._count
                    break
                i = (i + 1) & mask
        return flags

    def __len__(self) -> int:
        return self._count + self._zero

    def __contains__(self, k: int) -> bool:
        if not k:
            return self._zero
        table, mask = self._table, self._mask
        i = (k >> _SLOT_SHIFT) & mask
        while True:
            x = table[i]
            if x == k:
                return True
            if not x:
                return False
            i = (i + 1) & mask

    def _grow(self) -> tuple[array, int]:
        old = self._table
        table = self._table = array("q", bytes(16 * len(old)))
        mask = self._mask = len(table) - 1
        for k in old:
            if k:
                i = (k >> _SLOT_SHIFT) & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = k
        return table, mask


class ExactSet:
    """Whole states (or their canonical forms), with ``FingerprintSet``'s interface."""

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, k: Hashable) -> bool:
        return k in self._seen

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

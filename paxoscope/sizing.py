"""What a built-in configuration costs before it is built, and refusing what cannot fit.

A Paxos configuration builds tables once (``spec/paxos.py``): every message
it can hold gets a bit, so ``msgs`` is one int. The message universe grows
as acceptors × values × ballots² (a 1b reports any earlier vote), each
message's bit is an int as wide as its position (so the bits alone take
about M²/15 bytes for M messages), and the default quorums are every
majority, about 2^(n-1) sets for n acceptors. ``--acceptors 50`` or
``--ballots 100000000`` would exhaust memory long before a state is
explored; they are refused here, in one line naming the size.

The figures below were fitted with ``tracemalloc`` on configurations of
1,000 to 12,000 messages and up to 6,500 quorums; tests hold the estimate
to within a factor of two of what building really takes.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from .spec.constants import ConfigError
from .spec.quorums import majority

#: Bytes per message besides its bit: the message tuple, its dict entries,
#: its share of the 1b lookup tables (fitted, see the module doc).
PER_MESSAGE = 340
#: Bytes per action instance and per effect-table row (acceptor × ballot × value).
PER_ACTION = 400
#: More acceptors than this cannot have their majorities listed at all (2^63 sets).
MAX_ENUMERABLE_ACCEPTORS = 64


def message_count(acceptors: int, values: int, ballots: int) -> int:
    """Messages of Paxos.tla's universe that ``MessageTable`` numbers: 1a(b),
    2a(b, v), and per acceptor 1b(b, no vote), 1b(b, vote at c < b for v), 2b(b, v)."""
    n, v, b = acceptors, values, ballots
    return b + b * v + n * (b + v * b * (b - 1) // 2 + b * v)


def quorum_sizes(acceptors: int, quorums: Any, bug: str | None) -> dict[int, int]:
    """How many quorums of each size the configuration lists (size -> count)."""
    if quorums is not None:
        out: dict[int, int] = {}
        for q in quorums:
            k = len(set(q))
            out[k] = out.get(k, 0) + 1
        return out
    n = acceptors
    if bug == "non-intersecting-quorums":
        k = max(1, majority(n) - 1)
        return {k: math.comb(n, k)}
    return {k: math.comb(n, k) for k in range(majority(n), n + 1)}


def paxos_bytes(acceptors: int, values: int, ballots: int, quorums: Any = None, bug: str | None = None) -> float:
    """Estimated bytes of a Paxos-family configuration's tables (inf: beyond counting)."""
    if quorums is None and acceptors > MAX_ENUMERABLE_ACCEPTORS:
        return math.inf
    m = message_count(acceptors, values, ballots)
    bits = m * m / 15  # the bit of message i is an int of i bits: 4 bytes per 30 bits
    masks = 2 * ballots * m / 7.5  # a 1b mask and a 2a mask per ballot, each m bits wide
    listed = quorum_sizes(acceptors, quorums, bug)
    sets = sum(count * (sys.getsizeof(frozenset(range(k))) + 8) for k, count in listed.items())
    actions = PER_ACTION * acceptors * ballots * values + 40 * ballots
    return PER_MESSAGE * m + bits + masks + sets + actions


def symmetry_bytes(values: int, ballots: int) -> float:
    """Estimated bytes of Paxos's symmetry tables: per permutation of the values,
    a renaming and where each message goes (``_Canonicalizer``; fitted as above)."""
    if values > 20:
        return math.inf  # 20! permutations already exceed any memory
    shared = ballots + ballots * values
    block = ballots + values * ballots * (ballots - 1) // 2 + ballots * values
    return math.factorial(values) * (300 + 100 * values + 16 * (shared + block))


def paxos_cost(size: dict[str, Any], symmetry: bool, bug: str | None) -> tuple[float, str]:
    """(bytes, what dominates) of Paxos's tables at ``size`` (its symmetry tables too, if ``symmetry``)."""
    return _paxos_family_cost(size, symmetry, bug)


def voting_cost(size: dict[str, Any], symmetry: bool, bug: str | None) -> tuple[float, str]:
    """Voting builds Paxos's quorums and action tables, and no symmetry tables."""
    return _paxos_family_cost(size, False, bug)


def _paxos_family_cost(size: dict[str, Any], symmetry: bool, bug: str | None) -> tuple[float, str]:
    n, v, b, quorums = size["acceptors"], size["values"], size["ballots"], size.get("quorums")
    if quorums is None and n > MAX_ENUMERABLE_ACCEPTORS:
        return math.inf, f"more than 2^{n - 2} majority quorums of {n} acceptors"
    count = sum(quorum_sizes(n, quorums, bug).values())
    bytes_ = paxos_bytes(n, v, b, quorums, bug)
    why = f"{message_count(n, v, b):,} possible messages, {count:,} quorums"
    if symmetry:
        bytes_ += symmetry_bytes(v, b)
        perms = f"{math.factorial(v):,}" if v <= 20 else "more than 20!"
        why += f", {perms} value permutations for --symmetry"
    return bytes_, why


def rms_cost(size: dict[str, Any], symmetry: bool, bug: str | None) -> tuple[float, str]:
    return 150.0 * size["rms"], f"{size['rms']:,} resource managers"


def values_cost(size: dict[str, Any], symmetry: bool, bug: str | None) -> tuple[float, str]:
    return 100.0 * size["values"], f"{size['values']:,} values"


def estimate(what: str, given: dict[str, Any], symmetry: bool = False, bug: str | None = None) -> tuple[float, str]:
    """(bytes, what dominates, in words) for the built-in spec ``what`` (its variant ``bug``)
    with the sizes ``given`` (and its symmetry tables, when ``--symmetry`` will build them),
    by the cost its registry entry declares; nothing for a spec that declares none."""
    from .registry import resolve, spec_entry

    entry = spec_entry(what)
    if entry.cost is None:
        return 0.0, ""
    return resolve(entry.cost)({**entry.defaults(), **given}, symmetry, bug)


def available_memory() -> int | None:
    """Bytes this machine can still give (Linux's MemAvailable), else its physical memory, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(n: float) -> str:
    if n == math.inf:
        return "more memory than any machine has"
    if n >= 1e18:
        return f"{n:.1e} bytes"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError


def describe(what: str, given: dict[str, Any], bug: str | None = None) -> str:
    """The spec and its sizes, in words: ``paxos with 3 acceptors, 2 values, ballots 0..2``."""
    from .registry import spec_entry

    entry = spec_entry(what)
    size = {**entry.defaults(), **given}
    sizes = [f"ballots 0..{v - 1:,}" if k == "ballots" else f"{v:,} {k}" for k, v in size.items() if isinstance(v, int)]
    return f"{f'bug {bug}' if bug else what} with {', '.join(sizes)}"


@contextmanager
def check_fits(
    what: str,
    given: dict[str, Any],
    progress: BuildingLine | None = None,
    symmetry: bool = False,
    bug: str | None = None,
) -> Iterator[None]:
    """Refuse (ConfigError) a configuration of the built-in spec ``what`` (or its
    variant ``bug``) whose tables exceed the memory available; around building
    one that fits, show ``progress`` if it is big."""
    bytes_, why = estimate(what, given, symmetry, bug)
    free = available_memory()
    if free is not None and bytes_ > free:
        raise ConfigError(
            f"{describe(what, given, bug)} needs {'' if bytes_ == math.inf else 'about '}{human(bytes_)} "
            f"for its tables ({why}); "
            f"this machine has {human(free)} available: choose smaller sizes"
        )
    if progress is None or bytes_ < progress.threshold:
        yield
        return
    with progress.showing(f"building the tables of {describe(what, given, bug)} (about {human(bytes_)}; {why})"):
        yield


class BuildingLine:
    """A self-overwriting line on ``stream`` while something big is built: what, and for how long."""

    def __init__(self, stream: TextIO, threshold: float = 64e6, every: float = 0.5):
        self.stream = stream
        self.threshold = threshold
        self.every = every

    @contextmanager
    def showing(self, text: str) -> Iterator[None]:
        done = threading.Event()
        started = time.monotonic()

        def draw() -> None:
            while True:
                self.stream.write(f"\r\x1b[K  {text} · {time.monotonic() - started:.0f} s")
                self.stream.flush()
                if done.wait(self.every):
                    return

        # A thread, because the tables are built by spec code that reports nothing.
        painter = threading.Thread(target=draw, daemon=True)
        painter.start()
        try:
            yield
        finally:
            done.set()
            painter.join()
            self.stream.write("\r\x1b[K")
            self.stream.flush()

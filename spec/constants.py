"""The constants shared by Paxos and the specs it refines: who, what, which ballots, which quorums."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import comb
from typing import Any

from .base import in_words
from .quorums import majorities, majority


class ConfigError(ValueError):
    """A configuration a spec cannot be built with (bad sizes, unknown names)."""


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0 (timeouts, grace periods)."""
    import argparse

    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return x


def whole_number_at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``."""

    def whole_number(text: str) -> int:
        import argparse

        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {n}")
        return n

    return whole_number


#: An argparse type: a whole number of at least 1 (sizes, counts, budgets).
positive_int = whole_number_at_least(1)


def majority_quorums(acceptors: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """Every set holding more than half of the acceptors, as Paxos.tla's Quorum."""
    return majorities(acceptors)


@dataclass(frozen=True)
class Constants:
    acceptors: tuple[str, ...]
    values: tuple[str, ...]
    ballots: tuple[int, ...]
    quorums: tuple[frozenset[str], ...]

    @classmethod
    def make(
        cls,
        acceptors: int = 3,
        values: int = 2,
        ballots: int = 3,
        quorums: Iterable[Iterable[str]] | None = None,
    ) -> Constants:
        """Acceptors a1..aN, values v1..vV, ballots 0..B-1; majority quorums unless given."""
        for what, n in (("acceptors", acceptors), ("values", values), ("ballots", ballots)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"--{what} must be a whole number of at least 1, not {n!r}")
        names = tuple(f"a{i + 1}" for i in range(acceptors))
        if quorums is None:
            family = majority_quorums(names)
        else:
            family = tuple(frozenset(q) for q in quorums)
            for q in family:
                unknown = sorted(set(q) - set(names))
                if unknown:
                    raise ConfigError(f"quorum {sorted(q)} names unknown acceptors {unknown}")
                if not q:
                    raise ConfigError("a quorum must not be empty")
            if not family:
                raise ConfigError("the quorum family must not be empty")
        return cls(
            acceptors=names,
            values=tuple(f"v{i + 1}" for i in range(values)),
            ballots=tuple(range(ballots)),
            quorums=family,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "acceptors": len(self.acceptors),
            "values": len(self.values),
            "ballots": len(self.ballots),
            "quorums": [sorted(q) for q in self.quorums],
        }

    def in_words(self) -> str:
        """``3 acceptors, 2 values, ballots 0..2, majority quorums``: Paxos's constants as its reports say them."""
        counts = in_words({"acceptors": len(self.acceptors), "values": len(self.values)})
        quorums = "majority quorums" if self.has_majority_quorums() else "quorums " + _family(self.quorums)
        return f"{counts}, ballots 0..{len(self.ballots) - 1}, {quorums}"

    def has_majority_quorums(self) -> bool:
        """Whether the quorums are exactly the majorities of the acceptors."""
        n = len(self.acceptors)
        if len(self.quorums) != sum(comb(n, k) for k in range(majority(n), n + 1)):
            return False  # without listing 2^(n-1) majorities to find out
        return {frozenset(q) for q in self.quorums} == {frozenset(q) for q in majorities(self.acceptors)}

    def quorums_intersect(self) -> bool:
        return all(p & q for p in self.quorums for q in self.quorums)


def _family(quorums) -> str:
    return "{" + ", ".join("{" + ",".join(sorted(q)) + "}" for q in quorums) + "}"

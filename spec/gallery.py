"""What every gallery variant is: a spec with one known mistake, and its story.

A gallery (``spec/bugs.py`` for Paxos, ``spec/multipaxos_bugs.py`` for
Multi-Paxos) is a dict of classes, each mixing ``Variant`` into the spec it
changes and overriding a line or two of it. Their stories are prose, so they
are data: ``spec/gallery.toml`` tells every variant of every protocol (the
spec's, the proof model's and the implementation's, one table a name), and a
variant class takes its ``summary``, ``explanation`` and ``fix`` from there.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any, NamedTuple


class Story(NamedTuple):
    """How a learner is told a variant: ``summary``, one line; ``explanation``, why it
    looks harmless and how it goes wrong; ``fix``, what puts it right."""

    summary: str
    explanation: str
    fix: str


@cache
def stories() -> dict[str, dict[str, Story]]:
    """Every protocol's stories, by variant name, from ``gallery.toml``."""
    with resources.files(__package__).joinpath("gallery.toml").open("rb") as f:
        tables = tomllib.load(f)
    # The long texts are wrapped in the file; a line break there reads as a space.
    return {
        protocol: {name: Story(*(" ".join(t[key].split()) for key in Story._fields)) for name, t in variants.items()}
        for protocol, variants in tables.items()
    }


def story(protocol: str, name: str) -> Story:
    """The story of ``protocol``'s variant ``name`` (a KeyError names a variant the gallery does not tell)."""
    told = stories().get(protocol, {})
    if name not in told:
        raise KeyError(f"spec/gallery.toml tells no story of {protocol}'s variant {name!r}")
    return told[name]


class Variant:
    """A known-wrong variant, mixed in before the spec it changes. ``protocol``
    and ``name`` say which gallery entry it is; its story (``summary``,
    ``explanation``, ``fix``) comes from ``gallery.toml`` unless the class
    tells its own (a user's variant may)."""

    protocol = ""
    summary = ""
    explanation = ""
    fix = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls) and "summary" not in vars(cls):
            cls.summary, cls.explanation, cls.fix = story(cls.protocol, cls.name)

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "bug": self.name}


def gallery(base: type, key: str = "name") -> dict[str, type]:
    """The variants of ``base`` written so far, by their ``key`` (a spec variant's
    ``name``, a proof model's ``bug``), in the order they are written: every
    direct subclass that names itself. A gallery module ends with
    ``BUGS = gallery(Bug)``, so that a variant is listed by being written."""
    return {vars(cls)[key]: cls for cls in base.__subclasses__() if key in vars(cls)}

"""What every gallery variant is: a spec with one known mistake, and its story.

A gallery (``spec/bugs.py`` for Paxos, ``spec/multipaxos_bugs.py`` for
Multi-Paxos) is a dict of classes, each mixing ``Variant`` into the spec it
changes and overriding a line or two of it. The tour, ``paxoscope bugs`` and
``check --bug`` read the story from the class.
"""

from __future__ import annotations

from typing import Any


class Variant:
    """A known-wrong variant, mixed in before the spec it changes. ``name``: its
    name in the gallery; ``summary``: one line; ``explanation``: why it looks
    harmless and how it goes wrong; ``fix``: the one-line fix."""

    summary = ""
    explanation = ""
    fix = ""

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "bug": self.name}


def gallery(base: type, key: str = "name") -> dict[str, type]:
    """The variants of ``base`` written so far, by their ``key`` (a spec variant's
    ``name``, a proof model's ``bug``), in the order they are written: every
    direct subclass that names itself. A gallery module ends with
    ``BUGS = gallery(Bug)``, so that a variant is listed by being written."""
    return {vars(cls)[key]: cls for cls in base.__subclasses__() if key in vars(cls)}

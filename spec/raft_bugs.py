"""The Raft bug gallery: known-wrong variants of ``Raft``, each one small change.

Every variant is a subclass of ``RaftBug`` that overrides one method of
``Raft`` (one action, or one of its guards such as ``grants_vote``), the line
that differs marked ``# BUG``; its story is in ``spec/gallery.toml`` under
``[raft.<name>]``. ``BUGS`` maps each variant's name to its class.
"""

from __future__ import annotations

from .gallery import Variant, gallery
from .raft import Raft


class RaftBug(Variant, Raft):
    """A known-wrong Raft (see ``Variant`` for its story's fields)."""

    protocol = "raft"


BUGS: dict[str, type[RaftBug]] = gallery(RaftBug)

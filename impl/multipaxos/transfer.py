"""A snapshot sent to a lagging replica in parts, when it is larger than a frame holds.

A ``CatchUp``'s snapshot is either whole, ``{"index": i, "state": ...}``, or one part of its JSON text,
``{"index": i, "part": k, "parts": n, "data": "..."}``. The leader sends one part a catch-up, each in
turn (so a lost part comes round again, and a large state is not sent whole every tick); the replica
keeps the parts of one snapshot until it has them all, then reads the state as if it had come whole.
"""

from __future__ import annotations

import json
from typing import Any

from ..framing import MAX_FRAME, json_bytes

# Characters of the state's JSON text in one part: each takes at most 4 bytes in the frame (UTF-8, or a
# quote escaped), so a part fills at most half a frame.
PART_CHARS = MAX_FRAME // 8


class Parts:
    """The leader's side: its snapshot's text, cut once, and which part each peer gets next."""

    def __init__(self) -> None:
        self.index = -1
        self.texts: list[str] = []
        self.next: dict[str, int] = {}

    def for_peer(self, peer: str, index: int, state: Any) -> dict:
        """The snapshot ``index`` (the machine's ``state`` after it) as ``peer``'s next CatchUp carries it."""
        if index != self.index:
            text = json_bytes(state).decode()
            self.index, self.next = index, {}
            self.texts = [text[at : at + PART_CHARS] for at in range(0, len(text), PART_CHARS)] or [""]
        if len(self.texts) == 1:
            return {"index": index, "state": state}
        k = self.next.get(peer, 0) % len(self.texts)
        self.next[peer] = k + 1
        return {"index": index, "part": k, "parts": len(self.texts), "data": self.texts[k]}


class Assembly:
    """The lagging replica's side: the parts of one snapshot gathered so far."""

    def __init__(self) -> None:
        self.key: tuple[int, int] | None = None  # (index, parts) of the snapshot being gathered
        self.got: dict[int, str] = {}

    def add(self, doc: dict) -> dict | None:
        """The whole snapshot once ``doc`` completes it (None: parts are missing, or they do not read as one)."""
        if "part" not in doc:
            return doc
        key = (doc["index"], doc["parts"])
        if key != self.key:
            self.key, self.got = key, {}  # a newer snapshot (or another cut of it): start again
        self.got[doc["part"]] = doc["data"]
        if len(self.got) < doc["parts"]:
            return None
        text = "".join(self.got[k] for k in range(doc["parts"]))
        self.key, self.got = None, {}
        try:
            return {"index": doc["index"], "state": json.loads(text)}
        except (ValueError, RecursionError):
            return None  # not the leader's text after all: a later round of parts brings it again


def part_problem(doc: dict) -> str | None:
    """Why ``doc`` (a dict with a ``part`` key) is not one part of a snapshot (None: it is one)."""
    if set(doc) != {"index", "part", "parts", "data"}:
        return "a snapshot part is {index, part, parts, data}"
    index, part, parts, data = doc["index"], doc["part"], doc["parts"], doc["data"]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (index, part, parts)):
        return "a snapshot part's index, part and parts are whole numbers"
    if not (index >= 0 and 0 <= part < parts <= 2**20) or not isinstance(data, str) or len(data) > PART_CHARS:
        return "a snapshot part is one of its parts, of at most its share of text"
    return None

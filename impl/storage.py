"""Durable acceptor storage: what an acceptor promised survives a crash.

An acceptor must never forget a promise or a vote (Paxos.tla's ``maxBal``,
``maxVBal``, ``maxVal``): if it did, it could promise a lower ballot after a
restart and two values could be chosen. So ``DurableStore.save`` returns only
once the new state is on disk, and ``load`` refuses a file it cannot trust.

One file, ``acceptor.json``, in the node's data directory::

    {"format": "paxoscope-acceptor", "version": 1,
     "state": {"max_bal": 3, "max_vbal": 3, "max_val": "v1"},
     "sha256": "<hex digest of the canonical JSON of format, version and state>"}

A save writes a temporary file, fsyncs it, renames it over the real file and
fsyncs the directory, so after a crash the file holds either the old state or
the new one, never a mixture. A file that is torn or corrupt anyway (a disk
fault, an edit by hand, a copy cut short) raises ``CorruptStorage``: starting
from the initial state instead would silently break every promise made
before, so the node refuses to start, and the file is left as it was for a
person to inspect.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .core import AcceptorState

FORMAT = "paxoscope-acceptor"
VERSION = 1
FILENAME = "acceptor.json"
# A real state file is well under a kilobyte even with a large value; a file
# far bigger than any value the wire can carry is not ours.
MAX_FILE = 1024 * 1024


class CorruptStorage(Exception):
    """The acceptor's state file exists but cannot be trusted."""


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(state: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({"format": FORMAT, "version": VERSION, "state": state})).hexdigest()


def _state_dict(state: AcceptorState) -> dict[str, Any]:
    return {"max_bal": state.max_bal, "max_vbal": state.max_vbal, "max_val": state.max_val}


def _is_ballot(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= -1


class DurableStore:
    """The acceptor state of one node, kept in ``directory/acceptor.json``."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.path = self.directory / FILENAME
        self._tmp = self.directory / (FILENAME + ".tmp")
        # Set once the file on disk is known to be ours and sound (or absent):
        # save() never replaces a file nobody has vouched for.
        self._verified = False

    def load(self) -> AcceptorState:
        """The stored state; the initial state if nothing was ever saved.

        Raises ``CorruptStorage`` (naming the file and the fault) for a file
        that exists but is not a sound state of this format version."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read(MAX_FILE + 1)
        except FileNotFoundError:
            # A leftover .tmp is a save that never reached its rename: the
            # state it holds was never acknowledged to anyone, so ignoring
            # it is correct.
            self._verified = True
            return AcceptorState()
        except IsADirectoryError:
            raise self._corrupt("is a directory, not a state file") from None
        state = self._parse(raw)
        self._verified = True
        return state

    def save(self, state: AcceptorState) -> None:
        """Make ``state`` durable: on return it survives a crash or power cut."""
        if not self._verified:
            self.load()  # raises CorruptStorage rather than overwrite a file we could not read
        state_doc = _state_dict(state)
        doc = {"format": FORMAT, "version": VERSION, "state": state_doc, "sha256": _digest(state_doc)}
        data = json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._tmp, self.path)
        _fsync_directory(self.directory)

    # -- validation ------------------------------------------------------------

    def _corrupt(self, what: str) -> CorruptStorage:
        return CorruptStorage(f"{self.path}: {what}")

    def _parse(self, raw: bytes) -> AcceptorState:
        if len(raw) > MAX_FILE:
            raise self._corrupt(f"larger than {MAX_FILE} bytes, not an acceptor state file")
        if not raw.strip():
            raise self._corrupt("empty (a torn write?)")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._corrupt(f"not valid JSON (torn or damaged?): {exc}") from None
        if not isinstance(doc, dict):
            raise self._corrupt("not a JSON object")
        if doc.get("format") != FORMAT:
            raise self._corrupt(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        if doc.get("version") != VERSION:
            raise self._corrupt(f"format version {doc.get('version')!r}, this paxoscope reads version {VERSION}")
        missing = sorted({"state", "sha256"} - doc.keys())
        if missing:
            raise self._corrupt(f"missing {', '.join(missing)}")
        state = doc["state"]
        if not isinstance(state, dict):
            raise self._corrupt("'state' is not a JSON object")
        expected = {"max_bal", "max_vbal", "max_val"}
        if set(state) != expected:
            raise self._corrupt(f"'state' has fields {sorted(state)}, expected {sorted(expected)}")
        if doc["sha256"] != _digest(state):
            raise self._corrupt("checksum mismatch: the state is not what was written")
        max_bal, max_vbal, max_val = state["max_bal"], state["max_vbal"], state["max_val"]
        # The checksum guards against damage; these guard against a file that
        # was written consistently but describes no state an acceptor can be in.
        if not (_is_ballot(max_bal) and _is_ballot(max_vbal)):
            raise self._corrupt(f"ballots must be integers >= -1, not {max_bal!r} and {max_vbal!r}")
        if max_val is not None and not isinstance(max_val, str):
            raise self._corrupt(f"max_val must be a string or null, not {max_val!r}")
        if max_vbal > max_bal:
            raise self._corrupt(f"max_vbal {max_vbal} exceeds max_bal {max_bal}")
        if (max_vbal == -1) != (max_val is None):
            raise self._corrupt("max_val must be null exactly when max_vbal is -1")
        return AcceptorState(max_bal, max_vbal, max_val)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms that cannot open a directory (Windows): nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename is as durable as they allow
    finally:
        os.close(fd)

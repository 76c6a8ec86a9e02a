"""A replica's durable log: ``log.wal`` and ``snapshot.json`` in its data directory.

``log.wal`` holds the core's records (``core.LogState.apply``), in lines
with their CRC-32: ``<8 hex digits> <JSON>``. A batch of records (every
event the host ran together: group commit) is one line, a JSON list of the
records, appended and made durable by one ``fdatasync``; the host sends
nothing of the batch before that returns. One JSON call writes the whole
batch (a line per record cost a follower a fifth of its time), and the
checksum covers it: a batch is read back whole or, torn, not at all. A
rewritten log has one record a line (its JSON list starts with the record's
kind, a batch's with a record).

A snapshot record is not appended: the machine's state goes to
``snapshot.json`` (written atomically, with its SHA-256), and ``log.wal`` is
rewritten with what the snapshot does not cover, so the log stays bounded.

Loading replays the snapshot, then the log. The last line of the log may be
torn (a crash during an append, which was never acknowledged): it is cut off.
Any other damage (a line whose checksum fails, a record that is no record, a
snapshot that is not one) raises ``CorruptStorage`` naming the file: a
replica that cannot trust its promises and votes must not run.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

from ..framing import json_bytes
from ..storage import (
    CorruptStorage,
    NotRegularFile,
    StoreSchema,
    lock_directory,
    read_regular,
    write_all,
    write_atomically,
)
from .core import InstRecord, LogState, record_problem

LOG_FILE, SNAPSHOT_FILE = "log.wal", "snapshot.json"
SNAPSHOT_FORMAT = "paxoscope-snapshot"
MAX_LOG = 1 << 30
MAX_SNAPSHOT = 1 << 28


FIELDS = ("leader", "bal_max_known", "commit", "snapshot_index")  # what a node's start line shows of its log


SCHEMA = StoreSchema(
    format="paxoscope-replica-log",
    version=1,
    filename=LOG_FILE,
    noun="replica",
    fields=FIELDS,
    to_dict=lambda state: {f: getattr(state, f) for f in FIELDS},
    from_dict=lambda doc: LogState(),
    fields_problem=lambda doc: None,
    initial=LogState(),
)


def _line(doc: list) -> bytes:
    """A record, or a batch of them, as a line of the log."""
    body = json_bytes(doc)
    return b"%08x %s\n" % (zlib.crc32(body), body)


class LogStore:
    """The log and snapshot of one replica; the interface of ``impl.storage.DurableStore``, plus ``save_batch``."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.path = self.directory / LOG_FILE
        self.snapshot_path = self.directory / SNAPSHOT_FILE
        self.schema = SCHEMA
        self.state: LogState | None = None  # what the files hold, once loaded
        self._fd: int | None = None
        self._lock_fd: int | None = None

    # -- DurableStore's interface -------------------------------------------------

    def lock(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._lock_fd is None:
            self._lock_fd = lock_directory(
                self.directory, "another process holds this replica's log (its node is already running?)"
            )

    def unlock(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def write_problem(self) -> str | None:
        if not os.access(self.directory, os.W_OK):
            return f"{self.directory}: cannot write"
        return None

    def load(self) -> LogState:
        state = LogState()
        snapshot = self._read_snapshot()
        if snapshot is not None:
            state.apply(["snapshot", *snapshot])
        for rec in self._read_log():
            state.apply(rec)
        self.state = state
        return state.after(())

    def save(self, state: Any) -> LogState:
        if isinstance(state, LogState):
            self.state = state.after(())
            self._rewrite()
            return self.state.after(())
        return self.save_batch([state])

    def save_batch(self, writes: list[list]) -> LogState:
        """Make every record of ``writes`` (a list of record lists) durable with one sync."""
        if self.state is None:
            self.load()
        records = [rec for write in writes for rec in write]
        state = self.state
        snapshot = False
        for rec in records:
            if type(rec) is InstRecord:
                if rec[1] > state.snapshot_index:
                    state.insts[rec[1]] = rec.inst  # what LogState.apply does with it, without the call
            else:
                state.apply(rec)
                snapshot = snapshot or rec[0] == "snapshot"
        if snapshot:
            self._write_snapshot()
            self._rewrite()
        else:
            fd = self._append_fd()
            write_all(fd, _line(records))
            if any(rec[0] != "commit" for rec in records):
                # A commit index alone needs no sync: it only says which slots are chosen,
                # which a restarted replica learns again from the leader if it was lost.
                os.fdatasync(fd)
        return self.state

    # -- files --------------------------------------------------------------------

    def _append_fd(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def _rewrite(self) -> None:
        """The log as the records that rebuild the state beyond the snapshot, replaced atomically."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        records = [rec for rec in self.state.records() if rec[0] != "snapshot"]
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, b"".join(map(_line, records)))

    def _write_snapshot(self) -> None:
        body = {"index": self.state.snapshot_index, "state": self.state.snapshot}
        doc = {"format": SNAPSHOT_FORMAT, "version": 1, **body, "sha256": _digest(body)}
        write_atomically(self.snapshot_path, json.dumps(doc, separators=(",", ":")).encode() + b"\n")

    def _read_snapshot(self) -> tuple[int, dict] | None:
        path = self.snapshot_path
        try:
            raw = read_regular(path, MAX_SNAPSHOT)
        except FileNotFoundError:
            return None
        except NotRegularFile as exc:
            raise CorruptStorage(str(exc)) from None
        try:
            doc = json.loads(raw)
            body = {"index": doc["index"], "state": doc["state"]}
            ok = doc.get("format") == SNAPSHOT_FORMAT and doc.get("sha256") == _digest(body)
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok:
            raise CorruptStorage(f"{path}: not a sound snapshot (torn, damaged or edited: its checksum fails)")
        if problem := record_problem(["snapshot", body["index"], body["state"]]):
            raise CorruptStorage(f"{path}: not a snapshot a replica can hold: {problem}")
        return body["index"], body["state"]

    def _read_log(self) -> list[list]:
        try:
            raw = read_regular(self.path, MAX_LOG)
        except FileNotFoundError:
            return []
        except NotRegularFile as exc:
            raise CorruptStorage(str(exc)) from None
        lines = raw.split(b"\n")
        if lines[-1]:
            # A torn last append: never made durable, so never acknowledged. Cut it off.
            self._truncate(len(raw) - len(lines[-1]))
        records = []
        for number, line in enumerate(lines[:-1], 1):
            records.extend(self._parse(line, number))
        return records

    def _truncate(self, size: int) -> None:
        with open(self.path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())

    def _parse(self, line: bytes, number: int) -> list[list]:
        """The records of one line: a batch's, or the one a rewritten log has a line."""
        crc, _, body = line.partition(b" ")
        try:
            good = int(crc, 16) == zlib.crc32(body)
            doc = json.loads(body) if good else None
        except ValueError:
            good, doc = False, None
        if not good:
            raise CorruptStorage(f"{self.path}: line {number} is damaged (its checksum fails)")
        records = doc if isinstance(doc, list) and doc and isinstance(doc[0], list) else [doc]
        for rec in records:
            if problem := record_problem(rec):
                raise CorruptStorage(f"{self.path}: line {number} is no record of a replica's log: {problem}")
        return records


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

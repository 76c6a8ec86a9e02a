"""Durable storage: what a node promised survives a crash.

A node of a consensus protocol must never forget what it promised (a Paxos
acceptor's ``maxBal``, ``maxVBal``, ``maxVal``): if it did, it could promise
again against its word after a restart and two values could be chosen. So
``DurableStore.save`` returns only once the new state is on disk, and
``load`` refuses a file it cannot trust.

One file in the node's data directory, its layout a protocol's
``StoreSchema`` (Paxos's is ``impl.paxos.store.SCHEMA``, ``acceptor.json``)::

    {"format": "paxoscope-acceptor", "version": 1,
     "state": {"max_bal": 3, "max_vbal": 3, "max_val": "v1"},
     "sha256": "<hex digest of the canonical JSON of format, version and state>"}

A save writes a temporary file, fsyncs it, renames it over the real file and
fsyncs the directory, so after a crash the file holds either the old state or
the new one, never a mixture. A file that is torn or corrupt anyway (a disk
fault, an edit by hand, a copy cut short) raises ``CorruptStorage``: starting
from the initial state instead would silently break every promise made
before, so the node refuses to start, and the file is left as it was for a
person to inspect. A store that is not a regular file (a FIFO, a device, a
directory) is refused the same way, without waiting on it.

What the state may hold is checked by the schema's ``fields_problem``, the
same function the protocol's wire decoder uses, so no message a node accepts
can leave it in a state it would refuse to load.

A running node holds an exclusive lock (``flock``) on its data directory
(``DurableStore.lock``): two processes writing one store would each overwrite
the other's promises, so a second one refuses to start.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..spec.constants import ConfigError

# A real state file is well under a kilobyte even with a large value; a file
# far bigger than any value the wire can carry is not ours.
MAX_FILE = 1024 * 1024


class CorruptStorage(ConfigError):
    """A node's state file exists but cannot be trusted: a person must look at it (exit 2)."""


class Locked(ConfigError):
    """Another process holds the lock on a directory (its node, its cluster): exit 2."""


@dataclass(frozen=True)
class StoreSchema:
    """What one protocol keeps durable, and how its file looks.

    ``fields`` are the state's fields by name; ``to_dict``/``from_dict`` turn a
    state into them and back; ``fields_problem`` says what is wrong with them
    (None: a state a node can be in); ``initial`` is the state of a node that
    never saved one; ``noun`` names the node's role in messages ("acceptor")."""

    format: str
    version: int
    filename: str
    noun: str
    fields: tuple[str, ...]
    to_dict: Callable[[Any], dict[str, Any]]
    from_dict: Callable[[dict[str, Any]], Any]
    fields_problem: Callable[[dict[str, Any]], str | None]
    initial: Any

    def digest(self, state: dict[str, Any]) -> str:
        doc = {"format": self.format, "version": self.version, "state": state}
        return hashlib.sha256(_canonical(doc)).hexdigest()


class NotRegularFile(OSError):
    """A path that names a FIFO, a device, a socket or a directory, where a file belongs."""


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a directory", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device"}


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file at ``path``.

    Raises NotRegularFile for anything else, without waiting on it: opening
    a FIFO for reading blocks until a writer comes, so it is opened
    non-blocking and looked at before it is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise NotRegularFile(f"{path}: is {what}, not a regular file")
        return f.read(limit + 1)


def lock_directory(directory: str | os.PathLike[str], holder: str) -> int:
    """Take an exclusive lock on ``directory`` and return the descriptor that
    holds it (the lock lasts until it is closed or the process ends, however
    it ends). Raises ``Locked``, naming ``holder``, if another process holds it."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked(f"{directory}: {holder}") from None
    return fd


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class DurableStore:
    """The durable state of one node, kept in ``directory/<schema.filename>``."""

    def __init__(self, directory: str | os.PathLike[str], schema: StoreSchema):
        self.schema = schema
        self.directory = Path(directory)
        self.path = self.directory / schema.filename
        self._tmp = self.directory / (schema.filename + ".tmp")
        # Set once the file on disk is known to be ours and sound (or absent):
        # save() never replaces a file nobody has vouched for.
        self._verified = False
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Hold this store for the life of the process: a second process on
        the same store raises ``Locked``. The directory is created if needed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._lock_fd is None:
            self._lock_fd = lock_directory(
                self.directory, f"another process holds this {self.schema.noun} store (its node is already running?)"
            )

    def exists(self) -> bool:
        """Is there a state file (or something in its place)? A link to a missing file is no store."""
        return os.path.exists(self.path)

    def write_problem(self) -> str | None:
        """Why a save would fail now, or None: tried by creating (and removing)
        the temporary file a save writes first, and by looking at what holds
        the state file's place. A write can still fail later (a full disk
        after this); the node then reports that failure until a save succeeds."""
        try:
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
            try:
                os.write(fd, b"\n")
            finally:
                os.close(fd)
            os.unlink(self._tmp)
        except OSError as exc:
            return f"{self._tmp}: cannot write: {exc.strerror}"
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"{self.path}: {exc.strerror}"
        if not stat.S_ISREG(mode):
            return f"{self.path}: is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a state file"
        return None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def load(self) -> Any:
        """The stored state; the initial state if nothing was ever saved.

        Raises ``CorruptStorage`` (naming the file and the fault) for a file
        that exists but is not a sound state of this format version."""
        try:
            raw = read_regular(self.path, MAX_FILE)
        except FileNotFoundError:
            # A leftover .tmp is a save that never reached its rename: the
            # state it holds was never acknowledged to anyone, so ignoring
            # it is correct.
            self._verified = True
            return self.schema.initial
        except NotRegularFile as exc:
            raise CorruptStorage(str(exc)) from None
        state = self._parse(raw)
        self._verified = True
        return state

    def save(self, state: Any) -> None:
        """Make ``state`` durable: on return it survives a crash or power cut."""
        if not self._verified:
            self.load()  # raises CorruptStorage rather than overwrite a file we could not read
        schema = self.schema
        state_doc = schema.to_dict(state)
        doc = {
            "format": schema.format,
            "version": schema.version,
            "state": state_doc,
            "sha256": schema.digest(state_doc),
        }
        data = json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, data, self._tmp)

    # -- validation ------------------------------------------------------------

    def _corrupt(self, what: str) -> CorruptStorage:
        return CorruptStorage(f"{self.path}: {what}")

    def _parse(self, raw: bytes) -> Any:
        schema = self.schema
        if len(raw) > MAX_FILE:
            raise self._corrupt(f"larger than {MAX_FILE} bytes, not an {schema.noun} state file")
        if not raw.strip():
            raise self._corrupt("empty (a torn write?)")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._corrupt(f"not valid JSON (torn or damaged?): {exc}") from None
        if not isinstance(doc, dict):
            raise self._corrupt("not a JSON object")
        if doc.get("format") != schema.format:
            raise self._corrupt(f"format is {doc.get('format')!r}, expected {schema.format!r}")
        if doc.get("version") != schema.version:
            raise self._corrupt(f"format version {doc.get('version')!r}, this paxoscope reads version {schema.version}")
        missing = sorted({"state", "sha256"} - doc.keys())
        if missing:
            raise self._corrupt(f"missing {', '.join(missing)}")
        state = doc["state"]
        if not isinstance(state, dict):
            raise self._corrupt("'state' is not a JSON object")
        expected = set(schema.fields)
        if set(state) != expected:
            raise self._corrupt(f"'state' has fields {sorted(state)}, expected {sorted(expected)}")
        if doc["sha256"] != schema.digest(state):
            raise self._corrupt("checksum mismatch: the state is not what was written")
        # The checksum guards against damage; this guards against a file that
        # was written consistently but describes no state an acceptor can be in.
        if problem := schema.fields_problem(state):
            raise self._corrupt(f"not a state an {schema.noun} can be in: {problem}")
        return schema.from_dict(state)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomically(path: Path, data: bytes, tmp: Path | None = None) -> None:
    """Replace the file at ``path`` by ``data``: after a crash it holds the old
    content or the new, never a mixture (write a temporary file, fsync, rename, fsync the directory)."""
    tmp = tmp or path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_directory(path.parent)


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

"""Frames and the codec of a protocol's wire messages.

Wire format: a frame is a 4-byte big-endian length and a JSON object of at
most ``MAX_FRAME`` bytes carrying ``"v"`` (the encoding version) and
``"type"``, then the message's fields by name. ``decode`` raises
``MalformedMessage`` for anything else.

A message is a frozen dataclass with a class attribute ``type`` (its name on
the wire). A protocol's ``Codec`` knows its message types and a function
that says what is wrong with a message's fields (or a stored state's: the
store's loader uses the same one), so that a frame the decoder accepts can
never leave a node in a state its store would refuse.

The blocking side (``read_frame``, ``request``) is what a client or a
command waiting for a node uses; the node's own side, on asyncio streams, is
in ``impl.net``.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import orjson

HEADER = struct.Struct(">I")
_stdlib_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def json_bytes(doc: Any) -> bytes:
    """``doc`` as compact JSON in UTF-8. orjson does it several times faster than the standard library,
    and a busy replica spends much of its time on it; the standard library takes what orjson refuses
    (a lone surrogate, which no frame read with ``json_loads`` can have brought in)."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return _stdlib_json(doc).encode()


json_loads = orjson.loads  # refuses what is not UTF-8 or not JSON, with a ValueError
MAX_FRAME = 1024 * 1024  # a batch of commands, a Promise, a snapshot in a CatchUp: each one frame


@dataclass(frozen=True)
class Status:
    """What an operator or a supervisor asks a node: how are you? (every protocol answers it its own way)"""

    type = "status"


class MalformedMessage(ValueError):
    """A frame or payload that is not a message of this protocol version."""


def show(x: object) -> str:
    """A value in an error message, cut short: the input may be anything, of any size."""
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


class Codec:
    """The wire messages of one protocol: their frames, and what their fields may hold."""

    def __init__(
        self,
        version: int,
        types: Iterable[type],
        fields_problem: Callable[[dict[str, Any]], str | None],
        built_from_checked: Iterable[type] = (),
    ):
        self.version = version
        self.types: dict[str, type] = {cls.type: cls for cls in types}
        self.fields_problem = fields_problem
        # Types whose fields a sender builds only from what was checked when it came in (a client's
        # request, a peer's frame): encoding them checks the frame's size, not each field again.
        self.built_from_checked = frozenset(built_from_checked)
        # Each type's field names, looked up once: dataclasses.fields costs more than a small message's JSON.
        self.names: dict[type, tuple[str, ...]] = {
            cls: tuple(f.name for f in fields(cls)) for cls in self.types.values()
        }
        self.keys = {cls: frozenset({"v", "type", *names}) for cls, names in self.names.items()}

    def encode(self, msg: Any) -> bytes:
        """The frame for ``msg``: length header and JSON payload.

        Raises MalformedMessage for a message its receiver would refuse."""
        names = self.names.get(type(msg)) or tuple(f.name for f in fields(msg))
        doc = {"v": self.version, "type": msg.type}
        for name in names:
            doc[name] = getattr(msg, name)  # fields hold JSON values: no deep copy
        if type(msg) not in self.built_from_checked and (
            problem := self.fields_problem({name: doc[name] for name in names})
        ):
            raise MalformedMessage(f"not sending a {msg.type} message: {problem}")
        payload = json_bytes(doc)
        if len(payload) > MAX_FRAME:
            raise MalformedMessage(
                f"a {msg.type} message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte frame limit"
            )
        return HEADER.pack(len(payload)) + payload

    def decode(self, payload: bytes) -> Any:
        """A message from one frame's payload (without the length header)."""
        if len(payload) > MAX_FRAME:
            raise MalformedMessage(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
        try:
            data = json_loads(payload)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError covers JSONDecodeError
            raise MalformedMessage(f"payload is not JSON: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise MalformedMessage("payload is not a JSON object")
        if type(data.get("v")) is not int or data["v"] != self.version:  # True == 1, 1.0 == 1: not versions
            raise MalformedMessage(
                f"unsupported encoding version {show(data.get('v'))} (this node speaks {self.version})"
            )
        kind = data.get("type")
        cls = self.types.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise MalformedMessage(f"unknown message type {show(data.get('type'))}")
        names = self.names[cls]
        if data.keys() != self.keys[cls]:
            raise MalformedMessage(
                f"a {cls.type} message has fields {list(names)}, not {sorted(set(data) - {'v', 'type'})}"
            )
        del data["v"], data["type"]  # what is left are the fields, by name
        if problem := self.fields_problem(data):
            raise MalformedMessage(f"a {cls.type} message with a bad field: {problem}")
        return cls(**data)

    def decode_payload(self, payload: bytes) -> Any:
        """``decode``, with every failure reported as MalformedMessage.

        ``decode`` reads untrusted bytes, and a few inputs make it raise
        something else (a non-string ``type`` gives TypeError, deep nesting
        RecursionError, a 5000-digit number ValueError); whatever it raises, the
        payload was not a message, and a node must not treat it as its own bug."""
        try:
            return self.decode(payload)
        except MalformedMessage:
            raise
        except Exception as exc:
            raise MalformedMessage(f"payload is not a message ({type(exc).__name__}: {str(exc)[:100]})") from None

    def read_frame(self, sock: socket.socket) -> Any:
        """Read one frame from a blocking socket (its timeout applies to each read)."""
        (length,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
        if length > MAX_FRAME:
            raise MalformedMessage(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
        return self.decode_payload(_recv_exact(sock, length))

    def messages(self, sock: socket.socket, chunk: int = 256 * 1024) -> Iterator[Any]:
        """Every message a blocking socket delivers, read a chunk at a time, until it closes.

        Raises MalformedMessage for a frame that is not a message (the stream is then out of step)."""
        frames = FrameBuffer()
        while data := sock.recv(chunk):
            for payload in frames.feed(data):
                yield self.decode_payload(payload)

    def request(self, host: str, port: int, msg: Any, reply: type, timeout: float) -> Any:
        """Send ``msg`` on a fresh connection and return the first reply of type ``reply``.

        Raises OSError (refused, reset, closed; TimeoutError when ``timeout``
        seconds pass) or MalformedMessage for a reply that is not a message."""
        deadline = time.monotonic() + timeout
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(self.encode(msg))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {reply.__name__} from {host}:{port} within {timeout:g} s")
                sock.settimeout(remaining)
                answer = self.read_frame(sock)
                if isinstance(answer, reply):
                    return answer


class FrameBuffer:
    """The whole frames in a stream's bytes, cut as they arrive: one read of a
    chunk then yields every frame in it (rather than two reads a frame)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads ``chunk`` completes. Raises MalformedMessage for a header over the limit
        (the payloads before it are lost with the stream, which cannot be trusted to be in step)."""
        self.buffer += chunk
        payloads, at = [], 0
        while len(self.buffer) - at >= HEADER.size:
            (length,) = HEADER.unpack_from(self.buffer, at)
            if length > MAX_FRAME:
                raise MalformedMessage(f"its header announces {length} bytes, over the {MAX_FRAME}-byte limit")
            end = at + HEADER.size + length
            if end > len(self.buffer):
                break
            payloads.append(bytes(self.buffer[at + HEADER.size : end]))
            at = end
        del self.buffer[:at]
        return payloads

    def partial(self) -> str | None:
        """What the bytes left over say (None: there are none): for a stream that ended inside a frame."""
        if not self.buffer:
            return None
        if len(self.buffer) < HEADER.size:
            return "the connection closed inside its header"
        (length,) = HEADER.unpack_from(self.buffer)
        return f"the connection closed after {len(self.buffer) - HEADER.size} of its {length} bytes"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("the node closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)

"""Frames on a blocking socket: what a client (or a command waiting for a node) reads and sends.

A frame is a 4-byte big-endian length and a payload of at most ``MAX_FRAME``
bytes (``messages.encode`` makes one). The node's own side, on asyncio
streams, is in ``impl.net``.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from .messages import HEADER, MAX_FRAME, MalformedMessage, Message, decode, encode


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("the node closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def decode_payload(payload: bytes) -> Message:
    """``messages.decode``, with every failure reported as MalformedMessage.

    ``decode`` reads untrusted bytes, and a few inputs make it raise
    something else (a non-string ``type`` gives TypeError, deep nesting
    RecursionError, a 5000-digit number ValueError); whatever it raises, the
    payload was not a message, and a node must not treat it as its own bug."""
    try:
        return decode(payload)
    except MalformedMessage:
        raise
    except Exception as exc:
        raise MalformedMessage(f"payload is not a message ({type(exc).__name__}: {str(exc)[:100]})") from None


def read_frame(sock: socket.socket) -> Message:
    """Read one frame from a blocking socket (its timeout applies to each read)."""
    (length,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if length > MAX_FRAME:
        raise MalformedMessage(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    return decode_payload(_recv_exact(sock, length))


def request(host: str, port: int, msg: Message, reply: type, timeout: float) -> Any:
    """Send ``msg`` on a fresh connection and return the first reply of type ``reply``.

    Raises OSError (refused, reset, closed; TimeoutError when ``timeout``
    seconds pass) or MalformedMessage for a reply that is not a message."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode(msg))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {reply.__name__} from {host}:{port} within {timeout:g} s")
            sock.settimeout(remaining)
            answer = read_frame(sock)
            if isinstance(answer, reply):
                return answer

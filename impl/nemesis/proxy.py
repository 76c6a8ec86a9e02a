"""Proxies on loopback between the replicas, one per directed link, that can be cut one way or both.

Node A reaches node B at the proxy of the link A->B (cluster.json's ``dial``), which relays the
connection to B's own address. The relay reads frames (``impl.framing``: a 4-byte length, then the
payload) and forwards them whole, so a cut drops whole messages, as a lossy network does, and never
leaves a stream out of step: after a heal, the same connections carry messages again.

Bytes flow both ways on a relayed connection (B answers A's requests on A's stream), so a cut of the
direction A->B drops A's frames on the link A->B and B's replies on the link B->A alike: what a cut
direction blocks is every message from A to B, whichever connection carries it.

The proxies run on an asyncio loop in a thread of their own; ``LinkProxies`` is driven from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..clusterfile import HOST
from ..framing import HEADER, MAX_FRAME

Address = tuple[str, int]


@dataclass
class _Link:
    src: str
    dst: str
    server: asyncio.Server
    streams: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]


class LinkProxies:
    """One relay per directed link between ``names``; ``target(name)`` is where node ``name`` listens now
    (asked at each new connection, so a node restarted on a new address is found)."""

    def __init__(self, names: Iterable[str], target: Callable[[str], Address], host: str = HOST):
        self.names = tuple(names)
        self.target = target
        self.host = host
        self._cut: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str], _Link] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="link-proxies", daemon=True)
        self.dropped = 0  # frames dropped by cuts

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> LinkProxies:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> LinkProxies:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def address(self, src: str, dst: str) -> Address:
        """Where ``src`` must dial to reach ``dst`` through the link's proxy."""
        return self.host, self._links[src, dst].port

    def dial(self, src: str) -> tuple[tuple[str, str, int], ...]:
        """Node ``src``'s ``dial`` entry for cluster.json: every peer through its link's proxy."""
        return tuple((dst, *self.address(src, dst)) for dst in self.names if dst != src)

    # -- faults ---------------------------------------------------------------------

    def cut(self, src: str, dst: str) -> None:
        """Drop every message from ``src`` to ``dst`` until healed (the other direction is untouched)."""
        with self._lock:
            self._cut.add((src, dst))

    def cut_both(self, a: str, b: str) -> None:
        self.cut(a, b)
        self.cut(b, a)

    def isolate(self, name: str) -> None:
        """Cut ``name`` off from every other node, both ways."""
        for other in self.names:
            if other != name:
                self.cut_both(name, other)

    def split(self, side: Iterable[str]) -> None:
        """Partition the nodes in two: ``side`` and the rest, both ways."""
        side = set(side)
        for a in side:
            for b in set(self.names) - side:
                self.cut_both(a, b)

    def heal(self) -> None:
        with self._lock:
            self._cut.clear()

    def is_cut(self, src: str, dst: str) -> bool:
        with self._lock:
            return (src, dst) in self._cut

    @property
    def cuts(self) -> frozenset[tuple[str, str]]:
        with self._lock:
            return frozenset(self._cut)

    # -- the relays -------------------------------------------------------------------

    async def _listen(self) -> None:
        for src in self.names:
            for dst in self.names:
                if src != dst:
                    link = _Link(src, dst, None)  # type: ignore[arg-type]
                    link.server = await asyncio.start_server(
                        lambda r, w, link=link: self._relay(link, r, w), self.host, 0
                    )
                    self._links[src, dst] = link

    async def _close(self) -> None:
        for link in self._links.values():
            link.server.close()
            for writer in list(link.streams):
                writer.close()
        for link in self._links.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.server.wait_closed(), 2)

    async def _relay(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = self.target(link.dst)
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
        except (OSError, TimeoutError):
            writer.close()  # the node is down: the dialer sees a refused connection, as it would directly
            return
        link.streams.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, link.src, link.dst), self._pump(up_reader, writer, link.dst, link.src)
            )
        finally:
            link.streams.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, src: str, dst: str) -> None:
        """Forward whole frames from ``src``'s side to ``dst``'s, dropping those a cut of src->dst blocks."""
        try:
            while True:
                header = await reader.readexactly(HEADER.size)
                (length,) = HEADER.unpack(header)
                # An oversized frame is the receiver's to refuse: passed on as it came, then the stream ends.
                payload = await reader.readexactly(min(length, MAX_FRAME + 1))
                if self.is_cut(src, dst):
                    self.dropped += 1
                    continue
                writer.write(header + payload)
                await writer.drain()
                if length > MAX_FRAME:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()  # one side ended: end the other, as a direct connection would

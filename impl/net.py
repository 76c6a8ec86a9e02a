"""The real network runtime: one node of a protocol as an asyncio TCP server.

The protocol's core (Paxos's: ``impl.paxos.core``) decides what to do; this
module does it, unchanged: it listens on its address from the cluster
description, turns every frame it receives into an event for the node's
``handle``, and performs the ``Effects`` in the order the core requires: the
node's new state is made durable (``DurableStore.save``: write, fsync,
rename, fsync) before any message of that step leaves the process. What is
the protocol's (its core, messages, store, status reply) comes with the node's
configuration, ``config.protocol`` (``impl.protocol.RuntimeProtocol``).

Streams and frames
    A frame is what the protocol's codec makes (``impl.framing``): a 4-byte big-endian length
    and a JSON payload of at most ``MAX_FRAME`` bytes. A node opens one
    outgoing connection per peer and sends its protocol messages to that
    peer on it. Frames carry no sender, so a message received on a stream is
    handed to the core as ``Receive(src, msg)`` with ``src`` naming the
    stream: the peer's name on our own outgoing streams, the remote address
    (``127.0.0.1:54321``) on an accepted connection. A reply the core
    addresses to ``src`` (a ``Promise`` to a ``Prepare``) goes back on that
    same stream, so a peer, a test or any tool can run a ballot over one
    connection. Clients get their answers the same way: ``Status`` ->
    ``StatusReply``, ``Propose`` -> ``Decided`` once this node has learned
    the decision (at once if it already has).

    Frames on one connection are handled in order, each to completion (the
    handler, its durable write, its sends queued) before the next is read; so
    a ``Status`` answered after an ``Accept`` on the same connection reflects
    that ``Accept``. ``StatusReply`` reports the *durable* acceptor state.

    A frame that is oversized, truncated or not a message of this protocol
    version is dropped with one line on stderr and its connection is closed
    (after a bad length the stream cannot be re-synchronised); the node keeps
    serving everyone else. A message the core does not expect is ignored.
    Every field is validated on the way in as strictly as the store's loader
    validates the file (``messages.fields_problem``), so no frame can put the
    acceptor in a state it would refuse at its next start.

    An exception while handling one event (a bug of ours) drops that event:
    the acceptor goes back to its durable state, the retry timer is armed
    again if no decision is known, and the node keeps serving.

    An accepted connection that sends no whole frame for ``idle_timeout``
    seconds is closed (a peer reconnects when it next has something to say),
    and at most ``max_connections`` are served at once: beyond that a new
    connection is closed at once, so idle sockets cannot eat the memory.

Loss and retries
    Paxos tolerates lost messages, so the runtime does not buffer for peers
    that are down: a message to an unreachable peer is dropped. A proposer
    that gets no decision in time is woken by the core's retry timer and
    starts its next ballot; the delay is randomised and grows with each retry
    (capped) so that duelling proposers stop pre-empting each other.

Run one node: ``python -m paxoscope.impl.net --name n1 --cluster DIR/cluster.json``
(``paxoscope cluster start`` does this for every node). The node holds a
lock on its data directory while it runs. A corrupt or missing store, a
store another process holds, or a bad cluster description: exit 2 with one
line on stderr. SIGTERM or SIGINT: stop serving and exit 0.

A node recorded as a learner (``paxoscope cluster rejoin``) runs with no
acceptor role and no proposer role: it never promises, never votes and
never proposes, and learns the decision from the others' votes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..spec.constants import positive_int as _positive_int
from ..spec.constants import positive_seconds as _seconds
from .clusterfile import HOST, ClusterError, NodeInfo, load_cluster
from .framing import Codec, FrameBuffer, MalformedMessage
from .protocol import ClientRequest, ClientRequests, Effects, Event, Receive, Timeout
from .storage import CorruptStorage, DurableStore, Locked
from .supervise import missing_store_problem

log = logging.getLogger("paxoscope.node")

CONNECT_TIMEOUT = 1.0
QUEUE_LIMIT = 1024  # frames waiting for one peer; beyond that they are dropped (loss is allowed)
STOP_TIMEOUT = 3.0  # a clean stop closes connections; past this, exit anyway
LAZY_SAVE_DELAY = 0.05  # the "reply-before-durable" bug: how long a reply runs ahead of its write
IDLE_TIMEOUT = 60.0  # seconds an accepted connection may stay without sending a whole frame
MAX_CONNECTIONS = 256  # accepted connections served at once (a cluster needs a few per node and client)
# Python's cycle collector, as a node process runs it: a first collection after this many new objects, not
# 700. A replica holds many small long-lived objects (its log's instances and commands, its machine's state),
# and each collection of the older generations walks them all: with the defaults that took a busy
# Multi-Paxos replica about a third of its time (three replicas' cores, codec and stores run in one process:
# 63 us a command with the defaults, 39 with these). What it allocates per request forms no cycles, so
# collecting cycles less often keeps little more memory.
GC_THRESHOLDS = (50_000, 20, 20)


# ---------------------------------------------------------------------------
# The node runtime
# ---------------------------------------------------------------------------


ANSWERS_PER_FRAME = 256  # answers merged into one frame, at most (a frame has a size limit)
READ_SIZE = 16 * 1024  # bytes read from a stream at once: every whole frame in them is handled in one go,
# and a node under load stays that long (a few hundred requests) away from its timers and peers


class _Frames:
    """The messages of one stream, cut from whatever bytes have arrived.

    Reading a chunk and handling every whole frame in it (rather than two
    awaited reads a frame) lets a node under load take a burst of requests
    in one pass, and so cover them with one durable write."""

    def __init__(self, label: str, codec: Codec):
        self.label, self.codec = label, codec
        self.frames = FrameBuffer()
        self.broken = False  # a bad frame: the stream cannot be trusted to be in step, so it is closed

    def feed(self, chunk: bytes) -> list[Any]:
        """The messages ``chunk`` completes; after a bad frame (one log line), those before it."""
        msgs = []
        try:
            payloads = self.frames.feed(chunk)
        except MalformedMessage as exc:
            log.warning("dropped a frame from %s: %s; closing that connection", self.label, exc)
            self.broken = True
            return msgs
        for payload in payloads:
            try:
                msgs.append(self.codec.decode_payload(payload))
            except MalformedMessage as exc:
                log.warning("dropped a malformed frame from %s: %s; closing that connection", self.label, exc)
                self.broken = True
                break
        return msgs

    def end(self) -> None:
        """The stream ended: one log line if it ended inside a frame."""
        if not self.broken and (partial := self.frames.partial()):
            log.warning("dropped a frame from %s: %s", self.label, partial)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a proposer waits for a decision before its next ballot.

    The wait grows with each retry and is randomised (a factor in [1, 2)),
    so two proposers that keep pre-empting each other soon stop colliding."""

    base: float = 0.15
    factor: float = 1.5
    cap: float = 1.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap, self.base * self.factor**attempt) * rng.uniform(1.0, 2.0)


class _Peer:
    """The outgoing stream to one peer: a queue, a task that writes it out,
    and a task that reads what the peer sends back on it (its replies)."""

    def __init__(self, info: NodeInfo, runtime: NodeRuntime):
        self.info = info
        self.runtime = runtime
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.writer: asyncio.StreamWriter | None = None
        self.reachable = True  # only to log changes, not every lost message
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._spawn(self._pump())

    def send(self, msg: Any) -> None:
        try:
            frame = self.runtime.encode(msg)
        except (MalformedMessage, ValueError) as exc:
            log.warning("not sending a %s to %s: %s", msg.type, self.info.name, exc)
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("dropped a %s to %s: %d messages already wait for it", msg.type, self.info.name, QUEUE_LIMIT)

    async def close(self) -> None:
        # Cancel more than once: on Python 3.11 a cancellation that races with
        # a connection attempt's outcome can be lost (asyncio.wait_for did
        # that here), and the task would then wait on its queue forever.
        for _ in range(3):
            pending = [task for task in self.tasks if not task.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.5)
        if self.writer is not None:
            self.writer.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _pump(self) -> None:
        while True:
            # Whatever else is waiting goes out with it: one write, not one a message.
            frames = [await self.queue.get()]
            while not self.queue.empty():
                frames.append(self.queue.get_nowait())
            writer = await self._connection()
            if writer is None:
                continue  # the peer is down: these messages are lost, the proposer's timer covers them
            try:
                writer.write(b"".join(frames))
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                log.info("lost the connection to %s (%s)", self.info.name, exc)
                writer.close()
                self.writer = None

    async def _connection(self) -> asyncio.StreamWriter | None:
        if self.writer is not None and not self.writer.is_closing():
            return self.writer
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(self.info.host, self.info.port)
        except (TimeoutError, OSError) as exc:
            if self.reachable:
                log.info(
                    "%s at %s is unreachable (%s); dropping messages to it", self.info.name, self.info.address, exc
                )
                self.reachable = False
            return None
        if not self.reachable:
            log.info("%s at %s is reachable again", self.info.name, self.info.address)
        self.reachable = True
        self.writer = writer
        self._spawn(self._read_replies(reader, writer))
        return writer

    async def _read_replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The peer answers our requests (a Promise to our Prepare) on this
        # stream. The read also ends when the peer is gone (crashed, killed,
        # restarted): closing the writer then makes the next message open a
        # new connection instead of vanishing into a dead socket, which would
        # accept a write or two without complaint.
        try:
            await self.runtime.serve_stream(reader, writer, self.info.name)
        finally:
            writer.close()


class NodeRuntime:
    """One node: the core, its durable store, a TCP server and its peers."""

    def __init__(
        self,
        config: Any,
        peers: Sequence[NodeInfo],
        store: DurableStore | None,
        *,
        host: str = HOST,
        port: int = 0,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self.config = config
        self.protocol = config.protocol
        self.codec: Codec = self.protocol.codec
        self.store = store  # None: a learner, which keeps no durable state
        # Raises CorruptStorage: a node that cannot trust its promises must not run.
        self.durable = store.load() if store is not None else self.protocol.store.initial
        self.node = self.protocol.node(config, self.durable)
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._refused = 0  # connections closed for being over the limit
        self._save_error: str | None = None  # the last durable write's failure, until one succeeds
        self.host, self.port = host, port
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.peers = {p.name: _Peer(p, self) for p in peers if p.name != config.name}
        self.server: asyncio.Server | None = None
        self._waiters: set[asyncio.StreamWriter] = set()  # clients waiting for the decision
        # Incoming connections by label: a reply to a Receive's src goes back on its stream.
        self._streams: dict[str, asyncio.StreamWriter] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._lazy_save: asyncio.TimerHandle | None = None
        self._attempts = 0
        self._ticker: asyncio.TimerHandle | None = None
        self._batch: list[Effects] = []  # group commit: effects waiting for one durable write
        self._flush: asyncio.Handle | None = None
        self._replies: dict[asyncio.StreamWriter, list[bytes]] | None = None  # while a batch is sent
        self._frames: dict[int, bytes] | None = None  # likewise: each message's frame, by id
        self._answers: dict[asyncio.StreamWriter, list[Any]] | None = None  # likewise: answers to merge, by stream
        self._merging: set[asyncio.StreamWriter] = set()  # streams that send many requests a frame
        requests = self.protocol.requests if self.protocol.batch_requests else None
        self._client_types = (self.protocol.request,) if requests is None else (self.protocol.request, requests)
        self._not_busy = asyncio.Event()  # set after each batch the core is not busy after

    @property
    def name(self) -> str:
        return self.config.name

    async def start(self) -> None:
        """Listen (raises OSError if the address is taken) and start the peer streams."""
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        for peer in self.peers.values():
            peer.start()
        if self.protocol.tick is not None:
            self._on_tick()
        schema = self.protocol.store
        if self.store is None:
            log.info("serving on %s:%d as a learner (no %s state)", self.host, self.port, schema.noun)
            return
        state = " ".join(f"{k}={v!r}" for k, v in schema.to_dict(self.durable).items())
        log.info("serving on %s:%d (%s)", self.host, self.port, state)

    async def stop(self) -> None:
        for handle in (self._timer, self._lazy_save, self._ticker, self._flush):
            if handle is not None:
                handle.cancel()
        if self._lazy_save is not None:
            self._flush_lazy_save()
        if self.server is not None:
            self.server.close()
        for writer in list(self._streams.values()):
            writer.close()
        self._not_busy.set()  # a stream waiting for the core to be less busy sees that it closed
        if self.server is not None:
            await self.server.wait_closed()
        await asyncio.gather(*(p.close() for p in self.peers.values()))

    # -- serving connections ------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._streams) >= self.max_connections:
            self._refused += 1
            if self._refused == 1 or self._refused % 1000 == 0:  # one line per burst, not one per socket
                log.warning(
                    "closed a new connection: %d are open, the limit (%d connections closed so far)",
                    self.max_connections,
                    self._refused,
                )
            writer.close()
            return
        peername = writer.get_extra_info("peername")
        # The label is the stream's address: frames carry no sender, and an
        # address can never be mistaken for a node name (names have no ':').
        label = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else f"client-{id(writer)}"
        self._streams[label] = writer
        try:
            await self.serve_stream(reader, writer, label, idle=self.idle_timeout)
        finally:
            self._waiters.discard(writer)
            self._merging.discard(writer)
            self._streams.pop(label, None)
            writer.close()

    async def serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, label: str, idle: float | None = None
    ) -> None:
        """Handle every frame of one stream, in order, until it ends, a frame is
        bad, or (with ``idle``) no whole frame came and went in ``idle`` seconds."""
        frames = _Frames(label, self.codec)
        clients = False
        loop = asyncio.get_running_loop()
        deadline = None if idle is None else loop.time() + idle
        try:
            while not frames.broken:
                if clients and deadline is not None:
                    deadline += await self._room_for_requests(writer)  # the node's wait is not the client's idleness
                async with asyncio.timeout_at(deadline):
                    chunk = await reader.read(READ_SIZE)
                if not chunk:
                    frames.end()
                    return
                msgs = frames.feed(chunk)
                if msgs and idle is not None:
                    deadline = loop.time() + idle
                for msg in self._batched(msgs, label, writer):
                    self._dispatch(msg, label, writer)
                # A stream that brought a client's request is held back while the core is busy; a
                # peer's never is (its answers are what make the core less busy).
                clients = clients or any(isinstance(msg, self._client_types) for msg in msgs)
                async with asyncio.timeout_at(deadline):
                    await writer.drain()  # a client that never reads cannot make us buffer without bound
        except TimeoutError:
            return  # idle (or not reading our replies): the connection is closed; its owner may open another
        except (ConnectionError, OSError):
            return  # the other side went away: nothing to answer
        except Exception:
            # A bug of ours while serving one stream must not take down the
            # node and every promise it serves.
            log.exception("internal error while serving %s; closing that connection", label)

    async def _room_for_requests(self, writer: asyncio.StreamWriter) -> float:
        """Wait while the core is busy (the seconds waited): what clients send meanwhile waits in their
        sockets (TCP holds it back), and the node spends its time proposing and committing what it has."""
        busy, started = self.protocol.busy, asyncio.get_running_loop().time()
        while busy is not None and busy(self.node) and not writer.is_closing():
            self._not_busy.clear()
            await self._not_busy.wait()
        return asyncio.get_running_loop().time() - started

    def _batched(self, msgs: list[Any], label: str, writer: asyncio.StreamWriter) -> list[Any]:
        """``msgs`` with each run of client requests (those a frame of many carries too) made one
        ``ClientRequests`` event, when the core takes them so; the rest in place, so the core sees
        everything in the order it came."""
        protocol = self.protocol
        requests = protocol.requests
        if not protocol.batch_requests or protocol.client_request is None:
            return msgs
        if len(msgs) < 2 and (requests is None or not any(isinstance(msg, requests) for msg in msgs)):
            return msgs
        out: list[Any] = []
        run: list[ClientRequest] = []
        for msg in msgs:
            if isinstance(msg, protocol.request):
                run.append(protocol.client_request(msg, label))
                continue
            if requests is not None and isinstance(msg, requests):
                run.extend(protocol.client_request(request, label) for request in msg.each())
                if protocol.merge_replies is not None:
                    self._merging.add(writer)  # its answers go back many a frame too
                continue
            if run:
                out.append(ClientRequests(tuple(run)))
                run = []
            out.append(msg)
        if run:
            out.append(ClientRequests(tuple(run)))
        return out

    def _dispatch(self, msg: Any, label: str, writer: asyncio.StreamWriter) -> None:
        protocol = self.protocol
        if isinstance(msg, ClientRequests):
            self.apply(msg)
        elif isinstance(msg, protocol.status):
            reply = protocol.status_reply(self.name, self.node, self.durable, self._store_error())
            self._reply(writer, reply)
        elif isinstance(msg, protocol.request) and protocol.client_request is not None:
            self.apply(protocol.client_request(msg, label))
        elif isinstance(msg, protocol.request):
            if self.node.decided is not None:
                self._reply(writer, protocol.answer(self.node.decided))
            else:
                self._waiters.add(writer)
                self.apply(ClientRequest(msg.value))
        elif isinstance(msg, protocol.peer_messages):
            # Every protocol message goes to the core, whatever its kind: the
            # core decides what it means for this node's roles.
            # src is the stream's label: the core replies to src, and _send
            # routes such a reply back on the stream the request came in on.
            self.apply(Receive(label, msg))
        else:
            log.info("ignored a %s message from %s: nodes do not take it as a request", msg.type, label)

    def _reply(self, writer: asyncio.StreamWriter, msg: Any) -> None:
        if writer.is_closing():
            return
        if self._answers is not None and writer in self._merging and isinstance(msg, self.protocol.answer):
            self._answers.setdefault(writer, []).append(msg)  # the batch's answers to it go together
            return
        frame = self._answer_frame(msg)
        if frame is None:
            return
        if self._replies is not None:
            self._replies.setdefault(writer, []).append(frame)
            return
        self._write(writer, frame)

    def _merged(self, answers: list[Any]) -> list[bytes]:
        """The frames of ``answers`` to a stream that sends many requests a frame: as many to a frame as
        fit (those of a frame over the size limit, one a frame; one answer alone, as it is)."""
        frames = []
        for at in range(0, len(answers), ANSWERS_PER_FRAME):
            chunk = answers[at : at + ANSWERS_PER_FRAME]
            try:
                frames.append(self.codec.encode(self.protocol.merge_replies(chunk) if len(chunk) > 1 else chunk[0]))
            except MalformedMessage:
                frames += [frame for answer in chunk if (frame := self._answer_frame(answer)) is not None]
        return frames

    def _answer_frame(self, msg: Any) -> bytes | None:
        """``msg``'s frame, or None (after one log line) for an answer its receiver would refuse."""
        try:
            return self.encode(msg)
        except (MalformedMessage, ValueError) as exc:
            log.warning("cannot answer with a %s: %s", msg.type, exc)
            return None

    def encode(self, msg: Any) -> bytes:
        """``msg``'s frame; while a batch is sent, a message broadcast to every peer is encoded once."""
        if self._frames is None:
            return self.codec.encode(msg)
        frame = self._frames.get(id(msg))
        if frame is None:
            frame = self._frames[id(msg)] = self.codec.encode(msg)
        return frame

    @staticmethod
    def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        try:
            writer.write(data)
        except (ConnectionError, OSError):
            pass

    # -- the core and its effects -------------------------------------------------

    def apply(self, event: Event) -> None:
        """Run one event through the core and perform what it asks, in order.

        An exception (a bug, or an input nobody foresaw) drops this one event:
        to everyone else it is a lost message, which the protocol tolerates.
        What must survive it is the node: its state is put back to what is on
        disk, and its retry timer keeps running."""
        try:
            effects = self.node.handle(event)
            if self.protocol.group_commit:
                self._join_batch(effects)
            else:
                self.perform(effects)
        except Exception:
            log.exception("internal error while handling %s; dropped it", _describe(event))
            self._recover()

    def _recover(self) -> None:
        if self.protocol.group_commit:
            # The core's memory may be ahead of its disk in ways only a restart
            # undoes: the node is rebuilt from what its store holds, and what the
            # batch would have sent is dropped (lost messages, to everyone else).
            self._batch.clear()
            self.durable = self.store.load() if self.store is not None else self.protocol.store.initial
            self.node = self.protocol.node(self.config, self.durable)
            return
        self.node.restore(self.durable)
        if self.node.decided is None and self._timer is None:
            self._arm_timer()  # a Timeout for a proposer with nothing to propose does nothing

    # -- group commit: one durable write for every event that was ready ----------

    def _join_batch(self, fx: Effects) -> None:
        self._batch.append(fx)
        if self._flush is None:
            # After every frame already read has been handled: the batch then
            # holds all of them, and one fsync covers it.
            self._flush = asyncio.get_running_loop().call_soon(self._flush_batch)

    def _flush_batch(self) -> None:
        self._flush = None
        batch, self._batch = self._batch, []
        writes = [fx.persist for fx in batch if fx.persist is not None]
        if writes and not self._save_batch(writes):
            self._recover()
            return
        # A batch's replies to one stream leave in one write (a system call per
        # reply would cost more than the rest of the request).
        # The batch's messages stay alive until it is sent, so their ids name them.
        self._replies, self._frames, self._answers = {}, {}, {}
        try:
            for fx in batch:
                for dest, msg in (*fx.send, *fx.reply):
                    self._send(dest, msg)
                if fx.timer:
                    self._arm_timer()
        finally:
            replies, answers = self._replies, self._answers
            self._replies = self._frames = self._answers = None
            for writer, merged in answers.items():
                replies.setdefault(writer, []).extend(self._merged(merged))
            if self.protocol.busy is None or not self.protocol.busy(self.node):
                self._not_busy.set()
            for writer, frames in replies.items():
                if not writer.is_closing():
                    self._write(writer, b"".join(frames))

    def _save_batch(self, writes: list[Any]) -> bool:
        try:
            self.durable = self.store.save_batch(writes)
        except (OSError, CorruptStorage) as exc:
            self._save_error = str(exc)
            log.error("could not make the log durable (%s); dropping this batch's replies", exc)
            return False
        self._save_error = None
        return True

    def _on_tick(self) -> None:
        self._ticker = asyncio.get_running_loop().call_later(self.protocol.tick, self._on_tick)
        self.apply(Timeout(time.time()))

    def perform(self, fx: Effects) -> None:
        sends = [*fx.send, *fx.reply]
        if fx.persist is not None and fx.durable_first and not self._save(fx.persist):
            # The core already holds the new state in memory. Roll it back to
            # what is on disk and send nothing: to everyone else this step is
            # a lost message, which the protocol tolerates.
            self.node.restore(self.durable)
            sends = []
        for dest, msg in sends:
            self._send(dest, msg)
        if fx.persist is not None and not fx.durable_first:
            self._schedule_lazy_save()
        if fx.decide is not None:
            self._on_decide(fx.decide)
        if fx.timer:
            self._arm_timer()

    def _save(self, state: Any) -> bool:
        """Make ``state`` durable; False (after one log line) if it could not be.

        Blocking on purpose: nothing else on this node runs between the
        handler and its write, so no reply, Status or later handler can
        observe a state that is not yet on disk."""
        noun = self.protocol.store.noun
        if self.store is None:
            log.error("a learner has no %s store; not keeping %s", noun, state)
            return False
        try:
            self.store.save(state)
        except (OSError, CorruptStorage) as exc:
            self._save_error = str(exc)
            log.error("could not make the %s state durable (%s); dropping this step's replies", noun, exc)
            return False
        self._save_error = None
        self.durable = state
        return True

    def _store_error(self) -> str | None:
        """Why the store cannot be written now, or None (a learner has none to write).

        After a write failed, the only proof that the store works again is a
        write: the durable state (what the file holds) is written once more."""
        if self.store is None:
            return None
        if problem := self.store.write_problem():
            return problem
        if self._save_error is not None:
            self._save(self.durable)
        return self._save_error

    def _send(self, dest: str, msg: Any) -> None:
        if dest == self.name:
            # To ourselves: after this step completes, like any other message.
            asyncio.get_running_loop().call_soon(self._deliver_local, msg)
        elif dest in self.peers:
            self.peers[dest].send(msg)
        elif dest in self._streams:
            self._reply(self._streams[dest], msg)  # a reply to whoever sent the request on that stream
        else:
            # The requester's stream closed before the reply: a lost message,
            # which its proposer's retry covers.
            log.info("not sending a %s to %s: that connection has closed", msg.type, dest)

    def _deliver_local(self, msg: Any) -> None:
        try:
            self.apply(Receive(self.name, msg))
        except Exception:
            log.exception("internal error while handling our own %s", msg.type)

    def _on_decide(self, value: str) -> None:
        log.info("decided %r", value)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for writer in list(self._waiters):
            self._reply(writer, self.protocol.answer(value))
        self._waiters.clear()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = self.retry.delay(self._attempts, self.rng)
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._attempts += 1
        try:
            self.apply(Timeout())
        except Exception:
            log.exception("internal error on the retry timer")

    # -- the "reply-before-durable" bug mode ------------------------------------

    def _schedule_lazy_save(self) -> None:
        if self._lazy_save is None:
            self._lazy_save = asyncio.get_running_loop().call_later(LAZY_SAVE_DELAY, self._flush_lazy_save)

    def _flush_lazy_save(self) -> None:
        self._lazy_save = None
        state = self.node.durable
        if state is not None:
            self._save(state)


def _describe(event: Event) -> str:
    if isinstance(event, Receive):
        return f"a {event.msg.type} from {event.src}"
    if isinstance(event, ClientRequests):
        return f"{len(event.requests)} client requests"
    return "a client request" if isinstance(event, ClientRequest) else "the retry timer"


# ---------------------------------------------------------------------------
# The node process
# ---------------------------------------------------------------------------


async def _serve_until_signalled(runtime: NodeRuntime, prog: str) -> int:
    try:
        await runtime.start()
    except OSError as exc:
        # Almost always: the port is taken (another node, another program).
        print(f"{prog}: error: cannot listen on {runtime.host}:{runtime.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await runtime.stop()
    except TimeoutError:
        # Every durable write is already done (they are synchronous), so
        # leaving now loses nothing.
        log.warning("connections did not close within %g s; exiting anyway", STOP_TIMEOUT)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paxoscope.impl.net",
        description="Run one node of a cluster described by cluster.json (see: paxoscope cluster start). "
        "Exit codes: 0 stopped by SIGTERM or SIGINT, 2 bad cluster description, corrupt storage or port taken, "
        "3 internal error.",
    )
    parser.add_argument("--name", required=True, help="this node's name in the cluster description")
    parser.add_argument("--cluster", required=True, metavar="FILE", help="the cluster description (DIR/cluster.json)")
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=IDLE_TIMEOUT,
        metavar="S",
        help=f"close an accepted connection that sends no whole frame for S seconds (default: {IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive_int,
        default=MAX_CONNECTIONS,
        metavar="N",
        help=f"serve at most N accepted connections at once (default: {MAX_CONNECTIONS})",
    )
    args = parser.parse_args(argv)
    prog = f"paxoscope node {args.name}"
    try:
        cluster = load_cluster(args.cluster)
        me = cluster.node(args.name)
        runtime_protocol = cluster.runtime
        store = runtime_protocol.open_store(me.data)
        store.lock()  # held until this process ends, however it ends
        if problem := missing_store_problem(args.cluster, me, runtime_protocol):
            raise ClusterError(problem)
        runtime = NodeRuntime(
            runtime_protocol.node_config(cluster, me.name),
            cluster.peers_of(me.name),  # through a proxy where cluster.json says so
            store if me.is_acceptor else None,
            host=me.host,
            port=me.port,
            idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
        )
    except (ClusterError, Locked) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the data directory cannot be created or opened
        print(f"{prog}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except CorruptStorage as exc:
        print(f"{prog}: error: corrupt storage, refusing to start: {exc}", file=sys.stderr)
        return 2
    gc.freeze()  # what start-up made (modules, the log just loaded) is never garbage: no collection walks it
    gc.set_threshold(*GC_THRESHOLDS)
    # Logging starts only now, so that a refusal above is exactly one line.
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s {me.name} %(levelname)s %(message)s"
    )
    try:
        return asyncio.run(_serve_until_signalled(runtime, prog))
    except Exception:
        log.exception("internal error")
        return 3


if __name__ == "__main__":
    sys.exit(main())

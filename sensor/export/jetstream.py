"""`--export-nats`: every event into a JetStream stream, and the node's heartbeat into a key-value bucket.

The export's thread hands events to :meth:`JetStreamSink.write`, which only appends them to a
bounded buffer; an asyncio loop on a thread of its own publishes them (the protobuf
``TelemetryEvent`` as the payload, its id as ``Nats-Msg-Id``) in rounds of up to ROUND_EVENTS,
each round's acknowledgements counted together. A round leaves the buffer once the stream
acknowledged all of it; otherwise it is published again, and the stream's duplicate window drops
what it already stored. So a server that dies mid-round loses nothing and stores nothing twice (in
that case the stored order may differ from the sequence numbers within one round). While no
server answers, the buffer holds up to ``buffer_events``; past that, events are lost, counted,
and said in the stream by a ``lost`` event once there is room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from sensor.export.exporter import ExportStats, LostEvent
from sensor.fleet.engine import (
    DEFAULT_EXPIRY_S,
    DEFAULT_HEARTBEAT_S,
    EVENTS_STREAM,
    EVENTS_SUBJECT_PREFIX,
    LANGUAGES_SUBJECT_PREFIX,
    NODES_BUCKET,
    REPORTS_MAX_AGE_S,
    REPORTS_STREAM,
    SEEN_BUCKET,
    SEEN_TTL_S,
    EngineAddress,
    NodeHeartbeat,
    engine_error,
    ensure_bucket,
    ensure_stream,
    subject_token,
)
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.registry import event_kind
from sensor.telemetry.wire import event_bytes

DEFAULT_BUFFER_EVENTS = 200_000
ROUND_EVENTS = 512
ACK_TIMEOUT_S = 5.0
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 5.0
CONNECTING = "connecting"  # the error until the first connection: its first failure is said
DUPLICATE_WINDOW_S = 600.0  # longer than any outage the buffer rides out at a few thousand events a second
log = logging.getLogger("sensor")

# One buffered message: subject, message id, payload.
Message = tuple[str, str, bytes]
_MSG_ID_HEADER = b"NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n"


@dataclass(frozen=True, slots=True)
class JetStreamConfig:
    """Where to publish, the stream's limits when the sensor creates it, and the heartbeat's periods."""

    address: EngineAddress
    node_name: str
    stream: str = EVENTS_STREAM
    replicas: int = 1
    max_age_s: float = 24 * 3600.0
    max_bytes: int = 1 << 30
    buffer_events: int = DEFAULT_BUFFER_EVENTS
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    expiry_s: float = DEFAULT_EXPIRY_S


class JetStreamSink:
    """The NATS sink (see the module's docstring). ``heartbeat`` makes the node's heartbeat (any thread)."""

    name = "nats"

    def __init__(self, config: JetStreamConfig, lost_event: LostEvent, heartbeat: Callable[[], NodeHeartbeat]) -> None:
        self.config = config
        self.destination = f"{','.join(config.address.servers)} stream {config.stream}"
        self._lost_event = lost_event
        self._heartbeat = heartbeat
        self._node = subject_token(config.node_name)
        self._buffer: deque[Message] = deque()
        self._lock = threading.Lock()
        self._sent = 0
        self._lost = 0
        self._unreported = 0
        self.error = CONNECTING
        self._js: JetStreamContext | None = None  # once the stream is ready
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="sensor-export-nats", daemon=True)
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    # --- the export's thread ---

    def write(self, events: list[TelemetryEvent]) -> None:
        """Buffer the events for publishing; past the buffer's bound, count them lost."""
        node = self._node
        with self._lock:
            buffer = self._buffer
            self._say_loss()
            room = self.config.buffer_events - len(buffer)
            for event in events[: max(room, 0)]:
                buffer.append(self._message(node, event))
            if len(events) > room:
                dropped = len(events) - max(room, 0)
                self._lost += dropped
                self._unreported += dropped
        self._loop.call_soon_threadsafe(self._wake.set)

    def _say_loss(self) -> None:
        """Buffer a ``lost`` event for what overflowed, once there is room (the lock is held)."""
        if self._unreported and len(self._buffer) < self.config.buffer_events:
            lost = self._lost_event(self._unreported, "export")
            self._buffer.append(self._message(self._node, lost))
            self._unreported = 0

    @staticmethod
    def _message(node: str, event: TelemetryEvent) -> Message:
        return f"{EVENTS_SUBJECT_PREFIX}.{node}.{event_kind(event).value}", event.id, event_bytes(event)

    def tick(self) -> None:
        """Nothing on the clock: the loop keeps its own."""

    def close(self, timeout: float) -> None:
        """Publish what is buffered (up to ``timeout`` seconds, none while no server answers), say the
        node stopped, disconnect. What stays unpublished is counted as lost, and said."""
        self._closing = True
        self._loop.call_soon_threadsafe(self._wake.set)
        try:
            self._main.result(timeout)
        except Exception as error:  # a timeout, or what the loop died of: either way, stop it
            self.error = self.error or str(error) or "timeout"
            self._main.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        with self._lock:
            unpublished = len(self._buffer)
            self._buffer.clear()
            self._lost += unpublished
        if unpublished:
            log.warning("export nats: stopped with %d events unpublished (%s)", unpublished, self.error)

    def publish_report(self, subject: str, payload: bytes) -> Future[None]:
        """Publish one message on this sink's connection (any thread); the future fails when it was not
        stored (no server yet, or no acknowledgement)."""
        return asyncio.run_coroutine_threadsafe(self._publish_report(subject, payload), self._loop)

    async def _publish_report(self, subject: str, payload: bytes) -> None:
        if self._js is None or self.error:
            raise ConnectionError(self.error or "not connected yet")
        await self._js.publish(subject, payload)

    def fill(self, stats: ExportStats) -> None:
        """Its counters into ``stats``."""
        stats.sent += self._sent
        stats.lost += self._lost
        stats.pending += len(self._buffer)
        stats.error = self.error

    # --- the loop's thread ---

    async def _run(self) -> None:
        nc = await self._connect()
        if nc is None:
            return
        try:
            js = nc.jetstream(timeout=ACK_TIMEOUT_S)
            await self._prepare(js)
            self._js = js
            beats = asyncio.ensure_future(self._beat(js))
            try:
                await self._publish(nc, js)
            finally:
                beats.cancel()
            if not self.error:  # a server away would keep the stop waiting for nothing
                await self._last_word(js)
        finally:
            await nc.close()

    async def _connect(self) -> NatsClient | None:
        """Connect, trying again with backoff until it works or the sink closes (events buffer meanwhile)."""
        wait = RETRY_FIRST_S
        while not self._closing:
            try:
                nc = await self.config.address.connect(
                    f"sensor {self.config.node_name}",
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                    skip_subject_validation=True,  # subjects made of subject_token()s
                    client=_AckCountingClient,
                )
                server = nc.connected_url.netloc if nc.connected_url else "?"
                log.info("export nats: connected to %s", server, extra={"fields": {"event": "export_connected"}})
                self.error = ""
                return nc
            except Exception as error:  # nats raises OSError, its own errors and timeouts
                self._fail(f"cannot connect to {', '.join(self.config.address.servers)}: {engine_error(error)}")
            await self._sleep(wait)
            wait = min(wait * 2, RETRY_MAX_S)
        return None

    async def _on_error(self, error: Exception) -> None:
        self._fail(f"nats: {engine_error(error)}")

    async def _on_disconnect(self) -> None:
        self._fail("disconnected; reconnecting")

    async def _on_reconnect(self) -> None:
        log.info("export nats: reconnected")

    def _fail(self, message: str) -> None:
        """Record a failure; said once when the export goes from healthy to failing (a server away gives
        one failure per reconnect attempt), and again when it publishes again."""
        if self.error in ("", CONNECTING):
            log.warning("export nats: %s (buffering; %d events waiting)", message, len(self._buffer))
        self.error = message

    async def _prepare(self, js: JetStreamContext) -> None:
        """The stream and the buckets, created with the configured limits when absent."""
        config = self.config
        wait = RETRY_FIRST_S
        while True:
            try:
                limits = {
                    "max_age": config.max_age_s,
                    "max_bytes": config.max_bytes,
                    "duplicate_window": min(DUPLICATE_WINDOW_S, config.max_age_s),
                }
                if await ensure_stream(js, config.stream, EVENTS_SUBJECT_PREFIX, config.replicas, **limits):
                    log.info("export nats: created stream %s (%d replicas)", config.stream, config.replicas)
                await ensure_stream(
                    js, REPORTS_STREAM, LANGUAGES_SUBJECT_PREFIX, config.replicas, max_age=REPORTS_MAX_AGE_S
                )
                expiry_s = float(
                    (await (await ensure_bucket(js, NODES_BUCKET, config.expiry_s, config.replicas)).status()).ttl or 0
                )
                await ensure_bucket(js, SEEN_BUCKET, SEEN_TTL_S, config.replicas)
                if expiry_s and expiry_s <= config.heartbeat_s:
                    log.warning(
                        "export nats: bucket %s forgets a node after %gs, sooner than this node's --heartbeat %gs: "
                        "it will show as gone between heartbeats (delete the bucket to have it made anew with "
                        "--heartbeat-expiry %gs, or heartbeat more often)",
                        NODES_BUCKET,
                        expiry_s,
                        config.heartbeat_s,
                        config.expiry_s,
                    )
                return
            except (nats.errors.Error, asyncio.TimeoutError, OSError) as error:
                if self._closing:
                    raise
                self._fail(f"cannot set up stream {config.stream}: {engine_error(error)}")
                await self._sleep(wait)
                wait = min(wait * 2, RETRY_MAX_S)

    async def _publish(self, nc: NatsClient, js: JetStreamContext) -> None:
        """Rounds of publishes until closing with nothing left (see the module's docstring)."""
        acks = _RoundAcks(nc.new_inbox())
        assert isinstance(nc, _AckCountingClient)
        nc.acks = acks
        nc.acks_sid = (await nc.subscribe(f"{acks.inbox}.*"))._id
        wait = RETRY_FIRST_S
        while True:
            with self._lock:
                round_ = [self._buffer[i] for i in range(min(ROUND_EVENTS, len(self._buffer)))]
            if self._closing and (not round_ or self.error):  # stopping: no waiting on a server that is away
                return
            if not round_:
                self._wake.clear()
                await self._sleep(1.0)
                continue
            acknowledged = await self._publish_round(nc, acks, round_)
            with self._lock:
                for _ in range(acknowledged):
                    self._buffer.popleft()
                self._sent += acknowledged
                self._say_loss()
            if acknowledged == len(round_):
                if self.error:
                    log.warning("export nats: publishing again (%d events waiting)", len(self._buffer))
                    self.error = ""
                wait = RETRY_FIRST_S
            else:
                await self._sleep(wait)
                wait = min(wait * 2, RETRY_MAX_S)
                if acks.no_stream:  # deleted, or a server restarted without its store: make it again
                    await self._prepare(js)

    async def _publish_round(self, nc: NatsClient, acks: _RoundAcks, round_: list[Message]) -> int:
        """Publish ``round_``: all of it once the stream acknowledged every message, else 0 (it goes again)."""
        if not nc.is_connected:  # nats-py would keep the round to send on reconnect: it goes then, from here
            self._fail("disconnected; reconnecting")
            return 0
        reply = acks.begin(len(round_)).encode()
        # The round's HPUB commands, written at once: nc.publish per message cost more than the rest
        # of the daemon's work per event (header dict, checks, a flush wake-up each).
        commands = b"".join(
            [
                b"HPUB %s %s %d %d\r\n%s%s\r\n"
                % (subject.encode(), reply, len(header), len(header) + len(payload), header, payload)
                for subject, header, payload in ((s, _MSG_ID_HEADER % i.encode(), p) for s, i, p in round_)
            ]
        )
        try:
            await nc._send_command(commands)
            await nc._flush_pending()
        except (nats.errors.Error, OSError) as error:
            self._fail(f"publish failed: {engine_error(error)}")
            return 0
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(acks.done.wait(), ACK_TIMEOUT_S)
        if acks.stored == len(round_):
            return len(round_)
        if acks.refusal:
            self._fail(f"not acknowledged: {acks.refusal}")
        else:
            self._fail(f"{len(round_) - acks.stored} of {len(round_)} not acknowledged within {ACK_TIMEOUT_S:g}s")
        return 0

    async def _sleep(self, seconds: float) -> None:
        """Sleep until woken by a write or a close, or ``seconds`` pass."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _beat(self, js: JetStreamContext) -> None:
        """The node's heartbeat into both buckets, every ``heartbeat_s``."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                beat = await loop.run_in_executor(None, self._heartbeat)
                await self._put_heartbeat(js, beat)
            except (nats.errors.Error, asyncio.TimeoutError, OSError) as error:
                log.warning("export nats: heartbeat not stored: %s", engine_error(error))
            await asyncio.sleep(self.config.heartbeat_s)

    async def _put_heartbeat(self, js: JetStreamContext, beat: NodeHeartbeat) -> None:
        value = beat.encode()
        key = subject_token(beat.node_name)
        await (await js.key_value(NODES_BUCKET)).put(key, value)
        await (await js.key_value(SEEN_BUCKET)).put(key, value)

    async def _last_word(self, js: JetStreamContext) -> None:
        """A clean stop: the node leaves the live bucket at once, and the seen bucket says it stopped."""
        try:
            beat = self._heartbeat()
            beat.stopped = True
            key = subject_token(beat.node_name)
            await (await js.key_value(NODES_BUCKET)).delete(key)
            await (await js.key_value(SEEN_BUCKET)).put(key, beat.encode())
        except (nats.errors.Error, asyncio.TimeoutError, OSError) as error:
            log.warning("export nats: could not say this node stopped: %s", engine_error(error))


class _RoundAcks:
    """The stream's acknowledgements of one round, every message of which names the round's own reply
    subject: counted as they come, with no per-message future (a third of nats-py's publish_async cost).
    A late acknowledgement of a round given up is ignored; that round went again, and the stream's
    duplicate window kept one copy."""

    def __init__(self, inbox: str) -> None:
        self.inbox = inbox
        self._round = 0
        self._token = b""
        self._expected = 0
        self.stored = 0
        self.refusal = ""
        self.no_stream = False  # the server said no stream takes the subject (status 503, no responders)
        self.done = asyncio.Event()

    def begin(self, expected: int) -> str:
        """Start a round of ``expected`` messages; the reply subject they name."""
        self._round += 1
        self._token = str(self._round).encode()
        self._expected = expected
        self.stored = 0
        self.refusal = ""
        self.no_stream = False
        self.done.clear()
        return f"{self.inbox}.{self._round}"

    def take(self, subject: bytes, data: bytes, headers: bytes) -> None:
        """One acknowledgement (or refusal, or a no-responders status in ``headers``) of some round."""
        if subject.rpartition(b".")[2] != self._token:
            return
        if b'"seq"' in data and b'"error"' not in data:
            self.stored += 1
        elif not data and headers.startswith(b"NATS/1.0 503"):
            self.no_stream = True
            self.refusal = "no stream takes these subjects (no responders)"
        else:
            self.refusal = (data or headers or b"no answer").decode(errors="replace").strip()
        if self.refusal or self.stored >= self._expected:
            self.done.set()


class _AckCountingClient(NatsClient):
    """nats-py's client, but for the export's acknowledgements, which are counted as its parser hands
    them over: no ``Msg``, queue or callback task for each (they were half the export's own CPU per
    event, profiled on its loop thread)."""

    acks: _RoundAcks | None = None
    acks_sid = -1

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        if sid == self.acks_sid and self.acks is not None:
            self.acks.take(subject, data, headers)
            return
        await super()._process_msg(sid, subject, reply, data, headers)

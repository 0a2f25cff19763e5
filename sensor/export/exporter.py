"""One export: a hub subscriber drained by a thread of its own into a sink (a file, a JetStream stream).

The pipeline never waits for an export: the hub's bounded queue sits between them, and what it
drops is counted and written into the export as a ``lost`` event. The sink's own losses (a full
disk, a server away past its buffer) are the sink's to count and to write when it can again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.hub import MAX_BATCH_EVENTS, Hub, Subscriber, queued_events
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.subscription import CompiledSubscription

TAKE_WAIT_S = 0.25
STOP_GRACE_S = 10.0  # how long a stopping export may take to write out what it holds
log = logging.getLogger("sensor")

LostEvent = Callable[[int, str], TelemetryEvent]


@dataclass(slots=True)
class ExportStats:
    """What one export wrote, lost and left out, as GetInfo, `sensor status` and the metrics show it."""

    name: str
    destination: str
    sent: int = 0
    lost: int = 0
    rate_limited: int = 0
    pending: int = 0
    error: str = ""


class Sink(Protocol):
    """Where an export's events go. Called from the export's thread only."""

    name: str
    destination: str

    def write(self, events: list[TelemetryEvent]) -> None:
        """Write or hand on ``events``; never raises for a failure of the destination (counts it)."""

    def tick(self) -> None:
        """Called at least every TAKE_WAIT_S: time-based work (rotation, retries)."""

    def close(self, timeout: float) -> None:
        """Write out what is held, waiting up to ``timeout`` seconds, then release the destination."""

    def fill(self, stats: ExportStats) -> None:
        """Its counters (sent, lost, pending, error) into ``stats``."""


class RateLimit:
    """At most ``per_second`` events a second, as a token bucket one second deep; 0: no limit.

    ``lost`` events always pass: a limit must not hide a loss.
    """

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._tokens = float(per_second)
        self._at = time.monotonic()
        self.dropped = 0

    def admit(self, events: list[TelemetryEvent]) -> list[TelemetryEvent]:
        """The events the limit lets through now (the others are counted in :attr:`dropped`)."""
        if not self.per_second:
            return events
        now = time.monotonic()
        self._tokens = min(float(self.per_second), self._tokens + (now - self._at) * self.per_second)
        self._at = now
        kept = []
        for event in events:
            if type(event.payload) is LostPayload:
                kept.append(event)
            elif self._tokens >= 1.0:
                self._tokens -= 1.0
                kept.append(event)
            else:
                self.dropped += 1
        return kept


class Exporter(threading.Thread):
    """Takes its subscriber's events and writes them to its sink until stopped."""

    def __init__(
        self, sink: Sink, rules: CompiledSubscription, rate_limit: int, lost_event: LostEvent, snapshot: bool = False
    ) -> None:
        super().__init__(name=f"sensor-export-{sink.name}", daemon=True)
        self.sink = sink
        self.rules = rules
        self.snapshot = snapshot  # begin with the world as it is (the processes and containers already there)
        self._limit = RateLimit(rate_limit)
        self._lost_event = lost_event
        self._subscriber: Subscriber | None = None
        self._hub: Hub | None = None
        self._stop_requested = threading.Event()

    def attach(self, hub: Hub, snapshot: Callable[[], list[TelemetryEvent]]) -> None:
        """Subscribe to ``hub`` (before the pipeline publishes, so that no event falls before the first),
        beginning with ``snapshot()``'s events if this export wants them."""
        self._hub = hub
        first = snapshot if self.snapshot else None
        self._subscriber = hub.subscribe(self.rules, peer=f"export:{self.sink.name}", first=first)

    def run(self) -> None:
        subscriber = self._subscriber
        assert subscriber is not None, "attach() first"
        sink = self.sink
        while True:
            stopping = self._stop_requested.is_set()
            items = subscriber.take(MAX_BATCH_EVENTS, 0 if stopping else TAKE_WAIT_S)
            if items:
                events = self._limit.admit(queued_events(items, self._lost_event, "export"))
                if events:
                    sink.write(events)
            sink.tick()
            if not items:
                if stopping:
                    return
                if subscriber.closed_reason:  # the hub closed: take() no longer waits
                    self._stop_requested.wait(TAKE_WAIT_S)

    def stop(self) -> None:
        """Write out what is queued (the pipeline has stopped), close the sink, and unsubscribe."""
        if self._subscriber is not None:
            self._subscriber.close("the sensor is stopping")  # what waits for its batch delay is due now
        self._stop_requested.set()
        if self.is_alive():
            self.join(STOP_GRACE_S)
        self.sink.close(STOP_GRACE_S)
        if self._hub is not None and self._subscriber is not None:
            self._hub.unsubscribe(self._subscriber)

    def stats(self) -> ExportStats:
        """Its counters now: the queue's loss and the sink's, together."""
        stats = ExportStats(self.sink.name, self.sink.destination, rate_limited=self._limit.dropped)
        self.sink.fill(stats)
        if self._subscriber is not None:
            queue = self._subscriber.stats()
            stats.lost += queue.lost
            stats.pending += queue.queued
        return stats

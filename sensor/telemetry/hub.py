"""Fan-out of events to subscribers, each with its own bounded queue, so that no subscriber can slow another.

The pipeline thread calls :meth:`Hub.publish`; it never blocks. A subscriber whose queue is full
loses the event, counted; the next time there is room, a loss marker goes into its queue so the
subscriber is told, in order, how many it lost. Throttle and limit are applied per subscriber.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Union

from sensor.telemetry.events import EventKind, TelemetryEvent
from sensor.telemetry.subscription import CompiledSubscription

DEFAULT_QUEUE_EVENTS = 16384
_KIND = attrgetter("kind")

# A queued item: an event, or the number of events lost just before this point.
Queued = Union[TelemetryEvent, int]


def queued_events(
    items: list[Queued], lost_event: Callable[[int, str], TelemetryEvent], stage: str
) -> list[TelemetryEvent]:
    """A subscriber's queued items as events: each loss count becomes a ``lost`` event of ``stage``."""
    return [item if isinstance(item, TelemetryEvent) else lost_event(item, stage) for item in items]


@dataclass(slots=True)
class SubscriberStats:
    """What one subscriber was sent, lost, and had throttled."""

    id: int
    peer: str
    queued_total: int
    lost: int
    throttled: int
    queued: int


class Subscriber:
    """One subscription's queue. Filled by the pipeline thread, drained by the subscriber's own thread."""

    def __init__(self, rules: CompiledSubscription, capacity: int, peer: str = "", subscriber_id: int = 0) -> None:
        self.rules = rules
        self.capacity = capacity
        self.peer = peer
        self.id = subscriber_id
        self._queue: deque[Queued] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._unreported_loss = 0
        self._accepted = 0  # events queued, toward the limit
        self._lost = 0
        self._throttled = 0
        self._wake_at = 1  # queue length at which offer() wakes the reader (raised while it gathers a batch)
        self.closed_reason = ""  # set when the hub closes: the stream ends with this message

    @property
    def limit_reached(self) -> bool:
        """Whether the subscription's limit of events has been queued (no more will be)."""
        return 0 < self.rules.limit <= self._accepted

    def offer(self, events: list[TelemetryEvent], bounded: bool = True) -> None:
        """Queue what the subscription wants of ``events`` (pipeline thread; never blocks on the reader).

        ``bounded=False`` queues past the capacity: for the snapshot, which the reader has not had a
        chance to drain yet.
        """
        rules = self.rules
        wants = rules.wants
        throttle = rules.throttle_ns
        limit = rules.limit
        with self._ready:
            queue = self._queue
            added = False
            for event in events:
                if not wants(event):
                    continue
                if throttle and rules.throttled(event):
                    self._throttled += 1
                    continue
                if limit and self._accepted >= limit:
                    break
                if bounded and len(queue) >= self.capacity:
                    self._unreported_loss += 1
                    self._lost += 1
                    continue
                if self._unreported_loss:
                    queue.append(self._unreported_loss)  # may exceed the capacity by this one marker
                    self._unreported_loss = 0
                queue.append(event)
                self._accepted += 1
                added = True
            if added and len(queue) >= self._wake_at:
                self._ready.notify()

    def take(self, max_items: int, timeout: float, gather: float = 0.0) -> list[Queued]:
        """Up to ``max_items`` queued items, waiting up to ``timeout`` seconds for the first one.

        With ``gather`` (seconds), once there is a first item it waits up to that long more for
        ``max_items``, woken only by a full batch or the end of the subscription: one reader wake-up
        per batch, not one per publish.
        """
        with self._ready:
            queue = self._queue
            if not queue and not self.closed_reason:
                self._ready.wait(timeout)
            if gather and queue and len(queue) < max_items and not self.closed_reason:
                self._wake_at = max_items
                self._ready.wait(gather)
                self._wake_at = 1
            items = [queue.popleft() for _ in range(min(max_items, len(queue)))]
            if not queue and self._unreported_loss and len(items) < max_items:
                items.append(self._unreported_loss)  # the loss since the last queued event
                self._unreported_loss = 0
            return items

    @property
    def finished(self) -> bool:
        """Closed or at its limit, with nothing left to take."""
        return (bool(self.closed_reason) or self.limit_reached) and not self._queue and not self._unreported_loss

    def close(self, reason: str) -> None:
        """End the subscription: the reader takes what is queued, then stops with ``reason``."""
        with self._ready:
            self.closed_reason = reason
            self._ready.notify_all()

    def stats(self) -> SubscriberStats:
        """Its counters now."""
        return SubscriberStats(self.id, self.peer, self._accepted, self._lost, self._throttled, len(self._queue))


class Hub:
    """The subscribers, and :meth:`publish` to all of them."""

    def __init__(self, queue_events: int = DEFAULT_QUEUE_EVENTS) -> None:
        self.queue_events = queue_events
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._next_id = 1
        self.published_by_kind: Counter[EventKind] = Counter()
        self.subscriptions_total = 0
        self._lost_by_gone = 0  # loss of subscribers that have left, so the total never goes down

    def subscribe(
        self, rules: CompiledSubscription, peer: str = "", first: Callable[[], list[TelemetryEvent]] | None = None
    ) -> Subscriber:
        """A new subscriber; ``first`` (the snapshot) is queued before any published event."""
        with self._lock:
            subscriber = Subscriber(rules, self.queue_events, peer, self._next_id)
            self._next_id += 1
            if first is not None:
                subscriber.offer(first(), bounded=False)
            self._subscribers = (*self._subscribers, subscriber)
            self.subscriptions_total += 1
            return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber (its stream ended)."""
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
            self._lost_by_gone += subscriber.stats().lost

    def publish(self, events: list[TelemetryEvent]) -> None:
        """Offer events to every subscriber."""
        if not events:
            return
        self.published_by_kind.update(map(_KIND, events))
        for subscriber in self._subscribers:  # a tuple swapped whole: safe to iterate unlocked
            subscriber.offer(events)

    @property
    def published(self) -> int:
        """Events published since start, every kind."""
        return sum(self.published_by_kind.values())

    def close(self, reason: str) -> None:
        """End every subscription with ``reason``."""
        for subscriber in self._subscribers:
            subscriber.close(reason)

    def subscribers(self) -> list[SubscriberStats]:
        """Each current subscriber's counters."""
        return [s.stats() for s in self._subscribers]

    def latency_budget_ns(self) -> int | None:
        """The shortest batch delay a subscriber asked for (0: one wants each event at once); None: no subscriber."""
        subscribers = self._subscribers
        if not subscribers:
            return None
        return min(s.rules.batch_delay_ns for s in subscribers)

    def lost_total(self) -> int:
        """Events dropped from full queues, over every subscriber there ever was."""
        return self._lost_by_gone + sum(s.stats().lost for s in self._subscribers)

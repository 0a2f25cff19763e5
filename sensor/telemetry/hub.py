"""Fan-out of events to subscribers, each with its own bounded queue, so that no subscriber can slow another.

The pipeline thread calls :meth:`Hub.publish`; it never blocks. A subscriber whose queue is full
loses the event, counted; the next time there is room, a loss marker goes into its queue so the
subscriber is told, in order, how many it lost. Throttle and limit are applied per subscriber.
A subscriber with a batch delay takes its events when the oldest has waited that long since it
happened in the kernel, or sooner when nothing more can join the batch in time (Subscriber.take).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.registry import event_kind
from sensor.telemetry.subscription import CompiledSubscription

DEFAULT_QUEUE_EVENTS = 16384
MAX_BATCH_EVENTS = 512  # the most a batch holds: one response's worth

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
        self._batch_delay_ns = rules.batch_delay_ns
        self._wake_at = MAX_BATCH_EVENTS  # queue length at which offer() wakes the reader: a full batch
        self._next_publish_ns = 0  # when the pipeline said it would publish next
        self._asleep_until_ns = 0  # when the reader, waiting for a first event, wakes by itself (0: not so)
        self.closed_reason = ""  # set when the hub closes: the stream ends with this message

    @property
    def batch_delay_ns(self) -> int:
        """How long its events may wait, counted from when they happened: the subscription's batch
        delay, or the pace its stream set (:meth:`pace`)."""
        return self._batch_delay_ns

    def pace(self, delay_ns: int) -> None:
        """From now on, take events as a batch of ``delay_ns``: how a stream paces a subscriber that
        asked for no batch (the pipeline then reads as often as that, not every millisecond)."""
        self._batch_delay_ns = delay_ns

    @property
    def limit_reached(self) -> bool:
        """Whether the subscription's limit of events has been queued (no more will be)."""
        return 0 < self.rules.limit <= self._accepted

    def offer(self, wanted: list[TelemetryEvent], bounded: bool = True, next_publish_ns: int = 0) -> None:
        """Queue events its rules want (``rules.wanted``: the hub filters once for subscribers of one
        filter), throttled and limited (pipeline thread; never blocks on the reader).

        ``bounded=False`` queues past the capacity: for the snapshot, which the reader has not had a
        chance to drain yet. ``next_publish_ns``: when the pipeline will offer more at the earliest;
        a batch due before then goes now, as nothing can join it by its due time.
        """
        if not wanted:
            return
        rules = self.rules
        with self._ready:
            queue = self._queue
            if not (rules.throttle_ns or rules.limit or self._unreported_loss) and (
                not bounded or len(queue) + len(wanted) <= self.capacity
            ):
                queue.extend(wanted)  # the common case, at C speed
                self._accepted += len(wanted)
            elif not self._queue_each(wanted, bounded):
                return
            self._next_publish_ns = next_publish_ns
            if len(queue) >= self._wake_at:
                self._ready.notify()
                return
            now = time.monotonic_ns()
            due = self._batch_due_ns()
            # Wake the reader when the batch is due before anything more can join it, or when it waits
            # for a first event past the batch's due time (it has no timer for this batch yet).
            if due <= max(next_publish_ns, now) or due < self._asleep_until_ns:
                self._ready.notify()

    def _queue_each(self, wanted: list[TelemetryEvent], bounded: bool) -> bool:
        """Queue events one by one through throttle, limit and capacity; whether any was queued."""
        rules = self.rules
        throttle = rules.throttle_ns
        limit = rules.limit
        queue = self._queue
        added = False
        for event in wanted:
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
        return added

    def take(self, max_items: int, timeout: float, flush_at_ns: int = 0) -> list[Queued]:
        """Up to ``max_items`` queued items once they are due, waiting up to ``timeout`` seconds for that.

        Items are due as soon as there are any for a subscription without a batch delay. With one,
        they are due when ``max_items`` are queued, when the oldest event's delay (counted from when
        it happened) is spent or would be before the pipeline's next publish, at ``flush_at_ns``
        (monotonic), or when the subscription ends: one reader wake-up per batch, not one per
        publish. Returns [] if nothing is due by the timeout.
        """
        with self._ready:
            deadline_ns = time.monotonic_ns() + int(timeout * 1e9)
            while not self._is_due(max_items, flush_at_ns):
                # Woken early or at a timer: look again until the deadline.
                now = time.monotonic_ns()
                if now >= deadline_ns:
                    return []
                wait = (deadline_ns - now) / 1e9
                if self._queue:  # a timer for the batch it holds
                    due = min(self._batch_due_ns(), flush_at_ns or 1 << 63)
                    wait = max(0.0, min(wait, (due - now) / 1e9))
                else:  # no timer yet: offer() wakes it if the first batch is due sooner
                    self._asleep_until_ns = now + int(wait * 1e9)
                self._wake_at = max_items
                self._ready.wait(wait)
                self._wake_at = MAX_BATCH_EVENTS
                self._asleep_until_ns = 0
            queue = self._queue
            items = [queue.popleft() for _ in range(min(max_items, len(queue)))]
            if not queue and self._unreported_loss and len(items) < max_items:
                items.append(self._unreported_loss)  # the loss since the last queued event
                self._unreported_loss = 0
            return items

    def _is_due(self, max_items: int, flush_at_ns: int) -> bool:
        if self.closed_reason:
            return True
        queue = self._queue
        if not queue:
            return bool(self._unreported_loss)
        if len(queue) >= max_items:
            return True
        now = time.monotonic_ns()
        return self._batch_due_ns() <= max(now, self._next_publish_ns) or 0 < flush_at_ns <= now

    def _batch_due_ns(self) -> int:
        """When the oldest queued event's batch delay is spent (the queue is not empty)."""
        head = self._queue[0]
        event = head if isinstance(head, TelemetryEvent) else self._queue[1]  # a loss marker precedes an event
        assert isinstance(event, TelemetryEvent)
        return event.sensor_monotime_nanos + self._batch_delay_ns

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


class SubscribersFull(Exception):
    """The hub already has its most subscribers."""


class Hub:
    """The subscribers, and :meth:`publish` to all of them."""

    def __init__(self, queue_events: int = DEFAULT_QUEUE_EVENTS, max_subscribers: int = 0) -> None:
        self.queue_events = queue_events
        self.max_subscribers = max_subscribers  # 0: no limit
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._next_id = 1
        self.published_by_kind: Counter[EventKind] = Counter()
        self.subscriptions_total = 0
        self.subscriptions_refused = 0
        self._lost_by_gone = 0  # loss of subscribers that have left, so the total never goes down

    def subscribe(
        self, rules: CompiledSubscription, peer: str = "", first: Callable[[], list[TelemetryEvent]] | None = None
    ) -> Subscriber:
        """A new subscriber; ``first`` (the snapshot) is queued before any published event.

        Raises SubscribersFull, counted, while ``max_subscribers`` are subscribed.
        """
        with self._lock:
            if 0 < self.max_subscribers <= len(self._subscribers):
                self.subscriptions_refused += 1
                raise SubscribersFull(f"already serving {self.max_subscribers} subscribers")
            subscriber = Subscriber(rules, self.queue_events, peer, self._next_id)
            self._next_id += 1
            if first is not None:
                subscriber.offer(rules.wanted(first()), bounded=False)
            self._subscribers = (*self._subscribers, subscriber)
            self.subscriptions_total += 1
            return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber (its stream ended)."""
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
            self._lost_by_gone += subscriber.stats().lost

    def publish(self, events: list[TelemetryEvent], next_publish_ns: int = 0) -> None:
        """Offer events to every subscriber; ``next_publish_ns``: when the next publish comes at the earliest."""
        if not events:
            return
        self.published_by_kind.update(map(event_kind, events))
        wanted_by_filter: dict[bytes, list[TelemetryEvent]] = {}
        for subscriber in self._subscribers:  # a tuple swapped whole: safe to iterate unlocked
            rules = subscriber.rules
            wanted = wanted_by_filter.get(rules.filter_key)
            if wanted is None:
                wanted = wanted_by_filter[rules.filter_key] = rules.wanted(events)
            subscriber.offer(wanted, next_publish_ns=next_publish_ns)

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

    def read_prefixes(self) -> frozenset[bytes]:
        """The read-only opens any subscriber asked for, by path prefix (for the kernel's filter)."""
        return frozenset().union(*(s.rules.read_prefixes for s in self._subscribers))

    def latency_budget_ns(self) -> int | None:
        """The shortest batch delay of a subscriber, asked for or paced (0: one wants each event at once);
        None: no subscriber."""
        subscribers = self._subscribers
        if not subscribers:
            return None
        return min(s.batch_delay_ns for s in subscribers)

    def lost_total(self) -> int:
        """Events dropped from full queues, over every subscriber there ever was."""
        return self._lost_by_gone + sum(s.stats().lost for s in self._subscribers)

"""The hub: each subscriber's own bounded queue, loss counted and told in order, limit, snapshot first."""

from __future__ import annotations

import threading
import time

from sensor.api.v1 import subscription_pb2 as sub
from sensor.kernel.records import Creds
from sensor.telemetry.events import LostPayload, ProcessEventType, ProcessPayload, TelemetryEvent
from sensor.telemetry.hub import Hub, Queued, queued_events
from sensor.telemetry.subscription import CompiledSubscription, compile_subscription


def execs(first: int, count: int) -> list[TelemetryEvent]:
    payload = ProcessPayload(ProcessEventType.EXEC, exec_filename="/bin/true")
    return [
        TelemetryEvent("s", n, n, payload, credentials=Creds(0, 0, 0, 0, 0, 0, 0, 0))
        for n in range(first, first + count)
    ]


def every_exec(limit: int = 0) -> CompiledSubscription:
    return compile_subscription(
        sub.Subscription(
            event_filter=sub.EventFilter(process_events=[sub.ProcessEventFilter(type="EXEC")]),
            modifier=sub.Modifier(limit=sub.LimitModifier(limit=limit)),
        )
    )


def sequence(items: list[Queued]) -> list[int | str]:
    return [f"lost {i}" if isinstance(i, int) else i.sensor_sequence_number for i in items]


def test_a_full_queue_loses_events_and_tells_the_subscriber_in_order() -> None:
    hub = Hub(queue_events=3)
    slow = hub.subscribe(every_exec())
    fast = hub.subscribe(every_exec())
    hub.publish(execs(1, 5))
    assert sequence(fast.take(10, 0)) == [1, 2, 3, "lost 2"]
    hub.publish(execs(6, 2))
    assert sequence(fast.take(10, 0)) == [6, 7]
    hub.publish(execs(8, 4))
    assert sequence(slow.take(2, 0)) == [1, 2]
    assert sequence(slow.take(10, 0)) == [3, "lost 8"]
    assert [(s.lost, s.queued) for s in hub.subscribers()] == [(8, 0), (3, 3)]
    assert hub.lost_total() == 11


def test_a_stalled_subscriber_does_not_hold_back_another() -> None:
    hub = Hub(queue_events=10)
    hub.subscribe(every_exec())  # never read
    reader = hub.subscribe(every_exec())
    received = []
    for batch in range(100):
        hub.publish(execs(batch * 10, 10))
        received += reader.take(100, 0)
    assert len(received) == 1000 and all(not isinstance(i, int) for i in received)
    assert [s.lost for s in hub.subscribers()] == [990, 0]


def publish_later(hub: Hub, delay: float, events: list[TelemetryEvent]) -> threading.Timer:
    timer = threading.Timer(delay, hub.publish, (events,))
    timer.start()
    return timer


def test_a_gathering_take_waits_out_its_delay_and_returns_everything_that_came() -> None:
    hub = Hub()
    subscriber = hub.subscribe(every_exec())
    hub.publish(execs(1, 1))
    later = publish_later(hub, 0.05, execs(2, 2))  # does not wake the reader: the batch is not full
    started = time.monotonic()
    items = subscriber.take(512, 1.0, gather=0.3)
    waited = time.monotonic() - started
    later.join()
    assert sequence(items) == [1, 2, 3]
    assert waited >= 0.29


def test_a_gathering_take_returns_as_soon_as_the_batch_is_full() -> None:
    hub = Hub()
    subscriber = hub.subscribe(every_exec())
    hub.publish(execs(1, 3))
    later = publish_later(hub, 0.05, execs(4, 3))
    started = time.monotonic()
    items = subscriber.take(5, 1.0, gather=30.0)
    waited = time.monotonic() - started
    later.join()
    assert sequence(items) == [1, 2, 3, 4, 5]
    assert waited < 15.0  # woken by the full batch, not the 30 s delay
    assert sequence(subscriber.take(5, 0)) == [6]


def test_closing_ends_a_gathering_take_with_what_is_queued() -> None:
    hub = Hub()
    subscriber = hub.subscribe(every_exec())
    hub.publish(execs(1, 2))
    closer = threading.Timer(0.05, subscriber.close, ("stopping",))
    closer.start()
    items = subscriber.take(512, 1.0, gather=30.0)
    closer.join()
    assert sequence(items) == [1, 2]
    assert subscriber.finished


def test_without_a_first_event_a_gathering_take_returns_empty_after_its_timeout() -> None:
    hub = Hub()
    subscriber = hub.subscribe(every_exec())
    assert subscriber.take(512, 0.01, gather=30.0) == []


def batching(max_delay_ns: int) -> CompiledSubscription:
    rules = every_exec()
    rules.batch_delay_ns = max_delay_ns
    return rules


def test_the_latency_budget_is_the_shortest_batch_delay_and_none_without_subscribers() -> None:
    hub = Hub()
    assert hub.latency_budget_ns() is None
    patient = hub.subscribe(batching(50_000_000))
    hub.subscribe(batching(20_000_000))
    assert hub.latency_budget_ns() == 20_000_000
    eager = hub.subscribe(every_exec())
    assert hub.latency_budget_ns() == 0
    hub.unsubscribe(eager)
    hub.unsubscribe(patient)
    assert hub.latency_budget_ns() == 20_000_000


def test_limit_stops_queueing_and_finishes_the_subscriber() -> None:
    hub = Hub()
    limited = hub.subscribe(every_exec(limit=2))
    hub.publish(execs(1, 5))
    assert limited.limit_reached and not limited.finished
    assert sequence(limited.take(10, 0)) == [1, 2]
    assert limited.finished


def test_the_snapshot_goes_first_and_is_not_bounded_by_the_queue() -> None:
    hub = Hub(queue_events=2)
    subscriber = hub.subscribe(every_exec(), first=lambda: execs(100, 5))
    hub.publish(execs(1, 1))
    assert sequence(subscriber.take(10, 0)) == [100, 101, 102, 103, 104, "lost 1"]


def test_unsubscribed_loss_still_counts_and_close_finishes_subscribers() -> None:
    hub = Hub(queue_events=1)
    gone = hub.subscribe(every_exec())
    staying = hub.subscribe(every_exec())
    hub.publish(execs(1, 3))
    hub.unsubscribe(gone)
    assert hub.lost_total() == 4
    hub.close("the sensor is shutting down")
    assert staying.closed_reason == "the sensor is shutting down"
    staying.take(10, 0)
    staying.take(10, 0)
    assert staying.finished


def test_queued_loss_counts_become_lost_events_of_the_reading_stage_in_place() -> None:
    first, second = execs(1, 2)
    asked: list[tuple[int, str]] = []

    def lost_event(count: int, stage: str) -> TelemetryEvent:
        asked.append((count, stage))
        return TelemetryEvent("s", 0, 0, LostPayload(count, stage))

    events = queued_events([first, 5, second], lost_event, "terminal")
    assert asked == [(5, "terminal")]
    assert [e.payload for e in events] == [first.payload, LostPayload(5, "terminal"), second.payload]
    assert events[0] is first and events[2] is second

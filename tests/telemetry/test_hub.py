"""The hub: each subscriber's own bounded queue, loss counted and told in order, limit, snapshot first."""

from __future__ import annotations

import threading
import time

import pytest

from sensor.api.v1 import subscription_pb2 as sub
from sensor.kernel.records import Creds
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.hub import Hub, Queued, SubscribersFull, queued_events
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.subscription import CompiledSubscription, compile_subscription


def execs(first: int, count: int, happened_ns: int = 0) -> list[TelemetryEvent]:
    """Exec events numbered from ``first``; ``happened_ns`` (monotonic) is when, or long ago."""
    payload = ProcessPayload(ProcessEventType.EXEC, exec_filename="/bin/true")
    return [
        TelemetryEvent("s", n, happened_ns or n, payload, credentials=Creds(0, 0, 0, 0, 0, 0, 0, 0))
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


def test_a_subscriber_past_the_most_is_refused_and_counted_until_one_leaves() -> None:
    hub = Hub(max_subscribers=2)
    first = hub.subscribe(every_exec())
    hub.subscribe(every_exec())
    with pytest.raises(SubscribersFull, match=r"^already serving 2 subscribers$"):
        hub.subscribe(every_exec())
    hub.unsubscribe(first)
    hub.subscribe(every_exec())
    assert (len(hub.subscribers()), hub.subscriptions_total, hub.subscriptions_refused) == (2, 3, 1)


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


def batching(max_delay_ns: int) -> CompiledSubscription:
    rules = every_exec()
    rules.batch_delay_ns = max_delay_ns
    return rules


def test_a_batch_is_due_once_its_oldest_event_has_waited_the_delay_and_holds_what_came_meanwhile() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(300_000_000))
    first_happened = time.monotonic_ns()
    hub.publish(execs(1, 1, first_happened))
    later = publish_later(hub, 0.05, execs(2, 2, time.monotonic_ns()))  # does not wake the reader
    items = subscriber.take(512, 1.0)
    taken_after_ns = time.monotonic_ns() - first_happened
    later.join()
    assert sequence(items) == [1, 2, 3]
    assert taken_after_ns >= 300_000_000


def test_a_batch_goes_at_once_when_it_is_due_before_the_next_publish() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(30_000_000_000))
    now = time.monotonic_ns()
    hub.publish(execs(1, 2, now - 29_990_000_000), next_publish_ns=now + 16_000_000)
    started = time.monotonic()
    items = subscriber.take(512, 60.0)
    assert sequence(items) == [1, 2]
    assert time.monotonic() - started < 15.0  # nothing can join it before it is due: no waiting


def test_an_event_older_than_its_delay_is_due_at_once() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(20_000_000))
    hub.publish(execs(1, 1, time.monotonic_ns() - 50_000_000))  # held back 50 ms, waiting for metadata
    assert sequence(subscriber.take(512, 0)) == [1]


def test_a_loss_marker_at_the_head_of_a_batch_is_due_with_the_event_after_it() -> None:
    def after_a_loss(next_happened_ns: int) -> list[Queued]:
        hub = Hub(queue_events=2)
        subscriber = hub.subscribe(batching(10_000_000_000))
        hub.publish(execs(1, 3, time.monotonic_ns()))  # the third is lost
        assert sequence(subscriber.take(2, 0)) == [1, 2]  # a full batch
        hub.publish(execs(4, 1, next_happened_ns))  # queued behind the marker of the loss
        return subscriber.take(512, 0)

    assert sequence(after_a_loss(time.monotonic_ns())) == []  # event 4 is not due for 10 s
    assert sequence(after_a_loss(time.monotonic_ns() - 20_000_000_000)) == ["lost 1", 4]


def test_a_reader_waiting_for_a_first_event_is_woken_to_keep_the_batch_delay() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(50_000_000))
    later = threading.Timer(0.05, lambda: hub.publish(execs(1, 1, time.monotonic_ns())))
    later.start()
    started = time.monotonic()
    items: list[Queued] = []
    while not items and time.monotonic() - started < 30.0:
        items = subscriber.take(512, 30.0)  # woken when the event comes, then waits out its delay
    later.join()
    assert sequence(items) == [1]
    assert time.monotonic() - started < 15.0  # not the 30 s timeout


def test_a_batch_is_due_at_its_flush_time_whatever_its_delay() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(30_000_000_000))
    hub.publish(execs(1, 2, time.monotonic_ns()))
    assert subscriber.take(512, 0.01) == []
    assert sequence(subscriber.take(512, 0.01, flush_at_ns=time.monotonic_ns())) == [1, 2]


def test_a_gathering_take_returns_as_soon_as_the_batch_is_full() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(30_000_000_000))
    hub.publish(execs(1, 3, time.monotonic_ns()))
    later = publish_later(hub, 0.05, execs(4, 3, time.monotonic_ns()))
    started = time.monotonic()
    items = subscriber.take(5, 60.0)
    waited = time.monotonic() - started
    later.join()
    assert sequence(items) == [1, 2, 3, 4, 5]
    assert waited < 15.0  # woken by the full batch, not the 30 s delay
    assert subscriber.take(5, 0) == []  # the sixth waits for its own delay


def test_closing_ends_a_gathering_take_with_what_is_queued() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(30_000_000_000))
    hub.publish(execs(1, 2, time.monotonic_ns()))
    closer = threading.Timer(0.05, subscriber.close, ("stopping",))
    closer.start()
    items = subscriber.take(512, 60.0)
    closer.join()
    assert sequence(items) == [1, 2]
    assert subscriber.finished


def test_without_a_first_event_a_gathering_take_returns_empty_after_its_timeout() -> None:
    hub = Hub()
    subscriber = hub.subscribe(batching(30_000_000_000))
    assert subscriber.take(512, 0.01) == []


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


def test_a_paced_subscriber_takes_its_events_as_a_batch_of_its_pace_and_gathers_meanwhile() -> None:
    hub = Hub(queue_events=100)
    subscriber = hub.subscribe(every_exec())  # no batch asked for
    subscriber.pace(300_000_000)
    happened = time.monotonic_ns()
    hub.publish(execs(1, 2, happened))
    assert subscriber.take(512, 0.01) == []  # not due: 300 ms from when they happened
    publish_later(hub, 0.05, execs(3, 1, time.monotonic_ns()))
    items = subscriber.take(512, 5.0)
    assert sequence(items) == [1, 2, 3]  # one response for what came meanwhile
    assert time.monotonic_ns() - happened >= 300_000_000


def test_the_latency_budget_follows_a_subscribers_pace() -> None:
    hub = Hub()
    hub.subscribe(batching(20_000_000))
    eager = hub.subscribe(every_exec())
    assert hub.latency_budget_ns() == 0
    eager.pace(3_000_000)
    assert hub.latency_budget_ns() == 3_000_000
    eager.pace(50_000_000)
    assert hub.latency_budget_ns() == 20_000_000


def of_types(*types: str, limit: int = 0, names: tuple[str, ...] = ()) -> CompiledSubscription:
    return compile_subscription(
        sub.Subscription(
            event_filter=sub.EventFilter(process_events=[sub.ProcessEventFilter(type=t) for t in types]),
            container_filter=sub.ContainerFilter(names=list(names)),
            modifier=sub.Modifier(limit=sub.LimitModifier(limit=limit)),
        )
    )


def test_subscriptions_that_want_the_same_events_share_a_filter_key() -> None:
    assert of_types("EXEC").filter_key == of_types("EXEC", limit=3).filter_key  # modifiers do not filter
    assert of_types("EXEC").filter_key != of_types("FORK").filter_key
    assert of_types("EXEC").filter_key != of_types("EXEC", "FORK").filter_key
    assert of_types("EXEC").filter_key != of_types("EXEC", names=("web*",)).filter_key


def test_subscribers_of_one_filter_each_get_every_event_they_want_with_their_own_modifiers() -> None:
    hub = Hub(queue_events=100)
    first, second, limited = hub.subscribe(every_exec()), hub.subscribe(every_exec()), hub.subscribe(every_exec(2))
    forks = hub.subscribe(of_types("FORK"))
    fork = TelemetryEvent("s", 99, 99, ProcessPayload(ProcessEventType.FORK, fork_child_pid=5))
    hub.publish([*execs(1, 2), fork, *execs(3, 1)])
    assert sequence(first.take(10, 0)) == sequence(second.take(10, 0)) == [1, 2, 3]
    assert sequence(limited.take(10, 0)) == [1, 2]
    assert sequence(forks.take(10, 0)) == [99]

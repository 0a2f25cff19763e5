"""A Subscription is checked whole (every problem listed, by field) and compiled into per-kind rules."""

from __future__ import annotations

import os

import pytest

from sensor.api.v1 import subscription_pb2 as sub
from sensor.kernel.records import Creds
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.file import FileEventType, FilePayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.subscription import InvalidSubscription, compile_subscription

ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)


def event(payload: ProcessPayload | ContainerPayload | LostPayload, at: int = 0, container: str = "") -> TelemetryEvent:
    return TelemetryEvent("s", 1, at, payload, credentials=ROOT, container_id=container, container_name=container)


EXEC = ProcessPayload(ProcessEventType.EXEC, exec_filename="/bin/sh")
EXIT = ProcessPayload(ProcessEventType.EXIT, exit_code=256, exit_status=1)
FORK = ProcessPayload(ProcessEventType.FORK)


def test_events_pass_by_type_and_expression() -> None:
    rules = compile_subscription(
        sub.Subscription(
            event_filter=sub.EventFilter(
                process_events=[
                    sub.ProcessEventFilter(type="EXEC", filter_expression='exec_filename == "/bin/sh"'),
                    sub.ProcessEventFilter(type="EXIT", filter_expression="exit_status != 0"),
                ]
            )
        )
    )
    assert [rules.wants(event(p)) for p in (EXEC, EXIT, FORK)] == [True, True, False]
    assert rules.wants(event(ProcessPayload(ProcessEventType.EXEC, exec_filename="/bin/ls"))) is False


def test_an_unknown_type_means_every_process_type_and_lost_events_always_pass() -> None:
    rules = compile_subscription(
        sub.Subscription(event_filter=sub.EventFilter(process_events=[sub.ProcessEventFilter()]))
    )
    assert [rules.wants(event(p)) for p in (EXEC, EXIT, FORK, LostPayload(3, "kernel"))] == [True] * 4
    assert rules.wants(event(ContainerPayload("CREATED"))) is False


def test_a_container_filter_excludes_host_events() -> None:
    rules = compile_subscription(
        sub.Subscription(
            event_filter=sub.EventFilter(
                process_events=[sub.ProcessEventFilter()], container_events=[sub.ContainerEventFilter(type="EXITED")]
            ),
            container_filter=sub.ContainerFilter(names=["web*"]),
        )
    )
    assert [
        rules.wants(event(EXEC)),
        rules.wants(event(EXEC, container="web-1")),
        rules.wants(event(EXEC, container="db-1")),
        rules.wants(event(ContainerPayload("EXITED"), container="web-1")),
        rules.wants(event(ContainerPayload("CREATED"), container="web-1")),
    ] == [False, True, False, True, False]


def test_throttle_passes_one_event_per_interval_of_event_time() -> None:
    rules = compile_subscription(
        sub.Subscription(
            event_filter=sub.EventFilter(process_events=[sub.ProcessEventFilter()]),
            modifier=sub.Modifier(throttle=sub.ThrottleModifier(interval=100)),
        )
    )
    times = [0, 50, 99, 100, 150, 250, 251]
    assert [rules.throttled(event(EXEC, at=t)) for t in times] == [False, True, True, False, True, False, True]
    assert rules.throttled(event(LostPayload(1, "kernel"), at=260)) is False


def test_every_problem_is_reported_with_its_field() -> None:
    with pytest.raises(InvalidSubscription) as raised:
        compile_subscription(
            sub.Subscription(
                event_filter=sub.EventFilter(
                    process_events=[
                        sub.ProcessEventFilter(type="FORK", filter_expression="exit_code == 1"),
                        sub.ProcessEventFilter(type="EXEC", filter_expression="uid == 0"),
                    ],
                    container_events=[sub.ContainerEventFilter(filter_expression="comm == 'x'")],
                    ticker_events=[sub.TickerEventFilter(interval=1000)],
                ),
                modifier=sub.Modifier(limit=sub.LimitModifier(limit=-1), batch=sub.BatchModifier(max_delay=-1)),
            )
        )
    assert [(e.field, e.message) for e in raised.value.errors] == [
        (
            "event_filter.process_events[0].filter_expression",
            "column 1: unknown field 'exit_code': it is only on EXIT events, and this filter is for FORK events",
        ),
        ("event_filter.container_events[0].filter_expression", "column 1: unknown field 'comm'"),
        ("event_filter.ticker_events[0].interval", "1000 ns is below the minimum of 100000000 ns (100 ms)"),
        ("modifier.limit.limit", "must not be negative"),
        ("modifier.batch.max_delay", "must be from 0 to 1000000000 (one second)"),
    ]


def test_a_batch_delay_up_to_one_second_is_kept_and_longer_is_refused() -> None:
    def with_delay(max_delay: int) -> sub.Subscription:
        return sub.Subscription(
            event_filter=sub.EventFilter(process_events=[sub.ProcessEventFilter(type="EXEC")]),
            modifier=sub.Modifier(batch=sub.BatchModifier(max_delay=max_delay)),
        )

    assert compile_subscription(with_delay(1_000_000_000)).batch_delay_ns == 1_000_000_000
    with pytest.raises(InvalidSubscription, match=r"modifier.batch.max_delay: must be from 0 to 1000000000"):
        compile_subscription(with_delay(1_000_000_001))


def test_a_subscription_asking_for_nothing_is_refused() -> None:
    with pytest.raises(InvalidSubscription) as raised:
        compile_subscription(sub.Subscription())
    assert (
        str(raised.value)
        == "event_filter: asks for no events: add process_events, file_events, network_events, container_events or "
        "ticker_events"
    )


def file_event(payload: FilePayload) -> TelemetryEvent:
    return TelemetryEvent("s1", 1, 0, payload, process_id="p", process_tgid=5, process_pid=5)


def test_a_file_filter_passes_writes_and_only_the_reads_under_its_prefixes() -> None:
    subscription = sub.Subscription()
    subscription.event_filter.file_events.append(sub.FileEventFilter(type="OPEN", read_prefixes=["/etc/"]))
    compiled = compile_subscription(subscription)
    write = FilePayload(FileEventType.OPEN, filename="/tmp/x", open_flags=os.O_WRONLY)
    read_etc = FilePayload(FileEventType.OPEN, filename="/etc/passwd")
    read_tmp = FilePayload(FileEventType.OPEN, filename="/tmp/y")
    unlink = FilePayload(FileEventType.UNLINK, filename="/tmp/x")
    passed = [compiled.wants(file_event(p)) for p in (write, read_etc, read_tmp, unlink)]
    assert passed == [True, True, False, False]  # UNLINK was not asked for
    assert compiled.read_prefixes == frozenset({b"/etc/"})


def test_a_read_prefix_that_is_not_absolute_is_refused() -> None:
    subscription = sub.Subscription()
    subscription.event_filter.file_events.append(sub.FileEventFilter(read_prefixes=["/ok", "etc"]))
    with pytest.raises(InvalidSubscription) as raised:
        compile_subscription(subscription)
    assert str(raised.value) == "event_filter.file_events[0].read_prefixes[1]: 'etc' does not start with '/'"


def test_a_file_filter_expression_reads_file_fields() -> None:
    subscription = sub.Subscription()
    subscription.event_filter.file_events.append(
        sub.FileEventFilter(filter_expression='file_path LIKE "/etc/*" AND file_flags & 0x1')
    )
    compiled = compile_subscription(subscription)
    hits = [
        FilePayload(FileEventType.OPEN, filename="/etc/shadow", open_flags=os.O_WRONLY),
        FilePayload(FileEventType.OPEN, filename="/tmp/shadow", open_flags=os.O_WRONLY),
        FilePayload(FileEventType.RENAME, filename="/etc/a", flags=1),
    ]
    assert [compiled.wants(file_event(p)) for p in hits] == [True, False, True]

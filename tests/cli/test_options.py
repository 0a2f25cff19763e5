"""`sensor trace`'s flags as a Subscription: pure translation, no kernel."""

from __future__ import annotations

import click
import pytest

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.cli.options import PROCESS_KINDS, build_subscription, kinds_for_filter, parse_batch_ns
from sensor.telemetry.kinds.kind import EventKind


def test_batch_becomes_the_subscriptions_batch_delay_beside_throttle_and_limit() -> None:
    subscription = build_subscription([EventKind.EXEC], "", (), (), 2_000_000_000, 10, False, parse_batch_ns("250ms"))
    assert (
        subscription.modifier.batch.max_delay,
        subscription.modifier.throttle.interval,
        subscription.modifier.limit.limit,
    ) == (250_000_000, 2_000_000_000, 10)
    types = [pb.ProcessEvent.ProcessEventType.Name(f.type) for f in subscription.event_filter.process_events]
    assert types == ["EXEC", "UPDATE"]


@pytest.mark.parametrize(("value", "expected_ns"), [("1s", 1_000_000_000), ("20ms", 20_000_000), ("0.5", 500_000_000)])
def test_batch_takes_durations_up_to_one_second(value: str, expected_ns: int) -> None:
    assert parse_batch_ns(value) == expected_ns


def test_batch_over_one_second_is_refused_naming_the_bound() -> None:
    with pytest.raises(click.BadParameter, match="'1m' is over the longest batch delay, 1s"):
        parse_batch_ns("1m")


@pytest.mark.parametrize(
    ("expression", "kinds"),
    [
        ('exec_filename == "/bin/true"', [EventKind.EXEC]),
        ("exit_code != 0", [EventKind.EXIT, EventKind.CONTAINER]),
        ('comm == "sh"', [*PROCESS_KINDS, EventKind.FILE, EventKind.NETWORK]),
        ('container_name LIKE "web*"', [*PROCESS_KINDS, EventKind.FILE, EventKind.NETWORK, EventKind.CONTAINER]),
        ("net_remote_port == 53", [EventKind.NETWORK]),
        ('file_path LIKE "/etc/*"', [EventKind.FILE]),
        ("old_uid == 0 AND uid != 0", [EventKind.CREDENTIALS]),
        ("bogus == 1", list(PROCESS_KINDS)),  # the subscription's check names the unknown field
    ],
)
def test_a_filter_without_event_selects_the_kinds_that_have_all_its_fields(
    expression: str, kinds: list[EventKind]
) -> None:
    assert kinds_for_filter(expression) == kinds


def test_a_filter_no_kind_can_hold_is_refused_naming_each_field_s_kinds() -> None:
    with pytest.raises(click.UsageError) as refused:
        kinds_for_filter('fork_thread AND exit_code == 0 AND comm == "x"')
    assert refused.value.message == (
        "--filter: no event kind has every field it names (fork_thread is on fork events; "
        "exit_code is on exit and container events; comm is on fork, exec, exit, credentials, file and network events)"
    )

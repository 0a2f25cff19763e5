"""`sensor trace`'s flags as a Subscription: pure translation, no kernel."""

from __future__ import annotations

import click
import pytest

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.cli.options import (
    PROCESS_KINDS,
    EventChoice,
    build_subscription,
    kinds_for_filter,
    parse_batch_ns,
    parse_events,
)
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


def test_a_sub_kind_asks_for_only_those_types_of_its_kind() -> None:
    choice = parse_events(("exec,network:connect", "network:dns_query"))
    assert choice == EventChoice(
        [EventKind.EXEC, EventKind.NETWORK], {EventKind.NETWORK: frozenset({"CONNECT", "DNS_QUERY"})}
    )
    subscription = build_subscription(choice.kinds, "", (), (), 0, 0, False, types=choice.types)
    network = [pb.NetworkEvent.NetworkEventType.Name(f.type) for f in subscription.event_filter.network_events]
    assert network == ["CONNECT", "DNS_QUERY"]
    assert [f.type for f in subscription.event_filter.file_events] == []


def test_a_kind_given_whole_takes_every_type_even_beside_a_sub_kind() -> None:
    choice = parse_events(("network:connect,network",))
    assert choice == EventChoice([EventKind.NETWORK])
    subscription = build_subscription(choice.kinds, "", (), (), 0, 0, False, types=choice.types)
    assert [f.type for f in subscription.event_filter.network_events] == [0]  # NETWORK_EVENT_TYPE_UNKNOWN: all


def test_an_unknown_sub_kind_is_refused_listing_the_kinds_types() -> None:
    with pytest.raises(click.BadParameter) as refused:
        parse_events(("network:conect",))
    assert refused.value.message == (
        "unknown network event 'network:conect' (choose from network:connect, network:connect_result, "
        "network:accept, network:bind, network:listen, network:close, network:dns_query)"
    )

"""sensor status's text: GetInfo laid out for a person, and the tables every command prints."""

from __future__ import annotations

from sensor.api.v1 import service_pb2 as api
from sensor.cli.status import status_text, uptime_text
from sensor.cli.table import table_lines

SECOND = 1_000_000_000


def test_uptime_leaves_out_leading_zero_units() -> None:
    assert [uptime_text(s * SECOND) for s in (7, 65, 3_605, 90_061)] == ["7s", "1m 05s", "1h 00m 05s", "1d 1h 01m 01s"]


def test_tables_pad_columns_to_their_widest_cell_and_align_numbers_right() -> None:
    rows = [["ID", "SENT", "PEER"], ["1", "12345", "unix:"], ["20", "7", "ipv4:127.0.0.1:5000"]]

    assert table_lines(rows, right={0, 1}) == [
        "ID   SENT  PEER",
        " 1  12345  unix:",
        "20      7  ipv4:127.0.0.1:5000",
    ]


def test_status_shows_hooks_counters_losses_each_export_and_each_subscription() -> None:
    info = api.GetInfoResponse(
        sensor_id="5e1f",
        node_name="node-1",
        version="0.1.0",
        kernel="6.18.0",
        cgroup_mode="unified",
        uptime_nanos=3_725 * SECOND,
        hooks=[
            api.HookBackend(hook="exec", backend="raw_tracepoint"),
            api.HookBackend(hook="credentials", backend="none", reason="no sys_exit_setuid tracepoint"),
        ],
        counters=api.Counters(
            records_read=1200,
            events_published=1100,
            lost_kernel=3,
            lost_subscribers=40,
            subscriptions_active=1,
            subscriptions_total=4,
            subscriptions_refused=2,
            processes_cached=71,
            containers_cached=2,
        ),
        subscriptions=[api.SubscriptionInfo(id=4, peer="unix:", sent=1060, lost=40, queued=5)],
        exports=[
            api.ExportInfo(name="file", destination="/var/log/sensor.jsonl", sent=1000, lost=100, error="ENOSPC: full"),
            api.ExportInfo(name="nats", destination="nats://n1:4222 stream S", sent=1100, rate_limited=7, pending=3),
        ],
    )

    assert status_text(info).splitlines() == [
        "sensor 5e1f on node-1: version 0.1.0, kernel 6.18.0, up 1h 02m 05s",
        "hooks: exec=raw_tracepoint, credentials=none; cgroup unified",
        "  credentials: no sys_exit_setuid tracepoint",
        "records read 1200, events published 1100",
        "lost: kernel 3, reader 0, undecodable 0, subscribers 40",
        "model: 71 processes, 2 containers",
        "subscriptions: 1 streaming, 4 opened since start, 2 refused (--max-subscribers)",
        "",
        "EXPORT  SENT  LOST  RATE-LIMITED  PENDING  DESTINATION              ERROR",
        "file    1000   100             0        0  /var/log/sensor.jsonl    ENOSPC: full",
        "nats    1100     0             7        3  nats://n1:4222 stream S",
        "",
        "ID  SENT  LOST  THROTTLED  QUEUED  PEER",
        " 4  1060    40          0       5  unix:",
    ]

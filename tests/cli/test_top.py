"""sensor top's arithmetic and layout: rates from two readings, sort orders, and what a frame shows."""

from __future__ import annotations

from sensor.api.v1 import service_pb2 as api
from sensor.cli.stats_view import human_bytes, human_seconds, network_total
from sensor.cli.top import RateTracker, SortKey, make_row, render, sort_rows

SECOND = 1_000_000_000


def reading(name: str, at_s: float, cpu_s: float, rx: int = 0, written: int = 0, memory: int = 0) -> api.ContainerStats:
    stats = api.ContainerStats(container_id=f"{name}-id", name=name, read_time_nanos=int(at_s * SECOND))
    stats.cpu.usage_nanos = int(cpu_s * SECOND)
    stats.memory.working_set_bytes = memory
    stats.io.write_bytes = written
    stats.network.interfaces.append(api.InterfaceStats(name="eth0", rx_bytes=rx))
    stats.network.interfaces.append(api.InterfaceStats(name="lo", rx_bytes=10**9))
    return stats


def test_rates_come_from_the_two_readings_and_their_own_times() -> None:
    row = make_row(reading("web", 10, 1.0, rx=1000, written=0), reading("web", 12, 2.5, rx=5000, written=4096))

    assert row.cpu_percent == 75.0  # 1.5 s of CPU in 2 s
    assert row.rx_rate == 2000.0  # loopback's billion bytes left out
    assert row.write_rate == 2048.0


def test_a_first_reading_has_no_rates_yet() -> None:
    row = make_row(None, reading("web", 10, 1.0))

    assert (row.cpu_percent, row.rx_rate, row.write_rate) == (None, None, None)


def test_a_reading_served_twice_from_the_cache_keeps_its_rates_instead_of_showing_zero() -> None:
    tracker = RateTracker()
    tracker.update([reading("web", 10, 1.0)])
    moving = tracker.update([reading("web", 11, 1.5)])
    again = tracker.update([reading("web", 11, 1.5)])

    assert moving[0].cpu_percent == again[0].cpu_percent == 50.0


def test_sorting_puts_the_biggest_first_and_unknown_figures_last() -> None:
    busy = make_row(reading("busy", 0, 0), reading("busy", 1, 0.9, memory=10))
    idle = make_row(reading("idle", 0, 0), reading("idle", 1, 0.1, memory=500))
    new = make_row(None, reading("new", 1, 5))

    assert [r.name for r in sort_rows([idle, new, busy], SortKey.CPU)] == ["busy", "idle", "new"]
    assert [r.name for r in sort_rows([busy, new, idle], SortKey.MEMORY)] == ["idle", "busy", "new"]
    assert [r.name for r in sort_rows([new, idle, busy], SortKey.NAME)] == ["busy", "idle", "new"]


def test_a_frame_sums_the_containers_and_lines_up_the_table() -> None:
    rows = [make_row(reading("web", 0, 0), reading("web", 1, 0.25, memory=3 << 20))]

    frame = render(rows, "", "12:00:00")

    assert frame.head == ["sensor top - 1 running container - CPU 25.0% - MEM 3.0M - NET in 0B/s out 0B/s - 12:00:00"]
    assert frame.header.split() == ["CONTAINER", "NAME", "CPU%", "CPUS", "MEM", "MEM%", "PIDS", "NET", "IN", "NET",
                                    "OUT", "READ", "WRITE", "IMAGE"]  # fmt: skip
    assert frame.rows[0].split()[:5] == ["web-id", "web", "25.0", "-", "3.0M"]
    assert render([], "lost the sensor", "12:00:01").rows == ["(no running containers)"]
    assert render([], "lost the sensor", "12:00:01").head[1] == "lost the sensor"


def test_sizes_and_cpu_times_read_short() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 64 << 20, 3 << 40)] == ["0B", "1023B", "1.5K", "64M", "3.0T"]
    assert [human_seconds(int(s * SECOND)) for s in (0.134, 42, 723, 18120)] == ["0.13s", "42s", "12m03s", "5h02m"]


def test_network_totals_leave_loopback_out_and_are_absent_for_the_host_network() -> None:
    stats = api.ContainerStats()
    stats.network.interfaces.append(api.InterfaceStats(name="eth0", rx_bytes=10, tx_bytes=20))
    stats.network.interfaces.append(api.InterfaceStats(name="lo", rx_bytes=5, tx_bytes=5))
    host = api.ContainerStats(network=api.NetworkStats(host_network=True))

    assert network_total(stats) == (10, 20)
    assert network_total(host) is None
    assert network_total(api.ContainerStats()) is None  # not read

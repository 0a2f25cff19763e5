"""Container stats as people read them: sizes, times and rates in short units, and one reading's table cells."""

from __future__ import annotations

from sensor.api.v1 import service_pb2 as api

_UNITS = ("B", "K", "M", "G", "T", "P")


def human_bytes(count: float) -> str:
    """1023 -> "1023B", 1536 -> "1.5K", 64 MiB -> "64M"."""
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{value:.0f}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_seconds(nanos: int) -> str:
    """CPU time: "0.13s", "42s", "12m03s", "5h02m"."""
    seconds = nanos / 1e9
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 600:
        return f"{seconds:.0f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def memory_cell(stats: api.ContainerStats) -> str:
    """Working set, and the limit when there is one: "12M/64M"."""
    if not stats.HasField("memory"):
        return "?"
    used = human_bytes(stats.memory.working_set_bytes)
    return f"{used}/{human_bytes(stats.memory.limit_bytes)}" if stats.memory.HasField("limit_bytes") else used


def tasks_text(current: int | None, limit: int | None) -> str:
    """Tasks, and the limit when there is one: "3/50"; "?" when unread."""
    if current is None:
        return "?"
    return f"{current}/{limit}" if limit is not None else str(current)


def pids_cell(stats: api.ContainerStats) -> str:
    """A reading's tasks, and the limit when there is one: "3/50"."""
    if not stats.HasField("pids"):
        return "?"
    return tasks_text(stats.pids.current, stats.pids.limit if stats.pids.HasField("limit") else None)


def network_total(stats: api.ContainerStats) -> tuple[int, int] | None:
    """(received, sent) bytes on every interface but loopback; None for the host's network or no reading."""
    if not stats.HasField("network") or stats.network.host_network:
        return None
    interfaces = [i for i in stats.network.interfaces if i.name != "lo"]
    return sum(i.rx_bytes for i in interfaces), sum(i.tx_bytes for i in interfaces)


def network_cell(stats: api.ContainerStats) -> str:
    """ "rx/tx" bytes, "host" for the host's network, "?" when unread."""
    if stats.HasField("network") and stats.network.host_network:
        return "host"
    totals = network_total(stats)
    return "?" if totals is None else f"{human_bytes(totals[0])}/{human_bytes(totals[1])}"


def io_cell(stats: api.ContainerStats) -> str:
    """ "read/written" bytes on block devices."""
    if not stats.HasField("io"):
        return "?"
    return f"{human_bytes(stats.io.read_bytes)}/{human_bytes(stats.io.write_bytes)}"


def cpu_cell(stats: api.ContainerStats) -> str:
    """CPU time used so far."""
    return human_seconds(stats.cpu.usage_nanos) if stats.HasField("cpu") else "?"

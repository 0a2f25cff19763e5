"""Parsers of the unified (v2) hierarchy's files, one function per resource, each given the cgroup's directory."""

from __future__ import annotations

from pathlib import Path

from sensor.model.stats.cgroup_files import device_name, read_keyed, read_number, split_device
from sensor.model.stats.sample import CpuStats, DeviceIO, IOStats, MemoryStats, PidsStats


def _limit_cores(cpu_max: Path) -> float | None:
    """cpu.max is "QUOTA PERIOD" or "max PERIOD"; absent when the cpu controller is not enabled here."""
    try:
        quota, _, period = cpu_max.read_text().partition(" ")
    except FileNotFoundError:
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def read_cpu(cgroup: Path) -> CpuStats:
    """cpu.stat (always present on v2; throttling only with the cpu controller) and cpu.max."""
    stat = read_keyed(cgroup / "cpu.stat")
    return CpuStats(
        usage_ns=stat["usage_usec"] * 1000,
        user_ns=stat.get("user_usec", 0) * 1000,
        system_ns=stat.get("system_usec", 0) * 1000,
        periods=stat.get("nr_periods", 0),
        throttled_periods=stat.get("nr_throttled", 0),
        throttled_ns=stat.get("throttled_usec", 0) * 1000,
        limit_cores=_limit_cores(cgroup / "cpu.max"),
    )


def read_memory(cgroup: Path) -> MemoryStats:
    """memory.current, memory.stat, memory.max and memory.events (OOM kills)."""
    usage = int((cgroup / "memory.current").read_text())
    stat = read_keyed(cgroup / "memory.stat")
    return MemoryStats(
        usage_bytes=usage,
        working_set_bytes=max(0, usage - stat.get("inactive_file", 0)),
        rss_bytes=stat.get("anon", 0),
        cache_bytes=stat.get("file", 0),
        limit_bytes=read_number(cgroup / "memory.max"),
        oom_kills=read_keyed(cgroup / "memory.events").get("oom_kill", 0),
    )


def read_io(cgroup: Path, sys: Path = Path("/sys")) -> IOStats:
    """io.stat: "MAJOR:MINOR rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.." per device."""
    devices = []
    for line in (cgroup / "io.stat").read_text().splitlines():
        head, _, rest = line.partition(" ")
        device = split_device(head)
        if device is None:
            continue
        values = dict(pair.split("=", 1) for pair in rest.split() if "=" in pair)
        devices.append(
            DeviceIO(
                device[0],
                device[1],
                device_name(device[0], device[1], sys),
                read_bytes=int(values.get("rbytes", 0)),
                write_bytes=int(values.get("wbytes", 0)),
                read_ops=int(values.get("rios", 0)),
                write_ops=int(values.get("wios", 0)),
            )
        )
    return IOStats(tuple(sorted(devices, key=lambda d: (d.major, d.minor))))


def read_pids(cgroup: Path) -> PidsStats:
    """pids.current and pids.max."""
    current = read_number(cgroup / "pids.current")
    return PidsStats(current or 0, read_number(cgroup / "pids.max"))

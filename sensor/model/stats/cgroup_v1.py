"""Parsers of the v1 controllers' files, one function per resource, each given its controller's directory.

Hierarchical figures (``total_*``, ``*_recursive``) are used where v1 has them, so a container
whose processes sit in child cgroups is counted whole, as on v2.
"""

from __future__ import annotations

import os
from pathlib import Path

from sensor.model.stats.cgroup_files import device_name, read_keyed, read_number, split_device
from sensor.model.stats.sample import CpuStats, DeviceIO, IOStats, MemoryStats, PidsStats

_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _user_system_ns(cpuacct: Path) -> tuple[int, int]:
    """User and system time: the ns files where the kernel has them, else cpuacct.stat's clock ticks."""
    try:
        return int((cpuacct / "cpuacct.usage_user").read_text()), int((cpuacct / "cpuacct.usage_sys").read_text())
    except FileNotFoundError:
        ticks = read_keyed(cpuacct / "cpuacct.stat")
        return ticks.get("user", 0) * _NS_PER_TICK, ticks.get("system", 0) * _NS_PER_TICK


def read_cpu(cpuacct: Path, cpu: Path | None) -> CpuStats:
    """CPU time from cpuacct; throttling and the CFS limit from cpu, when that controller is mounted."""
    user_ns, system_ns = _user_system_ns(cpuacct)
    usage_ns = int((cpuacct / "cpuacct.usage").read_text())
    if cpu is None:
        return CpuStats(usage_ns, user_ns, system_ns)
    throttling = read_keyed(cpu / "cpu.stat")
    quota_us = read_number(cpu / "cpu.cfs_quota_us")  # -1 when unlimited
    period_us = read_number(cpu / "cpu.cfs_period_us")
    return CpuStats(
        usage_ns,
        user_ns,
        system_ns,
        periods=throttling.get("nr_periods", 0),
        throttled_periods=throttling.get("nr_throttled", 0),
        throttled_ns=throttling.get("throttled_time", 0),
        limit_cores=quota_us / period_us if quota_us and period_us else None,
    )


def read_memory(memory: Path) -> MemoryStats:
    """Usage, working set, anonymous and page-cache memory, the limit and OOM kills."""
    stat = read_keyed(memory / "memory.stat")
    usage = int((memory / "memory.usage_in_bytes").read_text())
    try:
        oom_kills = read_keyed(memory / "memory.oom_control").get("oom_kill", 0)
    except FileNotFoundError:  # kernels before 4.13 do not count kills
        oom_kills = 0
    return MemoryStats(
        usage_bytes=usage,
        working_set_bytes=max(0, usage - stat.get("total_inactive_file", 0)),
        rss_bytes=stat.get("total_rss", 0),
        cache_bytes=stat.get("total_cache", 0),
        limit_bytes=read_number(memory / "memory.limit_in_bytes"),
        oom_kills=oom_kills,
    )


def _per_device(path: Path) -> dict[tuple[int, int], dict[str, int]]:
    """ "MAJOR:MINOR Op VALUE" lines as {(major, minor): {op: value}}."""
    out: dict[tuple[int, int], dict[str, int]] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        device = split_device(fields[0]) if len(fields) == 3 else None
        if device is not None:
            out.setdefault(device, {})[fields[1]] = int(fields[2])
    return out


def _recursive_or_flat(blkio: Path, name: str) -> Path:
    recursive = blkio / f"{name}_recursive"
    return recursive if recursive.exists() else blkio / name


def read_io(blkio: Path, sys: Path = Path("/sys")) -> IOStats:
    """Bytes and operations per device, as blk-throttle counts them.

    On recent kernels blk-throttle counts only bios to devices that have a throttle rule in this
    cgroup (e.g. ``docker run --device-write-bps``); elsewhere these files read zero.
    """
    bytes_by_device = _per_device(_recursive_or_flat(blkio, "blkio.throttle.io_service_bytes"))
    ops_by_device = _per_device(_recursive_or_flat(blkio, "blkio.throttle.io_serviced"))
    devices = []
    for major, minor in sorted(bytes_by_device.keys() | ops_by_device.keys()):
        octets = bytes_by_device.get((major, minor), {})
        ops = ops_by_device.get((major, minor), {})
        devices.append(
            DeviceIO(
                major,
                minor,
                device_name(major, minor, sys),
                read_bytes=octets.get("Read", 0),
                write_bytes=octets.get("Write", 0),
                read_ops=ops.get("Read", 0),
                write_ops=ops.get("Write", 0),
            )
        )
    return IOStats(tuple(devices))


def read_pids(pids: Path) -> PidsStats:
    """Tasks now, and the limit."""
    current = read_number(pids / "pids.current")
    return PidsStats(current or 0, read_number(pids / "pids.max"))

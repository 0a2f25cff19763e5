"""Container stats for the API: which containers a request means, read through the cache, as messages.

Choosing the containers reads the model, so it runs on the pipeline thread; the reading itself
(cgroup files, netlink) runs on the caller's thread, through the cache, so a slow read never
holds up the event stream.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sensor.api.v1 import service_pb2 as api
from sensor.kernel.cgroupfs import cgroup_mounts
from sensor.model.container_cache import ContainerInfo
from sensor.model.runtime.metadata import ContainerState
from sensor.model.stats.cache import StatsCache
from sensor.model.stats.reader import ContainerStatsReader, StatsTarget
from sensor.model.stats.sample import ContainerStats, CpuStats, IOStats, MemoryStats, NetworkStats
from sensor.telemetry.capture import Capture

DEFAULT_MAX_AGE_MS = 1000
FRESH_MS = 1  # the bound that means "read now" (0 means the default)


def host_stats_cache() -> StatsCache:
    """A stats cache reading this host's cgroup layout."""
    return StatsCache(ContainerStatsReader(cgroup_mounts()).read)


class ContainerNotFound(LookupError):
    """A requested id, prefix or name matches no running container."""


class AmbiguousContainer(LookupError):
    """A requested id prefix or name matches more than one running container."""


@dataclass(frozen=True, slots=True)
class NamedTarget:
    """A container to read, with the names people know it by."""

    target: StatsTarget
    name: str
    image_name: str


def _live_pid_by_cgroup(capture: Capture) -> dict[int, int]:
    pids: dict[int, int] = {}
    for info in capture.cache.processes():
        if info.alive:
            pids.setdefault(info.cgroup_id, info.pid)
    return pids


def _named(container: ContainerInfo, live_pids: dict[int, int], capture: Capture) -> NamedTarget:
    init = capture.cache.by_pid(container.init_pid) if container.init_pid else None
    pid = container.init_pid if init is not None and init.alive else 0
    if not pid:
        pid = next((live_pids[c] for c in sorted(container.cgroup_ids) if c in live_pids), 0)
    metadata = container.metadata
    return NamedTarget(
        StatsTarget(container.container_id, container.cgroup_path, pid),
        container.name,
        metadata.image_name if metadata else "",
    )


def _select(running: list[ContainerInfo], wanted: str) -> ContainerInfo:
    for exact in ([c for c in running if c.container_id == wanted], [c for c in running if c.name == wanted]):
        if exact:
            return exact[0]
    matches = [c for c in running if c.container_id.startswith(wanted)]
    if not matches:
        raise ContainerNotFound(f"no running container has the id or name {wanted!r}")
    if len(matches) > 1:
        raise AmbiguousContainer(f"{wanted!r} is the start of {len(matches)} container ids: give more of it")
    return matches[0]


def stats_targets(capture: Capture, wanted: Sequence[str] = ()) -> list[NamedTarget]:
    """The running containers asked for (ids, unique id prefixes or names; none means all), in name order.

    Runs on the pipeline thread. Raises ContainerNotFound, AmbiguousContainer.
    """
    running = [c for c in capture.containers.containers() if c.state is ContainerState.RUNNING]
    chosen = [_select(running, w) for w in dict.fromkeys(wanted)] if wanted else running
    live_pids = _live_pid_by_cgroup(capture)
    targets = [_named(c, live_pids, capture) for c in chosen]
    return sorted(targets, key=lambda t: (t.name or "~", t.target.container_id))


# Each part: its message, or None when the part could not be read (a None limit leaves the
# optional field unset, which is how the API says "no limit").
def _cpu_proto(cpu: CpuStats | None) -> api.CpuStats | None:
    if cpu is None:
        return None
    return api.CpuStats(
        usage_nanos=cpu.usage_ns,
        user_nanos=cpu.user_ns,
        system_nanos=cpu.system_ns,
        periods=cpu.periods,
        throttled_periods=cpu.throttled_periods,
        throttled_nanos=cpu.throttled_ns,
        limit_cores=cpu.limit_cores,
    )


def _memory_proto(memory: MemoryStats | None) -> api.MemoryStats | None:
    if memory is None:
        return None
    return api.MemoryStats(
        usage_bytes=memory.usage_bytes,
        working_set_bytes=memory.working_set_bytes,
        rss_bytes=memory.rss_bytes,
        cache_bytes=memory.cache_bytes,
        limit_bytes=memory.limit_bytes,
        oom_kills=memory.oom_kills,
    )


def _io_proto(io: IOStats | None) -> api.IoStats | None:
    if io is None:
        return None
    devices = [
        api.DeviceIo(
            device=d.device,
            major=d.major,
            minor=d.minor,
            read_bytes=d.read_bytes,
            write_bytes=d.write_bytes,
            read_ops=d.read_ops,
            write_ops=d.write_ops,
        )
        for d in io.devices
    ]
    return api.IoStats(
        read_bytes=io.read_bytes,
        write_bytes=io.write_bytes,
        read_ops=io.read_ops,
        write_ops=io.write_ops,
        devices=devices,
    )


def _network_proto(network: NetworkStats | None) -> api.NetworkStats | None:
    if network is None:
        return None
    interfaces = [
        api.InterfaceStats(
            name=i.name, rx_bytes=i.rx_bytes, tx_bytes=i.tx_bytes, rx_packets=i.rx_packets, tx_packets=i.tx_packets
        )
        for i in network.interfaces
    ]
    return api.NetworkStats(host_network=network.host_network, interfaces=interfaces)


def stats_proto(stats: ContainerStats, named: NamedTarget, now_ns: int | None = None) -> api.ContainerStats:
    """One reading as the API's ContainerStats."""
    cgroup = stats.cgroup
    pids = cgroup.pids
    return api.ContainerStats(
        container_id=stats.container_id,
        name=named.name,
        image_name=named.image_name,
        read_time_nanos=stats.read_wall_ns,
        age_nanos=max(0, (now_ns or time.monotonic_ns()) - stats.read_monotonic_ns),
        cpu=_cpu_proto(cgroup.cpu),
        memory=_memory_proto(cgroup.memory),
        io=_io_proto(cgroup.io),
        pids=api.PidsStats(current=pids.current, limit=pids.limit) if pids is not None else None,
        network=_network_proto(stats.network),
        errors=stats.errors,
    )


def read_stats(cache: StatsCache, targets: list[NamedTarget], max_age_ms: int) -> list[api.ContainerStats]:
    """Each target's stats, at most ``max_age_ms`` old (0: the default bound)."""
    max_age_ns = (max_age_ms or DEFAULT_MAX_AGE_MS) * 1_000_000
    return [stats_proto(cache.get(t.target, max_age_ns), t) for t in targets]


def attach_stats(response: api.ListWorkloadsResponse, stats: list[api.ContainerStats]) -> None:
    """Put each reading in its container of a ListWorkloadsResponse."""
    by_id = {c.container_id: c for c in response.containers}
    for reading in stats:
        by_id[reading.container_id].stats.CopyFrom(reading)

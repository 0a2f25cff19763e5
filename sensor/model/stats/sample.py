"""One reading of a container's resource use: what the cgroup files and its network namespace say.

Counters are cumulative since the container started (rates are the reader's business: two
readings and their times). A limit the kernel calls "max" (or its v1 stand-in, a number near
2**63) is None: absent, not a huge number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CpuStats:
    """CPU time used, and how the CFS quota held it back."""

    usage_ns: int
    user_ns: int
    system_ns: int
    periods: int = 0  # CFS enforcement periods that have elapsed
    throttled_periods: int = 0
    throttled_ns: int = 0
    limit_cores: float | None = None  # quota / period; None when unlimited


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """Memory charged to the cgroup; working set = usage - inactive file pages (what it cannot easily give back)."""

    usage_bytes: int
    working_set_bytes: int
    rss_bytes: int  # anonymous memory
    cache_bytes: int  # page cache
    limit_bytes: int | None = None
    oom_kills: int = 0


@dataclass(frozen=True, slots=True)
class DeviceIO:
    """Block IO on one device."""

    major: int
    minor: int
    device: str  # the kernel's name for it (vda, nvme0n1), or "MAJOR:MINOR" when /sys does not say
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@dataclass(frozen=True, slots=True)
class IOStats:
    """Block IO per device, and the totals."""

    devices: tuple[DeviceIO, ...] = ()

    @property
    def read_bytes(self) -> int:
        """Bytes read, all devices."""
        return sum(d.read_bytes for d in self.devices)

    @property
    def write_bytes(self) -> int:
        """Bytes written, all devices."""
        return sum(d.write_bytes for d in self.devices)

    @property
    def read_ops(self) -> int:
        """Read operations, all devices."""
        return sum(d.read_ops for d in self.devices)

    @property
    def write_ops(self) -> int:
        """Write operations, all devices."""
        return sum(d.write_ops for d in self.devices)


@dataclass(frozen=True, slots=True)
class PidsStats:
    """Tasks (processes and threads) in the cgroup."""

    current: int
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """One network interface of the container's namespace."""

    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int


@dataclass(frozen=True, slots=True)
class NetworkStats:
    """The interfaces of the container's network namespace; none listed when it is the host's."""

    host_network: bool
    interfaces: tuple[InterfaceStats, ...] = ()


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """What the cgroup files say; a part is None when it could not be read, and ``errors`` says why."""

    cpu: CpuStats | None = None
    memory: MemoryStats | None = None
    io: IOStats | None = None
    pids: PidsStats | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """One reading of one container, with when it was taken."""

    container_id: str
    read_monotonic_ns: int  # for staleness and rates
    read_wall_ns: int  # for people and clients
    cgroup: CgroupStats = field(default_factory=CgroupStats)
    network: NetworkStats | None = None
    network_error: str = ""

    @property
    def errors(self) -> tuple[str, ...]:
        """Every part that could not be read, each as "part: why"."""
        return self.cgroup.errors + ((f"network: {self.network_error}",) if self.network_error else ())

"""One reading of one container: its cgroup files and its network namespace."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sensor.kernel.cgroupfs import CgroupMounts
from sensor.model.stats.cgroup import locate, read_cgroup
from sensor.model.stats.network import read_network
from sensor.model.stats.sample import ContainerStats, NetworkStats


@dataclass(frozen=True, slots=True)
class StatsTarget:
    """What to read for a container: its cgroup, and a live process in it (0 when none is known)."""

    container_id: str
    cgroup_path: str
    pid: int


class ContainerStatsReader:
    """Reads containers' stats on this host's cgroup layout."""

    def __init__(self, mounts: CgroupMounts, proc: Path = Path("/proc"), sys: Path = Path("/sys")) -> None:
        self._mounts = mounts
        self._proc = proc
        self._sys = sys

    def _proc_cgroup(self, pid: int) -> str | None:
        if not pid:
            return None
        try:
            return (self._proc / str(pid) / "cgroup").read_text()
        except OSError:
            return None  # it just exited: fall back to the container's own cgroup path

    def _network(self, pid: int) -> tuple[NetworkStats | None, str]:
        if not pid:
            return None, "no live process of the container is known"
        try:
            return read_network(pid, self._proc), ""
        except Exception as error:  # OSError, or whatever pyroute2 raises: stats must not fail for it
            return None, f"cannot read process {pid}'s network namespace: {error}"

    def read(self, target: StatsTarget) -> ContainerStats:
        """A reading now; parts that cannot be read are named in its errors."""
        dirs = locate(self._mounts, target.cgroup_path, self._proc_cgroup(target.pid))
        cgroup = read_cgroup(dirs, self._sys)
        network, network_error = self._network(target.pid)
        return ContainerStats(
            container_id=target.container_id,
            read_monotonic_ns=time.monotonic_ns(),
            read_wall_ns=time.time_ns(),
            cgroup=cgroup,
            network=network,
            network_error=network_error,
        )

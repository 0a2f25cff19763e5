"""The host's cgroup layout: which hierarchy the sensor watches, and the cgroups it holds now.

The kernel records carry one cgroup id per task. Where the unified (v2) hierarchy is mounted, alone
or beside v1 controllers (hybrid), that id is the task's unified cgroup; on a v1-only host it is
the task's cgroup under one v1 controller. Either way a cgroup's id is its directory's inode
number, so the cgroups that exist at start-up are found by walking the mount.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

UNIFIED_HIERARCHY_ID = 0
# v1 controllers to watch on a host without a unified hierarchy, best first: every runtime puts
# each container in its own cgroup under these.
V1_CONTROLLERS = ("pids", "memory", "cpu", "cpuacct", "devices", "freezer", "blkio")


class CgroupMode(str, Enum):
    """How the host mounts cgroups."""

    UNIFIED = "v2"
    HYBRID = "hybrid"
    LEGACY = "v1"


@dataclass(frozen=True, slots=True)
class CgroupHierarchy:
    """The one hierarchy whose cgroup ids the records carry."""

    mode: CgroupMode
    hierarchy_id: int
    mount: Path
    controller: str = ""  # v1 only: the controller of the watched hierarchy
    subsys_index: int = -1  # v1 only: the controller's index in the kernel's subsystem table

    @property
    def is_v1(self) -> bool:
        """Whether the ids come from a v1 controller's hierarchy."""
        return self.subsys_index >= 0


class CgroupLayoutError(RuntimeError):
    """No cgroup hierarchy the sensor can watch is mounted."""


def _mounts(mountinfo: Path) -> list[tuple[str, Path, set[str]]]:
    """(fstype, mount point, super options) of each cgroup mount."""
    out = []
    for line in mountinfo.read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mount_point = Path(fields[4].replace("\\040", " "))
        out.append((tail[0], mount_point, set(tail[2].split(","))))
    return out


@dataclass(frozen=True, slots=True)
class CgroupMounts:
    """Where each v1 controller's hierarchy and the unified hierarchy are mounted."""

    v1: dict[str, Path]  # controller (or name=...) -> its hierarchy's mount point
    unified: Path | None


def cgroup_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> CgroupMounts:
    """The host's cgroup mounts, v1 and unified."""
    mounts = _mounts(mountinfo)
    unified = next((point for fstype, point, _ in mounts if fstype == "cgroup2"), None)
    return CgroupMounts({opt: point for fstype, point, opts in mounts if fstype == "cgroup" for opt in opts}, unified)


def _v1_controllers(proc_cgroups: Path) -> dict[str, tuple[int, int]]:
    """controller -> (subsystem index, hierarchy id); /proc/cgroups lists subsystems in index order."""
    out = {}
    lines = [line for line in proc_cgroups.read_text().splitlines() if not line.startswith("#")]
    for index, line in enumerate(lines):
        name, hierarchy, _count, enabled = line.split()[:4]
        if enabled == "1":
            out[name] = (index, int(hierarchy))
    return out


def detect_hierarchy(
    mountinfo: Path = Path("/proc/self/mountinfo"),
    proc_cgroups: Path = Path("/proc/cgroups"),
    prefer_v1: bool = False,
) -> CgroupHierarchy:
    """The hierarchy to watch: the unified one where mounted, else the best v1 controller.

    ``prefer_v1`` watches a v1 controller even where the unified hierarchy exists (hybrid hosts),
    which is how the v1 path is tested on a hybrid machine.
    """
    found = cgroup_mounts(mountinfo)
    unified, v1_points = found.unified, found.v1
    mode = CgroupMode.LEGACY if unified is None else CgroupMode.HYBRID if v1_points else CgroupMode.UNIFIED
    if unified is not None and not (prefer_v1 and v1_points):
        return CgroupHierarchy(mode, UNIFIED_HIERARCHY_ID, unified)
    controllers = _v1_controllers(proc_cgroups)
    for name in V1_CONTROLLERS:
        if name in controllers and name in v1_points and controllers[name][1] > 0:
            index, hierarchy_id = controllers[name]
            return CgroupHierarchy(mode, hierarchy_id, v1_points[name], name, index)
    raise CgroupLayoutError(
        "no cgroup hierarchy is mounted: mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup) "
        f"or one of the v1 controllers {', '.join(V1_CONTROLLERS)}"
    )


def scan_cgroups(hierarchy: CgroupHierarchy) -> dict[int, str]:
    """Every cgroup in the hierarchy now: id (directory inode) -> path below the root ("/" for the root)."""
    found: dict[int, str] = {}
    root = str(hierarchy.mount)
    for directory, _subdirs, _files in os.walk(root):
        try:
            inode = os.stat(directory).st_ino
        except OSError:
            continue  # removed while walking
        relative = directory[len(root) :] or "/"
        found[inode] = relative
    return found


def cgroup_path_of(pid: int, hierarchy: CgroupHierarchy, proc: Path = Path("/proc")) -> str | None:
    """A process's cgroup path in the watched hierarchy, from /proc/<pid>/cgroup; None when it is gone."""
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy_id, controllers, path = line.split(":", 2)
        if int(hierarchy_id) == hierarchy.hierarchy_id and (
            not hierarchy.is_v1 or hierarchy.controller in controllers.split(",")
        ):
            return path
    return None

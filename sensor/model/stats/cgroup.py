"""A container's cgroup directories on this host's layout, and one reading of them.

Each resource is read from wherever its controller lives: a v1 hierarchy when the controller is
mounted there (v1 and hybrid hosts; this machine's Docker), else the unified hierarchy (v2
hosts). A resource that cannot be read is left out of the reading and named in its errors; the
other resources are still read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sensor.kernel.cgroupfs import CgroupMounts
from sensor.model.stats import cgroup_v1, cgroup_v2
from sensor.model.stats.sample import CgroupStats

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CgroupDirs:
    """One cgroup's directories: per v1 controller, and in the unified hierarchy."""

    v1: dict[str, Path]
    unified: Path | None


def _under(mount: Path, cgroup_path: str) -> Path:
    return mount / cgroup_path.lstrip("/")


def locate(mounts: CgroupMounts, cgroup_path: str, proc_cgroup: str | None = None) -> CgroupDirs:
    """The directories of a cgroup.

    ``proc_cgroup`` is the text of /proc/<pid>/cgroup of a process in it, which gives the path in
    each hierarchy; without it the same path is assumed in every hierarchy, which is how Docker,
    containerd, CRI-O and runc lay cgroups out.
    """
    v1 = {controller: _under(mount, cgroup_path) for controller, mount in mounts.v1.items()}
    unified = _under(mounts.unified, cgroup_path) if mounts.unified is not None else None
    for line in (proc_cgroup or "").splitlines():
        hierarchy_id, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy_id == "0" and mounts.unified is not None:
            unified = _under(mounts.unified, path)
        for controller in controllers.split(","):
            if controller in mounts.v1:
                v1[controller] = _under(mounts.v1[controller], path)
    return CgroupDirs(v1, unified)


def _pick(
    v1: Callable[[Path], T], v2: Callable[[Path], T], controller: str, dirs: CgroupDirs
) -> Callable[[], T] | None:
    """How to read one resource here: its v1 controller's directory first, else the unified one."""
    v1_dir, unified = dirs.v1.get(controller), dirs.unified
    if v1_dir is not None:
        return lambda: v1(v1_dir)
    if unified is not None:
        return lambda: v2(unified)
    return None


def _why(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{error.filename} is missing (the cgroup is gone, or its controller is not enabled for it)"
    if isinstance(error, OSError):
        return f"cannot read {error.filename}: {error.strerror}"
    return f"unexpected content: {error}"


def _attempt(resource: str, read: Callable[[], T] | None, errors: list[str]) -> T | None:
    if read is None:
        errors.append(f"{resource}: no cgroup hierarchy on this host has its controller")
        return None
    try:
        return read()
    except (OSError, ValueError, KeyError) as error:
        errors.append(f"{resource}: {_why(error)}")
        return None


def read_cgroup(dirs: CgroupDirs, sys: Path = Path("/sys")) -> CgroupStats:
    """One reading of every resource; each one that fails is named in ``errors`` and the rest still read."""
    errors: list[str] = []
    cpu_dir = dirs.v1.get("cpu")
    cpu = _attempt("cpu", _pick(lambda d: cgroup_v1.read_cpu(d, cpu_dir), cgroup_v2.read_cpu, "cpuacct", dirs), errors)
    memory = _attempt("memory", _pick(cgroup_v1.read_memory, cgroup_v2.read_memory, "memory", dirs), errors)
    io_reader = _pick(lambda d: cgroup_v1.read_io(d, sys), lambda d: cgroup_v2.read_io(d, sys), "blkio", dirs)
    io = _attempt("io", io_reader, errors)
    pids = _attempt("pids", _pick(cgroup_v1.read_pids, cgroup_v2.read_pids, "pids", dirs), errors)
    return CgroupStats(cpu, memory, io, pids, tuple(errors))

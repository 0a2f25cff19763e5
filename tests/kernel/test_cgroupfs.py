"""The watched cgroup hierarchy on v2, hybrid and v1 hosts, from captured mountinfo and /proc/cgroups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sensor.kernel.cgroupfs import (
    CgroupHierarchy,
    CgroupLayoutError,
    CgroupMode,
    cgroup_path_of,
    detect_hierarchy,
    scan_cgroups,
)

PROC_CGROUPS = """#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t2\t1
cpu\t1\t2\t1
cpuacct\t2\t2\t1
blkio\t7\t2\t1
memory\t4\t61\t1
devices\t5\t2\t1
freezer\t6\t2\t1
net_cls\t0\t2\t1
pids\t8\t2\t1
"""
V1 = """\
25 1 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""
HYBRID = V1 + "29 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
V2 = "30 1 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def detect(tmp_path: Path, mountinfo: str, prefer_v1: bool = False) -> CgroupHierarchy:
    (tmp_path / "mountinfo").write_text(mountinfo)
    (tmp_path / "cgroups").write_text(PROC_CGROUPS)
    return detect_hierarchy(tmp_path / "mountinfo", tmp_path / "cgroups", prefer_v1=prefer_v1)


def test_a_v2_host_watches_the_unified_hierarchy(tmp_path: Path) -> None:
    assert detect(tmp_path, V2) == CgroupHierarchy(CgroupMode.UNIFIED, 0, Path("/sys/fs/cgroup"))


def test_a_hybrid_host_watches_the_unified_hierarchy(tmp_path: Path) -> None:
    assert detect(tmp_path, HYBRID) == CgroupHierarchy(CgroupMode.HYBRID, 0, Path("/sys/fs/cgroup/unified"))


def test_a_v1_host_watches_the_pids_controller_with_its_kernel_index(tmp_path: Path) -> None:
    assert detect(tmp_path, V1) == CgroupHierarchy(CgroupMode.LEGACY, 8, Path("/sys/fs/cgroup/pids"), "pids", 8)


def test_a_hybrid_host_can_be_asked_to_watch_v1(tmp_path: Path) -> None:
    assert detect(tmp_path, HYBRID, prefer_v1=True).controller == "pids"


def test_no_cgroup_mount_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CgroupLayoutError, match="mount -t cgroup2"):
        detect(tmp_path, "25 1 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n")


def test_this_hosts_cgroups_are_found_by_inode_and_our_own_path_among_them() -> None:
    hierarchy = detect_hierarchy()
    cgroups = scan_cgroups(hierarchy)
    own = cgroup_path_of(os.getpid(), hierarchy)
    assert own is not None and own in cgroups.values()
    assert cgroups[os.stat(hierarchy.mount).st_ino] == "/"

"""The v1 and v2 parsers on cgroup files captured from both layouts (see captured/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor.kernel.cgroupfs import CgroupMounts
from sensor.model.stats.cgroup import CgroupDirs, locate, read_cgroup
from sensor.model.stats.sample import CpuStats, DeviceIO, IOStats, MemoryStats, PidsStats

CAPTURED = Path(__file__).parent / "captured"
SYS = CAPTURED / "sys"
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids")


def v1_dirs(name: str) -> CgroupDirs:
    return CgroupDirs({c: CAPTURED / name / c for c in V1_CONTROLLERS}, CAPTURED / name / "unified")


def test_v1_limited_container_reads_every_figure_and_its_limits() -> None:
    stats = read_cgroup(v1_dirs("v1-docker-limited"), SYS)

    assert stats.errors == ()
    assert stats.cpu == CpuStats(
        usage_ns=132235517,
        user_ns=62407064,
        system_ns=69210408,
        periods=5,
        throttled_periods=1,
        throttled_ns=26156400,
        limit_cores=0.5,
    )
    assert stats.memory == MemoryStats(
        usage_bytes=753664, working_set_bytes=753664, rss_bytes=49152, cache_bytes=0, limit_bytes=64 << 20, oom_kills=1
    )
    assert stats.io == IOStats((DeviceIO(254, 0, "vda", 8 << 20, 8 << 20, 8, 8),))
    assert stats.pids == PidsStats(current=1, limit=50)


def test_v1_unlimited_container_has_no_limits_rather_than_huge_ones() -> None:
    stats = read_cgroup(v1_dirs("v1-docker-unlimited"), SYS)

    assert stats.errors == ()
    assert stats.cpu is not None and stats.cpu.limit_cores is None
    assert stats.memory is not None and stats.memory.limit_bytes is None  # the file says 9223372036854771712
    assert stats.pids == PidsStats(current=1, limit=None)  # the file says "max"
    assert stats.io == IOStats(())  # only "Total 0": no device has been used


def test_v1_without_the_cpu_controller_reads_cpu_time_without_throttling() -> None:
    dirs = v1_dirs("v1-docker-limited")
    del dirs.v1["cpu"]

    stats = read_cgroup(dirs, SYS)

    assert stats.cpu == CpuStats(usage_ns=132235517, user_ns=62407064, system_ns=69210408)


def test_v2_limited_cgroup_reads_every_figure_and_subtracts_inactive_file_for_the_working_set() -> None:
    stats = read_cgroup(CgroupDirs({}, CAPTURED / "v2-limited"), SYS)

    assert stats.errors == ()
    assert stats.cpu == CpuStats(
        usage_ns=132235000,
        user_ns=62700000,
        system_ns=69535000,
        periods=5,
        throttled_periods=1,
        throttled_ns=26156000,
        limit_cores=0.5,
    )
    assert stats.memory == MemoryStats(
        usage_bytes=9437184,
        working_set_bytes=9437184 - 8384512,
        rss_bytes=1048576,
        cache_bytes=8388608,
        limit_bytes=64 << 20,
        oom_kills=1,
    )
    assert stats.io == IOStats(
        (DeviceIO(7, 0, "7:0", 4096, 0, 1, 0), DeviceIO(254, 0, "vda", 8 << 20, 8 << 20, 8, 8))
    )  # 7:0 has no entry under the captured /sys: named by its numbers
    assert stats.io.read_bytes == (8 << 20) + 4096
    assert stats.pids == PidsStats(current=1, limit=50)


def test_v2_unlimited_cgroup_has_no_limits() -> None:
    stats = read_cgroup(CgroupDirs({}, CAPTURED / "v2-unlimited"), SYS)

    assert stats.errors == ()
    assert stats.cpu is not None and stats.cpu.limit_cores is None
    assert stats.memory is not None and stats.memory.limit_bytes is None
    assert stats.pids == PidsStats(1, None)
    assert stats.io == IOStats(())


def test_hybrid_host_takes_each_resource_from_its_v1_controller_and_cpu_from_unified_when_cpuacct_is_absent() -> None:
    dirs = v1_dirs("v1-docker-limited")
    for controller in ("cpu", "cpuacct"):
        del dirs.v1[controller]

    stats = read_cgroup(dirs, SYS)

    assert stats.cpu == CpuStats(usage_ns=132235000, user_ns=62700000, system_ns=69535000)  # unified/cpu.stat
    assert stats.memory is not None and stats.memory.oom_kills == 1  # still v1
    assert stats.errors == ()


def test_a_missing_controller_file_is_one_named_error_and_the_other_resources_are_still_read(tmp_path: Path) -> None:
    stats = read_cgroup(CgroupDirs({}, tmp_path), SYS)  # an empty unified directory: nothing enabled

    assert (stats.cpu, stats.memory, stats.io, stats.pids) == (None, None, None, None)
    assert [e.split(":")[0] for e in stats.errors] == ["cpu", "memory", "io", "pids"]
    assert f"{tmp_path}/memory.current is missing" in stats.errors[1]


def test_no_hierarchy_at_all_says_so() -> None:
    stats = read_cgroup(CgroupDirs({}, None), SYS)

    assert stats.errors[0] == "cpu: no cgroup hierarchy on this host has its controller"


def test_garbage_in_a_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "pids.current").write_text("lots\n")
    (tmp_path / "pids.max").write_text("max\n")

    stats = read_cgroup(CgroupDirs({"pids": tmp_path}, None), SYS)

    assert stats.pids is None
    assert "pids: unexpected content: invalid literal for int()" in stats.errors[-1]


MOUNTS = CgroupMounts({"memory": Path("/cg/memory"), "cpu": Path("/cg/cpu,cpuacct")}, Path("/cg/unified"))


@pytest.mark.parametrize(
    ("proc_cgroup", "expected"),
    [
        (
            None,
            CgroupDirs(
                {"memory": Path("/cg/memory/docker/abc"), "cpu": Path("/cg/cpu,cpuacct/docker/abc")},
                Path("/cg/unified/docker/abc"),
            ),
        ),
        (
            "5:memory:/system.slice/docker-abc.scope\n2:cpu,cpuacct:/other\n0::/unified/path\n",
            CgroupDirs(
                {"memory": Path("/cg/memory/system.slice/docker-abc.scope"), "cpu": Path("/cg/cpu,cpuacct/other")},
                Path("/cg/unified/unified/path"),
            ),
        ),
    ],
)
def test_locate_uses_the_processs_own_paths_and_else_the_containers_path_in_every_hierarchy(
    proc_cgroup: str | None, expected: CgroupDirs
) -> None:
    assert locate(MOUNTS, "/docker/abc", proc_cgroup) == expected

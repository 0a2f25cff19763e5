"""ContainerCache: lifecycle transitions from the kernel and the runtimes, each reported once, in order."""

from __future__ import annotations

from sensor.kernel.records import CgroupOp, CgroupRecord, Creds
from sensor.model.container_cache import ContainerCache, ContainerChange, ContainerInfo, exit_status
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent
from sensor.model.runtime.resolver import MetadataResult

ID = "ab" * 32
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)
DOCKER_META = ContainerMetadata(name="web", image_id="sha256:1", image_name="nginx:1", runtime="docker")


def cgroup(op: CgroupOp, cgroup_id: int, path: str, target_pid: int = 0, t: int = 1) -> CgroupRecord:
    return CgroupRecord(0, 10, t, 10, 1, 0, 0, 1, ROOT, "runc", op, cgroup_id, 1, target_pid, path)


def types(changes: list[ContainerChange]) -> list[str]:
    return [c.type.value for c in changes]


def started(cache: ContainerCache, path: str = f"/docker/{ID}") -> ContainerInfo:
    cache.apply_cgroup(cgroup(CgroupOp.MKDIR, 50, path))
    cache.apply_cgroup(cgroup(CgroupOp.ATTACH, 50, path, target_pid=99))
    info = cache.container_of(50)
    assert info is not None
    return info


def test_runc_lifecycle_from_the_kernel_alone_is_created_running_exited_destroyed() -> None:
    cache = ContainerCache()
    path = f"/runc/{ID}"
    assert types(cache.apply_cgroup(cgroup(CgroupOp.MKDIR, 50, path))) == ["CREATED"]
    assert types(cache.apply_cgroup(cgroup(CgroupOp.ATTACH, 50, path, target_pid=99))) == ["RUNNING"]
    info = cache.container_of(50)
    assert info is not None and info.container_id == ID
    assert cache.process_seen(info, 100, exec_ns_tgid=1, now=2) == []
    assert info.init_pid == 100
    assert cache.process_exited(info, 101, 0, now=3) == []  # not the init
    exited = cache.process_exited(info, 100, 3 << 8, now=4)
    assert types(exited) == ["EXITED"] and exited[0].exit_code == 3
    assert types(cache.apply_cgroup(cgroup(CgroupOp.RMDIR, 50, path))) == ["DESTROYED"]
    assert cache.get(ID) is None and cache.container_of(50) is None


def test_a_runtime_helper_that_execs_and_exits_before_the_init_does_not_end_the_container() -> None:
    cache = ContainerCache()
    info = started(cache, f"/runc/{ID}")
    cache.process_seen(info, 90, exec_ns_tgid=90, now=2)  # runc init re-executing itself, host pid namespace
    assert (info.init_pid, info.init_confirmed) == (90, False)
    assert cache.process_exited(info, 90, 0, now=3) == []
    cache.process_seen(info, 92, exec_ns_tgid=1, now=4)  # the container's init, pid 1 of its namespace
    assert (info.init_pid, info.init_confirmed, info.state) == (92, True, ContainerState.RUNNING)
    cache.process_seen(info, 95, exec_ns_tgid=1, now=5)  # pid 1 of a namespace nested inside it
    assert info.init_pid == 92
    exited = cache.process_exited(info, 92, 4 << 8, now=6)
    assert types(exited) == ["EXITED"] and exited[0].exit_code == 4


def test_the_runtime_word_on_the_init_pid_confirms_it() -> None:
    cache = ContainerCache()
    info = started(cache)
    cache.process_seen(info, 90, exec_ns_tgid=90, now=2)
    meta = ContainerMetadata(name="web", image_id="sha256:1", image_name="nginx:1", runtime="docker", init_pid=92)
    cache.apply_metadata(MetadataResult(ID, meta, final=True), now=3)
    assert (info.init_pid, info.init_confirmed) == (92, True)
    assert types(cache.process_exited(info, 92, 0, now=4)) == ["EXITED"]


def test_a_docker_container_is_destroyed_by_docker_rm_not_by_its_cgroup_going() -> None:
    cache = ContainerCache()
    info = started(cache)
    cache.process_seen(info, 100, exec_ns_tgid=1, now=2)
    cache.process_exited(info, 100, 7 << 8, now=3)
    assert cache.apply_cgroup(cgroup(CgroupOp.RMDIR, 50, f"/docker/{ID}")) == []
    assert types(cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.EXITED, 7, "docker"), now=5)) == []
    assert types(cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.DESTROYED, None, "docker"), 6)) == [
        "DESTROYED"
    ]
    assert len(cache) == 0


def test_runtime_events_and_kernel_records_report_each_transition_once_whoever_comes_first() -> None:
    cache = ContainerCache()
    created = cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.CREATED, None, "docker"), now=1)
    assert types(created) == ["CREATED"]
    info = started(cache)  # mkdir of a known container, then attach
    assert info.state is ContainerState.RUNNING
    assert cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.RUNNING, None, "docker"), now=3) == []
    died = cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.EXITED, 137, "docker"), now=4)
    assert types(died) == ["EXITED"] and died[0].exit_code == 137
    cache.process_seen(info, 100, exec_ns_tgid=1, now=2)
    assert cache.process_exited(info, 100, 9, now=5) == []  # late kernel exit: already EXITED
    assert cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.RUNNING, None, "docker"), now=6) == []


def test_a_skipped_transition_is_reported_on_the_way() -> None:
    cache = ContainerCache()
    cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.CREATED, None, "docker"), now=1)
    assert types(cache.apply_runtime_event(RuntimeEvent(ID, ContainerState.EXITED, 1, "docker"), 2)) == [
        "RUNNING",
        "EXITED",
    ]


def test_a_restart_after_exit_is_running_again_with_a_new_init() -> None:
    cache = ContainerCache()
    info = started(cache)
    cache.process_seen(info, 100, exec_ns_tgid=1, now=2)
    cache.process_exited(info, 100, 0, now=3)
    assert types(cache.apply_cgroup(cgroup(CgroupOp.ATTACH, 50, f"/docker/{ID}", target_pid=200))) == ["RUNNING"]
    cache.process_seen(info, 201, exec_ns_tgid=1, now=4)
    assert info.init_pid == 201 and info.exit_code is None


def test_metadata_binds_late_with_updated_only_when_events_went_out_without_it() -> None:
    cache = ContainerCache()
    info = started(cache)
    assert cache.apply_metadata(MetadataResult(ID, DOCKER_META, final=True), now=2) == []
    assert info.name == "web" and not info.resolving

    other = ContainerCache()
    late = started(other)
    late.emitted_without_metadata = True
    assert types(other.apply_metadata(MetadataResult(ID, DOCKER_META, final=True), now=2)) == ["UPDATED"]


def test_a_rename_is_updated_and_the_same_metadata_again_is_nothing() -> None:
    cache = ContainerCache()
    started(cache)
    cache.apply_metadata(MetadataResult(ID, DOCKER_META, final=True), now=2)
    assert cache.apply_metadata(MetadataResult(ID, DOCKER_META, final=True), now=3) == []
    renamed = ContainerMetadata(name="web2", image_id="sha256:1", image_name="nginx:1", runtime="docker")
    assert types(cache.apply_metadata(MetadataResult(ID, renamed, final=True), now=4)) == ["UPDATED"]


def test_no_metadata_yet_keeps_resolving_and_a_final_miss_stops_it() -> None:
    cache = ContainerCache()
    info = started(cache, f"/runc/{ID}")
    cache.apply_metadata(MetadataResult(ID, None, final=False), now=2)
    assert info.resolving
    cache.apply_metadata(MetadataResult(ID, None, final=True), now=3)
    assert not info.resolving and info.metadata is None


def test_sub_cgroups_belong_to_their_container_and_host_cgroups_to_none() -> None:
    cache = ContainerCache()
    info = started(cache)
    assert cache.apply_cgroup(cgroup(CgroupOp.MKDIR, 51, f"/docker/{ID}/init.scope")) == []
    assert cache.container_of(51) is info
    assert cache.apply_cgroup(cgroup(CgroupOp.MKDIR, 60, "/system.slice/cron.service")) == []
    assert cache.container_of(60) is None and cache.knows_cgroup(60)
    assert cache.apply_cgroup(cgroup(CgroupOp.RMDIR, 51, f"/docker/{ID}/init.scope")) == []
    assert info.cgroup_path == f"/docker/{ID}"


def test_the_snapshot_holds_running_stopped_and_runtime_only_containers() -> None:
    stopped = "cd" * 32
    cache = ContainerCache()
    cache.load_snapshot(
        cgroups={1: "/", 50: f"/docker/{ID}", 60: "/system.slice"},
        populated={50},
        known={
            ID: DOCKER_META,
            stopped: ContainerMetadata(name="old", runtime="docker", state=ContainerState.EXITED, exit_code=2),
        },
    )
    assert {(c.container_id, c.state, c.name) for c in cache.containers()} == {
        (ID, ContainerState.RUNNING, "web"),
        (stopped, ContainerState.EXITED, "old"),
    }
    assert [c.exit_code for c in cache.snapshot_changes(0) if c.container.container_id == stopped] == [2]


def test_exit_status_is_the_code_or_128_plus_the_signal() -> None:
    assert [exit_status(raw) for raw in (0, 7 << 8, 9, 0x86)] == [0, 7, 137, 134]

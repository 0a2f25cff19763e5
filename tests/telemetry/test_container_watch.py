"""ContainerWatcher: records and runtime answers in, container transitions out (pure logic, a stub runtime)."""

from __future__ import annotations

from pathlib import Path

from sensor.kernel.cgroupfs import CgroupHierarchy, CgroupMode
from sensor.kernel.records import CgroupOp, CgroupRecord, Creds, ExecFlags, ExecRecord, ExitRecord
from sensor.model.container_cache import ContainerChange
from sensor.model.runtime.metadata import ContainerMetadata
from sensor.model.runtime.resolver import Answer, MetadataResult
from sensor.telemetry.container_watch import ContainerWatcher

ID = "cd" * 32
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)
CGROUP = 77


class StubRuntimes:
    """Remembers what it was asked; answers what the test gives it."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.answers: list[Answer] = []

    def request(self, container_id: str, refresh: bool = False) -> None:
        self.asked.append(container_id)

    def drain(self) -> list[Answer]:
        answers, self.answers = self.answers, []
        return answers

    def known_containers(self) -> dict[str, ContainerMetadata]:
        return {}


def watcher(tmp_path: Path) -> tuple[ContainerWatcher, StubRuntimes]:
    runtimes = StubRuntimes()
    return ContainerWatcher(CgroupHierarchy(CgroupMode.UNIFIED, 0, tmp_path), runtimes), runtimes


def mkdir(path: str) -> CgroupRecord:
    return CgroupRecord(0, 10, 1, 10, 1, 0, 0, 1, ROOT, "runc", CgroupOp.MKDIR, CGROUP, 1, 0, path)


def exec_in_container(tgid: int, ns_tgid: int, t: int) -> ExecRecord:
    return ExecRecord(
        0, tgid, t, tgid, 1, 5, 0, CGROUP, ROOT, "sh", tgid, ExecFlags(0), "/bin/sh", ["sh"], 3, "/", ns_tgid
    )


def exit_in_container(tgid: int, code: int, t: int) -> ExitRecord:
    return ExitRecord(0, tgid, t, tgid, 1, 5, 0, CGROUP, ROOT, "sh", code, True)


def types(changes: list[ContainerChange]) -> list[str]:
    return [change.type.value for change in changes]


def test_a_container_born_without_a_description_is_looked_up_and_its_init_s_exit_ends_it(tmp_path: Path) -> None:
    watch, runtimes = watcher(tmp_path)
    assert types(watch.cgroup_changed(mkdir(f"/docker/{ID}"))) == ["CREATED"]
    assert runtimes.asked == [ID]
    helper = exec_in_container(200, ns_tgid=200, t=2)  # the runtime's own helper, in the host's pid namespace
    container = watch.container_of(helper)
    assert container is not None and container.container_id == ID
    assert types(watch.process_record(container, helper)) == ["RUNNING"]
    assert watch.process_record(container, exit_in_container(200, 0, t=3)) == []  # not the init
    assert watch.process_record(container, exec_in_container(201, ns_tgid=1, t=4)) == []
    (exited,) = watch.process_record(container, exit_in_container(201, 7 << 8, t=5))
    assert (exited.type.value, exited.exit_code) == ("EXITED", 7)


def test_runtime_answers_bind_names_in_the_order_they_came(tmp_path: Path) -> None:
    watch, runtimes = watcher(tmp_path)
    watch.cgroup_changed(mkdir(f"/docker/{ID}"))
    runtimes.answers = [MetadataResult(ID, ContainerMetadata(name="web", runtime="docker"), final=True)]
    assert watch.runtime_answers(now=10) == []  # nothing went out unnamed: no UPDATED
    container = watch.containers.get(ID)
    assert container is not None and (container.name, container.resolving) == ("web", False)


def test_a_cgroup_proc_cannot_name_is_asked_again_only_after_a_second(tmp_path: Path) -> None:
    watch, _ = watcher(tmp_path)
    stray = exec_in_container(999_999_999, ns_tgid=1, t=0)  # no such pid: /proc cannot name its cgroup
    assert watch.container_of(stray) is None
    assert watch._unnamed_cgroups == {CGROUP: 0}
    watch.forget_unnamed_cgroups(now=500_000_000)
    assert watch._unnamed_cgroups == {CGROUP: 0}  # too recent to ask again
    watch.forget_unnamed_cgroups(now=1_000_000_000)
    assert watch._unnamed_cgroups == {}

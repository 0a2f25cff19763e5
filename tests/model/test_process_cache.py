"""ProcessInfoCache: identity, lineage, pid reuse, ordering and bounded memory (pure logic)."""

from __future__ import annotations

from sensor.kernel.records import Creds, CredsCause, CredsRecord, ExecFlags, ExecRecord, ExitRecord, ForkRecord
from sensor.model.process_cache import ProcessInfoCache
from sensor.model.procfs import ProcSnapshot

BOOT = "boot"
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)
USER = Creds(1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
SECOND = 1_000_000_000


def cache(**kwargs: int) -> ProcessInfoCache:
    return ProcessInfoCache(BOOT, read_proc=False, **kwargs)


def fork(parent: int, parent_start: int, child: int, child_start: int, flags: int = 0x11, t: int = 1) -> ForkRecord:
    return ForkRecord(
        0,
        parent,
        t,
        parent,
        1,
        parent_start,
        0,
        0,
        ROOT,
        "sh",
        child,
        child if not flags & 0x10000 else parent,
        child_start,
        flags,
    )


def exec_(
    pid: int, start: int, ppid: int, parent_start: int, argv: list[str], cwd: str = "/", t: int = 2
) -> ExecRecord:
    return ExecRecord(
        0,
        pid,
        t,
        pid,
        ppid,
        start,
        parent_start,
        0,
        ROOT,
        argv[0].rsplit("/", 1)[-1],
        pid,
        ExecFlags(0),
        argv[0],
        argv,
        0,
        cwd,
        pid,
    )


def exit_(
    pid: int,
    start: int,
    code: int = 0,
    t: int = 3,
    tid: int | None = None,
    group_dead: bool = True,
    ppid: int = 1,
    parent_start: int = 0,
) -> ExitRecord:
    return ExitRecord(0, tid or pid, t, pid, ppid, start, parent_start, 0, ROOT, "x", code, group_dead)


def test_process_id_is_boot_pid_and_start_ticks() -> None:
    c = cache()
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND + 5))
    child = c.by_pid(200)
    assert child is not None
    assert child.process_id == "boot-200-6000"  # 60 s at 100 ticks per second
    assert child.parent_process_id == "boot-100-5000"


def test_fork_child_inherits_context_until_it_execs() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/sh", "-c", "x"], cwd="/srv"))
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND))
    child = c.by_pid(200)
    assert child is not None
    assert (child.filename, child.argv, child.cwd) == ("/bin/sh", ["/bin/sh", "-c", "x"], "/srv")
    c.apply(exec_(200, 60 * SECOND, 100, 50 * SECOND, ["/bin/ls", "-l"], cwd="/srv"))
    assert (child.filename, child.argv) == ("/bin/ls", ["/bin/ls", "-l"])
    assert [a.pid for a in c.lineage(child)] == [100]


def test_an_exec_that_overtakes_its_fork_keeps_its_context() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/sh"]))
    c.apply(exec_(200, 60 * SECOND, 100, 50 * SECOND, ["/bin/ls"]))
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND))  # arrives late (per-CPU buffers)
    child = c.by_pid(200)
    assert child is not None
    assert child.argv == ["/bin/ls"]
    assert child.parent_process_id == "boot-100-5000"


def test_a_reused_pid_gets_a_fresh_entry_even_within_one_clock_tick() -> None:
    c = cache()
    c.apply(exec_(300, 70 * SECOND, 1, 0, ["/bin/old"], cwd="/old"))
    c.apply(exit_(300, 70 * SECOND))  # suppose this exit record had been lost: the next one must not reuse it
    c.apply(exec_(300, 70 * SECOND + 1000, 1, 0, ["/bin/new"], cwd="/new"))
    info = c.by_pid(300)
    assert info is not None
    assert (info.argv, info.cwd, info.alive) == (["/bin/new"], "/new", True)


def test_a_reused_pid_without_any_exit_record_is_not_mixed_up() -> None:
    c = cache()
    c.apply(exec_(300, 70 * SECOND, 1, 0, ["/bin/old"]))
    record = exit_(300, 80 * SECOND, code=256)
    info = c.apply(record)  # an exit from a process we never saw: not the old one
    assert info.process_id == "boot-300-8000"
    assert info.argv == []
    old = c.get("boot-300-7000")
    assert old is not None and old.alive


def test_threads_belong_to_their_leader_and_exit_alone() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/usr/bin/python3"]))
    c.apply(fork(100, 50 * SECOND, 101, 50 * SECOND, flags=0x3D0F00))  # CLONE_THREAD | CLONE_VM | ...
    info = c.by_pid(100)
    assert info is not None
    assert info.threads == {100, 101}
    assert c.by_pid(101) is None
    c.apply(exit_(100, 50 * SECOND, tid=101, group_dead=False))
    assert (info.threads, info.alive) == ({100}, True)
    c.apply(exit_(100, 50 * SECOND, code=9))
    assert (info.alive, info.exit_code) == (False, 9)


def test_credentials_follow_changes() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/su"]))
    c.apply(CredsRecord(0, 100, 5, 100, 1, 50 * SECOND, 0, 0, USER, "su", ROOT, CredsCause.SETUID))
    info = c.by_pid(100)
    assert info is not None and info.creds == USER


def test_exited_processes_leave_after_the_grace_period() -> None:
    c = cache(exit_grace_ns=10 * SECOND)
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/true"]))
    c.apply(exit_(100, 50 * SECOND, t=100 * SECOND))
    assert c.expire(105 * SECOND) == 0
    assert c.by_pid(100) is not None
    assert c.expire(110 * SECOND) == 1
    assert c.by_pid(100) is None
    assert c.stats().evicted_exited == 1


def test_the_capacity_is_never_exceeded_and_exited_entries_go_first() -> None:
    c = cache(capacity=3)
    for pid in (10, 11, 12):
        c.apply(exec_(pid, pid * SECOND, 1, 0, [f"/bin/p{pid}"]))
    c.apply(exit_(11, 11 * SECOND))
    c.apply(exec_(13, 13 * SECOND, 1, 0, ["/bin/p13"]))
    assert len(c) == 3
    assert c.by_pid(11) is None  # the exited one was evicted, not the oldest live one
    c.apply(exec_(14, 14 * SECOND, 1, 0, ["/bin/p14"]))
    assert len(c) == 3
    assert c.by_pid(10) is None
    assert c.stats().evicted_over_capacity == 2


def test_snapshot_processes_link_to_their_parents() -> None:
    c = cache()
    c.load_snapshot(
        [
            ProcSnapshot(1, 0, 1, "init", "/sbin/init", ["/sbin/init"], "/", ROOT, [1]),
            ProcSnapshot(50, 1, 300, "sshd", "/usr/sbin/sshd", ["sshd"], "/", ROOT, [50]),
        ]
    )
    sshd = c.by_pid(50)
    assert sshd is not None
    assert sshd.parent_process_id == "boot-1-1"
    assert sshd.from_snapshot
    assert [a.filename for a in c.lineage(sshd)] == ["/sbin/init"]
    # A record for the same process (same start tick) finds the snapshot entry.
    assert c.apply(exit_(50, 3 * SECOND)) is sshd


def test_a_reparented_process_names_its_new_parent_and_keeps_its_creator() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/sh"]))
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND))
    c.apply(exit_(100, 50 * SECOND))  # the double fork's middle process leaves its child behind
    c.apply(exec_(200, 60 * SECOND, 1, 0, ["/bin/sleep", "60"]))  # the kernel's real_parent: init
    child = c.by_pid(200)
    assert child is not None
    assert (child.ppid, child.parent_process_id) == (1, "boot-1-0")
    assert (child.creator_pid, child.creator_process_id) == (100, "boot-100-5000")
    c.apply(exit_(200, 60 * SECOND, ppid=300, parent_start=70 * SECOND))  # a subreaper took it later
    assert (child.ppid, child.parent_process_id) == (300, "boot-300-7000")
    assert (child.creator_pid, child.creator_process_id) == (100, "boot-100-5000")


def test_a_process_that_keeps_its_parent_has_no_creator() -> None:
    c = cache()
    c.apply(exec_(100, 50 * SECOND, 1, 0, ["/bin/sh"]))
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND))
    c.apply(exit_(200, 60 * SECOND, ppid=100, parent_start=50 * SECOND))
    child = c.by_pid(200)
    assert child is not None
    assert (child.ppid, child.creator_pid, child.creator_process_id) == (100, 0, "")


def test_a_cwd_cut_at_the_depth_bound_is_flagged_and_inherited() -> None:
    c = cache()
    deep = exec_(100, 50 * SECOND, 1, 0, ["/bin/sh"], cwd=".../d31/d32")
    deep.flags = ExecFlags.CWD_TRUNCATED
    c.apply(deep)
    c.apply(fork(100, 50 * SECOND, 200, 60 * SECOND))
    child = c.by_pid(200)
    assert child is not None
    assert (child.cwd, child.cwd_truncated) == (".../d31/d32", True)
    c.apply(exec_(200, 60 * SECOND, 100, 50 * SECOND, ["/bin/ls"], cwd="/tmp"))
    assert (child.cwd, child.cwd_truncated) == ("/tmp", False)

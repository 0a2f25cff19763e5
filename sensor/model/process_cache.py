"""ProcessInfoCache: the live model of every process on the host, fed by kernel records.

Processes are keyed by ``process_id`` (boot id, tgid, start ticks), never by pid alone: every
record names the start time of its process, so a reused pid gets a fresh entry and a dead
process's data is never attached to a new one.
"""

from __future__ import annotations

import sys
from collections import OrderedDict, deque
from collections.abc import Set
from dataclasses import dataclass, field

from sensor.kernel.records import (
    REMEMBERED_HEADER_OPS,
    AnyRecord,
    Creds,
    CredsRecord,
    ExecFlags,
    ExecRecord,
    ExitRecord,
    ForkRecord,
    NetRecord,
    Record,
)
from sensor.model.procfs import ProcSnapshot, make_process_id, read_parent, read_process, start_ticks

CLONE_THREAD = 0x10000
DEFAULT_EXIT_GRACE_NS = 30_000_000_000
DEFAULT_CAPACITY = 200_000
MAX_ANCESTORS = 32
_CWD_TRUNCATED = int(ExecFlags.CWD_TRUNCATED)


@dataclass(init=False, slots=True)
class ProcessRef:
    """A process as it appears among an event's ancestors: one object per process version, shared."""

    process_id: str
    pid: int
    comm: str
    filename: str
    # As one ``ancestors`` element, written on first use: in protobuf (sensor.telemetry.wire) and
    # in JSON (sensor.telemetry.json_lines).
    encoded: bytes = field(repr=False, compare=False)
    json: str = field(repr=False, compare=False)

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        process_id: str,
        pid: int,
        comm: str,
        filename: str,
        encoded: bytes = b"",
        json: str = "",
    ) -> None:
        self.process_id = process_id
        self.pid = pid
        self.comm = comm
        self.filename = filename
        self.encoded = encoded
        self.json = json


@dataclass(init=False, slots=True)
class ProcessInfo:
    """What the sensor knows of one process (a thread group)."""

    process_id: str
    pid: int
    start_ticks: int
    start_ns: int  # exact start_boottime when seen by the hooks; 0 when found in /proc (ticks only)
    ppid: int  # the current parent, as getppid() says
    parent_process_id: str
    comm: str
    filename: str
    argv: list[str]
    cwd: str
    creds: Creds
    # Set once the kernel has reparented the process: the parent that made it.
    creator_pid: int
    creator_process_id: str
    cwd_truncated: bool  # cwd holds only the last directories (the exec record's bound)
    # The exited parent against which /proc was last asked for the current one (see lineage()).
    orphan_checked: str
    # Every thread id, leader included, once a second thread is seen; None for a process that is
    # its leader alone (most are), which saves a set per process.
    thread_set: set[int] | None
    exited_ns: int  # kernel monotonic time of the exit; 0 while alive
    exit_code: int | None
    from_snapshot: bool
    cgroup_id: int  # in the watched hierarchy: with the ContainerCache, the process's container
    language: str
    _ref: ProcessRef | None = field(repr=False, compare=False)

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        process_id: str,
        pid: int,
        start_ticks: int,
        start_ns: int,
        ppid: int,
        parent_process_id: str,
        comm: str,
        filename: str,
        argv: list[str],
        cwd: str,
        creds: Creds,
        creator_pid: int = 0,
        creator_process_id: str = "",
        cwd_truncated: bool = False,
        orphan_checked: str = "",
        thread_set: set[int] | None = None,
        exited_ns: int = 0,
        exit_code: int | None = None,
        from_snapshot: bool = False,
        cgroup_id: int = 0,
        language: str = "",
        _ref: ProcessRef | None = None,
    ) -> None:
        self.process_id = process_id
        self.pid = pid
        self.start_ticks = start_ticks
        self.start_ns = start_ns
        self.ppid = ppid
        self.parent_process_id = parent_process_id
        self.comm = comm
        self.filename = filename
        self.argv = argv
        self.cwd = cwd
        self.creds = creds
        self.creator_pid = creator_pid
        self.creator_process_id = creator_process_id
        self.cwd_truncated = cwd_truncated
        self.orphan_checked = orphan_checked
        self.thread_set = thread_set
        self.exited_ns = exited_ns
        self.exit_code = exit_code
        self.from_snapshot = from_snapshot
        self.cgroup_id = cgroup_id
        self.language = language
        self._ref = _ref

    def ref(self) -> ProcessRef:
        """This process as an ancestor: the same object until its comm or filename changes (an exec)."""
        ref = self._ref
        # Identity, not equality: exec interns both strings, so a new value is a new object.
        if ref is None or ref.comm is not self.comm or ref.filename is not self.filename:
            ref = self._ref = ProcessRef(self.process_id, self.pid, self.comm, self.filename)
        return ref

    @property
    def alive(self) -> bool:
        """Whether the process has not exited yet."""
        return self.exited_ns == 0

    @property
    def threads(self) -> Set[int]:
        """The ids of its live threads, the leader's included; none once it has exited."""
        if self.thread_set is not None:
            return self.thread_set
        return frozenset((self.pid,)) if self.alive else frozenset()

    def add_thread(self, tid: int) -> None:
        """A thread seen in this process."""
        if tid == self.pid:
            return
        if self.thread_set is None:
            self.thread_set = {self.pid}
        self.thread_set.add(tid)

    def remove_thread(self, tid: int) -> None:
        """A thread that exited (or left with an exec)."""
        if self.thread_set is not None:
            self.thread_set.discard(tid)


@dataclass(slots=True)
class CacheStats:
    """Size and churn, for metrics and `sensor trace`'s summary."""

    size: int
    capacity: int
    evicted_exited: int
    evicted_over_capacity: int


class ProcessInfoCache:
    """Processes by ``process_id`` and by current pid, with threads, lineage, and bounded memory."""

    def __init__(
        self,
        boot_id: str,
        exit_grace_ns: int = DEFAULT_EXIT_GRACE_NS,
        capacity: int = DEFAULT_CAPACITY,
        read_proc: bool = True,
    ) -> None:
        self.boot_id = boot_id
        self.exit_grace_ns = exit_grace_ns
        self.capacity = capacity
        self._read_proc = read_proc
        self._by_id: OrderedDict[str, ProcessInfo] = OrderedDict()
        self._by_pid: dict[int, ProcessInfo] = {}
        self._exited: deque[tuple[int, str]] = deque()
        self._evicted_exited = 0
        self._evicted_over_capacity = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def stats(self) -> CacheStats:
        """Current size, the cap, and how many entries left by each route."""
        return CacheStats(len(self._by_id), self.capacity, self._evicted_exited, self._evicted_over_capacity)

    def get(self, process_id: str) -> ProcessInfo | None:
        """A process by id, alive or within its exit grace period."""
        return self._by_id.get(process_id)

    def by_pid(self, pid: int) -> ProcessInfo | None:
        """The process that holds (or last held) this pid."""
        return self._by_pid.get(pid)

    def processes(self) -> list[ProcessInfo]:
        """Every process held now, alive or in its exit grace period."""
        return list(self._by_id.values())

    def lineage(self, info: ProcessInfo) -> list[ProcessRef]:
        """Its ancestors as refs, parent first, as far back as the cache knows (bounded, safe against cycles).

        Every record names its process's current parent, so ``info``'s own is fresh. An ancestor
        that has not sent a record since its parent exited has been reparented unseen: /proc is
        asked once who its parent is now.
        """
        out: list[ProcessRef] = []
        by_id = self._by_id
        node = info
        parent = by_id.get(info.parent_process_id)
        while parent is not None and len(out) < MAX_ANCESTORS and parent is not info:
            if parent.exited_ns and not node.exited_ns and node.orphan_checked != node.parent_process_id:
                self._ask_proc_for_parent(node)
                parent = by_id.get(node.parent_process_id)
                if parent is None or parent is info:
                    break
            out.append(parent.ref())
            node = parent
            parent = by_id.get(parent.parent_process_id)
        return out

    def _ask_proc_for_parent(self, info: ProcessInfo) -> None:
        found = read_parent(info.pid) if self._read_proc else None
        if found is not None and found[0] == info.start_ticks and found[1] == info.ppid:
            return  # the parent's exit is not through yet: ask again next time
        info.orphan_checked = info.parent_process_id
        if found is None or found[0] != info.start_ticks:
            return  # gone: its exit record is on its way
        ppid = found[1]
        parent = self._by_pid.get(ppid)
        if parent is not None and parent.alive:
            self._reparent(info, ppid, parent.process_id)
            return
        parent_found = read_parent(ppid)
        if parent_found is not None:
            self._reparent(info, ppid, make_process_id(self.boot_id, ppid, parent_found[0]))

    def _reparent(self, info: ProcessInfo, ppid: int, parent_process_id: str) -> None:
        """The kernel gave ``info`` a new parent (its own exited): the first one stays as its creator."""
        if not info.creator_process_id and info.parent_process_id:
            info.creator_pid = info.ppid
            info.creator_process_id = info.parent_process_id
        info.ppid = ppid
        info.parent_process_id = parent_process_id

    # -- loading -----------------------------------------------------------------------------

    def load_snapshot(self, snapshots: list[ProcSnapshot]) -> None:
        """Add the processes found in /proc at start-up (before replaying queued records)."""
        ticks_by_pid = {s.pid: s.start_ticks for s in snapshots}
        for snap in snapshots:
            parent_ticks = ticks_by_pid.get(snap.ppid)
            parent_id = make_process_id(self.boot_id, snap.ppid, parent_ticks) if parent_ticks is not None else ""
            self._insert(self._from_snapshot(snap, parent_id))

    def _from_snapshot(self, snap: ProcSnapshot, parent_id: str) -> ProcessInfo:
        return ProcessInfo(
            process_id=make_process_id(self.boot_id, snap.pid, snap.start_ticks),
            pid=snap.pid,
            start_ticks=snap.start_ticks,
            start_ns=0,
            ppid=snap.ppid,
            parent_process_id=parent_id,
            comm=snap.comm,
            filename=snap.filename,
            argv=snap.argv,
            cwd=snap.cwd,
            creds=snap.creds,
            thread_set=set(snap.threads) if len(snap.threads) > 1 else None,
            from_snapshot=True,
        )

    # -- updates from kernel records ---------------------------------------------------------

    def apply(self, record: AnyRecord) -> ProcessInfo:
        """Fold one record into the model; returns the process the record is about."""
        if type(record) is NetRecord and record.op in REMEMBERED_HEADER_OPS:
            return self._remembered(record)
        info = self.process_of(record)
        if record.ppid != info.ppid and record.ppid:
            self._reparent(
                info, record.ppid, make_process_id(self.boot_id, record.ppid, start_ticks(record.parent_start_ns))
            )
        if isinstance(record, ForkRecord):
            self._fork(info, record)
        elif isinstance(record, ExecRecord):
            # Many processes run the same program from the same place: one string each, shared.
            info.comm = sys.intern(record.comm)
            info.filename = sys.intern(record.filename)
            info.argv = record.argv
            info.cwd = sys.intern(record.cwd)
            info.cwd_truncated = bool(int(record.flags) & _CWD_TRUNCATED)
            info.creds = record.creds
            info.cgroup_id = record.cgroup_id
            if record.old_pid != record.pid:
                info.remove_thread(record.old_pid)
        elif isinstance(record, ExitRecord):
            info.remove_thread(record.pid)
            if record.group_dead:
                self._exit(info, record)
        elif isinstance(record, CredsRecord):
            info.creds = record.creds
        return info

    def _remembered(self, record: Record) -> ProcessInfo:
        """The process a header remembered since (a socket's owner) is about: only looked up, since
        its parent, threads and credentials may have changed since."""
        info = self._by_pid.get(record.tgid)
        if info is not None and _started_as(info, record.start_ns, start_ticks(record.start_ns)):
            return info
        return self.process_of(record)

    def process_of(self, record: Record) -> ProcessInfo:
        """The process a record is about, created from the record (and /proc) when first seen."""
        ticks = start_ticks(record.start_ns)
        info = self._by_pid.get(record.tgid)
        if info is not None and _started_as(info, record.start_ns, ticks):
            if record.pid != record.tgid:
                info.add_thread(record.pid)
            return info
        # Unknown, or this pid now belongs to a newer process than the one cached.
        info = self._first_sight(record, ticks)
        self._insert(info)
        return info

    def _first_sight(self, record: Record, ticks: int) -> ProcessInfo:
        snap = read_process(record.tgid) if self._read_proc else None
        if snap is not None and snap.start_ticks != ticks:
            snap = None  # the pid was reused again since the record was sent
        parent_id = make_process_id(self.boot_id, record.ppid, start_ticks(record.parent_start_ns))
        info = ProcessInfo(
            process_id=make_process_id(self.boot_id, record.tgid, ticks),
            pid=record.tgid,
            start_ticks=ticks,
            start_ns=record.start_ns,
            ppid=record.ppid,
            parent_process_id=parent_id if record.ppid else "",
            comm=record.comm,
            filename=snap.filename if snap else "",
            argv=snap.argv if snap else [],
            cwd=snap.cwd if snap else "",
            creds=record.creds,
            cgroup_id=record.cgroup_id,
        )
        info.add_thread(record.pid)
        return info

    def _fork(self, parent: ProcessInfo, record: ForkRecord) -> None:
        if record.clone_flags & CLONE_THREAD:
            parent.add_thread(record.child_pid)
            return
        ticks = start_ticks(record.child_start_ns)
        child_id = make_process_id(self.boot_id, record.child_tgid, ticks)
        known = self._by_id.get(child_id)
        if known is not None and known.start_ns == record.child_start_ns:
            return  # already created by a record that overtook this fork (per-CPU buffers)
        self._insert(
            ProcessInfo(
                process_id=child_id,
                pid=record.child_tgid,
                start_ticks=ticks,
                start_ns=record.child_start_ns,
                ppid=parent.pid,
                parent_process_id=parent.process_id,
                comm=parent.comm,
                filename=parent.filename,
                argv=parent.argv,
                cwd=parent.cwd,
                creds=record.creds,
                cwd_truncated=parent.cwd_truncated,
                cgroup_id=record.cgroup_id,
                language=parent.language,
            )
        )

    def _exit(self, info: ProcessInfo, record: ExitRecord) -> None:
        info.exited_ns = record.ktime_ns
        info.exit_code = record.exit_code
        info.thread_set = None
        self._exited.append((record.ktime_ns, info.process_id))

    def _insert(self, info: ProcessInfo) -> None:
        self._by_id[info.process_id] = info
        self._by_pid[info.pid] = info
        if len(self._by_id) > self.capacity:
            self._evict_over_capacity()

    # -- bounded memory ----------------------------------------------------------------------

    def expire(self, now_ns: int) -> int:
        """Drop processes that exited more than the grace period before ``now_ns``; returns how many."""
        dropped = 0
        deadline = now_ns - self.exit_grace_ns
        while self._exited and self._exited[0][0] <= deadline:
            _, process_id = self._exited.popleft()
            if self._remove(process_id):
                dropped += 1
        self._evicted_exited += dropped
        return dropped

    def _evict_over_capacity(self) -> None:
        # Exited processes go first, oldest exit first; then the oldest entries.
        while len(self._by_id) > self.capacity and self._exited:
            _, process_id = self._exited.popleft()
            if self._remove(process_id):
                self._evicted_over_capacity += 1
        while len(self._by_id) > self.capacity:
            process_id = next(iter(self._by_id))
            self._remove(process_id)
            self._evicted_over_capacity += 1

    def _remove(self, process_id: str) -> bool:
        info = self._by_id.pop(process_id, None)
        if info is None:
            return False
        if self._by_pid.get(info.pid) is info:
            del self._by_pid[info.pid]
        return True


def _started_as(info: ProcessInfo, start_ns: int, ticks: int) -> bool:
    """Whether ``info`` is the process that started then: by the exact time where known, since two
    processes can share a pid within one 10 ms tick."""
    return info.start_ns == start_ns if info.start_ns else info.start_ticks == ticks

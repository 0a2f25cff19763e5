"""ContainerCache: every container on the host, its cgroups, lifecycle state and runtime metadata.

Two sources drive it and may race: the kernel (cgroup made, task attached, processes exec and
exit in it, cgroup removed) and the runtimes (Docker's events, lookups). Whatever arrives first
moves the state; each transition is reported once, in order, and a late duplicate changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from sensor.kernel.records import CgroupOp, CgroupRecord
from sensor.model.cgroup_path import parse_cgroup_path
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent
from sensor.model.runtime.resolver import MetadataResult

# Runtimes with a daemon whose events say when a container is removed: for them a removed cgroup
# means the container stopped, not that it is gone (`docker rm` comes later).
DAEMON_RUNTIMES = frozenset({"docker", "podman"})


class ContainerEventType(str, Enum):
    """``ContainerEvent.ContainerEventType``: the lifecycle transitions, and UPDATED for changed metadata."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    DESTROYED = "DESTROYED"
    UPDATED = "UPDATED"


@dataclass(slots=True, eq=False)
class ContainerInfo:
    """What the sensor knows of one container."""

    container_id: str
    runtime: str
    pod_uid: str
    cgroup_path: str
    state: ContainerState
    cgroup_ids: set[int] = field(default_factory=set)
    metadata: ContainerMetadata | None = None
    resolving: bool = True  # metadata not found yet, and not given up on
    init_pid: int = 0
    init_confirmed: bool = False  # init_pid is pid 1 of the container's pid namespace, or the runtime's word
    exit_code: int | None = None
    emitted_without_metadata: bool = False  # set by the event side; makes the late binding an UPDATED

    @property
    def name(self) -> str:
        """The runtime's name for it, or "" until metadata arrives."""
        return self.metadata.name if self.metadata else ""


@dataclass(frozen=True, slots=True)
class ContainerChange:
    """One reported transition (or UPDATED) of a container."""

    type: ContainerEventType
    container: ContainerInfo
    monotime_ns: int
    exit_code: int | None = None


def exit_status(raw_exit_code: int) -> int:
    """A wait status as runtimes report a container's exit: the status, or 128 + the killing signal."""
    signal = raw_exit_code & 0x7F
    return 128 + signal if signal else (raw_exit_code >> 8) & 0xFF


class ContainerCache:
    """Containers by id and by cgroup id; the cgroup id of every kernel record finds its container in one lookup."""

    def __init__(self, daemon_runtimes: frozenset[str] = DAEMON_RUNTIMES) -> None:
        self._daemon_runtimes = daemon_runtimes
        self._by_cgroup: dict[int, ContainerInfo | None] = {}
        self._by_id: dict[str, ContainerInfo] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, container_id: str) -> ContainerInfo | None:
        """A container by id."""
        return self._by_id.get(container_id)

    def containers(self) -> list[ContainerInfo]:
        """Every container known now."""
        return list(self._by_id.values())

    def knows_cgroup(self, cgroup_id: int) -> bool:
        """Whether the cgroup's path is known (from the start-up scan or a kernel record)."""
        return cgroup_id in self._by_cgroup

    def container_of(self, cgroup_id: int) -> ContainerInfo | None:
        """The container a cgroup belongs to; None for host cgroups and unknown ones."""
        return self._by_cgroup.get(cgroup_id)

    # -- start-up ------------------------------------------------------------------------------------

    def load_snapshot(self, cgroups: dict[int, str], populated: set[int], known: dict[str, ContainerMetadata]) -> None:
        """The containers that exist at start: from the cgroup scan (``populated`` cgroups have processes)
        and from the runtimes (``known``, including stopped containers that have no cgroup)."""
        for cgroup_id, path in cgroups.items():
            info = self.add_cgroup(cgroup_id, path)
            if info is not None and cgroup_id in populated:
                info.state = ContainerState.RUNNING
        for container_id, metadata in known.items():
            info = self._by_id.get(container_id)
            if info is None:
                state = metadata.state or ContainerState.CREATED
                info = ContainerInfo(container_id, metadata.runtime, "", "", state)
                self._by_id[container_id] = info
            self._bind(info, metadata)
            if metadata.state is not None and not (metadata.state is ContainerState.EXITED and info.cgroup_ids):
                info.state = metadata.state
            info.exit_code = metadata.exit_code

    def add_cgroup(self, cgroup_id: int, path: str) -> ContainerInfo | None:
        """Record a cgroup's path; returns its container (created in state CREATED when new), if any."""
        parsed = parse_cgroup_path(path)
        if parsed is None:
            self._by_cgroup[cgroup_id] = None
            return None
        info = self._by_id.get(parsed.container_id)
        if info is None:
            info = ContainerInfo(parsed.container_id, parsed.runtime, parsed.pod_uid, path, ContainerState.CREATED)
            self._by_id[parsed.container_id] = info
        if not info.cgroup_path or len(path) < len(info.cgroup_path):
            info.cgroup_path = path  # the container's own cgroup, not a child of it
        info.pod_uid = info.pod_uid or parsed.pod_uid
        info.runtime = info.runtime or parsed.runtime
        info.cgroup_ids.add(cgroup_id)
        self._by_cgroup[cgroup_id] = info
        return info

    # -- kernel --------------------------------------------------------------------------------------

    def apply_cgroup(self, record: CgroupRecord) -> list[ContainerChange]:
        """A cgroup made, removed or joined: births, starts and (for daemon-less runtimes) removals."""
        now = record.ktime_ns
        if record.op is CgroupOp.RMDIR:
            return self._remove_cgroup(record.id, now)
        containers_before = len(self._by_id)
        info = self.add_cgroup(record.id, record.path)
        if info is None:
            return []
        is_new = len(self._by_id) > containers_before
        changes = [ContainerChange(ContainerEventType.CREATED, info, now)] if is_new else []
        if record.op is CgroupOp.ATTACH:
            if info.state is ContainerState.EXITED:
                info.init_pid = 0  # restarted: its next exec is the new init
                info.init_confirmed = False
                info.exit_code = None
            changes += self._move(info, ContainerState.RUNNING, now)
        return changes

    def process_seen(self, info: ContainerInfo, tgid: int, exec_ns_tgid: int, now: int) -> list[ContainerChange]:
        """A process record from inside the container; ``exec_ns_tgid`` is 0 unless it is an exec.

        The init is the process that execs as pid 1 of its pid namespace. The runtime's own helpers
        exec in the container's cgroup too, before that (runc's re-exec of itself, when runc moves
        it in early), so until then the first exec stands in, unconfirmed: good for the host pid of
        a container that shares the host's pid namespace, never taken as the container's end.
        """
        if exec_ns_tgid == 1 and not info.init_confirmed:
            info.init_pid = tgid
            info.init_confirmed = True
        elif exec_ns_tgid and info.init_pid == 0:
            info.init_pid = tgid
        if info.state is ContainerState.CREATED:
            return self._move(info, ContainerState.RUNNING, now)
        return []

    def process_exited(self, info: ContainerInfo, tgid: int, raw_exit_code: int, now: int) -> list[ContainerChange]:
        """A process in the container ended; when it was the confirmed init, so did the container."""
        if tgid != info.init_pid or not info.init_confirmed or info.state is not ContainerState.RUNNING:
            return []
        return self._move(info, ContainerState.EXITED, now, exit_status(raw_exit_code))

    def _remove_cgroup(self, cgroup_id: int, now: int) -> list[ContainerChange]:
        info = self._by_cgroup.pop(cgroup_id, None)
        if info is None:
            return []
        info.cgroup_ids.discard(cgroup_id)
        if info.cgroup_ids or self._owned_by_daemon(info):
            return []
        return self._move(info, ContainerState.DESTROYED, now)

    def _owned_by_daemon(self, info: ContainerInfo) -> bool:
        runtime = info.metadata.runtime if info.metadata else info.runtime
        return runtime in self._daemon_runtimes

    # -- runtimes ------------------------------------------------------------------------------------

    def apply_metadata(self, result: MetadataResult, now: int) -> list[ContainerChange]:
        """A lookup's answer: binds the metadata; UPDATED when it changed what events already said."""
        info = self._by_id.get(result.container_id)
        if info is None:
            return []
        if result.metadata is None:
            if result.final:
                info.resolving = False
            return []
        before = info.metadata
        self._bind(info, result.metadata)
        said_before = before is not None or info.emitted_without_metadata
        if said_before and _described(before) != _described(result.metadata):
            return [ContainerChange(ContainerEventType.UPDATED, info, now)]
        return []

    def apply_runtime_event(self, event: RuntimeEvent, now: int) -> list[ContainerChange]:
        """A lifecycle event a runtime reported; a container first heard of here is created."""
        info = self._by_id.get(event.container_id)
        changes: list[ContainerChange] = []
        if info is None:
            if event.state is ContainerState.DESTROYED or event.state is None:
                return []
            info = ContainerInfo(event.container_id, event.runtime, "", "", ContainerState.CREATED)
            self._by_id[event.container_id] = info
            changes.append(ContainerChange(ContainerEventType.CREATED, info, now))
        info.runtime = info.runtime or event.runtime
        if event.state is not None:
            if event.state is ContainerState.RUNNING and info.state is not ContainerState.CREATED:
                return changes  # the kernel saw the start first, or a late duplicate
            changes += self._move(info, event.state, now, event.exit_code)
        return changes

    def _bind(self, info: ContainerInfo, metadata: ContainerMetadata) -> None:
        info.metadata = metadata
        info.resolving = False
        info.runtime = metadata.runtime or info.runtime
        if metadata.init_pid and info.state is not ContainerState.EXITED:
            info.init_pid = metadata.init_pid
            info.init_confirmed = True

    # -- the state machine ---------------------------------------------------------------------------

    def _move(
        self, info: ContainerInfo, target: ContainerState, now: int, exit_code: int | None = None
    ) -> list[ContainerChange]:
        """Go to ``target``, reporting the transitions skipped on the way (a container that exited ran)."""
        if info.state is ContainerState.DESTROYED:
            return []
        if info.state is target:
            if target is ContainerState.EXITED and info.exit_code is None and exit_code is not None:
                info.exit_code = exit_code  # the runtime's word on a code the kernel did not see
            return []
        path = _PATHS[(info.state, target)]
        changes = []
        for state in path:
            info.state = state
            code = None
            if state is ContainerState.EXITED:
                info.exit_code = exit_code if exit_code is not None else info.exit_code
                code = info.exit_code
            changes.append(ContainerChange(ContainerEventType(state.value), info, now, code))
        if info.state is ContainerState.DESTROYED:
            self._forget(info)
        return changes

    def _forget(self, info: ContainerInfo) -> None:
        self._by_id.pop(info.container_id, None)
        for cgroup_id in info.cgroup_ids:
            self._by_cgroup.pop(cgroup_id, None)

    def snapshot_changes(self, now: int) -> Iterable[ContainerChange]:
        """Each container as it is now, as the change that put it in its state (for start-up snapshots)."""
        for info in self._by_id.values():
            yield ContainerChange(ContainerEventType(info.state.value), info, now, info.exit_code)


_C, _R, _E, _D = ContainerState.CREATED, ContainerState.RUNNING, ContainerState.EXITED, ContainerState.DESTROYED
# (from, to) -> the states passed through, in order.
_PATHS: dict[tuple[ContainerState, ContainerState], tuple[ContainerState, ...]] = {
    (_C, _R): (_R,),
    (_C, _E): (_R, _E),
    (_C, _D): (_D,),
    (_R, _E): (_E,),
    (_R, _C): (),
    (_R, _D): (_E, _D),
    (_E, _R): (_R,),
    (_E, _C): (),
    (_E, _D): (_D,),
}


def _described(metadata: ContainerMetadata | None) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    if metadata is None:
        return ("", "", "", ())
    return (metadata.name, metadata.image_id, metadata.image_name, tuple(sorted(metadata.labels.items())))

"""Containers' lifecycle, from the kernel's records and the runtimes' answers.

The ContainerCache holds the containers; the watcher feeds it: cgroup records, the processes seen
in a container's cgroup (its init's exec and exit), the runtimes' events and descriptions (looked
up off the pipeline's thread), and cgroups first met mid-life, named from /proc. Each method
returns the transitions to report, in order, and asks the runtimes about every container born
without a description.
"""

from __future__ import annotations

import os
from typing import Protocol

from sensor.kernel.cgroupfs import CgroupHierarchy, cgroup_path_of
from sensor.kernel.records import AnyRecord, CgroupRecord, ExecRecord, ExitRecord
from sensor.model.container_cache import ContainerCache, ContainerChange, ContainerEventType, ContainerInfo
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent
from sensor.model.runtime.resolver import Answer

CGROUP_RETRY_NS = 1_000_000_000


class Runtimes(Protocol):
    """What the watcher asks of the runtimes (sensor.model.runtime.resolver.MetadataResolver)."""

    def request(self, container_id: str, refresh: bool = False) -> None:
        """Look a container up, off the caller's thread."""

    def drain(self) -> list[Answer]:
        """Answers and runtime events that came since the last call."""

    def known_containers(self) -> dict[str, ContainerMetadata]:
        """The containers the runtimes describe now."""


class ContainerWatcher:
    """Turns records and runtime answers into container transitions."""

    def __init__(self, hierarchy: CgroupHierarchy, runtimes: Runtimes) -> None:
        self.hierarchy = hierarchy
        self.containers = ContainerCache()
        self._runtimes = runtimes
        # cgroup id -> when /proc last failed to name it: asked again only after CGROUP_RETRY_NS.
        self._unnamed_cgroups: dict[int, int] = {}

    def load_snapshot(self, cgroups: dict[int, str], populated: set[int]) -> None:
        """The containers whose cgroups exist at start (``populated``: those with processes)."""
        self.containers.load_snapshot(cgroups, populated, self._runtimes.known_containers())
        for container in self.containers.containers():
            if container.resolving:
                self._runtimes.request(container.container_id)

    def cgroup_changed(self, record: CgroupRecord) -> list[ContainerChange]:
        """A cgroup made, removed, or a task moved into one."""
        return self._asked(self.containers.apply_cgroup(record))

    def container_of(self, record: AnyRecord) -> ContainerInfo | None:
        """The container of the record's task, if any."""
        containers = self.containers
        container = containers.container_of(record.cgroup_id)
        if container is None and not containers.knows_cgroup(record.cgroup_id):
            return self._learn_cgroup(record.cgroup_id, record.tgid, record.ktime_ns)
        return container

    def process_record(self, container: ContainerInfo, record: AnyRecord) -> list[ContainerChange]:
        """A record of a process in ``container``: an exec may be its init's, an exit may end it."""
        if type(record) is ExecRecord:
            return self.containers.process_seen(container, record.tgid, record.ns_tgid, record.ktime_ns)
        if container.state is ContainerState.CREATED:
            return self.containers.process_seen(container, record.tgid, 0, record.ktime_ns)
        if type(record) is ExitRecord and record.group_dead:
            return self.containers.process_exited(container, record.tgid, record.exit_code, record.ktime_ns)
        return []

    def runtime_answers(self, now: int) -> list[ContainerChange]:
        """What the runtimes said since the last call: lookups answered, and their own events."""
        changes: list[ContainerChange] = []
        for answer in self._runtimes.drain():
            if isinstance(answer, RuntimeEvent):
                changes += self.containers.apply_runtime_event(answer, now)
            else:
                changes += self.containers.apply_metadata(answer, now)
        return self._asked(changes)

    def forget_unnamed_cgroups(self, now: int) -> None:
        """Failures old enough to be asked again are dropped: the map holds only recent ones."""
        stale = [cgroup_id for cgroup_id, failed in self._unnamed_cgroups.items() if now - failed >= CGROUP_RETRY_NS]
        for cgroup_id in stale:
            del self._unnamed_cgroups[cgroup_id]

    def _asked(self, changes: list[ContainerChange]) -> list[ContainerChange]:
        for change in changes:
            if change.type is ContainerEventType.CREATED and change.container.resolving:
                self._runtimes.request(change.container.container_id)
        return changes

    def _learn_cgroup(self, cgroup_id: int, pid: int, now: int) -> ContainerInfo | None:
        """A cgroup neither scanned nor seen made: its path from /proc, checked against its inode.

        A failure is remembered for CGROUP_RETRY_NS rather than for good: the process may simply
        have exited before it could be asked, and a container's cgroup must not pass for the host's.
        """
        if now - self._unnamed_cgroups.get(cgroup_id, -CGROUP_RETRY_NS) < CGROUP_RETRY_NS:
            return None
        path = cgroup_path_of(pid, self.hierarchy)
        try:
            matches = path is not None and os.stat(f"{self.hierarchy.mount}{path}").st_ino == cgroup_id
        except OSError:
            matches = False
        if not matches or path is None:
            self._unnamed_cgroups[cgroup_id] = now
            return None
        self._unnamed_cgroups.pop(cgroup_id, None)
        return self.containers.add_cgroup(cgroup_id, path)

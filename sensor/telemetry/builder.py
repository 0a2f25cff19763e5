"""Turn a kernel record, and the process it is about, into a TelemetryEvent (its payload made by its kind)."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from sensor.kernel.records import AnyRecord, Creds
from sensor.model.container_cache import ContainerChange, ContainerEventType, ContainerInfo
from sensor.model.process_cache import ProcessInfo, ProcessInfoCache
from sensor.telemetry.events import Payload, TelemetryEvent
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.kinds.registry import record_payload
from sensor.telemetry.kinds.ticker import TickerPayload


def default_sensor_id(boot_id: str) -> str:
    """Stable per host: derived from /etc/machine-id when present, else from the boot id."""
    try:
        seed = Path("/etc/machine-id").read_text().strip() or boot_id
    except OSError:
        seed = boot_id
    return hashlib.sha256(f"sensor:{seed}".encode()).hexdigest()[:32]


class EventBuilder:
    """Numbers events and fills in their process context from the cache."""

    def __init__(self, sensor_id: str, cache: ProcessInfoCache, node_name: str = "") -> None:
        self.sensor_id = sensor_id
        self.node_name = node_name
        self._cache = cache
        # next() on a count is atomic under the GIL: server threads number lost and ticker events too.
        self._sequence = itertools.count(1)

    def _next(self) -> int:
        return next(self._sequence)

    def build(self, record: AnyRecord, info: ProcessInfo, container: ContainerInfo | None = None) -> TelemetryEvent:
        """The event for a record already applied to the cache (``info`` is its process).

        A container's name and image are filled in by :func:`add_container_context` when the
        event goes out, so an event that waited for late metadata carries it.
        """
        payload = record_payload(record, self._cache.boot_id)
        return self._process_event(
            payload, info, container, record.ktime_ns, record.pid, record.cpu, record.creds, record.comm
        )

    def existing_process(self, info: ProcessInfo, container: ContainerInfo | None, monotime_ns: int) -> TelemetryEvent:
        """A process that was running when the sensor started, as an EXEC event marked ``snapshot``."""
        payload = ProcessPayload(ProcessEventType.EXEC, exec_filename=info.filename, exec_command_line=info.argv)
        event = self._process_event(payload, info, container, monotime_ns, info.pid, 0, info.creds, info.comm)
        event.snapshot = True
        return event

    def _process_event(
        self,
        payload: Payload,
        info: ProcessInfo,
        container: ContainerInfo | None,
        monotime_ns: int,
        pid: int,
        cpu: int,
        creds: Creds,
        comm: str,
    ) -> TelemetryEvent:
        ancestors = self._cache.lineage(info)
        return TelemetryEvent(
            sensor_id=self.sensor_id,
            node_name=self.node_name,
            sensor_sequence_number=next(self._sequence),
            sensor_monotime_nanos=monotime_ns,
            payload=payload,
            process_id=info.process_id,
            process_pid=pid,
            process_tgid=info.pid,
            cpu=cpu,
            credentials=creds,
            container_id=container.container_id if container is not None else "",
            pod_uid=container.pod_uid if container is not None else "",
            language=info.language,
            comm=comm,
            filename=info.filename,
            command_line=info.argv,
            cwd=info.cwd,
            parent_process_id=info.parent_process_id,
            parent_pid=ancestors[0].pid if ancestors else info.ppid,
            ancestors=ancestors,
            creator_process_id=info.creator_process_id,
            creator_pid=info.creator_pid,
            cwd_truncated=info.cwd_truncated,
        )

    def container(self, change: ContainerChange, snapshot: bool = False) -> TelemetryEvent:
        """The event for a container's transition (its name and image added when it goes out)."""
        info = change.container
        return TelemetryEvent(
            sensor_id=self.sensor_id,
            node_name=self.node_name,
            sensor_sequence_number=self._next(),
            sensor_monotime_nanos=change.monotime_ns,
            payload=ContainerPayload(
                change.type.value,
                host_pid=info.init_pid,
                exit_code=change.exit_code or 0,
                cgroup_path=info.cgroup_path,
                pod_uid=info.pod_uid,
            ),
            container_id=info.container_id,
            pod_uid=info.pod_uid,
            snapshot=snapshot,
        )

    def lost(self, count: int, stage: str, hook: str, monotime_ns: int) -> TelemetryEvent:
        """An event saying ``count`` records were lost at ``stage``."""
        return TelemetryEvent(
            sensor_id=self.sensor_id,
            node_name=self.node_name,
            sensor_sequence_number=self._next(),
            sensor_monotime_nanos=monotime_ns,
            payload=LostPayload(lost=count, stage=stage, hook=hook),
        )

    def ticker(self, monotime_ns: int, wall_ns: int) -> TelemetryEvent:
        """A heartbeat at wall-clock time ``wall_ns``."""
        return TelemetryEvent(
            sensor_id=self.sensor_id,
            node_name=self.node_name,
            sensor_sequence_number=self._next(),
            sensor_monotime_nanos=monotime_ns,
            payload=TickerPayload(wall_ns // 1_000_000_000, wall_ns % 1_000_000_000),
        )


def add_container_context(event: TelemetryEvent, info: ContainerInfo) -> bool:
    """Copy the container's runtime metadata onto an event about to go out; False when there is none."""
    metadata = info.metadata
    payload = event.payload
    if isinstance(payload, ContainerPayload):
        payload.runtime = info.runtime
        payload.metadata_missing = metadata is None
        if payload.type != ContainerEventType.EXITED.value and payload.host_pid == 0:
            payload.host_pid = info.init_pid
    if metadata is None:
        return False
    event.container_name = metadata.name
    event.image_id = metadata.image_id
    event.image_name = metadata.image_name
    if isinstance(payload, ContainerPayload):
        payload.name = metadata.name
        payload.image_id = metadata.image_id
        payload.image_name = metadata.image_name
        payload.labels = metadata.labels
        payload.pod_name = metadata.pod_name
        payload.pod_namespace = metadata.pod_namespace
    return True

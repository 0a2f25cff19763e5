"""TelemetryEvent: what the sensor emits, with its process context; and its JSON form.

Field names are those of ``protos/sensor/api/v1/telemetry.proto``. :func:`to_json_dict` writes
protobuf's JSON mapping (proto field names, 64-bit integers as strings, enums by name) by hand,
because it runs once per event; tests/telemetry/test_events.py parses its output with protobuf to
prove the two agree. Unlike protobuf's printer it always writes credentials, so uid 0 is visible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union

from sensor.kernel.records import Creds
from sensor.model.process_cache import ProcessRef


class ProcessEventType(str, Enum):
    """``ProcessEvent.ProcessEventType``."""

    FORK = "FORK"
    EXEC = "EXEC"
    EXIT = "EXIT"
    UPDATE = "UPDATE"
    CREDENTIALS = "CREDENTIALS"


class EventKind(str, Enum):
    """What `sensor trace --event` selects."""

    FORK = "fork"
    EXEC = "exec"
    EXIT = "exit"
    CREDENTIALS = "credentials"
    CONTAINER = "container"
    LOST = "lost"
    TICKER = "ticker"


@dataclass(slots=True)
class ProcessPayload:
    """``ProcessEvent``: only the fields of its type are set."""

    type: ProcessEventType
    fork_child_pid: int = 0
    fork_child_id: str = ""
    fork_clone_flags: int = 0
    fork_thread: bool = False
    exec_filename: str = ""
    exec_command_line: list[str] = field(default_factory=list)
    exec_command_line_truncated: bool = False
    exec_errno: int = 0
    exec_old_pid: int = 0
    exit_code: int = 0
    exit_status: int = 0
    exit_signal: int = 0
    exit_core_dumped: bool = False
    exit_thread_only: bool = False
    old_credentials: Creds | None = None
    new_credentials: Creds | None = None
    credentials_cause: str = ""


@dataclass(slots=True)
class LostPayload:
    """``LostRecordEvent``."""

    lost: int
    stage: str
    hook: str = ""


@dataclass(slots=True)
class ContainerPayload:
    """``ContainerEvent``."""

    type: str  # ContainerEventType's name
    name: str = ""
    image_id: str = ""
    image_name: str = ""
    host_pid: int = 0
    exit_code: int = 0
    runtime: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    cgroup_path: str = ""
    pod_uid: str = ""
    pod_name: str = ""
    pod_namespace: str = ""
    metadata_missing: bool = False


@dataclass(slots=True)
class TickerPayload:
    """``TickerEvent``: wall-clock time of a heartbeat."""

    seconds: int
    nanos: int


Payload = Union[ProcessPayload, LostPayload, ContainerPayload, TickerPayload]


@dataclass(slots=True)
class TelemetryEvent:
    """One event with the context of the process it is about."""

    sensor_id: str
    sensor_sequence_number: int
    sensor_monotime_nanos: int
    payload: Payload
    process_id: str = ""
    process_pid: int = 0
    process_tgid: int = 0
    cpu: int = 0
    credentials: Creds | None = None
    container_id: str = ""
    container_name: str = ""
    image_id: str = ""
    image_name: str = ""
    pod_uid: str = ""
    language: str = ""
    comm: str = ""
    filename: str = ""
    command_line: list[str] = field(default_factory=list)
    cwd: str = ""
    parent_process_id: str = ""
    parent_pid: int = 0
    ancestors: list[ProcessRef] = field(default_factory=list)
    snapshot: bool = False
    # The protobuf encoding, made on first send and shared by every subscriber (see sensor.telemetry.wire).
    encoded: bytes = field(default=b"", repr=False, compare=False)

    @property
    def id(self) -> str:
        """Hash of sensor id, sequence number and monotonic time, as Capsule8 defined it."""
        key = f"{self.sensor_id}:{self.sensor_sequence_number}:{self.sensor_monotime_nanos}"
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()

    @property
    def kind(self) -> EventKind:
        """The `--event` kind this event belongs to."""
        if isinstance(self.payload, LostPayload):
            return EventKind.LOST
        if isinstance(self.payload, ContainerPayload):
            return EventKind.CONTAINER
        if isinstance(self.payload, TickerPayload):
            return EventKind.TICKER
        return _KIND_OF_TYPE[self.payload.type]


_KIND_OF_TYPE = {
    ProcessEventType.FORK: EventKind.FORK,
    ProcessEventType.EXEC: EventKind.EXEC,
    ProcessEventType.EXIT: EventKind.EXIT,
    ProcessEventType.UPDATE: EventKind.EXEC,
    ProcessEventType.CREDENTIALS: EventKind.CREDENTIALS,
}


def creds_dict(creds: Creds) -> dict[str, int]:
    """``Credentials`` with every field, zeros included."""
    return {
        "uid": creds.uid,
        "gid": creds.gid,
        "euid": creds.euid,
        "egid": creds.egid,
        "suid": creds.suid,
        "sgid": creds.sgid,
        "fsuid": creds.fsuid,
        "fsgid": creds.fsgid,
    }


def _process_dict(p: ProcessPayload) -> dict[str, Any]:
    out: dict[str, Any] = {"type": p.type.value}
    if p.type is ProcessEventType.FORK:
        out["fork_child_pid"] = p.fork_child_pid
        out["fork_child_id"] = p.fork_child_id
        out["fork_clone_flags"] = str(p.fork_clone_flags)
        if p.fork_thread:
            out["fork_thread"] = True
    elif p.type is ProcessEventType.EXEC:
        out["exec_filename"] = p.exec_filename
        if p.exec_command_line:
            out["exec_command_line"] = p.exec_command_line
        if p.exec_command_line_truncated:
            out["exec_command_line_truncated"] = True
        if p.exec_errno:
            out["exec_errno"] = p.exec_errno
        if p.exec_old_pid:
            out["exec_old_pid"] = p.exec_old_pid
    elif p.type is ProcessEventType.EXIT:
        out["exit_code"] = p.exit_code
        out["exit_status"] = p.exit_status
        out["exit_signal"] = p.exit_signal
        out["exit_core_dumped"] = p.exit_core_dumped
        if p.exit_thread_only:
            out["exit_thread_only"] = True
    elif p.type is ProcessEventType.CREDENTIALS:
        if p.old_credentials is not None:
            out["old_credentials"] = creds_dict(p.old_credentials)
        if p.new_credentials is not None:
            out["new_credentials"] = creds_dict(p.new_credentials)
        out["credentials_cause"] = p.credentials_cause
    return out


# ContainerEvent fields written only when set (proto3 leaves zero values out).
_CONTAINER_OPTIONAL_FIELDS = (
    "name",
    "image_id",
    "image_name",
    "host_pid",
    "runtime",
    "cgroup_path",
    "pod_uid",
    "pod_name",
    "pod_namespace",
)


def _container_dict(c: ContainerPayload) -> dict[str, Any]:
    out: dict[str, Any] = {"type": c.type}
    for key in _CONTAINER_OPTIONAL_FIELDS:
        value = getattr(c, key)
        if value:
            out[key] = value
    if c.type == "EXITED":
        out["exit_code"] = c.exit_code
    if c.labels:
        out["labels"] = c.labels
    if c.metadata_missing:
        out["metadata_missing"] = True
    return out


def to_json_dict(event: TelemetryEvent) -> dict[str, Any]:
    """The event in protobuf's JSON mapping, proto field names kept."""
    out: dict[str, Any] = {
        "id": event.id,
        "sensor_id": event.sensor_id,
        "sensor_sequence_number": str(event.sensor_sequence_number),
        "sensor_monotime_nanos": str(event.sensor_monotime_nanos),
    }
    if event.container_id:
        out["container_id"] = event.container_id
        if event.container_name:
            out["container_name"] = event.container_name
        if event.image_id:
            out["image_id"] = event.image_id
        if event.image_name:
            out["image_name"] = event.image_name
        if event.pod_uid:
            out["pod_uid"] = event.pod_uid
    if event.process_id:
        out["process_id"] = event.process_id
        out["process_pid"] = event.process_pid
        out["process_tgid"] = event.process_tgid
        out["cpu"] = event.cpu
        if event.credentials is not None:
            out["credentials"] = creds_dict(event.credentials)
        if event.language:
            out["language"] = event.language
        out["comm"] = event.comm
        out["filename"] = event.filename
        if event.command_line:
            out["command_line"] = event.command_line
        out["cwd"] = event.cwd
        if event.parent_process_id:
            out["parent_process_id"] = event.parent_process_id
            out["parent_pid"] = event.parent_pid
        if event.ancestors:
            out["ancestors"] = [
                {"process_id": a.process_id, "pid": a.pid, "comm": a.comm, "filename": a.filename}
                for a in event.ancestors
            ]
        if event.snapshot:
            out["snapshot"] = True
    payload = event.payload
    if isinstance(payload, ProcessPayload):
        out["process"] = _process_dict(payload)
    elif isinstance(payload, ContainerPayload):
        out["container"] = _container_dict(payload)
        if event.snapshot:
            out["snapshot"] = True
    elif isinstance(payload, TickerPayload):
        out["ticker"] = {"seconds": str(payload.seconds), "nanos": str(payload.nanos)}
    else:
        lost: dict[str, Any] = {"lost": str(payload.lost), "stage": payload.stage}
        if payload.hook:
            lost["hook"] = payload.hook
        out["lost"] = lost
    return out

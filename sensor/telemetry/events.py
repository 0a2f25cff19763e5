"""TelemetryEvent: what the sensor emits, with its process context.

Field names are those of ``protos/sensor/api/v1/telemetry.proto``; sensor.telemetry.wire writes
the protobuf form, sensor.telemetry.json_lines the JSON one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar, Union

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


ContextKey = tuple[str, int, str, str, str, str, str, str, int]


def context_key(event: TelemetryEvent) -> ContextKey:
    """The scalar fields every event of one process version shares (its command line aside)."""
    return (
        event.process_id,
        event.process_tgid,
        event.container_id,
        event.pod_uid,
        event.language,
        event.filename,
        event.cwd,
        event.parent_process_id,
        event.parent_pid,
    )


T = TypeVar("T")


class ContextMemo(dict[ContextKey, tuple[list[str], T]], Generic[T]):
    """What ``make`` derives from an event's process context, by :func:`context_key`, bounded.

    The command line must be the very same list: each entry keeps its list alive, so an ``is``
    match can never be a new list at a reused address.
    """

    def __init__(self, make: Callable[[TelemetryEvent], T], bound: int) -> None:
        super().__init__()
        self._make = make
        self._bound = bound

    def of(self, event: TelemetryEvent) -> T:
        """``make(event)``, made once per process context."""
        key = context_key(event)
        held = self.get(key)
        if held is not None and held[0] is event.command_line:
            return held[1]
        if len(self) >= self._bound:
            self.clear()
        value = self._make(event)
        self[key] = (event.command_line, value)
        return value

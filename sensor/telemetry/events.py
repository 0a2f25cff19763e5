"""TelemetryEvent: what the sensor emits, with its process context.

Field names are those of ``protos/sensor/api/v1/telemetry.proto``; sensor.telemetry.wire writes
the protobuf form, sensor.telemetry.json_lines the JSON one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Generic, TypeVar, Union

from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo
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


@dataclass(init=False, slots=True)
class ProcessPayload:
    """``ProcessEvent``: only the fields of its type are set."""

    type: ProcessEventType
    fork_child_pid: int
    fork_child_id: str
    fork_clone_flags: int
    fork_thread: bool
    exec_filename: str
    exec_command_line: list[str]
    exec_command_line_truncated: bool
    exec_errno: int
    exec_old_pid: int
    exit_code: int
    exit_status: int
    exit_signal: int
    exit_core_dumped: bool
    exit_thread_only: bool
    old_credentials: Creds | None
    new_credentials: Creds | None
    credentials_cause: str
    old_groups: tuple[int, ...]
    new_groups: tuple[int, ...]
    groups_truncated: bool

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        type: ProcessEventType,
        fork_child_pid: int = 0,
        fork_child_id: str = "",
        fork_clone_flags: int = 0,
        fork_thread: bool = False,
        exec_filename: str = "",
        exec_command_line: list[str] | None = None,
        exec_command_line_truncated: bool = False,
        exec_errno: int = 0,
        exec_old_pid: int = 0,
        exit_code: int = 0,
        exit_status: int = 0,
        exit_signal: int = 0,
        exit_core_dumped: bool = False,
        exit_thread_only: bool = False,
        old_credentials: Creds | None = None,
        new_credentials: Creds | None = None,
        credentials_cause: str = "",
        old_groups: tuple[int, ...] = (),
        new_groups: tuple[int, ...] = (),
        groups_truncated: bool = False,
    ) -> None:
        self.type = type
        self.fork_child_pid = fork_child_pid
        self.fork_child_id = fork_child_id
        self.fork_clone_flags = fork_clone_flags
        self.fork_thread = fork_thread
        self.exec_filename = exec_filename
        self.exec_command_line = [] if exec_command_line is None else exec_command_line
        self.exec_command_line_truncated = exec_command_line_truncated
        self.exec_errno = exec_errno
        self.exec_old_pid = exec_old_pid
        self.exit_code = exit_code
        self.exit_status = exit_status
        self.exit_signal = exit_signal
        self.exit_core_dumped = exit_core_dumped
        self.exit_thread_only = exit_thread_only
        self.old_credentials = old_credentials
        self.new_credentials = new_credentials
        self.credentials_cause = credentials_cause
        self.old_groups = old_groups
        self.new_groups = new_groups
        self.groups_truncated = groups_truncated


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


@dataclass(init=False, slots=True)
class TelemetryEvent:
    """One event with the context of the process it is about."""

    sensor_id: str
    sensor_sequence_number: int
    sensor_monotime_nanos: int
    payload: Payload
    process_id: str
    process_pid: int
    process_tgid: int
    cpu: int
    credentials: Creds | None
    container_id: str
    container_name: str
    image_id: str
    image_name: str
    pod_uid: str
    language: str
    comm: str
    filename: str
    command_line: list[str]
    cwd: str
    parent_process_id: str
    parent_pid: int
    ancestors: list[ProcessRef]
    snapshot: bool
    creator_process_id: str  # set when the kernel reparented the process: the parent that made it
    creator_pid: int
    cwd_truncated: bool
    # The protobuf encoding, made on first send and shared by every subscriber (see sensor.telemetry.wire).
    encoded: bytes = field(repr=False, compare=False)

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        sensor_id: str,
        sensor_sequence_number: int,
        sensor_monotime_nanos: int,
        payload: Payload,
        process_id: str = "",
        process_pid: int = 0,
        process_tgid: int = 0,
        cpu: int = 0,
        credentials: Creds | None = None,
        container_id: str = "",
        container_name: str = "",
        image_id: str = "",
        image_name: str = "",
        pod_uid: str = "",
        language: str = "",
        comm: str = "",
        filename: str = "",
        command_line: list[str] | None = None,
        cwd: str = "",
        parent_process_id: str = "",
        parent_pid: int = 0,
        ancestors: list[ProcessRef] | None = None,
        snapshot: bool = False,
        creator_process_id: str = "",
        creator_pid: int = 0,
        cwd_truncated: bool = False,
        encoded: bytes = b"",
    ) -> None:
        self.sensor_id = sensor_id
        self.sensor_sequence_number = sensor_sequence_number
        self.sensor_monotime_nanos = sensor_monotime_nanos
        self.payload = payload
        self.process_id = process_id
        self.process_pid = process_pid
        self.process_tgid = process_tgid
        self.cpu = cpu
        self.credentials = credentials
        self.container_id = container_id
        self.container_name = container_name
        self.image_id = image_id
        self.image_name = image_name
        self.pod_uid = pod_uid
        self.language = language
        self.comm = comm
        self.filename = filename
        self.command_line = [] if command_line is None else command_line
        self.cwd = cwd
        self.parent_process_id = parent_process_id
        self.parent_pid = parent_pid
        self.ancestors = [] if ancestors is None else ancestors
        self.snapshot = snapshot
        self.creator_process_id = creator_process_id
        self.creator_pid = creator_pid
        self.cwd_truncated = cwd_truncated
        self.encoded = encoded

    @property
    def id(self) -> str:
        """Hash of sensor id, sequence number and monotonic time, as Capsule8 defined it."""
        hasher = _id_hashers[self.sensor_id].copy()  # the sensor id's part hashed once
        hasher.update(f"{self.sensor_sequence_number}:{self.sensor_monotime_nanos}".encode())
        return hasher.hexdigest()

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


_id_hashers: Final[BoundedMemo[str, hashlib.blake2b]] = BoundedMemo(
    lambda sensor_id: hashlib.blake2b(f"{sensor_id}:".encode(), digest_size=16), 64
)
_KIND_OF_TYPE: Final = {
    ProcessEventType.FORK: EventKind.FORK,
    ProcessEventType.EXEC: EventKind.EXEC,
    ProcessEventType.EXIT: EventKind.EXIT,
    ProcessEventType.UPDATE: EventKind.EXEC,
    ProcessEventType.CREDENTIALS: EventKind.CREDENTIALS,
}


ContextKey = tuple[str, int, str, str, str, str, str, str, int]


def context_key(event: TelemetryEvent) -> ContextKey:
    """The scalar fields every event of one process version shares (its command line aside).

    The creator and cwd_truncated need no place: a process gains a creator only as its parent
    changes, and a truncated cwd is the only kind that does not start with '/'.
    """
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

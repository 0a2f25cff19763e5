"""TelemetryEvent: what the sensor emits, with its process context.

Field names are those of ``protos/sensor/api/v1/telemetry.proto``; sensor.telemetry.wire writes
the protobuf form, sensor.telemetry.json_lines the JSON one. Each payload is defined by its kind's
module (sensor.telemetry.kinds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar, Union

from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.file import FilePayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.network import NetworkPayload
from sensor.telemetry.kinds.process import ProcessPayload
from sensor.telemetry.kinds.ticker import TickerPayload

Payload = Union[ProcessPayload, FilePayload, NetworkPayload, ContainerPayload, LostPayload, TickerPayload]


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
    node_name: str  # the node the sensor runs on: every event says where it happened
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
        node_name: str = "",
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
        self.node_name = node_name
        self.encoded = encoded

    @property
    def id(self) -> str:
        """Hash of sensor id, sequence number and monotonic time, as Capsule8 defined it."""
        hasher = _id_hashers[self.sensor_id].copy()  # the sensor id's part hashed once
        hasher.update(f"{self.sensor_sequence_number}:{self.sensor_monotime_nanos}".encode())
        return hasher.hexdigest()


_id_hashers: Final[BoundedMemo[str, hashlib.blake2b]] = BoundedMemo(
    lambda sensor_id: hashlib.blake2b(f"{sensor_id}:".encode(), digest_size=16), 64
)

SharedContextKey = tuple[str, str, str, str, str, str, int, str, int, bool]


def shared_context_key(event: TelemetryEvent) -> SharedContextKey:
    """The scalar fields a process's events share with its siblings' (its command line aside): all of
    its context but its process id and tgid. What is derived from them is made once for all of them;
    a storm of short processes from one parent makes a new process id per exec, not a new context."""
    return (
        event.container_id,
        event.pod_uid,
        event.language,
        event.filename,
        event.cwd,
        event.parent_process_id,
        event.parent_pid,
        event.creator_process_id,
        event.creator_pid,
        event.cwd_truncated,
    )


T = TypeVar("T")


class ContextMemo(dict[SharedContextKey, tuple[list[str], T]], Generic[T]):
    """What ``make`` derives from an event's shared context (:func:`shared_context_key`), bounded.

    The command line must be the very same list: each entry keeps its list alive, so an ``is``
    match can never be a new list at a reused address.
    """

    def __init__(self, make: Callable[[TelemetryEvent], T], bound: int) -> None:
        super().__init__()
        self._make = make
        self._bound = bound

    def of(self, event: TelemetryEvent) -> T:
        """``make(event)``, made once per shared context."""
        key = shared_context_key(event)
        held = self.get(key)
        if held is not None and held[0] is event.command_line:
            return held[1]
        if len(self) >= self._bound:
            self.clear()
        value = self._make(event)
        self[key] = (event.command_line, value)
        return value

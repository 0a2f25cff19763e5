"""The fields a filter expression may name, per event kind and type, and how to read each from an event.

Each field is a Python expression over ``e`` (the :class:`~sensor.telemetry.events.TelemetryEvent`);
the filter compiler splices it into one function per filter, so reading a field costs an attribute
access, not a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sensor.telemetry.events import EventKind, ProcessEventType


class FieldType(str, Enum):
    """What a field holds, and so which operators and literals it takes."""

    STRING = "a string"
    INTEGER = "an integer"
    BOOLEAN = "a boolean"


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its type and the Python expression that reads it from event ``e``."""

    type: FieldType
    source: str


S, INT, B = FieldType.STRING, FieldType.INTEGER, FieldType.BOOLEAN


def _creds(prefix: str, attribute: str) -> dict[str, Field]:
    names = ("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid")
    return {f"{prefix}{name}": Field(INT, f"({attribute}.{name} if {attribute} else 0)") for name in names}


# The container an event comes from, on process and container events alike.
_CONTAINER_CONTEXT: dict[str, Field] = {
    "container_id": Field(S, "e.container_id"),
    "container_name": Field(S, "e.container_name"),
    "image_id": Field(S, "e.image_id"),
    "image_name": Field(S, "e.image_name"),
    "pod_uid": Field(S, "e.pod_uid"),
    "snapshot": Field(B, "e.snapshot"),
}

# On every event about a process, whatever its type.
PROCESS_COMMON: dict[str, Field] = {
    "process_id": Field(S, "e.process_id"),
    "pid": Field(INT, "e.process_tgid"),
    "tid": Field(INT, "e.process_pid"),
    "ppid": Field(INT, "e.parent_pid"),
    "parent_process_id": Field(S, "e.parent_process_id"),
    "creator_pid": Field(INT, "e.creator_pid"),
    "creator_process_id": Field(S, "e.creator_process_id"),
    "comm": Field(S, "e.comm"),
    "filename": Field(S, "e.filename"),
    "command_line": Field(S, "' '.join(e.command_line)"),
    "cwd": Field(S, "e.cwd"),
    "cwd_truncated": Field(B, "e.cwd_truncated"),
    "cpu": Field(INT, "e.cpu"),
    "language": Field(S, "e.language"),
    **_CONTAINER_CONTEXT,
    **_creds("", "e.credentials"),
}

_EXEC = {
    "exec_filename": Field(S, "e.payload.exec_filename"),
    "exec_command_line": Field(S, "' '.join(e.payload.exec_command_line)"),
    "exec_command_line_truncated": Field(B, "e.payload.exec_command_line_truncated"),
    "exec_errno": Field(INT, "e.payload.exec_errno"),
    "exec_old_pid": Field(INT, "e.payload.exec_old_pid"),
}

# Only on process events of one type.
PROCESS_BY_TYPE: dict[ProcessEventType, dict[str, Field]] = {
    ProcessEventType.FORK: {
        "fork_child_pid": Field(INT, "e.payload.fork_child_pid"),
        "fork_child_id": Field(S, "e.payload.fork_child_id"),
        "fork_clone_flags": Field(INT, "e.payload.fork_clone_flags"),
        "fork_thread": Field(B, "e.payload.fork_thread"),
    },
    ProcessEventType.EXEC: _EXEC,
    ProcessEventType.UPDATE: _EXEC,
    ProcessEventType.EXIT: {
        "exit_code": Field(INT, "e.payload.exit_code"),
        "exit_status": Field(INT, "e.payload.exit_status"),
        "exit_signal": Field(INT, "e.payload.exit_signal"),
        "exit_core_dumped": Field(B, "e.payload.exit_core_dumped"),
        "exit_thread_only": Field(B, "e.payload.exit_thread_only"),
    },
    ProcessEventType.CREDENTIALS: {
        "credentials_cause": Field(S, "e.payload.credentials_cause"),
        **_creds("old_", "e.payload.old_credentials"),
    },
}

CONTAINER: dict[str, Field] = {
    **_CONTAINER_CONTEXT,
    "runtime": Field(S, "e.payload.runtime"),
    "host_pid": Field(INT, "e.payload.host_pid"),
    "exit_code": Field(INT, "e.payload.exit_code"),
    "cgroup_path": Field(S, "e.payload.cgroup_path"),
    "pod_name": Field(S, "e.payload.pod_name"),
    "pod_namespace": Field(S, "e.payload.pod_namespace"),
    "metadata_missing": Field(B, "e.payload.metadata_missing"),
}


def process_fields(event_type: ProcessEventType | None) -> dict[str, Field]:
    """The fields of process events of one type (``None``: every type, so only the common ones)."""
    if event_type is None:
        return PROCESS_COMMON
    return {**PROCESS_COMMON, **PROCESS_BY_TYPE[event_type]}


def types_having(name: str) -> list[ProcessEventType]:
    """The process event types that have this type-specific field (for error messages)."""
    return [t for t, fields in PROCESS_BY_TYPE.items() if name in fields and t is not ProcessEventType.UPDATE]


# The fields of each kind `sensor trace --event` selects (exec's UPDATE events have exec's fields).
KIND_FIELDS: dict[EventKind, dict[str, Field]] = {
    EventKind.FORK: process_fields(ProcessEventType.FORK),
    EventKind.EXEC: process_fields(ProcessEventType.EXEC),
    EventKind.EXIT: process_fields(ProcessEventType.EXIT),
    EventKind.CREDENTIALS: process_fields(ProcessEventType.CREDENTIALS),
    EventKind.CONTAINER: CONTAINER,
}


def kinds_having(names: list[str]) -> list[EventKind]:
    """The kinds that have every one of these fields, in KIND_FIELDS order."""
    return [kind for kind, fields in KIND_FIELDS.items() if all(name in fields for name in names)]

"""Filter fields: how a filter expression reads a field from an event, and the fields many kinds share.

Each field is a Python expression over ``e`` (the :class:`~sensor.telemetry.events.TelemetryEvent`);
the filter compiler splices it into one function per filter, so reading a field costs an attribute
access, not a lookup. Each kind's own fields are in its module (sensor.telemetry.kinds); the registry
says which kind has which.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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


def creds_fields(prefix: str, attribute: str) -> dict[str, Field]:
    """``uid``, ``gid``, ... of a Credentials attribute (0 when it is unset)."""
    names = ("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid")
    return {f"{prefix}{name}": Field(INT, f"({attribute}.{name} if {attribute} else 0)") for name in names}


# The container an event comes from, on process, file and container events alike.
CONTAINER_CONTEXT: dict[str, Field] = {
    "container_id": Field(S, "e.container_id"),
    "container_name": Field(S, "e.container_name"),
    "image_id": Field(S, "e.image_id"),
    "image_name": Field(S, "e.image_name"),
    "pod_uid": Field(S, "e.pod_uid"),
    "snapshot": Field(B, "e.snapshot"),
}

# On every event about a process (process and file events), whatever its type.
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
    **CONTAINER_CONTEXT,
    **creds_fields("", "e.credentials"),
}

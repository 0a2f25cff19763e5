"""The container kind: a container created, started, exited, destroyed or updated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.telemetry.event_fields import CONTAINER_CONTEXT, INT, B, Field, S
from sensor.telemetry.filter_rules import KindRules, SubscriptionError, typed_rules
from sensor.telemetry.json_text import dumps
from sensor.telemetry.kinds.kind import EventKind, PayloadKind, container_label

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


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


def to_proto(c: ContainerPayload) -> pb.ContainerEvent:
    """The ``ContainerEvent`` message."""
    return pb.ContainerEvent(
        type=c.type,  # the proto accepts the enum's name
        name=c.name,
        image_id=c.image_id,
        image_name=c.image_name,
        host_pid=c.host_pid,
        exit_code=c.exit_code,
        runtime=c.runtime,
        labels=c.labels,
        cgroup_path=c.cgroup_path,
        pod_uid=c.pod_uid,
        pod_name=c.pod_name,
        pod_namespace=c.pod_namespace,
        metadata_missing=c.metadata_missing,
    )


def from_proto(c: pb.ContainerEvent) -> ContainerPayload:
    """A received ``ContainerEvent``."""
    return ContainerPayload(
        pb.ContainerEvent.ContainerEventType.Name(c.type),
        name=c.name,
        image_id=c.image_id,
        image_name=c.image_name,
        host_pid=c.host_pid,
        exit_code=c.exit_code,
        runtime=c.runtime,
        labels=dict(c.labels),
        cgroup_path=c.cgroup_path,
        pod_uid=c.pod_uid,
        pod_name=c.pod_name,
        pod_namespace=c.pod_namespace,
        metadata_missing=c.metadata_missing,
    )


# ContainerEvent fields written only when set (proto3 leaves zero values out).
_OPTIONAL_FIELDS = (
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


def to_json(c: ContainerPayload) -> str:
    """The ``ContainerEvent`` as JSON (an exit code is written on EXITED even when 0)."""
    out: dict[str, Any] = {"type": c.type}
    for key in _OPTIONAL_FIELDS:
        value = getattr(c, key)
        if value:
            out[key] = value
    if c.type == "EXITED":
        out["exit_code"] = c.exit_code
    if c.labels:
        out["labels"] = c.labels
    if c.metadata_missing:
        out["metadata_missing"] = True
    return dumps(out)


def describe(event: TelemetryEvent, c: ContainerPayload) -> str:
    """``container STARTED web id=... image=nginx:1 pid=123 runtime=docker``."""
    parts = [f"container {c.type:<9} {container_label(event)}", f"id={event.container_id[:12]}"]
    if c.image_name:
        parts.append(f"image={c.image_name}")
    if c.type == "EXITED":
        parts.append(f"exit={c.exit_code}")
    if c.host_pid and c.type != "EXITED":
        parts.append(f"pid={c.host_pid}")
    if c.runtime:
        parts.append(f"runtime={c.runtime}")
    if c.pod_uid:
        parts.append(f"pod={c.pod_uid}")
    if event.snapshot:
        parts.append("(existing)")
    return " ".join(parts)


FIELDS: Final[dict[str, Field]] = {
    **CONTAINER_CONTEXT,
    "runtime": Field(S, "e.payload.runtime"),
    "host_pid": Field(INT, "e.payload.host_pid"),
    "exit_code": Field(INT, "e.payload.exit_code"),
    "cgroup_path": Field(S, "e.payload.cgroup_path"),
    "pod_name": Field(S, "e.payload.pod_name"),
    "pod_namespace": Field(S, "e.payload.pod_namespace"),
    "metadata_missing": Field(B, "e.payload.metadata_missing"),
}

_TYPES: Final = [name for name in pb.ContainerEvent.ContainerEventType.keys() if name != "CONTAINER_EVENT_TYPE_UNKNOWN"]  # noqa: SIM118  # an enum wrapper, not a dict


def compile_filters(filters: Sequence[Any], where: str, errors: list[SubscriptionError]) -> KindRules:
    """``ContainerEventFilter``s."""
    return typed_rules(filters, where, errors, _TYPES, pb.ContainerEvent.ContainerEventType.Name, FIELDS)


KIND: Final = PayloadKind(
    payload_type=ContainerPayload,
    proto_field="container",
    types=dict.fromkeys(_TYPES, EventKind.CONTAINER),
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={EventKind.CONTAINER: FIELDS},
    filter_field="container_events",
    compile_filters=compile_filters,
)

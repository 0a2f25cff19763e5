"""Every kind of event, found by payload, by protobuf field, by record or by name.

The pipeline's stages ask here rather than switch on types: the builder (record -> payload), the
protobuf and JSON encoders, the compact printer, the subscription checker and `sensor trace`'s
--event. A payload class that is in the event's Payload union but not registered stops the import,
so the sensor cannot start with an event kind that some stage would drop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, get_args

from sensor.kernel.records import AnyRecord
from sensor.telemetry.event_fields import Field
from sensor.telemetry.events import Payload, TelemetryEvent
from sensor.telemetry.kinds import container, file, lost, network, process, ticker
from sensor.telemetry.kinds.kind import EventKind, PayloadKind

PAYLOAD_KINDS: Final[tuple[PayloadKind, ...]] = (
    process.KIND,
    file.KIND,
    network.KIND,
    container.KIND,
    lost.KIND,
    ticker.KIND,
)
_BY_PAYLOAD: Final[dict[type, PayloadKind]] = {kind.payload_type: kind for kind in PAYLOAD_KINDS}
_BY_PROTO_FIELD: Final[dict[str, PayloadKind]] = {kind.proto_field: kind for kind in PAYLOAD_KINDS}

# Kernel records that become events, and how (cgroup records become container events through the
# container watcher, not here).
RECORD_KINDS: Final[dict[type, EventKind]] = {
    record: event_kind for kind in PAYLOAD_KINDS for record, event_kind in kind.records.items()
}
_RECORD_PAYLOADS: Final[dict[type, Callable[[Any, str], Payload]]] = {
    record: kind.payload_of for kind in PAYLOAD_KINDS if kind.payload_of is not None for record in kind.records
}
# Each optional hook's label -> the event kind that has no events without it.
KIND_OF_HOOK: Final[dict[str, EventKind]] = {
    hook.label: event_kind for kind in PAYLOAD_KINDS for event_kind, hook in kind.needs_hooks.items()
}

# The fields a filter may name on each kind, and so the kinds `sensor trace --event` offers.
KIND_FIELDS: Final[dict[EventKind, Mapping[str, Field]]] = {
    event_kind: fields for kind in PAYLOAD_KINDS for event_kind, fields in kind.fields.items()
}
SELECTABLE_KINDS: Final[tuple[EventKind, ...]] = tuple(KIND_FIELDS)
# (payload class, its type) -> kind: one dict lookup per event where the hub counts them. A str
# enum's member hashes and compares as its name, which is its value here.
_KIND_OF_TYPE: Final[dict[tuple[type, str], EventKind]] = {
    (kind.payload_type, name): event_kind for kind in PAYLOAD_KINDS for name, event_kind in kind.types.items()
}


class UnknownPayload(LookupError):
    """An event whose payload no kind registered."""


def payload_kind(payload: object) -> PayloadKind:
    """The kind of a payload; UnknownPayload when none is registered."""
    kind = _BY_PAYLOAD.get(type(payload))
    if kind is None:
        raise UnknownPayload(f"no event kind is registered for {type(payload).__name__}")
    return kind


def proto_field_kind(field: str) -> PayloadKind:
    """The kind whose payload is TelemetryEvent's oneof member ``field``; UnknownPayload if none."""
    kind = _BY_PROTO_FIELD.get(field)
    if kind is None:
        raise UnknownPayload(f"no event kind is registered for TelemetryEvent.{field}")
    return kind


def event_kind(event: TelemetryEvent) -> EventKind:
    """The `--event` kind an event belongs to; UnknownPayload for a payload nobody registered."""
    payload = event.payload
    kind = _KIND_OF_TYPE.get((type(payload), payload.type))
    if kind is None:
        raise UnknownPayload(f"no event kind is registered for {type(payload).__name__} {payload.type!r}")
    return kind


def record_kind(record: AnyRecord) -> EventKind:
    """The event kind a record becomes."""
    return RECORD_KINDS[type(record)]


def record_payload(record: AnyRecord, boot_id: str) -> Payload:
    """A record's event payload."""
    return _RECORD_PAYLOADS[type(record)](record, boot_id)


def types_of(event_kind: EventKind) -> list[str]:
    """The payload types (proto enum names) that are events of this kind, in registry order."""
    return [name for kind in PAYLOAD_KINDS for name, of in kind.types.items() if of is event_kind and name]


def kinds_having(names: list[str]) -> list[EventKind]:
    """The kinds that have every one of these fields, in KIND_FIELDS order."""
    return [kind for kind, fields in KIND_FIELDS.items() if all(name in fields for name in names)]


def _check_every_payload_registered() -> None:
    missing = [payload.__name__ for payload in get_args(Payload) if payload not in _BY_PAYLOAD]
    if missing:
        raise UnknownPayload(f"payloads without a registered kind: {', '.join(missing)}")


_check_every_payload_registered()

"""The registry of event kinds: every payload has exactly one kind, found by payload, record or proto field."""

from __future__ import annotations

import pytest

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import Creds, FileOp, FileRecord
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.kinds.registry import (
    PAYLOAD_KINDS,
    SELECTABLE_KINDS,
    UnknownPayload,
    event_kind,
    kinds_having,
    payload_kind,
    proto_field_kind,
    record_kind,
)


def event(payload: ProcessPayload | LostPayload) -> TelemetryEvent:
    return TelemetryEvent("s1", 1, 7, payload)


def test_the_kind_follows_the_payload() -> None:
    assert event_kind(event(ProcessPayload(ProcessEventType.UPDATE))) is EventKind.EXEC
    assert event_kind(event(ProcessPayload(ProcessEventType.CREDENTIALS))) is EventKind.CREDENTIALS
    assert event_kind(event(LostPayload(3, "kernel"))) is EventKind.LOST


def test_a_payload_nobody_registered_is_an_error_not_a_silent_drop() -> None:
    class Unregistered:
        pass

    with pytest.raises(UnknownPayload, match="no event kind is registered for Unregistered"):
        payload_kind(Unregistered())
    with pytest.raises(UnknownPayload, match=r"TelemetryEvent\.bogus"):
        proto_field_kind("bogus")


def test_each_kind_names_a_member_of_the_events_oneof() -> None:
    oneof = {field.name for field in pb.TelemetryEvent.DESCRIPTOR.oneofs_by_name["event"].fields}
    assert {kind.proto_field for kind in PAYLOAD_KINDS} == oneof


def test_each_kind_lists_every_type_of_its_proto_enum() -> None:
    enums = {"process": pb.ProcessEvent.ProcessEventType, "container": pb.ContainerEvent.ContainerEventType}
    enums["file"] = pb.FileEvent.FileEventType
    for kind in PAYLOAD_KINDS:
        if kind.proto_field in enums:
            names = {name for name in enums[kind.proto_field].keys() if not name.endswith("_TYPE_UNKNOWN")}  # noqa: SIM118
            assert set(kind.types) == names, kind.proto_field


def test_trace_offers_every_kind_with_types_in_registry_order() -> None:
    assert SELECTABLE_KINDS == (
        EventKind.FORK,
        EventKind.EXEC,
        EventKind.EXIT,
        EventKind.CREDENTIALS,
        EventKind.FILE,
        EventKind.NETWORK,
        EventKind.CONTAINER,
    )


def test_a_file_record_becomes_a_file_event_and_its_fields_are_found_on_file_events_only() -> None:
    creds = Creds(0, 0, 0, 0, 0, 0, 0, 0)
    record = FileRecord(0, 1, 2, 1, 0, 3, 0, 0, creds, "sh", FileOp.OPEN, 0, 3, 0, 0, 0, 0, 0, 0, 0, "/a", "", "", "")
    assert record_kind(record) is EventKind.FILE
    assert kinds_having(["file_path", "pid"]) == [EventKind.FILE]
    assert payload_kind(ProcessPayload(ProcessEventType.FORK)).proto_field == "process"

"""Events encoded as frames parse back, field for field, with protobuf; frames joined are a GetEventsResponse."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import Creds
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.hub import queued_events
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.kinds.ticker import TickerPayload
from sensor.telemetry.wire import (
    ancestor_frame,
    event_frame,
    event_frames,
    own_parts_bytes,
    process_context_bytes,
)
from sensor.telemetry.wire_read import decode_event
from tests.telemetry.samples import PAYLOADS, event

TICKER = dataclasses.replace(event(LostPayload(0, "")), payload=TickerPayload(1_700_000_000, 5))
ALL = [*(event(p) for p in PAYLOADS), TICKER]


def from_proto(message: pb.TelemetryEvent) -> TelemetryEvent:
    """The event a client reads from a message as protobuf wrote it (sensor.telemetry.wire_read)."""
    return decode_event(message.SerializeToString())


def parsed(original: TelemetryEvent) -> pb.TelemetryEvent:
    """The event's frame, as protobuf reads it (on a copy: the frame is kept on the event)."""
    return api.GetEventsResponse.FromString(event_frame(dataclasses.replace(original, encoded=b""))).events[0]


@pytest.mark.parametrize(
    "original", ALL, ids=lambda e: type(e.payload).__name__ + ":" + str(getattr(e.payload, "type", ""))
)
def test_an_event_survives_protobuf_and_back(original: TelemetryEvent) -> None:
    back = from_proto(parsed(original))
    assert dataclasses.replace(back, encoded=b"") == dataclasses.replace(original, encoded=b"")


def test_frames_joined_are_a_get_events_response() -> None:
    events = [dataclasses.replace(e) for e in ALL]
    response = api.GetEventsResponse.FromString(b"".join(event_frame(e) for e in events))
    assert [from_proto(m) for m in response.events] == events
    assert all(e.encoded for e in events)  # encoded once, kept for the next subscriber


def test_container_and_lost_payloads_keep_their_fields() -> None:
    container = from_proto(
        parsed(event(ContainerPayload("EXITED", exit_code=137, labels={"a": "b"}, runtime="docker")))
    )
    lost = from_proto(parsed(event(LostPayload(2**40, "subscriber", ""))))
    assert (container.payload, lost.payload) == (
        ContainerPayload("EXITED", exit_code=137, labels={"a": "b"}, runtime="docker"),
        LostPayload(2**40, "subscriber", ""),
    )


def test_a_frame_built_from_shared_parts_parses_as_the_whole_message() -> None:
    init = ProcessRef("boot-1-1", 1, "init", "/sbin/init")
    shell = ProcessRef("boot-40-9", 40, "bash", "/bin/bash")
    first = dataclasses.replace(
        event(PAYLOADS[0]), ancestors=[shell, init], credentials=Creds(0, 0, 0, 0, 1000, 0, 0, 0)
    )
    second = dataclasses.replace(first, sensor_sequence_number=2, ancestors=[init])
    for original in (first, second):
        message = api.GetEventsResponse.FromString(event_frame(original)).events[0]
        assert from_proto(message) == dataclasses.replace(original, encoded=b"")
        assert [a.pid for a in message.ancestors] == [a.pid for a in original.ancestors]
    assert init.encoded and shell.encoded  # each ancestor encoded once, then shared by both events


def test_a_process_context_is_encoded_afresh_when_its_command_line_changes() -> None:
    first = dataclasses.replace(event(PAYLOADS[0]), command_line=["sleep", "1"])
    same_fields_new_args = dataclasses.replace(first, sensor_sequence_number=2, command_line=["sleep", "2"])
    frames = [api.GetEventsResponse.FromString(event_frame(e)).events[0] for e in (first, same_fields_new_args)]
    assert [list(m.command_line) for m in frames] == [["sleep", "1"], ["sleep", "2"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [("process_pid", 0), ("process_pid", 127), ("process_pid", 128), ("process_pid", 2**31 - 1), ("cpu", 300)],
)
def test_integers_of_every_varint_length_and_zero_read_back(field: str, value: int) -> None:
    original = event(PAYLOADS[0])
    setattr(original, field, value)
    assert getattr(parsed(original), field) == value


def test_a_negative_int32_reads_back_as_protobuf_writes_it() -> None:
    original = event(ProcessPayload(ProcessEventType.EXIT, exit_code=-1, exit_status=255))
    assert parsed(original).process.exit_code == -1
    assert parsed(original).process == pb.ProcessEvent(type="EXIT", exit_code=-1, exit_status=255)


def test_long_and_non_ascii_strings_read_back() -> None:
    original = dataclasses.replace(event(PAYLOADS[1]), comm="zoë", cwd="/" + "d" * 300)
    original.payload = ProcessPayload(
        ProcessEventType.EXEC, exec_filename="/bin/ünï", exec_command_line=["a" * 200, ""]
    )
    message = parsed(original)
    assert (message.comm, message.cwd) == ("zoë", "/" + "d" * 300)
    assert list(message.process.exec_command_line) == ["a" * 200, ""]
    assert message.process.exec_filename == "/bin/ünï"


@pytest.mark.parametrize(
    "payload",
    [
        *(p for p in PAYLOADS if isinstance(p, ProcessPayload) and p.type is not ProcessEventType.CREDENTIALS),
        ProcessPayload(ProcessEventType.FORK, fork_child_pid=2**31 - 1, fork_thread=True, fork_clone_flags=2**64 - 1),
        ProcessPayload(ProcessEventType.EXEC, exec_command_line=["", "ü" * 100], exec_command_line_truncated=True),
        ProcessPayload(ProcessEventType.EXEC, exec_errno=-13, exec_old_pid=128),
        ProcessPayload(ProcessEventType.EXIT, exit_code=-1, exit_signal=9, exit_core_dumped=True),
        ProcessPayload(ProcessEventType.EXIT),
    ],
    ids=repr,
)
def test_fork_exec_and_exit_are_written_by_hand_exactly_as_protobuf_writes_them(payload: ProcessPayload) -> None:
    for original in (event(payload), dataclasses.replace(event(payload), snapshot=True, comm="", cpu=0, image_id="")):
        written = own_parts_bytes(original)
        message = pb.TelemetryEvent.FromString(written)
        assert message.SerializeToString() == written
        assert message.process == pb.ProcessEvent.FromString(pb.ProcessEvent(**_fields(payload)).SerializeToString())
        assert (message.id, message.comm, message.snapshot) == (original.id, original.comm, original.snapshot)


def _fields(payload: ProcessPayload) -> dict[str, Any]:
    fields = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    fields["type"] = payload.type.value
    return {k: v for k, v in fields.items() if v is not None and k not in ("old_credentials", "new_credentials")}


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"command_line": ["", "ü" * 200, "x"], "process_tgid": 2**31 - 1, "parent_pid": 0, "language": ""},
        {"container_id": "", "pod_uid": "", "cwd": "/" + "d" * 300, "parent_process_id": "boot-1-1"},
        {"creator_process_id": "", "creator_pid": 0, "cwd": ".../a/b", "cwd_truncated": True},
    ],
    ids=repr,
)
def test_a_process_context_is_written_by_hand_exactly_as_protobuf_writes_it(context: dict[str, Any]) -> None:
    original = dataclasses.replace(event(PAYLOADS[0]), **context)
    written = process_context_bytes(original)
    message = pb.TelemetryEvent.FromString(written)
    assert message.SerializeToString() == written
    assert (message.process_id, message.process_tgid, list(message.command_line), message.cwd) == (
        original.process_id,
        original.process_tgid,
        original.command_line,
        original.cwd,
    )
    assert (message.container_id, message.pod_uid, message.language, message.filename) == (
        original.container_id,
        original.pod_uid,
        original.language,
        original.filename,
    )
    assert (message.parent_process_id, message.parent_pid) == (original.parent_process_id, original.parent_pid)
    assert (message.creator_process_id, message.creator_pid, message.cwd_truncated) == (
        original.creator_process_id,
        original.creator_pid,
        original.cwd_truncated,
    )


@pytest.mark.parametrize(
    "ref",
    [ProcessRef("boot-1-1", 1, "init", "/sbin/init"), ProcessRef("", 0, "", ""), ProcessRef("p", 300, "zoë", "/ü")],
)
def test_an_ancestor_is_written_by_hand_exactly_as_protobuf_writes_it(ref: ProcessRef) -> None:
    expected = pb.TelemetryEvent(
        ancestors=[pb.ProcessRef(process_id=ref.process_id, pid=ref.pid, comm=ref.comm, filename=ref.filename)]
    )
    assert ancestor_frame(ref) == expected.SerializeToString()


def test_queued_items_become_frames_and_a_loss_count_a_lost_event() -> None:
    fork = event(PAYLOADS[0])
    made: list[tuple[int, str]] = []

    def lost_event(count: int, stage: str) -> TelemetryEvent:
        made.append((count, stage))
        return event(LostPayload(count, stage))

    frames = event_frames(queued_events([fork, 3], lost_event, "subscriber"))
    response = api.GetEventsResponse.FromString(b"".join(frames))
    assert made == [(3, "subscriber")]
    assert [from_proto(m).payload for m in response.events] == [PAYLOADS[0], LostPayload(3, "subscriber")]

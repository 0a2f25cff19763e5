"""A client reads GetEventsResponse bytes by hand: the events the daemon sent, whether the bytes are
the daemon's frames or protobuf's own writing of the same message, with what repeats shared, and the
statuses left for protobuf."""

from __future__ import annotations

import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import telemetry_pb2 as pb
from sensor.telemetry import wire_read
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.wire import event_frame, event_frames
from sensor.telemetry.wire_read import WireError, decode_event, decode_response
from tests.telemetry.samples import PAYLOADS, AnyPayload, event


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_every_kind_reads_back_as_sent(payload: AnyPayload) -> None:
    sent = event(payload)
    raw = event_frame(sent)
    (ours,), rest = decode_response(raw)
    (message,) = api.GetEventsResponse.FromString(raw).events
    assert decode_event(message.SerializeToString()) == ours  # protobuf's field order reads the same
    assert rest == b""
    assert ours == sent  # every field (TelemetryEvent compares all but its cached encoding)


def test_events_of_one_process_share_its_command_line_and_ancestors() -> None:
    first, second = event(PAYLOADS[0]), event(PAYLOADS[1])
    second.sensor_sequence_number += 1
    read, _ = decode_response(b"".join(event_frames([first, second])))
    assert read[0].command_line is read[1].command_line
    assert read[0].ancestors is read[1].ancestors
    assert read[0].ancestors[0] is read[1].ancestors[0]  # so its JSON, kept on the ref, is written once
    assert [e.sensor_sequence_number for e in read] == [first.sensor_sequence_number, first.sensor_sequence_number + 1]


def test_statuses_are_left_for_protobuf_beside_the_events() -> None:
    status = api.Status(code=api.Status.Code.OK, field="event_filter", message="ok")
    raw = api.GetEventsResponse(statuses=[status]).SerializeToString() + event_frame(event(PAYLOADS[2]))
    events, rest = decode_response(raw)
    assert [type(e) for e in events] == [TelemetryEvent]
    assert list(api.GetEventsResponse.FromString(rest).statuses) == [status]


# Bytes the sensor does not write, and what a reader says of them (test_wire_json reads them too).
UNWRITTEN = [
    (event_frame(event(PAYLOADS[0]))[:-3], "an event runs past the end of its response"),
    (b"\x0a\x02\x10\x01", "an event without a payload"),
    (b"\x0a\x01\x80", "a varint runs past the end"),
]


@pytest.mark.parametrize(("raw", "message"), UNWRITTEN)
def test_bytes_the_sensor_does_not_write_are_an_error(raw: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_response(raw)


def test_the_field_numbers_are_the_protos() -> None:
    fields = [f for f in pb.TelemetryEvent.DESCRIPTOR.fields if f.containing_oneof is None]
    assert len(fields) == 27
    short = {"sensor_sequence_number": "SEQUENCE", "sensor_monotime_nanos": "MONOTIME", "process_pid": "PID"}
    short["process_tgid"] = "TGID"
    ours = {f.name: getattr(wire_read, short.get(f.name, f.name.upper())) for f in fields}
    assert ours == {f.name: f.number for f in fields}

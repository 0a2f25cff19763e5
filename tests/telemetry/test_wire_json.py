"""A client writes JSON lines straight from GetEventsResponse bytes: the very lines it would write
from the events read back, whatever the kind, and whether the bytes are the daemon's frames or
protobuf's own writing of the same message."""

from __future__ import annotations

import dataclasses

import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.telemetry.json_lines import json_line
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.wire import event_frame, event_frames
from sensor.telemetry.wire_json import response_json_lines
from sensor.telemetry.wire_read import WireError, decode_response
from tests.telemetry.samples import PAYLOADS, AnyPayload, event
from tests.telemetry.test_wire_read import UNWRITTEN


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_every_kind_is_the_line_of_the_event_read_back(payload: AnyPayload) -> None:
    raw = event_frame(event(payload))
    (read,), _ = decode_response(raw)
    out, rest = response_json_lines(raw)
    assert out.lines == [json_line(read) + "\n"]
    assert out.payloads == [read.payload]
    assert rest == b""


def with_labels_sorted(payload: AnyPayload) -> AnyPayload:
    """The payload with its map (a container's labels) in key order: the order protobuf writes a map
    in when asked to be deterministic (otherwise in an order of its own, which varied between CI
    runs), where the daemon writes the runtime's order. A line keeps the order of the bytes."""
    if isinstance(payload, ContainerPayload):
        return dataclasses.replace(payload, labels=dict(sorted(payload.labels.items())))
    return payload


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_protobufs_own_field_order_writes_the_same_line(payload: AnyPayload) -> None:
    raw = event_frame(event(with_labels_sorted(payload)))
    canonical = api.GetEventsResponse.FromString(raw).SerializeToString(deterministic=True)  # context in pieces
    assert canonical != raw
    assert response_json_lines(canonical)[0].lines == response_json_lines(raw)[0].lines


def test_events_of_one_process_differ_only_in_their_own_fields() -> None:
    first, second = event(PAYLOADS[0]), event(PAYLOADS[3])
    second.sensor_sequence_number += 1
    second.process_id, second.process_tgid = "boot-43-7", 43  # a sibling: the same shared context
    out, _ = response_json_lines(b"".join(event_frames([first, second])))
    assert out.lines == [json_line(first) + "\n", json_line(second) + "\n"]
    assert '"process_id":"boot-43-7","process_pid":43,"process_tgid":43' in out.lines[1]
    assert len(out) == 2


def test_a_lost_event_hands_back_its_payload_to_be_counted() -> None:
    lost = event(LostPayload(12, "subscriber"))
    out, _ = response_json_lines(event_frame(lost))
    assert out.payloads == [LostPayload(12, "subscriber")]
    assert '"lost":{"lost":"12","stage":"subscriber"}' in out.lines[0]


def test_statuses_are_left_for_protobuf_beside_the_lines() -> None:
    status = api.Status(code=api.Status.Code.OK, field="event_filter", message="ok")
    raw = api.GetEventsResponse(statuses=[status]).SerializeToString() + event_frame(event(PAYLOADS[2]))
    out, rest = response_json_lines(raw)
    assert len(out.lines) == 1
    assert list(api.GetEventsResponse.FromString(rest).statuses) == [status]


@pytest.mark.parametrize(
    ("raw", "message"), [*UNWRITTEN, (b"\x0a\x03\x2a\x05a", "the process id runs past the end of its event")]
)
def test_bytes_the_sensor_does_not_write_are_an_error(raw: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        response_json_lines(raw)

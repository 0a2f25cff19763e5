"""The protobuf form of events round-trips, and pre-encoded frames make a valid GetEventsResponse."""

from __future__ import annotations

import dataclasses

import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.kernel.records import Creds
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import ContainerPayload, LostPayload, TelemetryEvent, TickerPayload
from sensor.telemetry.wire import event_frame, from_proto, to_proto
from tests.telemetry.samples import PAYLOADS, event

TICKER = dataclasses.replace(event(LostPayload(0, "")), payload=TickerPayload(1_700_000_000, 5))
ALL = [*(event(p) for p in PAYLOADS), TICKER]


@pytest.mark.parametrize(
    "original", ALL, ids=lambda e: type(e.payload).__name__ + ":" + str(getattr(e.payload, "type", ""))
)
def test_an_event_survives_protobuf_and_back(original: TelemetryEvent) -> None:
    back = from_proto(to_proto(original))
    assert dataclasses.replace(back, encoded=b"") == dataclasses.replace(original, encoded=b"")


def test_frames_joined_are_a_get_events_response() -> None:
    events = [dataclasses.replace(e) for e in ALL]
    response = api.GetEventsResponse.FromString(b"".join(event_frame(e) for e in events))
    assert [from_proto(m) for m in response.events] == events
    assert all(e.encoded for e in events)  # encoded once, kept for the next subscriber


def test_container_and_lost_payloads_keep_their_fields() -> None:
    container = from_proto(
        to_proto(event(ContainerPayload("EXITED", exit_code=137, labels={"a": "b"}, runtime="docker")))
    )
    lost = from_proto(to_proto(event(LostPayload(2**40, "subscriber", ""))))
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
        parsed = api.GetEventsResponse.FromString(event_frame(original)).events[0]
        assert parsed == to_proto(original)
        assert [a.pid for a in parsed.ancestors] == [a.pid for a in original.ancestors]
    assert init.encoded and shell.encoded  # each ancestor encoded once, then shared by both events


def test_a_process_context_is_encoded_afresh_when_its_command_line_changes() -> None:
    first = dataclasses.replace(event(PAYLOADS[0]), command_line=["sleep", "1"])
    same_fields_new_args = dataclasses.replace(first, sensor_sequence_number=2, command_line=["sleep", "2"])
    frames = [api.GetEventsResponse.FromString(event_frame(e)).events[0] for e in (first, same_fields_new_args)]
    assert [list(m.command_line) for m in frames] == [["sleep", "1"], ["sleep", "2"]]

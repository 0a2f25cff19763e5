"""TelemetryEvent's derived field: its id."""

from __future__ import annotations

from hashlib import blake2b

from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload


def event(sequence: int, payload: ProcessPayload | LostPayload) -> TelemetryEvent:
    return TelemetryEvent(sensor_id="s1", sensor_sequence_number=sequence, sensor_monotime_nanos=7, payload=payload)


def test_the_event_id_is_stable_and_distinct_per_sequence_number() -> None:
    fork = ProcessPayload(ProcessEventType.FORK)
    a, b, c = event(5, fork), event(5, fork), event(6, fork)
    assert a.id == b.id
    assert a.id != c.id
    assert len(a.id) == 32 and int(a.id, 16) >= 0


def test_the_event_id_is_the_blake2b_of_sensor_sequence_and_time() -> None:
    assert event(5, ProcessPayload(ProcessEventType.EXIT)).id == blake2b(b"s1:5:7", digest_size=16).hexdigest()
    other_sensor = TelemetryEvent("s2", 5, 7, ProcessPayload(ProcessEventType.EXIT))
    assert other_sensor.id == blake2b(b"s2:5:7", digest_size=16).hexdigest()

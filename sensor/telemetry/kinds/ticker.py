"""The ticker kind: a heartbeat, at the interval a subscription asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.telemetry.kinds.kind import EventKind, PayloadKind

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


@dataclass(slots=True)
class TickerPayload:
    """``TickerEvent``: wall-clock time of a heartbeat."""

    seconds: int
    nanos: int

    @property
    def type(self) -> str:
        """No types: every payload has one, so that a subscription looks each up alike."""
        return ""


def to_proto(p: TickerPayload) -> pb.TickerEvent:
    """The ``TickerEvent`` message."""
    return pb.TickerEvent(seconds=p.seconds, nanos=p.nanos)


def from_proto(p: pb.TickerEvent) -> TickerPayload:
    """A received ``TickerEvent``."""
    return TickerPayload(p.seconds, p.nanos)


def to_json(p: TickerPayload) -> str:
    """The ``TickerEvent`` as JSON (int64 as strings)."""
    return f'{{"seconds":"{p.seconds}","nanos":"{p.nanos}"}}'


def describe(event: TelemetryEvent, _payload: TickerPayload) -> str:
    """``ticker    sensor 0123456789ab alive``."""
    return f"ticker    sensor {event.sensor_id[:12]} alive"


KIND: Final = PayloadKind(
    payload_type=TickerPayload,
    proto_field="ticker",
    types={"": EventKind.TICKER},  # its one type, as the payload's type property says
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={},
)

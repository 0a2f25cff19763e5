"""The lost kind: records or events lost at a stage (the kernel's buffer, the reader, a subscriber)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.telemetry.json_text import quoted
from sensor.telemetry.kinds.kind import EventKind, PayloadKind

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


@dataclass(slots=True)
class LostPayload:
    """``LostRecordEvent``."""

    lost: int
    stage: str
    hook: str = ""

    @property
    def type(self) -> str:
        """No types: every payload has one, so that a subscription looks each up alike."""
        return ""


def to_proto(p: LostPayload) -> pb.LostRecordEvent:
    """The ``LostRecordEvent`` message."""
    return pb.LostRecordEvent(lost=p.lost, stage=p.stage, hook=p.hook)


def from_proto(p: pb.LostRecordEvent) -> LostPayload:
    """A received ``LostRecordEvent``."""
    return LostPayload(p.lost, p.stage, p.hook)


def to_json(p: LostPayload) -> str:
    """The ``LostRecordEvent`` as JSON."""
    hook = ',"hook":' + quoted(p.hook) if p.hook else ""
    return f'{{"lost":"{p.lost}","stage":{quoted(p.stage)}{hook}}}'


def describe(_event: TelemetryEvent, p: LostPayload) -> str:
    """``lost      12 records at kernel (exec)``."""
    where = f"{p.stage} ({p.hook})" if p.hook else p.stage
    return f"lost      {p.lost} records at {where}"


KIND: Final = PayloadKind(
    payload_type=LostPayload,
    proto_field="lost",
    types={"": EventKind.LOST},  # its one type, as the payload's type property says
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={},
)

"""The export's rate limit: a token bucket one second deep that never holds back a loss."""

from __future__ import annotations

from sensor.export.exporter import RateLimit
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from tests.telemetry.samples import event


def test_a_limit_admits_its_rate_and_counts_the_rest() -> None:
    limit = RateLimit(10)
    burst = [event(ProcessPayload(ProcessEventType.EXEC)) for _ in range(25)]
    assert len(limit.admit(burst)) == 10
    assert limit.dropped == 15


def test_lost_events_pass_a_spent_limit() -> None:
    limit = RateLimit(1)
    lost = event(LostPayload(lost=5, stage="hub"))
    kept = limit.admit(
        [event(ProcessPayload(ProcessEventType.EXEC)), event(ProcessPayload(ProcessEventType.EXEC)), lost]
    )
    assert [type(e.payload) for e in kept] == [ProcessPayload, LostPayload]
    assert limit.dropped == 1


def test_no_limit_admits_everything() -> None:
    burst = [event(ProcessPayload(ProcessEventType.EXEC)) for _ in range(1000)]
    limit = RateLimit(0)
    assert limit.admit(burst) is burst
    assert limit.dropped == 0

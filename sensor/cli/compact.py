"""The compact, one-line-per-event form `sensor trace` prints for people: a time, then the line the
event's kind writes (sensor.telemetry.kinds)."""

from __future__ import annotations

import time

from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.registry import payload_kind


class CompactFormatter:
    """Formats events as ``TIME KIND pid=N ... details``, with wall-clock times."""

    def __init__(self) -> None:
        # bpf_ktime_get_ns() is CLOCK_MONOTONIC: shift it to wall time once.
        self._wall_offset_ns = time.time_ns() - time.monotonic_ns()

    def _time(self, monotime_ns: int) -> str:
        wall_ns = monotime_ns + self._wall_offset_ns
        return (
            time.strftime("%H:%M:%S", time.localtime(wall_ns // 1_000_000_000))
            + f".{wall_ns % 1_000_000_000 // 1000:06d}"
        )

    def format(self, event: TelemetryEvent) -> str:
        """One line, no trailing newline."""
        return f"{self._time(event.sensor_monotime_nanos)} {payload_kind(event.payload).describe(event, event.payload)}"

"""The pipeline thread's choice of how often to read the ring buffer, from who is waiting."""

from __future__ import annotations

import pytest

from sensor.server.pipeline import busy_poll_ms


@pytest.mark.parametrize(
    ("latency_budget_ns", "expected_ms"),
    [
        (None, 16),  # no subscriber: the model is kept current, nobody waits on it
        (0, 1),  # a subscriber wants each event at once
        (500_000, 1),
        (2_000_000, 2),  # a paced subscriber's 2 ms
        (5_000_000, 5),
        (10_000_000, 9),
        (20_000_000, 18),  # one read, and so one response, per batch: sent within the 20 ms
        (50_000_000, 45),
        (1_000_000_000, 50),  # the ring buffer and the calls on the pipeline wait no longer
    ],
)
def test_the_ring_buffer_is_read_every_nine_tenths_of_the_shortest_batch_delay_within_1_to_50_ms(
    latency_budget_ns: int | None, expected_ms: int
) -> None:
    assert busy_poll_ms(latency_budget_ns) == expected_ms

"""The pace of an unbatched subscriber's responses: 2 ms up to 2 000 events a second, longer with
the square of the rate above, at most 20 ms."""

from __future__ import annotations

import pytest

from sensor.server.service import MAX_PACE_NS, PACE_NS, stretched_pace


@pytest.mark.parametrize(
    ("events", "since_last_ns", "pace_ns"),
    [
        (2, 2_000_000, PACE_NS),  # 1 000 a second: the latency the README promises
        (4, 2_000_000, PACE_NS),  # 2 000 a second: still the shortest pace
        (6, 2_000_000, 4_500_000),  # 3 000 a second (1 000 execs with their forks and exits)
        (8, 2_000_000, 8_000_000),  # 4 000 a second: four times as long
        (13, 2_000_000, MAX_PACE_NS),  # 6 500 a second (an exec storm): at most 20 ms
        (1, 0, MAX_PACE_NS),
        (1, 10**12, PACE_NS),  # the first response, long after nothing
    ],
)
def test_the_pace_stretches_with_the_rate_between_its_bounds(events: int, since_last_ns: int, pace_ns: int) -> None:
    assert stretched_pace(events, since_last_ns) == pace_ns

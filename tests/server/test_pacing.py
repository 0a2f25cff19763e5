"""The pace of an unbatched subscriber's responses: 2 ms up to 2 000 events a second, longer with
the square of the rate above, at most 20 ms; the rate smoothed over responses."""

from __future__ import annotations

import pytest

from sensor.server.service import MAX_PACE_NS, PACE_NS, Pacer, stretched_pace


@pytest.mark.parametrize(
    ("rate", "pace_ns"),
    [
        (0, PACE_NS),
        (1_000, PACE_NS),  # the latency the README promises
        (2_000, PACE_NS),  # still the shortest pace
        (3_000, 4_500_000),  # 1 000 execs a second with their forks and exits
        (4_000, 8_000_000),  # four times as long
        (6_500, MAX_PACE_NS),  # an exec storm: at most 20 ms
    ],
)
def test_the_pace_stretches_with_the_square_of_the_rate_between_its_bounds(rate: int, pace_ns: int) -> None:
    assert stretched_pace(rate) == pace_ns


def test_one_bursty_response_does_not_stretch_the_pace_alone() -> None:
    pacer = Pacer()
    for _ in range(50):
        pacer.after(6, 2_000_000)  # a steady 3 000 a second
    burst = pacer.after(30, 2_000_000)  # five times as many at once: a fifth of the difference counts
    assert stretched_pace(3_000) < burst < 15_000_000 < stretched_pace(15_000)
    for _ in range(50):
        pace = pacer.after(30, 2_000_000)  # a storm that lasts
    assert pace == MAX_PACE_NS


def test_the_first_response_after_a_quiet_spell_keeps_the_shortest_pace() -> None:
    assert Pacer().after(1, 10**12) == PACE_NS

"""StatsCache: readings reused within the caller's bound, one read per container however many ask at once."""

from __future__ import annotations

import threading
import time

from sensor.model.stats.cache import FORGET_AFTER_NS, StatsCache
from sensor.model.stats.reader import StatsTarget
from sensor.model.stats.sample import CgroupStats, ContainerStats

TARGET = StatsTarget("abc", "/docker/abc", 42)
SECOND = 1_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 100 * SECOND

    def __call__(self) -> int:
        return self.now


def reading_at(clock: FakeClock, errors: tuple[str, ...] = ()) -> ContainerStats:
    return ContainerStats("abc", clock.now, 0, CgroupStats(errors=errors))


def test_a_reading_younger_than_the_bound_is_reused_and_an_older_one_is_replaced() -> None:
    clock = FakeClock()
    cache = StatsCache(lambda target: reading_at(clock), clock)

    first = cache.get(TARGET, SECOND)
    clock.now += SECOND // 2
    assert cache.get(TARGET, SECOND) is first
    clock.now += SECOND
    assert cache.get(TARGET, SECOND) is not first
    assert cache.reads == 2


def test_a_bound_of_zero_always_reads() -> None:
    clock = FakeClock()
    cache = StatsCache(lambda target: reading_at(clock), clock)
    clock.now += 1

    cache.get(TARGET, 0)
    clock.now += 1
    cache.get(TARGET, 0)

    assert cache.reads == 2


def test_a_reading_with_errors_is_cached_like_any_other() -> None:
    clock = FakeClock()
    cache = StatsCache(lambda target: reading_at(clock, ("memory: gone",)), clock)

    cache.get(TARGET, SECOND)
    assert cache.get(TARGET, SECOND).errors == ("memory: gone",)
    assert cache.reads == 1


def test_many_callers_at_once_cost_one_read() -> None:
    started = threading.Event()

    def slow_read(target: StatsTarget) -> ContainerStats:
        started.set()
        time.sleep(0.2)
        return ContainerStats(target.container_id, time.monotonic_ns(), 0)

    cache = StatsCache(slow_read)
    results: list[ContainerStats] = []
    callers = [threading.Thread(target=lambda: results.append(cache.get(TARGET, SECOND))) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    assert cache.reads == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_readings_nobody_refreshed_for_a_minute_are_forgotten() -> None:
    clock = FakeClock()
    cache = StatsCache(lambda target: ContainerStats(target.container_id, clock.now, 0), clock)
    cache.get(StatsTarget("old", "/old", 0), SECOND)
    clock.now += FORGET_AFTER_NS + 1

    cache.get(TARGET, SECOND)

    assert len(cache) == 1

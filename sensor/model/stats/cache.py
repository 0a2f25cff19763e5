"""Readings by container, reused while younger than each caller's bound; one read at a time per container.

Many clients asking for the same container at once (ten `sensor top`s, a Prometheus scrape, a
ListWorkloads) cost one read: the first reads, the others wait for it and take its result.
A reading with errors is cached like any other, so a broken container is not re-read on every ask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sensor.model.stats.reader import StatsTarget
from sensor.model.stats.sample import ContainerStats

FORGET_AFTER_NS = 60_000_000_000  # readings nobody asked to refresh for a minute (removed containers) are dropped


class StatsCache:
    """Thread-safe; ``read`` is called outside the cache's own lock."""

    def __init__(
        self,
        read: Callable[[StatsTarget], ContainerStats],
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._readings: dict[str, ContainerStats] = {}
        self._reading_locks: dict[str, threading.Lock] = {}
        self.reads = 0  # how many times ``read`` ran: what the cache saved, to those who count

    def _fresh(self, container_id: str, max_age_ns: int) -> ContainerStats | None:
        with self._lock:
            reading = self._readings.get(container_id)
        if reading is not None and self._clock() - reading.read_monotonic_ns <= max_age_ns:
            return reading
        return None

    def _reading_lock(self, container_id: str) -> threading.Lock:
        with self._lock:
            return self._reading_locks.setdefault(container_id, threading.Lock())

    def get(self, target: StatsTarget, max_age_ns: int) -> ContainerStats:
        """A reading of ``target`` at most ``max_age_ns`` old: the cached one, or a new one."""
        reading = self._fresh(target.container_id, max_age_ns)
        if reading is not None:
            return reading
        with self._reading_lock(target.container_id):
            reading = self._fresh(target.container_id, max_age_ns)  # another caller may have just read it
            if reading is not None:
                return reading
            reading = self._read(target)
            with self._lock:
                self.reads += 1
                self._readings[target.container_id] = reading
                self._forget_old()
            return reading

    def _forget_old(self) -> None:
        cutoff = self._clock() - FORGET_AFTER_NS
        for container_id in [c for c, r in self._readings.items() if r.read_monotonic_ns < cutoff]:
            del self._readings[container_id]
            lock = self._reading_locks.get(container_id)
            if lock is not None and not lock.locked():
                del self._reading_locks[container_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._readings)

"""Who runs which job: the dispatcher, acting only while it holds the fleet's lease.

As the seed's cluster-checks dispatcher: workers heartbeat; one silent past its own expiry is
taken as dead and its jobs are put back and given to live workers; jobs go to the live worker
running the fewest (no job moves off a live worker). Silence is measured on the dispatcher's own
clock, from when it last saw a worker's heartbeat change, so the workers' clocks do not matter.
The lease is a key in a bucket whose TTL is the lease: made only when absent, renewed only by
its holder (both conditional writes), gone when its holder stops renewing it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nats.js.errors
from nats.js.kv import KeyValue

from sensor.fleet.jobs.records import LEASE_KEY, Assignment, WorkerHeartbeat

log = logging.getLogger("sensor")


@dataclass(frozen=True, slots=True)
class Moves:
    """What one dispatch changes: assignments to drop (job names) and to write."""

    drop: list[str] = field(default_factory=list)
    assign: list[Assignment] = field(default_factory=list)


def plan_moves(jobs: list[str], live: list[str], assignments: dict[str, Assignment], now: float) -> Moves:
    """Assignments of removed jobs or dead workers dropped; every unassigned job given to the live
    worker with the fewest (ties by name)."""
    drop = [job for job, a in assignments.items() if job not in jobs or a.worker not in live]
    kept = {job: a for job, a in assignments.items() if job not in drop}
    load = {worker: 0 for worker in live}
    for a in kept.values():
        load[a.worker] += 1
    assign = []
    if load:
        for job in sorted(j for j in jobs if j not in kept):
            worker = min(load, key=lambda w: (load[w], w))
            load[worker] += 1
            assign.append(Assignment(job, worker, now))
    return Moves(drop, assign)


class Liveness:
    """When each worker's heartbeat last changed, on this process's clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[int, float]] = {}  # worker -> (revision, when it changed)

    def observe(self, revisions: dict[str, tuple[int, WorkerHeartbeat]], wall_now: float) -> list[str]:
        """The live workers among those with a key (name -> (revision, heartbeat)), by name."""
        now = self._clock()
        live = []
        for name, (revision, beat) in revisions.items():
            seen = self._seen.get(name)
            if seen is None:  # first sight: as old as its heartbeat says, at most one expiry
                changed = now - min(max(wall_now - beat.at, 0.0), beat.expiry_s)
            elif seen[0] != revision:
                changed = now
            else:
                changed = seen[1]
            self._seen[name] = (revision, changed)
            if not beat.stopped and now - changed < beat.expiry_s:
                live.append(name)
        for gone in set(self._seen) - set(revisions):
            del self._seen[gone]
        return sorted(live)


class Lease:
    """The dispatcher's lease in ``bucket`` (its TTL is the lease's length), held in ``holder``'s name."""

    def __init__(self, bucket: KeyValue, holder: str) -> None:
        self._bucket = bucket
        self._holder = holder.encode()
        self._revision = 0  # of our last write; 0: not held

    @property
    def held(self) -> bool:
        """Whether the last :meth:`hold` got or kept it."""
        return self._revision != 0

    async def hold(self) -> bool:
        """Take the lease if nobody holds it, or renew ours; False when another holds it (or took it)."""
        try:
            if self._revision:
                self._revision = await self._bucket.update(LEASE_KEY, self._holder, last=self._revision)
            else:
                self._revision = await self._bucket.create(LEASE_KEY, self._holder)
        except nats.js.errors.KeyWrongLastSequenceError:
            if self._revision:
                log.warning("fleet worker: lost the dispatcher's lease")
            self._revision = 0
        return self.held

    async def release(self) -> None:
        """Give the lease up at once (a clean stop), if held."""
        if self._revision:
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):  # taken already
                await self._bucket.delete(LEASE_KEY, last=self._revision)
            self._revision = 0

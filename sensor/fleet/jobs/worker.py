"""`sensor fleet worker`: heartbeats, runs the jobs assigned to it, and dispatches while it holds the lease.

Three loops on one asyncio loop: the heartbeat (its jobs' progress in it); the assignments, read
every poll, starting the jobs given to this worker and stopping those taken away; and the lease,
taken or renewed every poll, with a dispatch each time it is held (sensor.fleet.jobs.dispatch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from sensor import __version__
from sensor.fleet.engine import engine_error, ensure_bucket, read_bucket, read_records
from sensor.fleet.jobs.archive import ArchiveJob
from sensor.fleet.jobs.dispatch import Lease, Liveness, plan_moves
from sensor.fleet.jobs.languages import LanguagesJob
from sensor.fleet.jobs.progress import JobLost
from sensor.fleet.jobs.records import (
    ASSIGNMENTS_BUCKET,
    JOBS_BUCKET,
    LEASE_BUCKET,
    PROGRESS_BUCKET,
    WORKERS_BUCKET,
    WORKERS_TTL_S,
    Assignment,
    JobDefinition,
    JobKind,
    JobStatus,
    WorkerHeartbeat,
)

DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_EXPIRY_S = 30.0
DEFAULT_LEASE_S = 15.0
DEFAULT_POLL_S = 0.5
JOB_RETRY_S = 2.0
ENGINE_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)
RECANCEL_S = 1.0


async def cancel_and_wait(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait for their end, cancelling again every RECANCEL_S those still running.

    Once is not always enough on Python 3.11: ``asyncio.wait_for`` (which nats-py's requests use)
    swallows a cancellation that lands as its inner future completes, and the task then goes on
    (a worker under load stayed up after SIGTERM).
    """
    pending = [task for task in tasks if not task.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=RECANCEL_S)
        pending = [task for task in pending if not task.done()]
    for task in tasks:  # retrieve their outcomes, so that none is reported as never retrieved
        if not task.cancelled():
            task.exception()


log = logging.getLogger("sensor")


class WorkerNameTaken(Exception):
    """Another live worker has this name."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Who the worker is and its periods; ``lease_s`` is the lease bucket's TTL when this worker makes it."""

    name: str
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    expiry_s: float = DEFAULT_EXPIRY_S
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = DEFAULT_POLL_S
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class Buckets:
    """The buckets the fleet's jobs keep their records in (sensor.fleet.jobs.records)."""

    jobs: KeyValue
    assignments: KeyValue
    progress: KeyValue
    workers: KeyValue
    lease: KeyValue

    @classmethod
    async def ensure(cls, js: JetStreamContext, lease_s: float, replicas: int) -> Buckets:
        """Each bucket, made when absent."""
        return cls(
            await ensure_bucket(js, JOBS_BUCKET, replicas=replicas),
            await ensure_bucket(js, ASSIGNMENTS_BUCKET, replicas=replicas),
            await ensure_bucket(js, PROGRESS_BUCKET, replicas=replicas),
            await ensure_bucket(js, WORKERS_BUCKET, WORKERS_TTL_S, replicas),
            await ensure_bucket(js, LEASE_BUCKET, lease_s, replicas),
        )


class Job(Protocol):
    """A job's run: until cancelled, or JobLost."""

    async def run(self) -> None:
        """Do the job from its acknowledged progress on."""


def make_job(
    definition: JobDefinition, js: JetStreamContext, buckets: Buckets, status: JobStatus, replicas: int
) -> Job:
    """The job a definition describes. Raises ValueError for a kind this version does not know."""
    kind = JobKind(definition.kind)
    if kind is JobKind.ARCHIVE:
        return ArchiveJob(definition, js, buckets.progress, status)
    return LanguagesJob(definition, js, buckets.progress, status, replicas)


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[None]
    status: JobStatus


class Worker:
    """One worker on a JetStream connection; :meth:`run` until ``stop`` is set."""

    def __init__(self, config: WorkerConfig, js: JetStreamContext) -> None:
        self.config = config
        self._js = js
        self._started_at = time.time()
        self._running: dict[str, _Running] = {}
        self._buckets: Buckets | None = None
        self._lease: Lease | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop``; then stop the jobs, give the lease up and say it stopped.
        Raises WorkerNameTaken before doing anything when a live worker has this name."""
        config = self.config
        buckets = await Buckets.ensure(self._js, config.lease_s, config.replicas)
        self._buckets = buckets
        await self._claim_name(buckets.workers)
        self._lease = Lease(buckets.lease, config.name)
        await self._put_heartbeat()
        log.info("fleet worker %s: ready", config.name, extra={"fields": {"event": "ready"}})
        loops = [asyncio.ensure_future(c) for c in (self._beat(), self._follow_assignments(), self._lead())]
        try:
            await stop.wait()
        finally:
            await cancel_and_wait(loops)
            for job in list(self._running):
                await self._stop_job(job)
            with contextlib.suppress(*ENGINE_ERRORS):
                await self._lease.release()
                await self._put_heartbeat(stopped=True)
            log.info("fleet worker %s: stopped", config.name)

    async def _claim_name(self, workers: KeyValue) -> None:
        try:
            entry = await workers.get(self.config.name)
        except nats.js.errors.KeyNotFoundError:
            return
        other = WorkerHeartbeat.decode(entry.value or b"{}")
        fresh = time.time() - other.at < other.expiry_s
        if fresh and not other.stopped and (other.host, other.pid) != (socket.gethostname(), os.getpid()):
            raise WorkerNameTaken(
                f"a worker named {other.name} is running on {other.host} (pid {other.pid}); give this one --name"
            )

    # --- heartbeat ---

    def heartbeat(self, stopped: bool = False) -> WorkerHeartbeat:
        """What this worker says of itself now."""
        return WorkerHeartbeat(
            name=self.config.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            started_at=self._started_at,
            at=time.time(),
            heartbeat_s=self.config.heartbeat_s,
            expiry_s=self.config.expiry_s,
            dispatcher=self._lease is not None and self._lease.held and not stopped,
            stopped=stopped,
            jobs={} if stopped else {name: run.status for name, run in self._running.items()},
        )

    async def _put_heartbeat(self, stopped: bool = False) -> None:
        assert self._buckets is not None
        await self._buckets.workers.put(self.config.name, self.heartbeat(stopped).encode())

    async def _beat(self) -> None:
        await self._every(self.config.heartbeat_s, self._put_heartbeat, "heartbeat not stored")

    async def _every(self, period_s: float, work: Callable[[], Coroutine[Any, Any, None]], failure: str) -> None:
        """``work`` every ``period_s``; an engine error is logged once until it works again."""
        failing = False
        while True:
            try:
                await work()
                failing = False
            except ENGINE_ERRORS as error:
                if not failing:
                    log.warning("fleet worker %s: %s: %s", self.config.name, failure, engine_error(error))
                failing = True
            await asyncio.sleep(period_s)

    # --- jobs ---

    async def _follow_assignments(self) -> None:
        await self._every(self.config.poll_s, self._take_assignments, "cannot read the assignments")

    async def _take_assignments(self) -> None:
        assert self._buckets is not None
        assignments = await read_records(self._js, ASSIGNMENTS_BUCKET, Assignment)
        mine = {job for job, assignment in assignments.items() if assignment.worker == self.config.name}
        for job in set(self._running) - mine:
            log.info("fleet worker %s: job %s taken away", self.config.name, job)
            await self._stop_job(job)
        for job in sorted(mine - set(self._running)):
            try:
                entry = await self._buckets.jobs.get(job)
                definition = JobDefinition.decode(entry.value or b"")
            except (nats.js.errors.KeyNotFoundError, ValueError) as error:
                log.warning("fleet worker %s: job %s: no definition to run (%s)", self.config.name, job, error)
                continue
            status = JobStatus(definition.kind, time.time())
            task = asyncio.ensure_future(self._run_job(definition, status))
            self._running[job] = _Running(task, status)
            log.info(
                "fleet worker %s: running job %s (%s)",
                self.config.name,
                job,
                definition.kind,
                extra={"fields": {"event": "job_started", "job": job}},
            )

    async def _run_job(self, definition: JobDefinition, status: JobStatus) -> None:
        """Run the job; after a failure (or a takeover of its progress), again a little later."""
        assert self._buckets is not None
        said = ""
        while True:
            try:
                await make_job(definition, self._js, self._buckets, status, self.config.replicas).run()
                return
            except JobLost as error:
                status.error = str(error)
            except nats.js.errors.NotFoundError:
                status.error = "its stream does not exist yet (no sensor has exported to this NATS)"
            except Exception as error:  # a job's failure must not end the worker: said, and tried again
                status.error = f"{type(error).__name__}: {error}"
            if status.error != said:  # said once, not at every retry
                log.warning("fleet worker %s: job %s: %s", self.config.name, definition.name, status.error)
                said = status.error
            await asyncio.sleep(JOB_RETRY_S)

    async def _stop_job(self, job: str) -> None:
        running = self._running.pop(job)
        await cancel_and_wait([running.task])

    # --- dispatch ---

    async def _lead(self) -> None:
        liveness: Liveness | None = None

        async def lead_once() -> None:
            nonlocal liveness
            assert self._lease is not None
            if not await self._lease.hold():
                liveness = None
                return
            if liveness is None:
                log.info("fleet worker %s: dispatching (holds the lease)", self.config.name)
                liveness = Liveness()
            await self._dispatch(liveness)

        await self._every(self.config.poll_s, lead_once, "cannot dispatch")

    async def _dispatch(self, liveness: Liveness) -> None:
        buckets = self._buckets
        assert buckets is not None
        jobs = list(await read_bucket(self._js, JOBS_BUCKET))
        workers = {}
        for name, entry in (await read_bucket(self._js, WORKERS_BUCKET)).items():
            with contextlib.suppress(ValueError):
                workers[name] = (entry.revision or 0, WorkerHeartbeat.decode(entry.value or b""))
        live = liveness.observe(workers, time.time())
        assignments = await read_records(self._js, ASSIGNMENTS_BUCKET, Assignment)
        moves = plan_moves(jobs, live, assignments, time.time())
        for job in moves.drop:
            reason = "removed" if job not in jobs else f"worker {assignments[job].worker} is gone"
            log.info("fleet dispatcher: job %s taken back (%s)", job, reason)
            await buckets.assignments.delete(job)
        for assignment in moves.assign:
            log.info(
                "fleet dispatcher: job %s to %s",
                assignment.job,
                assignment.worker,
                extra={"fields": {"event": "dispatched", "job": assignment.job, "worker": assignment.worker}},
            )
            await buckets.assignments.put(assignment.job, assignment.encode())

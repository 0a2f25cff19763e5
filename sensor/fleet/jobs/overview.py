"""The fleet's jobs and workers as `sensor fleet jobs` and `sensor fleet workers` show them."""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import dataclass

from nats.js import JetStreamContext

from sensor.fleet.engine import read_bucket
from sensor.fleet.jobs.records import (
    ASSIGNMENTS_BUCKET,
    JOBS_BUCKET,
    PROGRESS_BUCKET,
    WORKERS_BUCKET,
    Assignment,
    JobDefinition,
    JobProgress,
    JobStatus,
    WorkerHeartbeat,
)


class WorkerState(enum.Enum):
    """Whether a worker is there, as its heartbeat says."""

    UP = "up"
    STOPPED = "stopped"  # it said so
    GONE = "gone"  # silent past its expiry


@dataclass(frozen=True, slots=True)
class WorkerView:
    """A worker and its state."""

    state: WorkerState
    heartbeat: WorkerHeartbeat


@dataclass(frozen=True, slots=True)
class JobView:
    """A job, who runs it (if anyone), and how far it got."""

    definition: JobDefinition
    assignment: Assignment | None
    progress: JobProgress
    status: JobStatus | None  # as its worker's last heartbeat says
    heartbeat_at: float | None  # when its worker last heartbeat (wall-clock seconds), if it is up


def worker_state(beat: WorkerHeartbeat, now: float) -> WorkerState:
    """Up, stopped, or gone (its last heartbeat older than its expiry)."""
    if beat.stopped:
        return WorkerState.STOPPED
    return WorkerState.UP if now - beat.at < beat.expiry_s else WorkerState.GONE


async def fleet_workers(js: JetStreamContext) -> list[WorkerView]:
    """Every worker seen in the last day, by name. Raises BucketNotFoundError when none ever ran."""
    now = time.time()
    views = []
    for entry in (await read_bucket(js, WORKERS_BUCKET)).values():
        with contextlib.suppress(ValueError):
            beat = WorkerHeartbeat.decode(entry.value or b"")
            views.append(WorkerView(worker_state(beat, now), beat))
    return sorted(views, key=lambda v: v.heartbeat.name)


async def fleet_jobs(js: JetStreamContext) -> list[JobView]:
    """Every job defined, by name. Raises BucketNotFoundError when none ever was."""

    async def values(bucket: str) -> dict[str, bytes]:
        return {k: e.value or b"" for k, e in (await read_bucket(js, bucket)).items()}

    definitions = await values(JOBS_BUCKET)
    assignments = await values(ASSIGNMENTS_BUCKET)
    progress = await values(PROGRESS_BUCKET)
    statuses: dict[str, tuple[JobStatus, float]] = {}
    for worker in await fleet_workers(js):
        if worker.state is WorkerState.UP:
            statuses.update((job, (status, worker.heartbeat.at)) for job, status in worker.heartbeat.jobs.items())
    views = []
    for name, raw in sorted(definitions.items()):
        with contextlib.suppress(ValueError):
            assignment = Assignment.decode(assignments[name]) if name in assignments else None
            done = JobProgress.decode(progress[name]) if name in progress else JobProgress()
            status, at = statuses.get(name, (None, None)) if assignment is not None else (None, None)
            views.append(JobView(JobDefinition.decode(raw), assignment, done, status, at))
    return views

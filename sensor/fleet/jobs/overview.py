"""The fleet's jobs and workers as `sensor fleet jobs` and `sensor fleet workers` show them."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from nats.js import JetStreamContext

from sensor.fleet.engine import read_records
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
    beats = (await read_records(js, WORKERS_BUCKET, WorkerHeartbeat)).values()
    views = [WorkerView(worker_state(beat, now), beat) for beat in beats]
    return sorted(views, key=lambda v: v.heartbeat.name)


async def fleet_jobs(js: JetStreamContext) -> list[JobView]:
    """Every job defined, by name. Raises BucketNotFoundError when none ever was."""
    definitions = await read_records(js, JOBS_BUCKET, JobDefinition)
    assignments = await read_records(js, ASSIGNMENTS_BUCKET, Assignment)
    progress = await read_records(js, PROGRESS_BUCKET, JobProgress)
    statuses: dict[str, tuple[JobStatus, float]] = {}
    for worker in await fleet_workers(js):
        if worker.state is WorkerState.UP:
            statuses.update((job, (status, worker.heartbeat.at)) for job, status in worker.heartbeat.jobs.items())
    views = []
    for name, definition in sorted(definitions.items()):
        assignment = assignments.get(name)
        status, at = statuses.get(name, (None, None)) if assignment is not None else (None, None)
        views.append(JobView(definition, assignment, progress.get(name, JobProgress()), status, at))
    return views

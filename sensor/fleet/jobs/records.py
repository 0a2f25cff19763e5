"""What the fleet's jobs keep in the engine: definitions, assignments, progress and workers' heartbeats.

Buckets, all made by the first worker (or `sensor fleet job add`) that needs them:
- ``sensor_jobs``: each job's :class:`JobDefinition`, by name;
- ``sensor_job_assignments``: which worker runs each job (:class:`Assignment`), written by the dispatcher;
- ``sensor_job_progress``: each job's acknowledged :class:`JobProgress`, written by the worker running it,
  each write conditional on the revision it read, so a worker that lost its job cannot write over its successor;
- ``sensor_workers``: each worker's :class:`WorkerHeartbeat`;
- ``sensor_dispatcher``: the dispatcher's lease, one key whose TTL is the lease.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from sensor.fleet.engine import JsonRecord

JOBS_BUCKET = "sensor_jobs"
ASSIGNMENTS_BUCKET = "sensor_job_assignments"
PROGRESS_BUCKET = "sensor_job_progress"
WORKERS_BUCKET = "sensor_workers"
WORKERS_TTL_S = 24 * 3600.0  # a worker gone this long is forgotten
LEASE_BUCKET = "sensor_dispatcher"
LEASE_KEY = "dispatcher"
_JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class JobKind(str, enum.Enum):
    """What a job does."""

    ARCHIVE = "archive"  # the fleet's events that match, into rotated JSON-lines files
    LANGUAGES = "languages"  # the nodes' language reports, merged into sensor_languages


def check_job_name(name: str) -> str:
    """``name`` if it can name a job (it is a key in the buckets). Raises ValueError saying why not."""
    if not _JOB_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name a job: use 1 to 64 letters, digits, '-' and '_'")
    return name


@dataclass(frozen=True, slots=True)
class ArchiveParams:
    """An archive job's events and files. The subscription is compiled by `sensor fleet job add` from
    the flags it was given (kept in ``asked`` for people to read) and kept as a serialized message."""

    directory: str
    kinds: list[str]  # event kind names, lost included
    subscription: str  # base64 of a serialized sensor.v1.Subscription
    node_glob: str = "*"
    max_bytes: int = 100 << 20
    stream: str = "SENSOR_EVENTS"
    asked: str = ""  # the --event/--filter/... flags as given


@dataclass(frozen=True, slots=True)
class LanguagesParams:
    """The languages job's expiry: a language nobody reported for ``ttl_s`` is swept away."""

    ttl_s: float = 30 * 60.0


@dataclass(frozen=True, slots=True)
class JobDefinition(JsonRecord):
    """A job as `sensor fleet job add` defined it; ``created_at`` (wall-clock) is where an archive starts."""

    name: str
    kind: str  # a JobKind's value
    created_at: float
    params: dict[str, Any] = field(default_factory=dict)

    def archive(self) -> ArchiveParams:
        """Its archive parameters."""
        return ArchiveParams(**self.params)

    def languages(self) -> LanguagesParams:
        """Its languages parameters."""
        return LanguagesParams(**self.params)

    what: ClassVar[str] = "a job definition"


@dataclass(frozen=True, slots=True)
class Assignment(JsonRecord):
    """The dispatcher's word: ``worker`` runs ``job`` since ``since`` (wall-clock)."""

    job: str
    worker: str
    since: float

    what: ClassVar[str] = "an assignment"


@dataclass(frozen=True, slots=True)
class JobProgress(JsonRecord):
    """How far a job got, acknowledged: the stream sequence it consumed up to, and what it did so far."""

    sequence: int = 0
    done: int = 0  # events archived, or reports merged
    at: float = 0.0  # wall-clock seconds of the acknowledgement

    what: ClassVar[str] = "a job's progress"


@dataclass(slots=True)
class JobStatus:
    """A running job as its worker says in each heartbeat."""

    kind: str
    since: float  # wall-clock seconds it started on this worker
    done: int = 0
    backlog: int = 0  # messages of its subject in the stream after the last one it took
    error: str = ""


@dataclass(slots=True)
class WorkerHeartbeat(JsonRecord):
    """What a worker says of itself every heartbeat."""

    name: str
    host: str
    pid: int
    version: str
    started_at: float  # wall-clock seconds
    at: float
    heartbeat_s: float
    expiry_s: float  # the dispatcher takes its jobs back after this long without a heartbeat
    dispatcher: bool = False
    stopped: bool = False
    jobs: dict[str, JobStatus] = field(default_factory=dict)
    what: ClassVar[str] = "a worker heartbeat"

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Self:
        jobs = {name: JobStatus(**status) for name, status in dict(fields.pop("jobs", {})).items()}
        return cls(**fields, jobs=jobs)

"""A job's acknowledged progress through a stream, and the reading of the stream from there.

A job reads its stream with an ordered consumer that starts after the last sequence it
acknowledged, and acknowledges a batch by writing its progress once the batch's work is done
(written to disk, merged into the bucket). The write is conditional on the revision the job read,
so two workers that both believe they run a job cannot both go on: the second write fails and
that worker gives the job up. Whatever was done after the last acknowledgement is done again by
the next worker to run the job; each job makes that harmless (the archive skips event ids it
already wrote, the merge is idempotent).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue

from sensor.fleet.jobs.records import JobProgress, JobStatus


class JobLost(Exception):
    """Another worker wrote this job's progress: it runs the job now."""


class ProgressKeeper:
    """One job's progress in the progress bucket."""

    def __init__(self, bucket: KeyValue, job: str) -> None:
        self._bucket = bucket
        self._job = job
        self._revision = 0  # 0: no progress written yet

    async def load(self) -> JobProgress:
        """The last acknowledged progress (nothing yet: a zero one)."""
        try:
            entry = await self._bucket.get(self._job)
        except nats.js.errors.KeyNotFoundError:
            self._revision = 0
            return JobProgress()
        self._revision = entry.revision or 0
        return JobProgress.decode(entry.value or b"{}")

    async def commit(self, progress: JobProgress) -> None:
        """Acknowledge ``progress``. Raises JobLost when someone else wrote it since we read it."""
        value = progress.encode()
        try:
            if self._revision:
                self._revision = await self._bucket.update(self._job, value, last=self._revision)
            else:
                self._revision = await self._bucket.create(self._job, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            raise JobLost(f"job {self._job}: another worker acknowledged progress since this one read it") from None

    async def acknowledge(self, last: Msg, done: int, status: JobStatus) -> None:
        """Acknowledge the stream up to message ``last`` (``done``: the job's work so far), and show it
        in ``status``. Raises JobLost."""
        metadata = last.metadata
        await self.commit(JobProgress(metadata.sequence.stream, done, time.time()))
        status.done = done
        status.backlog = metadata.num_pending
        status.error = ""


async def follow(
    js: JetStreamContext, stream: str, subject: str, after: int, since: float | None = None
) -> JetStreamContext.PushSubscription:
    """An ordered consumer of ``subject`` from the message after sequence ``after``; with nothing
    acknowledged yet (``after`` 0), from wall-clock ``since`` (None: from the stream's first message)."""
    if after:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
    elif since is not None:
        start = datetime.fromtimestamp(since, timezone.utc)
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)
    else:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    return await js.subscribe(subject, stream=stream, ordered_consumer=True, config=config)

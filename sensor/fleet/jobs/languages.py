"""The `languages` job: the nodes' language reports merged into the bucket ``sensor_languages``.

Each workload's record remembers, per container and language, when each node last reported it
(the report's time as the stream stored it). A sweep every so often forgets what no node reported
within the job's TTL, and deletes a workload with nothing left; a node's report that a workload
was deleted deletes it at once. Merging a report twice changes nothing, so a batch merged but not
acknowledged before a move is merged again harmlessly.
"""

from __future__ import annotations

import contextlib
import logging
import time

import nats.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from sensor.fleet.engine import (
    LANGUAGES_BUCKET,
    LANGUAGES_SUBJECT_PREFIX,
    REPORTS_MAX_AGE_S,
    REPORTS_STREAM,
    ensure_bucket,
    ensure_stream,
    read_records,
    subject_token,
)
from sensor.fleet.events import next_batch
from sensor.fleet.jobs.progress import ProgressKeeper, follow
from sensor.fleet.jobs.records import JobDefinition, JobStatus
from sensor.fleet.languages import LanguageReport, WorkloadRecord

BATCH_REPORTS = 100
SWEEP_MIN_S = 0.5
SWEEP_MAX_S = 60.0
log = logging.getLogger("sensor")


def sweep_interval(ttl_s: float) -> float:
    """How often to sweep: a few times per TTL, within bounds."""
    return min(max(ttl_s / 4, SWEEP_MIN_S), SWEEP_MAX_S)


class LanguagesJob:
    """Runs the languages job until cancelled (or its progress is taken over: JobLost)."""

    def __init__(
        self, definition: JobDefinition, js: JetStreamContext, progress: KeyValue, status: JobStatus, replicas: int
    ) -> None:
        self.definition = definition
        self.ttl_s = definition.languages().ttl_s
        self._js = js
        self._keeper = ProgressKeeper(progress, definition.name)
        self._replicas = replicas
        self.status = status

    async def run(self) -> None:
        """Merge from where the last acknowledged progress ends, sweeping as it goes."""
        js = self._js
        await ensure_stream(js, REPORTS_STREAM, LANGUAGES_SUBJECT_PREFIX, self._replicas, max_age=REPORTS_MAX_AGE_S)
        bucket = await ensure_bucket(js, LANGUAGES_BUCKET, replicas=self._replicas)
        records = await read_records(js, LANGUAGES_BUCKET, WorkloadRecord)  # one it cannot read: the next report
        progress = await self._keeper.load()
        subscription = await follow(js, REPORTS_STREAM, f"{LANGUAGES_SUBJECT_PREFIX}.>", progress.sequence)
        try:
            await self._merge_from(subscription, bucket, records, progress.done)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _merge_from(
        self,
        subscription: JetStreamContext.PushSubscription,
        bucket: KeyValue,
        records: dict[str, WorkloadRecord],
        done: int,
    ) -> None:
        every = sweep_interval(self.ttl_s)
        next_sweep = time.monotonic() + every
        while True:
            batch = await next_batch(subscription, BATCH_REPORTS, every)
            changed: set[str] = set()
            removed: set[str] = set()
            for message in batch:
                try:
                    report = LanguageReport.decode(message.data)
                except ValueError as error:
                    log.warning("languages: a report on %s skipped: %s", message.subject, error)
                    continue
                at = message.metadata.timestamp.timestamp() if message.metadata.timestamp else report.at
                self._merge(report, at, records, changed, removed)
            if time.monotonic() >= next_sweep:
                self._sweep(records, changed, removed)
                next_sweep = time.monotonic() + every
            for key in changed:
                await bucket.put(key, records[key].encode())
            for key in removed:
                await bucket.delete(key)
            if batch:
                done += len(batch)
                await self._keeper.acknowledge(batch[-1], done, self.status)

    @staticmethod
    def _merge(
        report: LanguageReport, at: float, records: dict[str, WorkloadRecord], changed: set[str], removed: set[str]
    ) -> None:
        """One report into ``records``, noting the keys to write and to delete."""
        for languages in report.workloads:
            key = languages.workload.bucket_key
            records.setdefault(key, WorkloadRecord(languages.workload)).merge(languages, report.node, at)
            changed.add(key)
            removed.discard(key)
        for gone in report.removed:
            key = subject_token(gone)
            if records.pop(key, None) is not None:
                removed.add(key)
                changed.discard(key)

    def _sweep(self, records: dict[str, WorkloadRecord], changed: set[str], removed: set[str]) -> None:
        now = time.time()
        for key in list(records):
            record = records[key]
            before = record.encode()
            if record.sweep(now, self.ttl_s):
                del records[key]
                removed.add(key)
                changed.discard(key)
            elif record.encode() != before:
                changed.add(key)

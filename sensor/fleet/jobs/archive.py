"""The `archive` job: the fleet's events that match a subscription, as rotated JSON-lines files.

Files are ``<directory>/<job>.jsonl``, rotated at the job's size into ``<job>-<UTC time>.jsonl.gz``
(every one kept), lines as `sensor trace --format json` prints them. A batch is written and
synced before its progress is acknowledged. A job that moves, or restarts after a failed write,
first reads the ids of the last lines written: the batch that was written but not acknowledged
comes again and is skipped, so no event is archived twice. The directory must be the same one
for every worker that may run the job (one host, or a shared volume).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from sensor.api.v1 import subscription_pb2
from sensor.export.json_file import FileExportConfig, JsonLinesFile, backups_of
from sensor.fleet.events import FleetQuery, next_batch, wanted
from sensor.fleet.jobs.progress import ProgressKeeper, follow
from sensor.fleet.jobs.records import ArchiveParams, JobDefinition, JobStatus
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.subscription import compile_subscription

BATCH_EVENTS = 1000  # at most this many written and not yet acknowledged: the ids read back at start
IDLE_WAIT_S = 1.0
RETRY_WRITE_S = 1.0
_TAIL_BLOCK = 1 << 16
log = logging.getLogger("sensor")


def subscription_text(subscription: subscription_pb2.Subscription) -> str:
    """The subscription as a job definition keeps it."""
    return base64.b64encode(subscription.SerializeToString()).decode()


def _no_loss(count: int, stage: str) -> TelemetryEvent:
    raise AssertionError("an archive writes lossless: a refused write raises and is written again")


def _last_lines(path: Path, count: int) -> list[bytes]:
    """The last ``count`` whole lines of a plain file, read from its end."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        data = b""
        at = end
        while at > 0 and data.count(b"\n") <= count:
            step = min(_TAIL_BLOCK, at)
            at -= step
            f.seek(at)
            data = f.read(step) + data
    return data.splitlines()[-count:]


def _lines_newest_first(path: Path, count: int) -> Iterator[bytes]:
    lines = gzip.decompress(path.read_bytes()).splitlines() if path.suffix == ".gz" else _last_lines(path, count)
    return reversed(lines[-count:])


def truncate_partial_line(path: Path) -> int:
    """Cut a last line without its newline (a write cut short by a kill); the bytes cut."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if not size:
        return 0
    with path.open("rb+") as f:
        at = size
        while at > 0:
            step = min(_TAIL_BLOCK, at)
            f.seek(at - step)
            block = f.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = at - step + newline + 1
                break
            at -= step
        else:
            keep = 0
        f.truncate(keep)
    return size - keep


class ArchiveFiles:
    """The job's files: written lossless, rotated, every rotated file kept."""

    def __init__(self, directory: Path, job: str, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{job}.jsonl"
        cut = truncate_partial_line(self.path)
        if cut:
            log.warning("archive %s: cut a partial last line (%d bytes) left by a write cut short", job, cut)
        config = FileExportConfig(self.path, max_bytes=max_bytes, backups=sys.maxsize, lossless=True)
        self._file = JsonLinesFile(config, _no_loss)

    def recent_ids(self, count: int) -> set[str]:
        """The ids of the last ``count`` events written (the current file, then the newest rotated ones)."""
        ids: set[str] = set()
        rotated = {p.name.removesuffix(".gz"): p for p in reversed(backups_of(self.path))}  # plain one wins
        for path in [self.path, *sorted(rotated.values(), key=lambda p: p.name, reverse=True)]:
            with contextlib.suppress(FileNotFoundError):
                for line in _lines_newest_first(path, count - len(ids)):
                    with contextlib.suppress(ValueError, TypeError):
                        ids.add(json.loads(line)["id"])
            if len(ids) >= count:
                break
        return ids

    def write(self, events: list[TelemetryEvent]) -> None:
        """Append and sync. Raises OSError (the lines before the refused one stay written)."""
        self._file.write(events)
        self._file.sync()

    def tick(self) -> None:
        """Time-based rotation."""
        self._file.tick()

    def close(self) -> None:
        """Close the file (waiting for a compression under way)."""
        self._file.close(30.0)


class ArchiveJob:
    """Runs one archive job until cancelled (or its progress is taken over: JobLost)."""

    def __init__(self, definition: JobDefinition, js: JetStreamContext, progress: KeyValue, status: JobStatus) -> None:
        self.definition = definition
        self.params: ArchiveParams = definition.archive()
        self._js = js
        self._keeper = ProgressKeeper(progress, definition.name)
        self.status = status

    async def run(self) -> None:
        """Archive from where the last acknowledged progress ends."""
        params = self.params
        query = FleetQuery(frozenset(params.kinds), params.node_glob, None, params.stream)
        rules = compile_subscription(subscription_pb2.Subscription.FromString(base64.b64decode(params.subscription)))
        # The files on a thread of their own, so a slow disk never delays the worker's heartbeats;
        # shut down (the write under way finished) before the files close, even when cancelled.
        disk = ThreadPoolExecutor(1, thread_name_prefix=f"archive-{self.definition.name}")
        loop = asyncio.get_running_loop()
        directory = Path(params.directory)
        files: ArchiveFiles | None = None
        subscription = None
        try:
            files = await loop.run_in_executor(disk, ArchiveFiles, directory, self.definition.name, params.max_bytes)
            progress = await self._keeper.load()
            written = await loop.run_in_executor(disk, files.recent_ids, BATCH_EVENTS)
            subscription = await follow(
                self._js, params.stream, query.subject(), progress.sequence, self.definition.created_at
            )
            done = progress.done
            self.status.done = done
            while True:
                batch = await next_batch(subscription, BATCH_EVENTS, IDLE_WAIT_S)
                files.tick()
                if not batch:
                    continue
                events = [e for e in (wanted(m, query, rules) for m in batch) if e is not None and e.id not in written]
                await self._write(disk, files, events, written)
                done += len(events)
                await self._keeper.acknowledge(batch[-1], done, self.status)
        finally:
            if subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
            disk.shutdown(wait=True)
            if files is not None:
                files.close()

    async def _write(
        self, disk: ThreadPoolExecutor, files: ArchiveFiles, events: list[TelemetryEvent], written: set[str]
    ) -> None:
        """Write until it works; after a refusal, what got written before it is not written again."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(disk, files.write, events)
                return
            except OSError as error:
                if not self.status.error:
                    log.warning("archive %s: %s; trying again", self.definition.name, error)
                self.status.error = f"cannot write: {error}"
            await asyncio.sleep(RETRY_WRITE_S)
            written |= await loop.run_in_executor(disk, files.recent_ids, BATCH_EVENTS)
            events = [e for e in events if e.id not in written]

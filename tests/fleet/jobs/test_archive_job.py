"""An archive job against a real nats-server: it starts from its acknowledged progress, skips what a
worker before it wrote but did not acknowledge, and cuts the line a kill left half-written."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from sensor.cli.options import build_subscription
from sensor.fleet.engine import EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, ensure_bucket, ensure_stream
from sensor.fleet.jobs.archive import ArchiveJob, subscription_text
from sensor.fleet.jobs.records import PROGRESS_BUCKET, JobDefinition, JobStatus
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.json_lines import json_lines
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.wire import event_bytes
from tests.nats_servers import NatsServer

EVENTS = [
    TelemetryEvent(
        "sensor-1", n, n * 1000, ProcessPayload(ProcessEventType.EXEC, exec_command_line=["echo", str(n)]),
        command_line=["echo", str(n)], node_name="node-a",
    )
    for n in range(1, 21)
]  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    nats_server = NatsServer(tmp_path / "nats")
    nats_server.start()
    yield nats_server
    nats_server.stop()


def archive_definition(directory: Path) -> JobDefinition:
    subscription = build_subscription([EventKind.EXEC], "", (), (), 0, 0, False)
    params = {"directory": str(directory), "kinds": ["exec", "lost"], "subscription": subscription_text(subscription)}
    return JobDefinition("execs", "archive", 0.0, params)


async def run_until(url: str, definition: JobDefinition, done: int, publish: bool, settle: float = 0.3) -> JobStatus:
    """Publish the events (once), run the job until it acknowledged ``done`` events (or 10 s passed)
    and ``settle`` seconds more."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, 1)
    if publish:
        for event in EVENTS:
            await js.publish(f"{EVENTS_SUBJECT_PREFIX}.node-a.exec", event_bytes(event))
    status = JobStatus("archive", time.time())
    job = asyncio.ensure_future(ArchiveJob(definition, js, await ensure_bucket(js, PROGRESS_BUCKET), status).run())
    deadline = time.monotonic() + 10
    while status.done < done and time.monotonic() < deadline and not job.done():
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle)  # anything more it would write
    job.cancel()
    await asyncio.gather(job, return_exceptions=True)
    await nc.close()
    return status


def archived_numbers(path: Path) -> list[int]:
    return [int(json.loads(line)["process"]["exec_command_line"][1]) for line in path.read_text().splitlines()]


def test_events_written_but_not_acknowledged_before_a_move_are_not_written_again(
    server: NatsServer, tmp_path: Path
) -> None:
    directory = tmp_path / "archive"
    directory.mkdir()
    path = directory / "execs.jsonl"
    # The worker before wrote the first eight, was killed in the ninth's line, and acknowledged nothing.
    path.write_text(json_lines(EVENTS[:8]) + json_lines([EVENTS[8]])[:30])
    status = asyncio.run(run_until(server.url, archive_definition(directory), 12, publish=True))
    assert (status.done, status.backlog, status.error) == (12, 0, "")
    assert archived_numbers(path) == list(range(1, 21))  # each once, in order, no partial line

    # Moved again, from the acknowledged progress: nothing more to write.
    again = asyncio.run(run_until(server.url, archive_definition(directory), 12, publish=False, settle=1.5))
    assert again.done == 12
    assert archived_numbers(path) == list(range(1, 21))

"""What the jobs keep in the engine survives its encoding; a bad job name is refused."""

from __future__ import annotations

import pytest

from sensor.fleet.jobs.records import (
    Assignment,
    JobDefinition,
    JobProgress,
    JobStatus,
    WorkerHeartbeat,
    check_job_name,
)


def test_every_record_survives_its_encoding() -> None:
    definition = JobDefinition("execs", "languages", 12.5, {"ttl_s": 60.0})
    assert JobDefinition.decode(definition.encode()) == definition
    assert definition.languages().ttl_s == 60.0
    assert Assignment.decode(Assignment("execs", "w1", 3.0).encode()) == Assignment("execs", "w1", 3.0)
    assert JobProgress.decode(JobProgress(41, 40, 9.0).encode()) == JobProgress(41, 40, 9.0)
    beat = WorkerHeartbeat("w1", "h", 7, "1.0", 1.0, 2.0, 10.0, 30.0, True, False, {"execs": JobStatus("archive", 1.5)})
    assert WorkerHeartbeat.decode(beat.encode()) == beat


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[1]",
        b'{"name": "w1"}',
        b'{"name":"w1","host":"h","pid":1,"version":"",'
        b'"started_at":0,"at":0,"heartbeat_s":1,"expiry_s":3,"jobs":{"j":{"kind":1,"x":2}}}',
    ],
)
def test_a_heartbeat_this_version_cannot_read_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a worker heartbeat"):
        WorkerHeartbeat.decode(raw)


@pytest.mark.parametrize("name", ["", "a.b", "a b", "x" * 65, "*"])
def test_a_job_name_that_cannot_be_a_key_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a job"):
        check_job_name(name)
    assert check_job_name("root-execs_2") == "root-execs_2"

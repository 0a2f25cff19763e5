"""The file sink on a real file system: lines cut to the file's size, rotated names that sort by time,
backups pruned (a full disk: tests/e2e/test_export_file.py)."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sensor.export.exporter import ExportStats
from sensor.export.json_file import ExportFileError, FileExportConfig, JsonLinesFile, backups_of, rotated_name
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from tests.telemetry.samples import event


def lost_event(count: int, stage: str) -> TelemetryEvent:
    return event(LostPayload(lost=count, stage=stage))


def execs(count: int) -> list[TelemetryEvent]:
    return [event(ProcessPayload(ProcessEventType.EXEC, exec_filename=f"/bin/{i}")) for i in range(count)]


def test_rotated_names_sort_by_time_beside_the_file() -> None:
    at = datetime(2026, 12, 7, 9, 5, 3, 120, tzinfo=timezone.utc)
    assert rotated_name(Path("/var/log/events.jsonl"), at) == Path("/var/log/events-20261207T090503.000120.jsonl")


def test_backups_are_listed_oldest_first_compressed_or_not(tmp_path: Path) -> None:
    names = ["events-20261207T090503.000002.jsonl.gz", "events-20261207T090503.000001.jsonl", "other-1.jsonl"]
    for name in names:
        (tmp_path / name).touch()
    assert [p.name for p in backups_of(tmp_path / "events.jsonl")] == names[1::-1]


def test_each_file_holds_whole_lines_within_its_size(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesFile(FileExportConfig(path, max_bytes=4096, backups=100, compress=False), lost_event)
    sink.write(execs(40))  # one batch of about 40 KB
    sink.close(10)
    files = [*backups_of(path), path]
    assert len(files) > 5
    for f in files:
        assert 0 < f.stat().st_size <= 4096
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert [e["process"]["exec_filename"] for e in lines] == [f"/bin/{i}" for i in range(40)]
    stats = ExportStats("file", str(path))
    sink.fill(stats)
    assert (stats.sent, stats.lost) == (40, 0)


def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesFile(FileExportConfig(path, max_bytes=2048, backups=2), lost_event)
    for _ in range(10):
        sink.write(execs(2))
    sink.close(10)
    kept = backups_of(path)
    assert len(kept) == 2 and all(p.name.endswith(".jsonl.gz") for p in kept)


def test_a_path_in_a_missing_directory_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ExportFileError, match="does not exist"):
        FileExportConfig(tmp_path / "nope" / "events.jsonl").check()
    with pytest.raises(ExportFileError, match="is a directory"):
        FileExportConfig(tmp_path).check()


def test_a_file_that_cannot_be_rotated_goes_on_growing_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.touch()
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)  # a mount point: rename() says EBUSY
    try:
        sink = JsonLinesFile(FileExportConfig(path, max_bytes=4096), lost_event)
        sink.write(execs(40))
        sink.close(10)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
    finally:
        subprocess.run(["umount", str(path)], check=True)
    assert [e["process"]["exec_filename"] for e in lines] == [f"/bin/{i}" for i in range(40)]
    assert backups_of(path) == []
    stats = ExportStats("file", str(path))
    sink.fill(stats)
    assert (stats.sent, stats.lost) == (40, 0)

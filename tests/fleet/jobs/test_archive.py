"""The archive's files: a cut-short last line is cut, the last ids are read back across rotations,
and a refused write raises instead of losing."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from sensor.export.json_file import FileExportConfig, JsonLinesFile
from sensor.fleet.jobs.archive import ArchiveFiles, truncate_partial_line
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload


def events(first: int, count: int) -> list[TelemetryEvent]:
    return [
        TelemetryEvent("s", n, n, ProcessPayload(ProcessEventType.EXEC), command_line=["x" * 40])
        for n in range(first, first + count)
    ]


def test_a_last_line_without_its_newline_is_cut_and_whole_lines_stay(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id":"1"}\n{"id":"2"}\n{"id":')
    assert truncate_partial_line(path) == 6
    assert path.read_bytes() == b'{"id":"1"}\n{"id":"2"}\n'
    assert truncate_partial_line(path) == 0
    path.write_bytes(b'{"id"')
    assert truncate_partial_line(path) == 5
    assert path.read_bytes() == b""
    assert truncate_partial_line(tmp_path / "none.jsonl") == 0


def test_the_ids_last_written_are_read_back_from_the_file_and_its_rotated_ones(tmp_path: Path) -> None:
    files = ArchiveFiles(tmp_path / "archive", "execs", max_bytes=4096)
    written = events(1, 40)
    for start in range(0, 40, 5):
        files.write(written[start : start + 5])
    files.close()  # the compressions finished
    assert any(p.suffix == ".gz" for p in (tmp_path / "archive").iterdir())  # it rotated
    assert files.recent_ids(12) == {e.id for e in written[-12:]}
    assert files.recent_ids(1000) == {e.id for e in written}
    lines = [
        json.loads(line)["id"]
        for path in sorted((tmp_path / "archive").iterdir())
        for line in (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).splitlines()
    ]
    assert sorted(lines) == sorted(e.id for e in written)  # every one kept, once


def test_an_archive_that_cannot_write_raises_and_counts_no_loss(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    sink = JsonLinesFile(FileExportConfig(path, lossless=True), lambda count, stage: events(0, 1)[0])
    sink.write(events(1, 2))
    os.close(sink._fd)
    sink._fd = os.open("/dev/full", os.O_WRONLY)  # a disk with no room
    with pytest.raises(OSError, match="ENOSPC"):
        sink.write(events(3, 2))
    assert sink._lost == 0
    assert len(path.read_bytes().splitlines()) == 2

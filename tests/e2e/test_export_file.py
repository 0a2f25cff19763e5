"""`sensor run --export-file`: the events of real processes in a file that rotates, compresses, reopens on
SIGHUP, and counts what a full file system refused, then resumes."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensor.api.v1 import service_pb2 as api
from tests.live_sensor import SENSOR
from tests.sensor_daemon import SensorDaemon, free_port, scrape, sock_path, stub


def marker() -> str:
    return f"mark-{uuid.uuid4().hex[:12]}"


def run_marked(mark: str, count: int) -> None:
    """``count`` execs of /bin/echo with ``mark`` in their argv, one after another."""
    subprocess.run(["/bin/sh", "-c", f'for i in $(seq {count}); do /bin/echo {mark} "$i" >/dev/null; done'], check=True)


def lines_of(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f]


def marked_execs(events: list[dict[str, Any]], mark: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e.get("process", {}).get("type") == "EXEC" and mark in e["process"].get("exec_command_line", [])
    ]


def wait_until(condition: Any, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.1)


def export_info(daemon_dir: Path) -> api.ExportInfo:
    info: api.GetInfoResponse = stub(f"unix:{sock_path(daemon_dir)}").GetInfo(api.GetInfoRequest(), timeout=10)
    (export,) = info.exports
    return export


def test_the_export_rotates_at_its_size_keeps_its_backups_gzipped_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    daemon = SensorDaemon(
        "--listen", f"unix://{sock_path(tmp_path)}", "--export-file", str(path),
        "--export-file-max-size", "32K", "--export-file-backups", "2", "--export-event", "exec",
    )  # fmt: skip
    try:
        mark = marker()
        run_marked(mark, 300)  # about 1.5 KB an exec event: some 450 KB, a dozen rotations

        def backups() -> list[Path]:
            return sorted(tmp_path.glob("events-*.jsonl.gz"))

        def last_written() -> int:
            """The highest marked exec in the file now ("sent" counts the host's other execs too)."""
            try:
                lines = lines_of(path)
            except (OSError, ValueError):  # not there yet, rotated away meanwhile, or a line being written
                return 0
            return max((int(e["process"]["exec_command_line"][2]) for e in marked_execs(lines, mark)), default=0)

        wait_until(lambda: last_written() == 300, what="the 300th exec written")
        wait_until(lambda: len(backups()) == 2 and not list(tmp_path.glob("events-*.jsonl")), what="gzip done")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for backup in backups():
            assert stat.S_IMODE(backup.stat().st_mode) == 0o600
            rotated = lines_of(backup)
            assert rotated, backup
            assert len(json.dumps(rotated)) < 2 * 32 * 1024  # cut at its size, give or take one batch
        # The newest backup and the file hold the end of the run, in order, each event once.
        kept = [e for f in [*backups(), path] for e in lines_of(f)]
        numbers = [int(e["process"]["exec_command_line"][2]) for e in marked_execs(kept, mark)]
        assert numbers == list(range(numbers[0], 301))
        assert numbers[0] > 1  # the oldest were rotated out: only two backups are kept
        assert export_info(tmp_path).lost == 0
    finally:
        assert daemon.stop() == 0


def test_sighup_reopens_the_file_after_logrotate_moved_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    daemon = SensorDaemon(
        "--listen", f"unix://{sock_path(tmp_path)}", "--export-file", str(path), "--export-event", "exec"
    )  # fmt: skip
    try:
        before, after = marker(), marker()
        run_marked(before, 3)
        wait_until(lambda: len(marked_execs(lines_of(path), before)) == 3, what="first events")
        moved = path.rename(tmp_path / "events.jsonl.1")
        daemon.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # the signal is taken before the next write
        run_marked(after, 3)
        wait_until(lambda: path.exists() and len(marked_execs(lines_of(path), after)) == 3, what="reopened")
        assert marked_execs(lines_of(moved), after) == []
        assert len(marked_execs(lines_of(moved), before)) == 3
        assert daemon.proc.poll() is None  # SIGHUP did not end it
    finally:
        assert daemon.stop() == 0


@pytest.fixture
def small_file_system(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def room_in_last_block(path: Path) -> int:
    """What the file can still grow by on a full file system: the rest of its last block (tmpfs hands
    out space by the page, its block size)."""
    return -path.stat().st_size % os.statvfs(path.parent).f_bsize


def pad_to_block_end(path: Path) -> None:
    """Fill the export file's last block (tmpfs's page) with lines the test ignores (``{}`` and spaces):
    in that room a line of the sensor's would still be written on a full file system (a CI run saw the
    error cleared by a write that fitted). Less than three bytes of room hold no line."""
    while (room := room_in_last_block(path)) >= 3:
        with path.open("a") as f:
            f.write("{}" + " " * (room - 3) + "\n")


def fill_leaving_no_room(filler: Path, path: Path) -> None:
    """Fill the file system with ``filler`` so that the export file cannot take another line: padded
    first, filled, and again if the sensor appended in between."""
    while True:
        pad_to_block_end(path)
        with filler.open("wb") as f, pytest.raises(OSError):  # ENOSPC
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        if room_in_last_block(path) < 3:
            return
        filler.unlink()


def test_a_full_file_system_is_counted_loss_said_in_the_file_and_writing_resumes(
    tmp_path: Path, small_file_system: Path
) -> None:
    path = small_file_system / "events.jsonl"
    port = free_port()
    daemon = SensorDaemon(
        "--listen", f"unix://{sock_path(tmp_path)}", "--export-file", str(path), "--export-event", "exec",
        "--metrics-listen", str(port),
    )  # fmt: skip
    filler = small_file_system / "filler"
    try:
        first, during, after = marker(), marker(), marker()
        run_marked(first, 2)
        wait_until(lambda: len(marked_execs(lines_of(path), first)) == 2, what="first events")
        fill_leaving_no_room(filler, path)
        run_marked(during, 20)
        wait_until(lambda: export_info(tmp_path).lost >= 20, what="loss counted")
        assert "ENOSPC" in export_info(tmp_path).error
        labels = (("destination", str(path)), ("export", "file"))
        metrics = scrape(port)
        assert metrics[("sensor_export_healthy", labels)] == 0
        assert metrics[("sensor_export_lost_total", labels)] >= 20
        filler.unlink()
        run_marked(after, 2)
        wait_until(lambda: len(marked_execs(lines_of(path), after)) == 2, what="writing again")
        events = lines_of(path)  # every line whole: json.loads took each
        assert marked_execs(events, during) == []
        (said,) = [e["lost"] for e in events if "lost" in e and e["lost"].get("stage") == "export"]
        assert int(said["lost"]) == export_info(tmp_path).lost
        assert export_info(tmp_path).error == ""
    finally:
        filler.unlink(missing_ok=True)
        assert daemon.stop() == 0


def test_an_unwritable_export_path_is_refused_at_start_saying_why(tmp_path: Path) -> None:
    args = ["run", "--listen", f"unix://{sock_path(tmp_path)}", "--export-file", str(tmp_path / "no/such.jsonl")]
    result = subprocess.run([*SENSOR, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"directory {tmp_path / 'no'} does not exist" in result.stderr

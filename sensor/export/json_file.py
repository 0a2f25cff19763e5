"""`--export-file`: events as JSON lines (as `sensor trace --format json` prints them) in a file that rotates.

Rotation by size and by interval renames the file to ``NAME-<UTC time>.EXT`` beside it, gzips it
in the background (``.EXT.gz``), and keeps the newest ``backups`` of them. The file is created
mode 0600 and reopened on :meth:`request_reopen` (SIGHUP, after logrotate moved it). A write the
file system refuses (full, read-only) is undone to the last whole line and its events counted as
lost; the next write that succeeds is preceded by a ``lost`` event saying how many are missing.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sensor.export.exporter import ExportStats, LostEvent
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.json_lines import json_lines

DEFAULT_MAX_BYTES = 10 << 20
DEFAULT_BACKUPS = 5
MIN_FREE_BYTES = 1 << 20  # refused at start below this: the first rotation could not even happen
FILE_MODE = 0o600
log = logging.getLogger("sensor")


class ExportFileError(ValueError):
    """The export file cannot be written (said at start, before the probes load)."""


@dataclass(frozen=True, slots=True)
class FileExportConfig:
    """Where and how to rotate."""

    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    rotate_interval_s: float = 0.0  # 0: by size only
    backups: int = DEFAULT_BACKUPS
    compress: bool = True
    lossless: bool = False  # a refused write raises (its writer writes it again) instead of counting a loss

    def check(self) -> None:
        """Refuse a path that cannot be written now. Raises ExportFileError saying why."""
        path = self.path
        if path.is_dir():
            raise ExportFileError(f"--export-file {path} is a directory; name a file in it")
        if not path.parent.is_dir():
            raise ExportFileError(f"--export-file {path}: directory {path.parent} does not exist")
        try:
            fd = _open_to_append(path)
        except OSError as error:
            raise ExportFileError(f"--export-file {path}: cannot write it: {error.strerror}") from None
        try:
            space = os.fstatvfs(fd)
        finally:
            os.close(fd)
        free = space.f_bavail * space.f_frsize
        if free < MIN_FREE_BYTES:
            raise ExportFileError(
                f"--export-file {path}: its file system has {free} bytes free (needs at least {MIN_FREE_BYTES})"
            )


def _open_to_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)


def rotated_name(path: Path, at: datetime) -> Path:
    """Where ``path`` goes when rotated at ``at``: NAME-YYYYmmddTHHMMSS.ffffff.EXT (names sort by time)."""
    return path.with_name(f"{path.stem}-{at.strftime('%Y%m%dT%H%M%S.%f')}{path.suffix}")


def backups_of(path: Path) -> list[Path]:
    """The rotated files of ``path``, compressed or not, oldest first."""
    pattern = f"{path.stem}-*{path.suffix}"
    found = [*path.parent.glob(pattern), *path.parent.glob(pattern + ".gz")]
    return sorted(found, key=lambda p: p.name.removesuffix(".gz"))


def _gzip(plain: Path) -> None:
    packed = plain.with_name(plain.name + ".gz")
    try:
        with plain.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        os.chmod(packed, FILE_MODE)
    except OSError as error:
        packed.unlink(missing_ok=True)
        log.warning("export file: cannot compress %s (%s); kept uncompressed", plain, error.strerror)
        return
    plain.unlink()


class JsonLinesFile:
    """The file sink (see the module's docstring). Used by its export's thread alone, but for
    :meth:`request_reopen`, which any thread (a signal handler) may call."""

    name = "file"

    def __init__(self, config: FileExportConfig, lost_event: LostEvent) -> None:
        config.check()
        self.config = config
        self.destination = str(config.path)
        self._lost_event = lost_event
        self._fd = -1
        self._size = 0
        self._opened_at = 0.0
        self._reopen = threading.Event()
        self._sent = 0
        self._lost = 0
        self._unreported = 0  # lost since the last successful write: said in the file when it works again
        self.error = ""
        self._housekeeping: threading.Thread | None = None
        self._open()

    def _open(self) -> None:
        fd = _open_to_append(self.config.path)
        os.fchmod(fd, FILE_MODE)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        self._opened_at = time.monotonic()

    def _close_file(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def request_reopen(self) -> None:
        """Reopen the file before the next write (it was moved away, as logrotate does)."""
        self._reopen.set()

    def write(self, events: list[TelemetryEvent]) -> None:
        """Append the events' lines; on a refusal, undo the partial line and count the rest as lost
        (``lossless``: raise OSError; the lines before the refused one stay written)."""
        if self._reopen.is_set() or self._fd < 0:
            self._reopen.clear()
            if not self._try_reopen():
                if self.config.lossless:
                    raise OSError(self.error)
                self._count_lost(len(events))
                return
        data = json_lines(events).encode()
        said_loss = bool(self._unreported)  # the first line says what was lost before these events
        if said_loss:
            data = json_lines([self._lost_event(self._unreported, "export")]).encode() + data
        at = 0
        while at < len(data):
            piece = self._next_piece(data, at)
            if not self._write_whole(piece):
                if self.config.lossless:
                    raise OSError(self.error)
                lost = data.count(b"\n", at) - (1 if said_loss and at == 0 else 0)  # not the loss line
                self._count_lost(lost)
                self._sent += len(events) - lost
                return
            if self.error:
                lost = self._unreported
                log.warning("export file %s: writing again (%d events lost meanwhile)", self.destination, lost)
                self.error = ""
            self._unreported = 0
            at += len(piece)
        self._sent += len(events)

    def _next_piece(self, data: bytes, at: int) -> bytes:
        """The whole lines from ``at`` that fit in the file, rotating it first when not one does."""
        room = self.config.max_bytes - self._size
        if len(data) - at <= room:
            return data[at:]
        cut = data.rfind(b"\n", at, at + room) + 1
        if cut > at:
            return data[at:cut]
        if self._size and self._rotate():
            return self._next_piece(data, at)
        # One line longer than a whole file (alone in one), or a rotation that failed (over the size).
        return data[at : data.index(b"\n", at) + 1]

    def _write_whole(self, data: bytes) -> bool:
        start = self._size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            with contextlib.suppress(OSError):  # no partial line: the file ends where the last write ended
                os.ftruncate(self._fd, start)
            if not self.error:
                log.warning(
                    "export file %s: %s; counting events as lost until it can write", self.destination, error.strerror
                )
            self.error = f"{errno.errorcode.get(error.errno or 0, 'error')}: {error.strerror}"
            return False
        self._size = start + len(data)
        return True

    def sync(self) -> None:
        """Have what was written reach the disk (before it is acknowledged). Raises OSError."""
        if self._fd >= 0:
            os.fsync(self._fd)

    def _count_lost(self, count: int) -> None:
        self._lost += count
        self._unreported += count

    def _try_reopen(self) -> bool:
        self._close_file()
        try:
            self._open()
        except OSError as error:
            self.error = f"cannot reopen: {error.strerror}"
            return False
        return True

    def tick(self) -> None:
        """Rotate when the interval is spent (a file with something in it)."""
        interval = self.config.rotate_interval_s
        if interval and self._size and time.monotonic() - self._opened_at >= interval:
            self._rotate()

    def _rotate(self) -> bool:
        """Move the file aside and open a new one; False when it could not be moved (it goes on growing)."""
        self._close_file()
        target = rotated_name(self.config.path, datetime.now(timezone.utc))
        try:
            os.rename(self.config.path, target)
        except OSError as error:
            log.warning("export file %s: cannot rotate: %s", self.destination, error.strerror)
            self._try_reopen()
            return False
        self._after_rotation(target)
        return self._try_reopen()

    def _after_rotation(self, rotated: Path) -> None:
        """Compress the rotated file and drop the oldest backups, off this thread (gzip takes a while)."""
        if self._housekeeping is not None:
            self._housekeeping.join()  # one at a time: the pruning sees the last one's result
        work = threading.Thread(target=self._keep_backups, args=(rotated,), name="sensor-export-gzip", daemon=True)
        work.start()
        self._housekeeping = work

    def _keep_backups(self, rotated: Path) -> None:
        if self.config.compress:
            _gzip(rotated)
        for old in backups_of(self.config.path)[: -self.config.backups or None]:
            old.unlink(missing_ok=True)

    def close(self, timeout: float) -> None:
        """Close the file (waiting up to ``timeout`` for a compression under way)."""
        self._close_file()
        if self._housekeeping is not None:
            self._housekeeping.join(timeout)

    def fill(self, stats: ExportStats) -> None:
        """Its counters into ``stats``."""
        stats.sent += self._sent
        stats.lost += self._lost
        stats.error = self.error

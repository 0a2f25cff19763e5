"""Raw kernel records saved to a file (`sensor trace --record FILE`) and read back for replay.

The file is the records exactly as the ring buffer held them, each behind a little-endian u32
length, after a magic line. Replaying one drives the whole user-space pipeline (decode, caches,
events, filters, encoding) without the kernel: the benchmark's way of measuring it alone.
"""

from __future__ import annotations

import struct
from collections import deque
from pathlib import Path
from typing import BinaryIO

from sensor.kernel.ringbuf import BUSY_POLL_INTERVAL_MS, RecordReader

_MAGIC_PREFIX = b"sensor-records-v"
# The version names the record layout (bpf/sensor.h): v2 added the exec record's ns_tgid, v3 the
# creds record's supplementary groups.
MAGIC = _MAGIC_PREFIX + b"3\n"
_LENGTH = struct.Struct("<I")


class RecordingError(ValueError):
    """A file that is not a recording, or is cut short."""


class RecordingReader:
    """Passes another reader's records through, writing each batch to ``out`` as it goes."""

    def __init__(self, inner: RecordReader, out: BinaryIO) -> None:
        self._inner = inner
        self._out = out
        out.write(MAGIC)

    @property
    def lost(self) -> int:
        return self._inner.lost

    def fill(self) -> tuple[int, int] | None:
        return self._inner.fill()

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        records = self._inner.read(timeout_ms, busy_poll_ms)
        if records:
            pack = _LENGTH.pack
            self._out.write(b"".join(pack(len(r)) + r for r in records))
        return records

    def close(self) -> None:
        """Close the file; the inner reader belongs to whoever made it."""
        self._out.close()


def read_recording(path: Path) -> list[bytes]:
    """Every record of a recording, in order. Raises RecordingError, OSError."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        if data.startswith(_MAGIC_PREFIX):
            version = data[len(_MAGIC_PREFIX) : data.find(b"\n")].decode(errors="replace")
            raise RecordingError(
                f"{path} holds records of layout v{version}, this sensor reads {MAGIC.decode().strip()}:"
                " record it again with this version's `sensor trace --record`"
            )
        raise RecordingError(f"{path} is not a sensor recording (made by `sensor trace --record`)")
    records = []
    at = len(MAGIC)
    unpack = _LENGTH.unpack_from
    while at < len(data):
        if at + 4 > len(data):
            raise RecordingError(f"{path} is cut short at byte {at}")
        (length,) = unpack(data, at)
        at += 4
        if at + length > len(data):
            raise RecordingError(f"{path} is cut short at byte {at}: a record of {length} bytes")
        records.append(data[at : at + length])
        at += length
    return records


class ReplayReader:
    """Hands out recorded records ``batch`` at a time, as the ring buffer reader would."""

    def __init__(self, records: list[bytes], batch: int = 4096) -> None:
        self._batches: deque[list[bytes]] = deque()
        self.extend(records, batch)

    @property
    def lost(self) -> int:
        return 0

    def fill(self) -> None:
        return None

    def extend(self, records: list[bytes], batch: int = 4096) -> None:
        """Queue more records after those not yet handed out."""
        self._batches.extend(records[i : i + batch] for i in range(0, len(records), batch))

    @property
    def done(self) -> bool:
        """Whether every record has been handed out."""
        return not self._batches

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        return self._batches.popleft() if self._batches else []

    def close(self) -> None:
        self._batches.clear()

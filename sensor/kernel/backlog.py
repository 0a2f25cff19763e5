"""A thread that empties the kernel buffer into a bounded backlog in user space.

The pipeline's thread stalls now and then: a terminal or pipe that stops reading, a burst of large
exec records, a garbage collection. Measured here (two workers exec'ing with 16 000-byte arguments,
`sensor trace --format json` piped into a reader that paused 0.3 s every 2 000 lines): with the
buffer read by the pipeline's own thread, the 16 MiB ring overflowed and the kernel lost 2 820
records in 5 s. With this thread the records wait in memory instead, up to ``max_bytes``; past
that it stops taking them, and the kernel counts what it then loses, per hook.
"""

from __future__ import annotations

import threading
from collections import deque

from sensor.kernel.ringbuf import BUSY_POLL_INTERVAL_MS, RecordReader

DEFAULT_BACKLOG_BYTES = 256 * 1024 * 1024
MAX_RECORDS_PER_READ = 4096  # after a stall, the pipeline catches up in batches it can print as it goes
_LOOK_MS = 100  # the drain thread's longest wait in the reader: how soon close() is noticed


class BackloggedReader:
    """A :class:`RecordReader` whose records another reader's thread has already taken from the kernel."""

    def __init__(self, inner: RecordReader, max_bytes: int = DEFAULT_BACKLOG_BYTES) -> None:
        self._inner = inner
        self._max_bytes = max_bytes
        self._records: deque[bytes] = deque()
        self._bytes = 0
        self._peak_bytes = 0
        self._busy_poll_ms = BUSY_POLL_INTERVAL_MS
        self._stopping = False
        self._failure: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._drain, name="sensor-buffer-reader", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        inner = self._inner
        changed = self._changed
        try:
            while True:
                with changed:
                    while self._bytes >= self._max_bytes and not self._stopping:
                        changed.wait()  # full: the kernel holds (then counts) the rest
                    if self._stopping:
                        return
                    busy_poll_ms = self._busy_poll_ms
                self._keep(inner.read(_LOOK_MS, busy_poll_ms))
        except BaseException as error:  # handed to the pipeline's thread by read()
            with changed:
                self._failure = error
                changed.notify_all()

    def _keep(self, records: list[bytes]) -> None:
        if not records:
            return
        size = sum(map(len, records))
        with self._changed:
            self._records.extend(records)
            self._bytes += size
            self._peak_bytes = max(self._peak_bytes, self._bytes)
            self._changed.notify_all()

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        """The records taken so far, oldest first, at most MAX_RECORDS_PER_READ; when there are none,
        waits up to ``timeout_ms`` for some."""
        with self._changed:
            self._busy_poll_ms = busy_poll_ms
            if not self._records and timeout_ms > 0 and self._failure is None:
                self._changed.wait(timeout_ms / 1000)
            if self._failure is not None:
                raise self._failure
            held = self._records
            if len(held) <= MAX_RECORDS_PER_READ:
                records = list(held)
                held.clear()
                self._bytes = 0
            else:
                records = [held.popleft() for _ in range(MAX_RECORDS_PER_READ)]
                self._bytes -= sum(map(len, records))
            self._changed.notify_all()
        return records

    @property
    def lost(self) -> int:
        return self._inner.lost

    @property
    def peak_bytes(self) -> int:
        """The most the backlog has held at once."""
        return self._peak_bytes

    def fill(self) -> tuple[int, int] | None:
        return self._inner.fill()

    def stop(self) -> None:
        """Stop the thread and take what the kernel still holds: reads after this return the rest, then nothing."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join()
        while records := self._inner.read(0):
            self._keep(records)

    def close(self) -> None:
        """Stop the thread, then close the reader it drained."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join()
        self._inner.close()

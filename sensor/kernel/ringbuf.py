"""Readers that drain raw records from the kernel: BPF ring buffer, or perf buffer as the fallback.

The ring buffer is consumed directly from its memory mapping: one pass copies out every committed
record and then advances the consumer position once, with no per-record callback from C.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
import time
from typing import Any, Protocol

_BUSY = 1 << 31
_DISCARD = 1 << 30
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_KTIME = struct.Struct("<Q")  # sensor_header.ktime_ns, at offset 8 of every record


# The BPF side never wakes the ring buffer reader (see send() in bpf/process.bpf.c), and wakes a
# perf buffer reader only every PERF_WAKEUP_EVENTS records, so readers look on this timer: it
# bounds the delay from kernel to reader. While records keep coming the ring buffer reader looks
# more often (low latency under load); once quiet it backs off (little CPU when idle).
POLL_INTERVAL_MS = 5
BUSY_POLL_INTERVAL_MS = 1
BUSY_FOR_S = 0.1  # how long after the last record the reader stays on the busy interval


class RecordReader(Protocol):
    """Where raw records come from."""

    def read(self, timeout_ms: int) -> list[bytes]:
        """Records available now; when there are none, waits up to ``timeout_ms`` and looks again."""

    @property
    def lost(self) -> int:
        """Records the reader knows it lost (the kernel's own losses are counted there)."""

    def fill(self) -> tuple[int, int] | None:
        """(bytes waiting, capacity) of the buffer, where the transport can tell."""

    def close(self) -> None:
        """Release the mappings."""


class RingBufferReader:
    """Consumer of a ``BPF_MAP_TYPE_RINGBUF`` map through mmap (see kernel/bpf/ringbuf.c)."""

    def __init__(self, map_fd: int, data_size: int, batch_limit: int = 65536) -> None:
        if data_size & (data_size - 1):
            raise ValueError(f"ring buffer size {data_size} is not a power of two")
        page = mmap.PAGESIZE
        self._page = page
        self._mask = data_size - 1
        self._batch_limit = batch_limit
        self._busy_until = 0.0
        self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # The producer page, then the data pages mapped twice so a record that wraps reads contiguously.
        self._producer = mmap.mmap(map_fd, page + 2 * data_size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)

    @property
    def lost(self) -> int:
        return 0

    def fill(self) -> tuple[int, int]:
        waiting = _U64.unpack_from(self._producer, 0)[0] - _U64.unpack_from(self._consumer, 0)[0]
        return waiting, self._mask + 1

    def read(self, timeout_ms: int) -> list[bytes]:
        records = self._drain()
        if not records and timeout_ms > 0:
            busy = time.monotonic() < self._busy_until
            time.sleep(min(timeout_ms, BUSY_POLL_INTERVAL_MS if busy else POLL_INTERVAL_MS) / 1000)
            records = self._drain()
        if records:
            self._busy_until = time.monotonic() + BUSY_FOR_S
        return records

    def _drain(self) -> list[bytes]:
        consumer_pos = _U64.unpack_from(self._consumer, 0)[0]
        producer_pos = _U64.unpack_from(self._producer, 0)[0]
        data = self._producer
        page = self._page
        mask = self._mask
        unpack_u32 = _U32.unpack_from
        out: list[bytes] = []
        append = out.append
        limit = self._batch_limit
        while consumer_pos < producer_pos and len(out) < limit:
            at = page + (consumer_pos & mask)
            (length,) = unpack_u32(data, at)
            if length & _BUSY:
                break  # reserved, not yet committed: later records wait for it
            size = length & ~(_BUSY | _DISCARD)
            if not length & _DISCARD:
                append(data[at + 8 : at + 8 + size])
            consumer_pos += (size + 8 + 7) & ~7
        _U64.pack_into(self._consumer, 0, consumer_pos)
        return out

    def close(self) -> None:
        self._consumer.close()
        self._producer.close()


# A perf buffer wakes its reader every this many records (every record costs an interrupt).
PERF_WAKEUP_EVENTS = 64


class PerfBufferReader:
    """Per-CPU perf buffers through bcc; records are sorted by kernel time within each read."""

    def __init__(self, bpf: Any, table_name: str, page_count: int) -> None:
        self._bpf = bpf
        self._pending: list[bytes] = []
        self._lost = 0
        bpf[table_name].open_perf_buffer(
            self._on_record, page_cnt=page_count, lost_cb=self._on_lost, wakeup_events=PERF_WAKEUP_EVENTS
        )

    def _on_record(self, _cpu: int, data: int, size: int) -> None:
        self._pending.append(ctypes.string_at(data, size))

    def _on_lost(self, count: int) -> None:
        self._lost += count

    @property
    def lost(self) -> int:
        return self._lost

    def fill(self) -> None:
        return None  # per-CPU buffers whose positions bcc keeps to itself

    def read(self, timeout_ms: int) -> list[bytes]:
        self._bpf.perf_buffer_poll(timeout=min(timeout_ms, POLL_INTERVAL_MS))
        self._bpf.perf_buffer_consume()  # buffers below their wake-up mark too
        records, self._pending = self._pending, []
        # Each CPU has its own buffer: order the batch by time so a fork precedes its child's exec.
        records.sort(key=lambda r: _KTIME.unpack_from(r, 8)[0])
        return records

    def close(self) -> None:
        """bcc frees the perf buffers when the BPF object is cleaned up."""

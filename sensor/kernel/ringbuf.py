"""Readers that drain raw records from the kernel: BPF ring buffer, or perf buffer as the fallback.

The ring buffer is consumed directly from its memory mapping: one pass copies out every committed
record and then advances the consumer position once, with no per-record callback from C.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from typing import Protocol

from sensor.kernel.syscalls import map_update, open_bpf_output_event

_BUSY = 1 << 31
_DISCARD = 1 << 30
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_KTIME = struct.Struct("<Q")  # sensor_header.ktime_ns, at offset 8 of every record


# The BPF side never wakes the ring buffer reader (see send() in bpf/process.bpf.c), and wakes a
# perf buffer reader only every PERF_WAKEUP_EVENTS records, so readers look on this timer: it
# bounds the delay from kernel to reader. While records keep coming the ring buffer reader looks
# more often (low latency under load); once quiet it backs off (little CPU when idle). Each look
# costs a timer wake-up (30-80 us of CPU on a VM) and, under load, the pipeline's code and data
# coming back into caches the workload evicted: a live `sensor trace` under an exec storm spent
# 29 us of CPU per event looking every 4 ms and 21-24 us looking every 8-16 ms, where a replay of
# the same records, never sleeping, spends 10. So the busy interval is the caller's, per read:
# 1 ms where a subscriber wants each event at once, RELAXED_BUSY_POLL_MS where nobody is waiting.
POLL_INTERVAL_MS = 5
BUSY_POLL_INTERVAL_MS = 1
RELAXED_BUSY_POLL_MS = 16
BUSY_FOR_S = 0.1  # how long after the last record the reader stays on the busy interval


class RecordReader(Protocol):
    """Where raw records come from."""

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        """Records available now; when there are none, waits up to ``timeout_ms`` and looks again.

        ``busy_poll_ms``: where the transport is polled, the interval between looks while records
        have been coming, however fast they come (and at least that long once quiet).
        """

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
        self._last_look = 0.0
        self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # The producer page, then the data pages mapped twice so a record that wraps reads contiguously.
        self._producer = mmap.mmap(map_fd, page + 2 * data_size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)

    @property
    def lost(self) -> int:
        return 0

    def fill(self) -> tuple[int, int]:
        waiting = _U64.unpack_from(self._producer, 0)[0] - _U64.unpack_from(self._consumer, 0)[0]
        return waiting, self._mask + 1

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        now = time.monotonic()
        busy = now < self._busy_until
        if busy and timeout_ms > 0:
            # One look per interval however fast records come: each look is a wake-up and a cold
            # start, and a subscriber batching that long gets one batch per look (Hub.publish).
            pause = min(self._last_look + busy_poll_ms / 1000 - now, timeout_ms / 1000)
            if pause > 0:
                time.sleep(pause)
        records = self._drain()
        if not records and timeout_ms > 0:
            quiet_ms = max(POLL_INTERVAL_MS, busy_poll_ms)  # never looking more often when quiet than when busy
            time.sleep(min(timeout_ms, busy_poll_ms if busy else quiet_ms) / 1000)
            records = self._drain()
        self._last_look = time.monotonic()
        if records:
            self._busy_until = self._last_look + BUSY_FOR_S
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
_PERF_RECORD_LOST = 2
_PERF_RECORD_SAMPLE = 9
_PERF_HEADER = struct.Struct("<IHH")  # struct perf_event_header: type, misc, size
_DATA_HEAD = 1024  # offsets in struct perf_event_mmap_page
_DATA_TAIL = 1032


class PerfBufferReader:
    """Per-CPU perf buffers behind a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY``, read from their mappings.

    Records are sorted by kernel time within each read: each CPU has its own buffer, and a fork
    must precede its child's exec.
    """

    def __init__(self, map_fd: int, cpus: list[int], page_count: int) -> None:
        self._lost = 0
        self._page = mmap.PAGESIZE
        self._mask = page_count * self._page - 1
        self._fds: list[int] = []
        self._rings: list[mmap.mmap] = []
        try:
            for cpu in cpus:
                fd = open_bpf_output_event(cpu, PERF_WAKEUP_EVENTS)
                self._fds.append(fd)
                self._rings.append(mmap.mmap(fd, self._page + self._mask + 1, mmap.MAP_SHARED))
                map_update(map_fd, _U32.pack(cpu), _U32.pack(fd))
        except BaseException:
            self.close()
            raise

    @property
    def lost(self) -> int:
        return self._lost

    def fill(self) -> None:
        return None  # several buffers: no one figure

    def read(self, timeout_ms: int, busy_poll_ms: int = BUSY_POLL_INTERVAL_MS) -> list[bytes]:
        # No busy interval: the kernel wakes a perf buffer reader every PERF_WAKEUP_EVENTS records.
        records = self._drain()
        if not records and timeout_ms > 0:
            time.sleep(min(timeout_ms, POLL_INTERVAL_MS) / 1000)
            records = self._drain()
        records.sort(key=lambda r: _KTIME.unpack_from(r, 8)[0])
        return records

    def _drain(self) -> list[bytes]:
        out: list[bytes] = []
        for ring in self._rings:
            head = _U64.unpack_from(ring, _DATA_HEAD)[0]
            tail = _U64.unpack_from(ring, _DATA_TAIL)[0]
            while tail < head:
                kind, _misc, size = _PERF_HEADER.unpack(self._copy(ring, tail, 8))
                if kind == _PERF_RECORD_SAMPLE:
                    (raw_size,) = _U32.unpack(self._copy(ring, tail + 8, 4))
                    out.append(self._copy(ring, tail + 12, raw_size))
                elif kind == _PERF_RECORD_LOST:
                    self._lost += _U64.unpack(self._copy(ring, tail + 16, 8))[0]
                tail += size
            _U64.pack_into(ring, _DATA_TAIL, tail)
        return out

    def _copy(self, ring: mmap.mmap, position: int, size: int) -> bytes:
        """``size`` bytes from ``position`` of a ring whose data is mapped once: a record may wrap."""
        start = self._page + (position & self._mask)
        end = start + size
        limit = self._page + self._mask + 1
        if end <= limit:
            return ring[start:end]
        return ring[start:limit] + ring[self._page : self._page + end - limit]

    def close(self) -> None:
        for ring in self._rings:
            ring.close()
        for fd in self._fds:
            os.close(fd)
        self._rings.clear()
        self._fds.clear()

"""The in-process pipeline: kernel probes -> records -> ProcessInfoCache -> TelemetryEvents.

One thread drives it by calling :meth:`Capture.poll`. Records that arrive while /proc is scanned
at start-up wait in the kernel buffer and are replayed after the scan, so nothing is missed
between the snapshot and the live stream.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.features import (
    Backend,
    HookChoice,
    KernelFeatureError,
    KernelFeatures,
    check_required,
    choose_backends,
    probe_kernel,
)
from sensor.kernel.loader import DEFAULT_BUFFER_BYTES, HookCounters, LoadedProbes
from sensor.kernel.records import DecodeError, Hook, decode
from sensor.model.process_cache import DEFAULT_CAPACITY, DEFAULT_EXIT_GRACE_NS, ProcessInfoCache
from sensor.model.procfs import read_boot_id, scan_processes
from sensor.telemetry.builder import EventBuilder, default_sensor_id, kind_of
from sensor.telemetry.events import EventKind, TelemetryEvent

COUNTER_CHECK_NS = 1_000_000_000


@dataclass(slots=True)
class CaptureConfig:
    """How to capture: transport, buffer size, cache bounds."""

    transport: Backend | None = None
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    exit_grace_ns: int = DEFAULT_EXIT_GRACE_NS
    cache_capacity: int = DEFAULT_CAPACITY
    sensor_id: str = ""


@dataclass(slots=True)
class LossReport:
    """Records sent and lost at each stage since start."""

    kernel: dict[Hook, HookCounters] = field(default_factory=dict)
    reader_lost: int = 0
    decode_errors: int = 0
    records_read: int = 0

    @property
    def kernel_lost(self) -> int:
        """Records the kernel could not put in the buffer."""
        return sum(c.lost for c in self.kernel.values())


class Capture:
    """Probes attached and a live ProcessInfoCache; :meth:`poll` yields events."""

    def __init__(self, config: CaptureConfig | None = None) -> None:
        self.config = config or CaptureConfig()
        self.features: KernelFeatures
        self.choices: list[HookChoice]
        self.cache: ProcessInfoCache
        self._probes: LoadedProbes | None = None
        self._builder: EventBuilder
        self._decode_errors = 0
        self._records_read = 0
        self._reported: dict[tuple[str, str], int] = {}
        self._next_counter_check = 0

    def start(self) -> None:
        """Probe the kernel, attach the programs, then scan /proc. Raises KernelFeatureError."""
        try:
            btf = Btf.load()
        except BtfError as error:
            raise KernelFeatureError(str(error)) from None
        self.features = probe_kernel(btf)
        self.choices = choose_backends(self.features, self.config.transport)
        check_required(self.choices, self.features)
        boot_id = read_boot_id()
        self.cache = ProcessInfoCache(
            boot_id, exit_grace_ns=self.config.exit_grace_ns, capacity=self.config.cache_capacity
        )
        self._builder = EventBuilder(self.config.sensor_id or default_sensor_id(boot_id), self.cache)
        # Attach first, scan second: whatever happens during the scan is queued in the kernel buffer.
        self._probes = LoadedProbes(self.choices, btf=btf, buffer_bytes=self.config.buffer_bytes)
        self.cache.load_snapshot(scan_processes())

    @property
    def sensor_id(self) -> str:
        """This sensor's id, on every event."""
        return self._builder.sensor_id

    def poll(self, timeout_ms: int, kinds: Collection[EventKind] | None = None) -> list[TelemetryEvent]:
        """Read what the kernel sent (waiting up to ``timeout_ms``), update the model, return events.

        Every record updates the cache; events are built only for ``kinds`` (all when None).
        """
        assert self._probes is not None, "start() first"
        raw = self._probes.reader.read(timeout_ms)
        self._records_read += len(raw)
        events: list[TelemetryEvent] = []
        cache = self.cache
        builder = self._builder
        for buf in raw:
            try:
                record = decode(buf)
            except DecodeError:
                self._decode_errors += 1
                continue
            info = cache.apply(record)
            if kinds is None or kind_of(record) in kinds:
                events.append(builder.build(record, info))
        now = time.monotonic_ns()
        if now >= self._next_counter_check:
            self._next_counter_check = now + COUNTER_CHECK_NS
            cache.expire(now)
            if kinds is None or EventKind.LOST in kinds:
                events.extend(self._lost_events(now))
        return events

    def _lost_events(self, now: int) -> list[TelemetryEvent]:
        """A `lost` event for each stage and hook whose loss grew since the last check."""
        report = self.loss()
        totals = {("kernel", hook.name.lower()): c.lost for hook, c in report.kernel.items()}
        totals[("reader", "")] = report.reader_lost + report.decode_errors
        events = []
        for key, total in totals.items():
            new = total - self._reported.get(key, 0)
            if new > 0:
                self._reported[key] = total
                events.append(self._builder.lost(new, key[0], key[1], now))
        return events

    def loss(self) -> LossReport:
        """What was sent and lost at each stage so far."""
        assert self._probes is not None, "start() first"
        return LossReport(
            kernel=self._probes.counters(),
            reader_lost=self._probes.reader.lost,
            decode_errors=self._decode_errors,
            records_read=self._records_read,
        )

    def close(self) -> None:
        """Detach the probes."""
        if self._probes is not None:
            self._probes.close()
            self._probes = None

"""The in-process pipeline: kernel probes -> records -> ProcessInfoCache, ContainerCache -> TelemetryEvents.

One thread drives it by calling :meth:`Capture.poll`. Records that arrive while /proc and the
cgroup tree are scanned at start-up wait in the kernel buffer and are replayed after the scan, so
nothing is missed between the snapshot and the live stream.

Its parts, each in a module of its own: the probes and their reader (sensor.kernel.loader,
sensor.kernel.backlog), the containers' lifecycle (sensor.telemetry.container_watch), and the hold
where events from a container whose runtime metadata is still being looked up wait (at most
``metadata_wait_ns``, in order) so that they go out with the container's name and image
(sensor.telemetry.metadata_hold). Capture sets them up, runs the loop over records and counts loss.
"""

from __future__ import annotations

import gc
import logging
import socket
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sensor.kernel.backlog import BackloggedReader
from sensor.kernel.bpf_stats import ProgramRunStats
from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.cgroupfs import CgroupHierarchy, cgroup_path_of, detect_hierarchy, scan_cgroups
from sensor.kernel.compiler import DEFAULT_CACHE_DIR
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
from sensor.kernel.privileges import check_privileges
from sensor.kernel.recording import RecordingReader
from sensor.kernel.records import CgroupRecord, DecodeError, ExecRecord, Hook, decode
from sensor.kernel.ringbuf import RELAXED_BUSY_POLL_MS, RecordReader
from sensor.model.container_cache import ContainerCache, ContainerChange
from sensor.model.language import LANGUAGE_NAMES, LanguageDetector
from sensor.model.process_cache import DEFAULT_CAPACITY, DEFAULT_EXIT_GRACE_NS, CacheStats, ProcessInfoCache
from sensor.model.procfs import read_boot_id, scan_processes
from sensor.model.runtime.docker import DEFAULT_DOCKER_SOCKETS
from sensor.model.runtime.resolver import MetadataResolver
from sensor.telemetry.builder import EventBuilder, add_container_context, default_sensor_id
from sensor.telemetry.container_watch import ContainerWatcher
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.registry import KIND_OF_HOOK, record_kind
from sensor.telemetry.metadata_hold import MetadataHold, Pending

COUNTER_CHECK_NS = 1_000_000_000
DEFAULT_METADATA_WAIT_NS = 250_000_000
GC_YOUNG_THRESHOLD = 20_000  # allocations between scans of the young generation (Python's default: 700)
log = logging.getLogger("sensor")


def settle_heap() -> None:
    """Once started: leave what start-up loaded out of the cyclic GC's scans, and scan the young less often.

    Each event allocates a few short-lived objects that reference counting frees. At Python's
    default threshold the collector ran about every 70 events and each run walked the young
    objects: about a tenth of the pipeline's CPU on replay. Frozen objects are still freed by
    reference counting; only the cycle collector stops looking at them.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


@dataclass(slots=True)
class CaptureConfig:
    """How to capture: transport, buffer size, cache bounds."""

    transport: Backend | None = None
    task_reads: Backend | None = None  # how probes read the current task's structs; None: the best available
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    exit_grace_ns: int = DEFAULT_EXIT_GRACE_NS
    cache_capacity: int = DEFAULT_CAPACITY
    sensor_id: str = ""
    node_name: str = field(default_factory=socket.gethostname)  # on every event
    docker_sockets: tuple[str, ...] = DEFAULT_DOCKER_SOCKETS
    metadata_wait_ns: int = DEFAULT_METADATA_WAIT_NS
    cgroup_v1: bool = False  # watch a v1 controller's hierarchy even where the unified one is mounted
    record_path: str = ""  # also write every raw record read to this file (`sensor trace --record`)
    bpf_cache_dir: Path = DEFAULT_CACHE_DIR  # compiled BPF programs, one object per source and kernel
    file_events: bool = True  # attach the file hooks (every system call's exit runs them)
    network_events: bool = True  # attach the network hooks (every system call's exit runs them too)
    # Read-only opens the kernel sends, by absolute path prefix (b"/": all); the rest it counts as filtered.
    read_prefixes: frozenset[bytes] = frozenset()


@dataclass(slots=True)
class LossReport:
    """Records sent and lost at each stage since start."""

    kernel: dict[Hook, HookCounters] = field(default_factory=dict)
    reader_lost: int = 0
    decode_errors: int = 0
    records_read: int = 0
    container_events: int = 0  # events that went out from inside a container
    without_container_metadata: int = 0  # ... of which without its name and image

    @property
    def kernel_lost(self) -> int:
        """Records the kernel could not put in the buffer."""
        return sum(c.lost for c in self.kernel.values())

    @property
    def kernel_filtered(self) -> int:
        """Records an in-kernel filter left out on purpose (read-only opens nobody asked for)."""
        return sum(c.filtered for c in self.kernel.values())


@dataclass(slots=True)
class CaptureStats:
    """Everything the capture counts, for metrics: loss, cache sizes, buffer fill, BPF run time."""

    loss: LossReport
    processes: CacheStats
    containers: int
    buffer_fill: tuple[int, int] | None  # (bytes waiting, capacity); None for per-CPU perf buffers
    programs: list[ProgramRunStats]
    runtime_errors: dict[str, int]  # runtime socket -> failed requests


class Capture:
    """Probes attached, live process and container caches; :meth:`poll` yields events.

    Given a ``replay`` reader (recorded records), nothing is attached and /proc is not read: the
    same pipeline runs on the recording alone, as the benchmark measures it.
    """

    def __init__(self, config: CaptureConfig | None = None, replay: RecordReader | None = None) -> None:
        self.config = config or CaptureConfig()
        self._replay = replay
        self.features: KernelFeatures
        self.choices: list[HookChoice]
        self.hierarchy: CgroupHierarchy
        self.cache: ProcessInfoCache
        self._watcher: ContainerWatcher
        self._languages = LanguageDetector(read_binaries=replay is None)
        self._resolver = MetadataResolver(
            self.config.docker_sockets,
            warn=log.warning,
            warn_if_missing=self.config.docker_sockets != DEFAULT_DOCKER_SOCKETS,
        )
        self._probes: LoadedProbes | None = None
        self._reader: RecordReader | None = None
        # How often the ring buffer is read while records come. Relaxed unless someone waits (the
        # daemon's pipeline thread sets it from its subscribers): each look is a timer wake-up and
        # a cold start of the pipeline, measured in sensor/kernel/ringbuf.py.
        self.busy_poll_ms = RELAXED_BUSY_POLL_MS
        self._builder: EventBuilder
        self._decode_errors = 0
        self._records_read = 0
        self._reported: dict[tuple[str, str], int] = {}
        self._next_counter_check = 0
        self._hold = MetadataHold(self.config.metadata_wait_ns)

    def start(self) -> None:
        """Probe the kernel, attach the programs, then scan /proc and the cgroups.

        Raises PermissionError (not root, no BPF capabilities), KernelFeatureError, ValueError.
        """
        if self._replay is not None:
            self._start_replay(self._replay)
            return
        check_privileges()
        recording = self._open_recording()  # before anything is loaded: a bad path costs nothing
        try:
            btf = Btf.load()
        except BtfError as error:
            raise KernelFeatureError(str(error)) from None
        self.features = probe_kernel(btf)
        self.choices = choose_backends(
            self.features,
            self.config.transport,
            self.config.task_reads,
            files=self.config.file_events,
            network=self.config.network_events,
        )
        check_required(self.choices, self.features)
        self._make_model(read_proc=True)
        # Attach first, scan second: whatever happens during the scan is queued in the kernel buffer.
        self._probes = LoadedProbes(
            self.choices,
            btf=btf,
            buffer_bytes=self.config.buffer_bytes,
            hierarchy=self.hierarchy,
            cache_dir=self.config.bpf_cache_dir,
            exit_group_dead_arg=self.features.exit_group_dead_arg,
        )
        self._probes.set_read_opens(self.config.read_prefixes)
        reader: RecordReader = self._probes.reader
        if recording is not None:
            reader = RecordingReader(reader, recording)
        self._reader = BackloggedReader(reader)
        self.cache.load_snapshot(scan_processes())
        self._load_container_snapshot()
        self._resolver.start()

    def _open_recording(self) -> BinaryIO | None:
        """The file ``record_path`` names, opened for writing. Raises ValueError saying why it cannot be."""
        if not self.config.record_path:
            return None
        try:
            return open(self.config.record_path, "wb")
        except OSError as error:
            raise ValueError(f"cannot record to {self.config.record_path}: {error.strerror}") from None

    def _make_model(self, read_proc: bool) -> None:
        """The cgroup hierarchy to watch, the empty process cache, and the event builder."""
        self.hierarchy = detect_hierarchy(prefer_v1=self.config.cgroup_v1)
        self._watcher = ContainerWatcher(self.hierarchy, self._resolver)
        boot_id = read_boot_id()
        self.cache = ProcessInfoCache(
            boot_id,
            exit_grace_ns=self.config.exit_grace_ns,
            capacity=self.config.cache_capacity,
            read_proc=read_proc,
        )
        sensor_id = self.config.sensor_id or default_sensor_id(boot_id)
        self._builder = EventBuilder(sensor_id, self.cache, self.config.node_name)

    def _start_replay(self, reader: RecordReader) -> None:
        self.choices = []
        self._make_model(read_proc=False)  # the recorded processes are gone: /proc knows nothing of them
        self._reader = reader
        self.containers.load_snapshot(scan_cgroups(self.hierarchy), set(), {})  # no runtime to ask

    def _load_container_snapshot(self) -> None:
        cgroups = scan_cgroups(self.hierarchy)
        id_of_path = {path: cgroup_id for cgroup_id, path in cgroups.items()}
        populated = set()
        for info in self.cache.processes():
            path = cgroup_path_of(info.pid, self.hierarchy)
            if path is not None and path in id_of_path:
                info.cgroup_id = id_of_path[path]
                populated.add(info.cgroup_id)
            info.language = LANGUAGE_NAMES[self._languages.detect(info.pid, info.cgroup_id, info.filename, info.argv)]
        self._watcher.load_snapshot(cgroups, populated)

    def missing_kinds(self, kinds: Collection[EventKind]) -> list[str]:
        """Why each of ``kinds`` whose hooks are not attached (not asked for, or missing from this
        kernel) can have no events, one line each, in EventKind order; empty when every one can."""
        why = {
            kind: f"{choice.hook}: {choice.reason}"
            for choice in self.choices
            if choice.backend is Backend.NONE and (kind := KIND_OF_HOOK.get(choice.hook)) is not None
        }
        return [f"{kind.value} events: {why[kind]}" for kind in EventKind if kind in why and kind in kinds]

    @property
    def containers(self) -> ContainerCache:
        """The containers the sensor knows (read them on the pipeline's thread)."""
        return self._watcher.containers

    @property
    def sensor_id(self) -> str:
        """This sensor's id, on every event."""
        return self._builder.sensor_id

    @property
    def node_name(self) -> str:
        """The name of the node this sensor runs on, on every event."""
        return self._builder.node_name

    def set_read_prefixes(self, prefixes: frozenset[bytes]) -> None:
        """Which read-only opens the kernel sends from now on (the subscribers' prefixes changed)."""
        if prefixes != self.config.read_prefixes:
            self.config.read_prefixes = prefixes
            if self._probes is not None:
                self._probes.set_read_opens(prefixes)

    def lost_event(self, count: int, stage: str) -> TelemetryEvent:
        """A `lost` event for a later stage (the hub, a subscriber); safe from any thread."""
        return self._builder.lost(count, stage, "", time.monotonic_ns())

    def ticker_event(self) -> TelemetryEvent:
        """A heartbeat event for a subscription that asked for ticks; safe from any thread."""
        return self._builder.ticker(time.monotonic_ns(), time.time_ns())

    def snapshot(self) -> list[TelemetryEvent]:
        """The world as it is now, as events marked ``snapshot``: each container, then each live process."""
        now = time.monotonic_ns()
        events = []
        for change in self.containers.snapshot_changes(now):
            event = self._builder.container(change, snapshot=True)
            add_container_context(event, change.container)
            events.append(event)
        for info in self.cache.processes():
            if not info.alive:
                continue
            container = self.containers.container_of(info.cgroup_id)
            event = self._builder.existing_process(info, container, now)
            if container is not None:
                add_container_context(event, container)
            events.append(event)
        return events

    def poll(self, timeout_ms: int, kinds: Collection[EventKind] | None = None) -> list[TelemetryEvent]:
        """Read what the kernel sent (waiting up to ``timeout_ms``), update the models, return events.

        Every record updates the caches; events are built only for ``kinds`` (all when None).
        """
        assert self._reader is not None, "start() first"
        raw = self._reader.read(timeout_ms, self.busy_poll_ms)
        self._records_read += len(raw)
        pending: list[Pending] = []
        cache = self.cache
        watcher = self._watcher
        builder = self._builder
        want_containers = kinds is None or EventKind.CONTAINER in kinds
        for buf in raw:
            try:
                record = decode(buf)
            except DecodeError:
                self._decode_errors += 1
                continue
            if type(record) is CgroupRecord:
                self._changes(watcher.cgroup_changed(record), pending, want_containers)
                continue
            info = cache.apply(record)
            container = watcher.container_of(record)
            if type(record) is ExecRecord:
                language = self._languages.detect(record.tgid, record.cgroup_id, info.filename, info.argv)
                info.language = LANGUAGE_NAMES[language]
            if container is not None:
                self._changes(watcher.process_record(container, record), pending, want_containers)
            if kinds is None or record_kind(record) in kinds:
                pending.append((builder.build(record, info, container), container))
        now = time.monotonic_ns()
        self._changes(watcher.runtime_answers(now), pending, want_containers)
        events = self._hold.release(pending, now)
        if now >= self._next_counter_check:
            self._next_counter_check = now + COUNTER_CHECK_NS
            cache.expire(now)
            watcher.forget_unnamed_cgroups(now)
            if kinds is None or EventKind.LOST in kinds:
                events.extend(self._lost_events(now))
        return events

    def flush(self) -> list[TelemetryEvent]:
        """Every event still waiting for metadata, as it is (at shutdown)."""
        return self._hold.release([], None)

    def finish(self, kinds: Collection[EventKind] | None = None) -> Iterator[list[TelemetryEvent]]:
        """At a stop: the events of every record the kernel sent before it, in batches, then the held ones.

        Nothing the kernel counted as sent is left unread, so the loss summary adds up.
        """
        if isinstance(self._reader, BackloggedReader):
            self._reader.stop()
        while True:
            read_before = self._records_read
            events = self.poll(0, kinds)
            if events:
                yield events
            if self._records_read == read_before:
                break
        yield self.flush()

    def _changes(self, changes: list[ContainerChange], pending: list[Pending], wanted: bool) -> None:
        if wanted:
            for change in changes:
                pending.append((self._builder.container(change), change.container))

    def _lost_events(self, now: int) -> list[TelemetryEvent]:
        """A `lost` event for each stage and hook whose loss grew since the last check."""
        report = self.loss()
        totals = {("kernel", hook.label): c.lost for hook, c in report.kernel.items()}
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
        assert self._reader is not None, "start() first"
        return LossReport(
            kernel=self._probes.counters() if self._probes is not None else {},
            reader_lost=self._reader.lost,
            decode_errors=self._decode_errors,
            records_read=self._records_read,
            container_events=self._hold.container_events,
            without_container_metadata=self._hold.without_metadata,
        )

    def stats(self) -> CaptureStats:
        """The counters and gauges of every stage of the capture (call on the pipeline's thread)."""
        assert self._reader is not None, "start() first"
        return CaptureStats(
            loss=self.loss(),
            processes=self.cache.stats(),
            containers=len(self.containers),
            buffer_fill=self._reader.fill(),
            programs=self._probes.program_stats() if self._probes is not None else [],
            runtime_errors=self._resolver.errors(),
        )

    def close(self) -> None:
        """Detach the probes and stop asking the runtimes."""
        self._resolver.stop()
        if self._reader is not None and (self._probes is None or self._reader is not self._probes.reader):
            self._reader.close()  # the backlog's thread, a recording's file, or a replay
        self._reader = None
        if self._probes is not None:
            self._probes.close()
            self._probes = None

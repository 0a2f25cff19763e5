"""Prometheus metrics of `sensor run --metrics-listen`: every stage's counters, read when scraped.

A scrape asks the pipeline thread for the figures the stages already keep (the kernel's per-hook
counters, the caches' sizes, the hub's queues and its count of events by kind), so they are
consistent with each other; serving metrics adds no per-event work of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_wsgi_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sensor.export.exporter import ExportStats
from sensor.model.stats.cache import StatsCache
from sensor.model.stats.sample import ContainerStats
from sensor.server.container_stats import DEFAULT_MAX_AGE_MS, NamedTarget, stats_targets
from sensor.server.pipeline import PipelineThread
from sensor.telemetry.capture import CaptureStats
from sensor.telemetry.hub import SubscriberStats
from sensor.telemetry.kinds.kind import EventKind


class MetricsAddressError(ValueError):
    """A --metrics-listen value that is not [HOST:]PORT."""


def parse_metrics_address(text: str) -> tuple[str, int]:
    """``PORT``, ``:PORT``, ``HOST:PORT`` or ``[V6]:PORT`` as (host, port); loopback when no host is given."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise MetricsAddressError(f"{text!r}: expected [HOST:]PORT, e.g. 9464 or 0.0.0.0:9464") from None
    if not 0 < port < 65536:
        raise MetricsAddressError(f"{text!r}: port {port} is not between 1 and 65535")
    return host, port


@dataclass(slots=True)
class _Reading:
    """One consistent reading of the pipeline's figures."""

    capture: CaptureStats
    published: dict[EventKind, int]
    subscribers: list[SubscriberStats]
    subscriptions_total: int
    subscriptions_refused: int
    lost_subscribers: int


class SensorCollector(Collector):
    """Reads the capture and the hub on the pipeline thread at each scrape."""

    def __init__(self, pipeline: PipelineThread) -> None:
        self._pipeline = pipeline

    def _read(self) -> _Reading:
        hub = self._pipeline.hub
        return _Reading(
            capture=self._pipeline.capture.stats(),
            published=dict(hub.published_by_kind),
            subscribers=hub.subscribers(),
            subscriptions_total=hub.subscriptions_total,
            subscriptions_refused=hub.subscriptions_refused,
            lost_subscribers=hub.lost_total(),
        )

    def collect(self) -> Iterator[Metric]:
        reading = self._pipeline.call(self._read)
        yield from _event_metrics(reading)
        yield from _cache_metrics(reading.capture)
        yield from _subscriber_metrics(reading)
        yield from _kernel_metrics(reading.capture)


def _event_metrics(reading: _Reading) -> Iterator[Metric]:
    events = CounterMetricFamily("sensor_events", "Events published to subscribers, by kind.", labels=["kind"])
    for kind in EventKind:
        events.add_metric([kind.value], reading.published.get(kind, 0))
    yield events
    loss = reading.capture.loss
    records = CounterMetricFamily("sensor_records", "Records the BPF programs sent, by hook.", labels=["hook"])
    lost = CounterMetricFamily(
        "sensor_lost", "Records or events lost, by pipeline stage and hook.", labels=["stage", "hook"]
    )
    filtered = CounterMetricFamily(
        "sensor_filtered",
        "Records an in-kernel filter left out on purpose (read-only opens no subscriber asked for), by hook.",
        labels=["hook"],
    )
    for hook, counters in loss.kernel.items():
        records.add_metric([hook.label], counters.sent)
        lost.add_metric(["kernel", hook.label], counters.lost)
        filtered.add_metric([hook.label], counters.filtered)
    lost.add_metric(["reader", ""], loss.reader_lost)
    lost.add_metric(["decode", ""], loss.decode_errors)
    lost.add_metric(["subscriber", ""], reading.lost_subscribers)
    yield records
    yield lost
    yield filtered
    yield CounterMetricFamily("sensor_records_read", "Records read from the kernel buffer.", value=loss.records_read)
    fill = reading.capture.buffer_fill
    if fill is not None:
        yield GaugeMetricFamily("sensor_ring_buffer_used_bytes", "Bytes waiting in the ring buffer.", value=fill[0])
        yield GaugeMetricFamily("sensor_ring_buffer_size_bytes", "Capacity of the ring buffer.", value=fill[1])


def _cache_metrics(stats: CaptureStats) -> Iterator[Metric]:
    cache = stats.processes
    yield GaugeMetricFamily("sensor_process_cache_entries", "Processes in the model.", value=cache.size)
    yield GaugeMetricFamily("sensor_process_cache_capacity", "Bound on processes in the model.", value=cache.capacity)
    evictions = CounterMetricFamily(
        "sensor_process_cache_evictions", "Processes removed from the model, by reason.", labels=["reason"]
    )
    evictions.add_metric(["exited"], cache.evicted_exited)
    evictions.add_metric(["over_capacity"], cache.evicted_over_capacity)
    yield evictions
    yield GaugeMetricFamily("sensor_container_cache_entries", "Containers in the model.", value=stats.containers)
    errors = CounterMetricFamily(
        "sensor_runtime_errors", "Failed requests to a container runtime's API.", labels=["socket"]
    )
    for socket, count in stats.runtime_errors.items():
        errors.add_metric([socket], count)
    yield errors


def _subscriber_metrics(reading: _Reading) -> Iterator[Metric]:
    yield GaugeMetricFamily("sensor_subscriptions", "Subscriptions streaming now.", value=len(reading.subscribers))
    yield CounterMetricFamily(
        "sensor_subscriptions_opened", "Subscriptions since start.", value=reading.subscriptions_total
    )
    yield CounterMetricFamily(
        "sensor_subscriptions_refused",
        "Subscriptions refused because --max-subscribers were streaming.",
        value=reading.subscriptions_refused,
    )
    labels = ["subscriber", "peer"]
    depth = GaugeMetricFamily("sensor_subscriber_queue_events", "Events queued for a subscriber now.", labels=labels)
    sent = CounterMetricFamily("sensor_subscriber_sent", "Events queued for a subscriber.", labels=labels)
    dropped = CounterMetricFamily("sensor_subscriber_dropped", "Events lost to a full queue.", labels=labels)
    throttled = CounterMetricFamily("sensor_subscriber_throttled", "Events its throttle held back.", labels=labels)
    for s in reading.subscribers:
        key = [str(s.id), s.peer]
        depth.add_metric(key, s.queued)
        sent.add_metric(key, s.queued_total)
        dropped.add_metric(key, s.lost)
        throttled.add_metric(key, s.throttled)
    yield from (depth, sent, dropped, throttled)


def _kernel_metrics(stats: CaptureStats) -> Iterator[Metric]:
    run_time = CounterMetricFamily(
        "sensor_bpf_run_time_seconds", "Time spent in each BPF program (while stats are on).", labels=["program"]
    )
    runs = CounterMetricFamily("sensor_bpf_runs", "Runs of each BPF program (while stats are on).", labels=["program"])
    for program in stats.programs:
        run_time.add_metric([program.program], program.run_time_ns / 1e9)
        runs.add_metric([program.program], program.run_count)
    yield run_time
    yield runs


CONTAINER_LABELS = ["container_id", "name", "image"]


class _ContainerFamilies:
    """One metric family per container figure, filled container by container."""

    def __init__(self) -> None:
        def counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"sensor_container_{name}", doc, labels=[*CONTAINER_LABELS, *extra])

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"sensor_container_{name}", doc, labels=CONTAINER_LABELS)

        self.cpu = counter("cpu_usage_seconds", "CPU time used by the container.")
        self.cpu_user = counter("cpu_user_seconds", "CPU time in user mode.")
        self.cpu_system = counter("cpu_system_seconds", "CPU time in kernel mode.")
        self.periods = counter("cpu_periods", "CFS enforcement periods elapsed.")
        self.throttled_periods = counter("cpu_throttled_periods", "CFS periods in which the quota ran out.")
        self.throttled = counter("cpu_throttled_seconds", "Time the quota held the container back.")
        self.cpu_limit = gauge("cpu_limit_cores", "CPU quota in cores (absent when unlimited).")
        self.memory = gauge("memory_usage_bytes", "Memory charged to the container.")
        self.working_set = gauge("memory_working_set_bytes", "Memory usage minus inactive page cache.")
        self.rss = gauge("memory_rss_bytes", "Anonymous memory.")
        self.cache = gauge("memory_cache_bytes", "Page cache.")
        self.memory_limit = gauge("memory_limit_bytes", "Memory limit (absent when unlimited).")
        self.oom_kills = counter("memory_oom_kills", "Processes killed by the OOM killer.")
        self.io_read = counter("io_read_bytes", "Bytes read from a block device.", "device")
        self.io_write = counter("io_write_bytes", "Bytes written to a block device.", "device")
        self.io_reads = counter("io_read_ops", "Read operations on a block device.", "device")
        self.io_writes = counter("io_write_ops", "Write operations on a block device.", "device")
        self.pids = gauge("pids", "Tasks (processes and threads) in the container.")
        self.pids_limit = gauge("pids_limit", "Task limit (absent when unlimited).")
        self.rx_bytes = counter("network_receive_bytes", "Bytes received on an interface.", "interface")
        self.tx_bytes = counter("network_transmit_bytes", "Bytes sent on an interface.", "interface")
        self.rx_packets = counter("network_receive_packets", "Packets received on an interface.", "interface")
        self.tx_packets = counter("network_transmit_packets", "Packets sent on an interface.", "interface")
        self.errors = gauge("stats_errors", "Parts of the container's stats that could not be read.")

    def add(self, named: NamedTarget, stats: ContainerStats) -> None:
        key = [named.target.container_id, named.name, named.image_name]
        cgroup = stats.cgroup
        self.errors.add_metric(key, len(stats.errors))
        if cgroup.cpu is not None:
            cpu = cgroup.cpu
            self.cpu.add_metric(key, cpu.usage_ns / 1e9)
            self.cpu_user.add_metric(key, cpu.user_ns / 1e9)
            self.cpu_system.add_metric(key, cpu.system_ns / 1e9)
            self.periods.add_metric(key, cpu.periods)
            self.throttled_periods.add_metric(key, cpu.throttled_periods)
            self.throttled.add_metric(key, cpu.throttled_ns / 1e9)
            if cpu.limit_cores is not None:
                self.cpu_limit.add_metric(key, cpu.limit_cores)
        if cgroup.memory is not None:
            memory = cgroup.memory
            self.memory.add_metric(key, memory.usage_bytes)
            self.working_set.add_metric(key, memory.working_set_bytes)
            self.rss.add_metric(key, memory.rss_bytes)
            self.cache.add_metric(key, memory.cache_bytes)
            self.oom_kills.add_metric(key, memory.oom_kills)
            if memory.limit_bytes is not None:
                self.memory_limit.add_metric(key, memory.limit_bytes)
        for device in cgroup.io.devices if cgroup.io is not None else ():
            self.io_read.add_metric([*key, device.device], device.read_bytes)
            self.io_write.add_metric([*key, device.device], device.write_bytes)
            self.io_reads.add_metric([*key, device.device], device.read_ops)
            self.io_writes.add_metric([*key, device.device], device.write_ops)
        if cgroup.pids is not None:
            self.pids.add_metric(key, cgroup.pids.current)
            if cgroup.pids.limit is not None:
                self.pids_limit.add_metric(key, cgroup.pids.limit)
        for interface in stats.network.interfaces if stats.network is not None else ():
            self.rx_bytes.add_metric([*key, interface.name], interface.rx_bytes)
            self.tx_bytes.add_metric([*key, interface.name], interface.tx_bytes)
            self.rx_packets.add_metric([*key, interface.name], interface.rx_packets)
            self.tx_packets.add_metric([*key, interface.name], interface.tx_packets)

    def families(self) -> list[Metric]:
        return list(vars(self).values())


class ExportCollector(Collector):
    """Each export's counters (--export-file, --export-nats), read from the exporters at each scrape."""

    def __init__(self, exports: Callable[[], list[ExportStats]]) -> None:
        self._exports = exports

    def collect(self) -> Iterator[Metric]:
        labels = ["export", "destination"]
        sent = CounterMetricFamily("sensor_export_sent", "Events written or acknowledged by an export.", labels=labels)
        lost = CounterMetricFamily(
            "sensor_export_lost", "Events an export lost (its queue, its destination, its buffer).", labels=labels
        )
        limited = CounterMetricFamily(
            "sensor_export_rate_limited", "Events --export-rate-limit left out.", labels=labels
        )
        pending = GaugeMetricFamily("sensor_export_pending", "Events taken, not yet written or stored.", labels=labels)
        healthy = GaugeMetricFamily(
            "sensor_export_healthy", "1 while the export writes, 0 while it fails.", labels=labels
        )
        for export in self._exports():
            names = [export.name, export.destination]
            sent.add_metric(names, export.sent)
            lost.add_metric(names, export.lost)
            limited.add_metric(names, export.rate_limited)
            pending.add_metric(names, export.pending)
            healthy.add_metric(names, 0 if export.error else 1)
        yield from (sent, lost, limited, pending, healthy)


class ContainerStatsCollector(Collector):
    """Each running container's resource figures, read through the stats cache at each scrape."""

    def __init__(self, pipeline: PipelineThread, stats: StatsCache) -> None:
        self._pipeline = pipeline
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        capture = self._pipeline.capture
        families = _ContainerFamilies()
        for named in self._pipeline.call(lambda: stats_targets(capture)):
            families.add(named, self._stats.get(named.target, DEFAULT_MAX_AGE_MS * 1_000_000))
        yield from families.families()


class MetricsServer:
    """The HTTP endpoint Prometheus scrapes (``/metrics``), on its own registry."""

    def __init__(
        self,
        pipeline: PipelineThread,
        stats: StatsCache,
        host: str,
        port: int,
        exports: Callable[[], list[ExportStats]] = list,
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(SensorCollector(pipeline))
        self.registry.register(ExportCollector(exports))
        self.registry.register(ContainerStatsCollector(pipeline, stats))
        ProcessCollector(registry=self.registry)  # RSS, CPU seconds, open fds of the sensor itself
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None

    def start(self) -> None:
        """Listen. Raises OSError (address in use, not an address of this host)."""
        self._server, _ = start_wsgi_server(self._port, self._host, self.registry)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

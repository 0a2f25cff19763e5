"""`sensor run`'s machinery: capture + pipeline thread + hub + gRPC server with health and reflection."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sensor.export.exporter import Exporter, ExportStats
from sensor.export.plan import ExportPlan
from sensor.fleet.engine import NodeHeartbeat
from sensor.server.address import Address, AddressError, claim_unix_socket, server_credentials
from sensor.server.container_stats import host_stats_cache
from sensor.server.metrics import MetricsServer
from sensor.server.pipeline import PipelineStopped, PipelineThread
from sensor.server.service import SERVICE_NAME, TelemetryService
from sensor.server.workloads import node_heartbeat
from sensor.telemetry.capture import Capture, settle_heap
from sensor.telemetry.hub import DEFAULT_QUEUE_EVENTS, Hub

DEFAULT_MAX_SUBSCRIBERS = 32
UNARY_WORKERS = 4  # threads left for ListWorkloads, GetInfo and health while every subscriber streams
SHUTDOWN_GRACE_S = 3.0
SHUTDOWN_MESSAGE = "the sensor is shutting down"
log = logging.getLogger("sensor")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Where and how the daemon serves."""

    listen: Address
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    queue_events: int = DEFAULT_QUEUE_EVENTS
    max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS
    metrics_listen: tuple[str, int] | None = None  # (host, port) of the Prometheus endpoint; off when None

    def check(self) -> None:
        """Refuse combinations that would be unsafe or meaningless. Raises AddressError."""
        has_tls = self.tls_cert is not None or self.tls_key is not None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise AddressError("--tls-cert and --tls-key go together")
        if self.listen.is_unix and (has_tls or self.tls_client_ca):
            raise AddressError("TLS options apply to --listen tcp://HOST:PORT; a unix socket is protected by its mode")
        if not self.listen.is_unix and not has_tls:
            raise AddressError(
                f"--listen {self.listen} needs --tls-cert and --tls-key: plaintext TCP would show every "
                "process on this host to anyone who can connect"
            )
        if self.tls_client_ca is not None and not has_tls:
            raise AddressError("--tls-client-ca needs --tls-cert and --tls-key")


class Daemon:
    """Start with :meth:`start`, end with :meth:`stop`."""

    def __init__(self, config: ServerConfig, capture: Capture, exports: ExportPlan | None = None) -> None:
        config.check()
        self.config = config
        self.capture = capture
        self._export_plan = exports or ExportPlan()
        self.exporters: list[Exporter] = []
        self._started_at = 0.0  # wall-clock seconds of start(), for the heartbeats
        self._last_beat = (0.0, 0)  # (wall time, events published) at the last heartbeat
        self.hub = Hub(config.queue_events, config.max_subscribers)
        self.pipeline = PipelineThread(self.capture, self.hub)
        self.stats = host_stats_cache()
        self._health = health.HealthServicer()
        self._server: grpc.Server | None = None
        self._metrics: MetricsServer | None = None

    def start(self) -> None:
        """Attach the probes, scan, start the pipeline, then listen. Raises KernelFeatureError, AddressError."""
        if self.config.listen.is_unix:
            claim_unix_socket(self.config.listen.unix_path)  # before the probes: a second sensor fails fast
        self.capture.start()
        settle_heap()
        started_ns = time.monotonic_ns()
        self._started_at = time.time()
        try:
            self._start_exports()
            self.pipeline.start()
            self._serve(TelemetryService(self.pipeline, started_ns, self.stats, self.export_stats))
            if self.config.metrics_listen is not None:
                self._serve_metrics(*self.config.metrics_listen)
        except BaseException:
            self.stop()
            raise

    def _start_exports(self) -> None:
        """Subscribe each export before the pipeline runs, so that none misses the first event."""
        plan = self._export_plan
        if plan.rules is None:
            return
        for missing in self.capture.missing_kinds(plan.rules.kinds):
            log.warning("export: no %s", missing)
        self.exporters = plan.exporters(self.capture.lost_event, self.heartbeat)
        for exporter in self.exporters:
            exporter.attach(self.hub, self.capture.snapshot)
            exporter.start()

    def export_stats(self) -> list[ExportStats]:
        """Each export's counters now (any thread)."""
        return [exporter.stats() for exporter in self.exporters]

    def heartbeat(self) -> NodeHeartbeat:
        """This node's heartbeat for the fleet (any thread: read on the pipeline's while it runs)."""
        exports = self.export_stats()

        def read() -> NodeHeartbeat:
            return node_heartbeat(self.capture, self.hub, self._started_at, exports)

        try:
            beat = self.pipeline.call(read)
        except PipelineStopped:  # stopping: nothing changes the model any more
            beat = read()
        last_at, last_events = self._last_beat
        if last_at:
            beat.events_per_s = (beat.events - last_events) / max(beat.at - last_at, 1e-3)
        self._last_beat = (beat.at, beat.events)
        return beat

    def _serve(self, service: TelemetryService) -> None:
        config = self.config
        workers = config.max_subscribers + UNARY_WORKERS
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), maximum_concurrent_rpcs=workers)
        server.add_generic_rpc_handlers((service.handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
        )
        address = config.listen
        if address.is_unix:
            previous = os.umask(0o177)  # the socket is born 0600: no window where others could connect
            try:
                bound = server.add_insecure_port(address.target)
            finally:
                os.umask(previous)
        else:
            assert config.tls_cert is not None and config.tls_key is not None  # ServerConfig.check
            credentials = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
            bound = server.add_secure_port(address.target, credentials)
        if not bound:
            raise AddressError(f"cannot listen on {address} (in use, or not an address of this host)")
        server.start()
        if address.is_unix:
            os.chmod(address.unix_path, 0o600)
        self._server = server
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def _serve_metrics(self, host: str, port: int) -> None:
        metrics = MetricsServer(self.pipeline, self.stats, host, port, self.export_stats)
        try:
            metrics.start()
        except OSError as error:
            raise AddressError(f"cannot serve metrics on {host}:{port}: {error.strerror}") from None
        self._metrics = metrics

    def stop(self) -> None:
        """Close every stream with a status, stop serving, detach the probes."""
        if self._metrics is not None:
            self._metrics.stop()
            self._metrics = None
        self._health.enter_graceful_shutdown()
        self.hub.close(SHUTDOWN_MESSAGE)
        if self._server is not None:
            self._server.stop(SHUTDOWN_GRACE_S).wait()
            self._server = None
            if self.config.listen.is_unix:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.config.listen.unix_path)
        if self.pipeline.is_alive():
            self.pipeline.stop()
            self.pipeline.join()
        for exporter in self.exporters:  # after the pipeline: each writes out every event it was given
            exporter.stop()
        self.capture.close()

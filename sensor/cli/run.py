"""`sensor run`: the daemon. Probes, live model, and the gRPC TelemetryService on a socket."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import click

from sensor.cli.env_option import env_option
from sensor.cli.export_options import export_options, export_plan
from sensor.cli.logs import log, log_format_option, setup_logging
from sensor.cli.options import capture_config, capture_options, describe_backends, start_or_exit
from sensor.cli.trace import StopRequest
from sensor.export.json_file import JsonLinesFile
from sensor.server.address import DEFAULT_ADDRESS, AddressError, parse_address
from sensor.server.daemon import DEFAULT_MAX_SUBSCRIBERS, Daemon, ServerConfig
from sensor.server.metrics import MetricsAddressError, parse_metrics_address
from sensor.telemetry.capture import Capture
from sensor.telemetry.hub import DEFAULT_QUEUE_EVENTS

STOP_POLL_S = 0.2  # how soon a stop request is seen


@click.command()
@env_option(
    "--listen",
    default=DEFAULT_ADDRESS,
    show_default=True,
    metavar="ADDR",
    help="unix:///PATH (created mode 0600; a stale socket is replaced, a live one refused) or tcp://HOST:PORT "
    "(TLS required).",
)
@env_option("--tls-cert", metavar="FILE", help="Server certificate (PEM).")
@env_option("--tls-key", metavar="FILE", help="Server private key (PEM).")
@env_option(
    "--tls-client-ca",
    metavar="FILE",
    help="Require client certificates signed by this CA (mutual TLS).",
)
@env_option(
    "--queue-events",
    type=click.IntRange(min=16),
    default=DEFAULT_QUEUE_EVENTS,
    show_default=True,
    help="Events each subscriber may have waiting; beyond that it loses events (counted, and told).",
)
@env_option(
    "--max-subscribers",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SUBSCRIBERS,
    show_default=True,
    help="Concurrent GetEvents streams; more are refused with RESOURCE_EXHAUSTED.",
)
@env_option(
    "--metrics-listen",
    metavar="[HOST:]PORT",
    help="Serve Prometheus metrics on http://HOST:PORT/metrics (HOST defaults to 127.0.0.1). Off by default.",
)
@env_option(
    "--no-file-events",
    is_flag=True,
    help="Do not attach the file hooks: they run at every syscall's exit on the host (about 130 ns when "
    "they send nothing). Subscriptions to file events are then refused, saying so.",
)
@env_option(
    "--no-network-events",
    is_flag=True,
    help="Do not attach the network hooks: they too run at every syscall's exit (about 60 ns when they send "
    "nothing), and at every TCP state change. Subscriptions to network events are then refused, saying so.",
)
@export_options
@capture_options
@log_format_option
def run(
    listen: str,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    queue_events: int,
    max_subscribers: int,
    metrics_listen: str | None,
    no_file_events: bool,
    no_network_events: bool,
    log_format: str,
    **flags: Any,
) -> None:
    """Run the sensor as a daemon serving the gRPC TelemetryService.

    Loads the probes, keeps the live process and container model, and streams filtered
    subscriptions to clients (`sensor trace --connect`, `sensor workload-list --connect`,
    or any gRPC client of protos/sensor/api/v1/service.proto). Serves gRPC health checking
    and server reflection. Prints 'ready' on stderr once listening; SIGTERM or SIGINT
    closes every stream with a status, detaches the probes and exits 0. Every flag can also
    be set by its SENSOR_* environment variable.

    \b
    Examples:
      sensor run
      sensor run --listen unix:///tmp/sensor.sock --metrics-listen 9464
      sensor run --listen tcp://0.0.0.0:7443 --tls-cert server.pem --tls-key server.key \\
                 --tls-client-ca clients-ca.pem
      sensor run --export-file /var/log/sensor/events.jsonl --export-file-max-size 100M
      sensor run --node-name web-1 --export-nats nats://n1:4222,nats://n2:4222 --export-nats-replicas 3 \\
                 --nats-creds /etc/sensor/nats.creds --export-event exec,network
    """
    try:
        metrics = parse_metrics_address(metrics_listen) if metrics_listen is not None else None
    except MetricsAddressError as error:
        raise click.BadParameter(str(error), param_hint="--metrics-listen") from None
    try:
        server = ServerConfig(
            parse_address(listen), tls_cert, tls_key, tls_client_ca, queue_events, max_subscribers, metrics
        )
        server.check()
    except AddressError as error:
        raise click.BadParameter(str(error), param_hint="--listen") from None
    config = capture_config(flags)
    exports = export_plan(flags, config.node_name)
    config.file_events = not no_file_events
    config.network_events = not no_network_events
    setup_logging(log_format)
    # A flag, not a threading.Event: the handler runs on the main thread, which may hold the Event's
    # own lock inside wait() when the signal lands (a stop that hung for good, seen once here).
    stop = StopRequest()
    daemon = Daemon(server, Capture(config), exports)
    start_or_exit(daemon.start, "run")  # an AddressError is a ValueError: reported like the kernel's refusals

    def reopen_files(_sig: int, _frame: FrameType | None) -> None:
        for exporter in daemon.exporters:
            if isinstance(exporter.sink, JsonLinesFile):
                exporter.sink.request_reopen()

    signal.signal(signal.SIGHUP, reopen_files)  # logrotate moved the export file away
    capture = daemon.capture
    metrics_url = f"http://{metrics[0]}:{metrics[1]}/metrics" if metrics else ""
    log.info(
        "ready, listening on %s%s (%s; %d processes, %d containers)",
        server.listen,
        f", metrics on {metrics_url}" if metrics else "",
        describe_backends(capture),
        len(capture.cache),
        len(capture.containers),
        extra={
            "fields": {
                "event": "ready",
                "listen": str(server.listen),
                "metrics": metrics_url,
                "processes": len(capture.cache),
                "containers": len(capture.containers),
            }
        },
    )
    while not stop.requested and not daemon.pipeline.stopped.wait(STOP_POLL_S):
        pass
    failure = daemon.pipeline.failure
    log.info("stopping: closing streams, detaching probes", extra={"fields": {"event": "stopping"}})
    daemon.stop()
    if failure is not None:
        raise click.ClickException(f"the capture pipeline failed: {failure}")
    log.info("stopped", extra={"fields": {"event": "stopped"}})

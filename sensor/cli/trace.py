"""`sensor trace`: load the probes in this process and print events as they happen."""

from __future__ import annotations

import json
import logging
import mmap
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

import click

from sensor.cli.compact import CompactFormatter
from sensor.kernel.cgroupfs import CgroupLayoutError
from sensor.kernel.features import Backend, KernelFeatureError
from sensor.model.runtime.docker import DEFAULT_DOCKER_SOCKETS
from sensor.telemetry.capture import Capture, CaptureConfig, LossReport
from sensor.telemetry.container_filter import ContainerFilter
from sensor.telemetry.events import EventKind, TelemetryEvent, to_json_dict

POLL_MS = 100
_TRANSPORTS = {"auto": None, "ringbuf": Backend.RING_BUFFER, "perf": Backend.PERF_BUFFER}


def parse_kinds(values: tuple[str, ...]) -> set[EventKind]:
    """``--event exec,exit --event fork`` -> the set of kinds; lost events are always shown."""
    kinds = {EventKind.LOST}
    valid = ", ".join(k.value for k in EventKind if k is not EventKind.LOST)
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            try:
                kinds.add(EventKind(name))
            except ValueError:
                raise click.BadParameter(
                    f"unknown event kind {name!r} (choose from {valid})", param_hint="--event"
                ) from None
    return kinds if values else set(EventKind)


def parse_size(value: str) -> int:
    """``16M``, ``512K``, ``1G`` or a byte count."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    try:
        size = int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a size (examples: 16M, 512K, 1G)", param_hint="--buffer-size"
        ) from None
    if size < mmap.PAGESIZE or size & (size - 1):
        raise click.BadParameter(
            f"{value!r} must be a power of two of at least {mmap.PAGESIZE} bytes (examples: 16M, 64M)",
            param_hint="--buffer-size",
        )
    return size


def loss_summary(report: LossReport, printed: int) -> str:
    """The closing line: what was seen and what was lost, by stage."""
    per_hook = ", ".join(f"{hook.name.lower()} {c.lost}/{c.sent}" for hook, c in report.kernel.items())
    return (
        f"sensor: {printed} events printed, {report.records_read} records read; "
        f"lost: kernel {report.kernel_lost} (lost/sent by hook: {per_hook}), "
        f"reader {report.reader_lost}, undecodable {report.decode_errors}; "
        f"{report.container_events} container events, {report.without_container_metadata} without name/image"
    )


class _Stop:
    """Set by SIGINT/SIGTERM; the loop finishes its batch and exits cleanly."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, _sig: int, _frame: FrameType | None) -> None:
        self.requested = True


def json_line(event: TelemetryEvent) -> str:
    """One event as a compact JSON line."""
    return json.dumps(to_json_dict(event), ensure_ascii=False, separators=(",", ":"))


def line_formatter(output_format: str) -> Callable[[TelemetryEvent], str]:
    """The function that turns an event into its printed line."""
    return json_line if output_format == "json" else CompactFormatter().format


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["compact", "json"]),
    default="compact",
    show_default=True,
    help="compact: one readable line per event; json: one TelemetryEvent per line (protobuf JSON, proto field names).",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="KIND[,KIND]",
    help="Only these kinds: fork, exec (failed execs included), exit, credentials, container. Repeatable. "
    "Default: all.",
)
@click.option(
    "--container",
    "containers",
    multiple=True,
    metavar="GLOB",
    help="Only events from containers whose name or id (a prefix is enough) matches. Repeatable.",
)
@click.option("--image", "images", multiple=True, metavar="GLOB", help="Only events from containers of these images.")
@click.option(
    "--include-existing",
    is_flag=True,
    help="First print the containers and processes that exist now, marked as existing (snapshot).",
)
@click.option(
    "--docker-socket",
    "docker_sockets",
    multiple=True,
    metavar="PATH",
    help=f"Docker-API sockets asked for container names and images. Default: {', '.join(DEFAULT_DOCKER_SOCKETS)}.",
)
@click.option(
    "--cgroup-v1",
    is_flag=True,
    help="On a hybrid host, follow containers through a v1 controller's hierarchy instead of the unified one.",
)
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after SECONDS.", metavar="SECONDS")
@click.option("--count", type=click.IntRange(min=1), help="Stop after printing N events.", metavar="N")
@click.option(
    "--transport",
    type=click.Choice(list(_TRANSPORTS)),
    default="auto",
    show_default=True,
    help="Kernel-to-user buffer: BPF ring buffer (5.8+), or per-CPU perf buffers.",
)
@click.option(
    "--buffer-size",
    default="16M",
    show_default=True,
    help="Kernel buffer size (a power of two); per CPU-set total for perf.",
)
def trace(
    output_format: str,
    events: tuple[str, ...],
    duration: float | None,
    count: int | None,
    transport: str,
    buffer_size: str,
    containers: tuple[str, ...],
    images: tuple[str, ...],
    include_existing: bool,
    docker_sockets: tuple[str, ...],
    cgroup_v1: bool,
) -> None:
    """Print every process event on this host as it happens.

    Loads the BPF probes into this process (no daemon needed; run as root), prints
    'ready' on stderr once they are attached, and on exit a summary of what was
    seen and lost at each stage.

    \b
    Examples:
      sensor trace                              # everything, one line per event
      sensor trace --event exec,exit            # only execs and exits
      sensor trace --format json --count 100    # 100 events as JSON lines
      sensor trace --duration 10 > events.txt
      sensor trace --container 'web*' --event exec,container
      sensor trace --image 'nginx:*' --include-existing
    """
    kinds = parse_kinds(events)
    buffer_bytes = parse_size(buffer_size)
    wanted = ContainerFilter(ids=containers, names=containers, image_ids=images, image_names=images).compile()
    logging.basicConfig(format="sensor: warning: %(message)s", level=logging.WARNING)
    config = CaptureConfig(
        transport=_TRANSPORTS[transport],
        buffer_bytes=buffer_bytes,
        docker_sockets=docker_sockets or DEFAULT_DOCKER_SOCKETS,
        cgroup_v1=cgroup_v1,
    )
    capture = Capture(config)
    stop = _Stop()
    try:
        capture.start()
    except (KernelFeatureError, CgroupLayoutError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    except PermissionError as error:
        raise click.ClickException(f"{error}: run sensor trace as root") from None
    backends = ", ".join(f"{c.hook}={c.backend.value}" for c in capture.choices)
    click.echo(
        f"sensor: ready ({backends}; cgroup {capture.hierarchy.mode.value}; {len(capture.cache)} processes, "
        f"{len(capture.containers)} containers found)",
        err=True,
    )
    line = line_formatter(output_format)
    out = sys.stdout
    printed = 0
    deadline = time.monotonic() + duration if duration else None

    def emit(batch: list[TelemetryEvent]) -> None:
        nonlocal printed
        if not wanted.empty:
            batch = [e for e in batch if wanted.matches(e) or e.kind is EventKind.LOST]
        if count is not None:
            batch = batch[: count - printed]
        if batch:
            out.write("".join(line(e) + "\n" for e in batch))
            out.flush()
            printed += len(batch)

    try:
        if include_existing:
            emit([e for e in capture.snapshot() if e.kind in kinds])
        while not stop.requested and (count is None or printed < count):
            emit(capture.poll(POLL_MS, kinds))
            if deadline is not None and time.monotonic() >= deadline:
                break
        if count is None or printed < count:
            emit(capture.flush())
    except BrokenPipeError:
        sys.stdout = None  # the reader left (| head): stop quietly
    finally:
        report = capture.loss()
        capture.close()
        click.echo(loss_summary(report, printed), err=True)

"""`sensor trace`: load the probes in this process and print events as they happen."""

from __future__ import annotations

import json
import mmap
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

import click

from sensor.cli.compact import CompactFormatter
from sensor.kernel.features import Backend, KernelFeatureError
from sensor.telemetry.capture import Capture, CaptureConfig, LossReport
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
        f"reader {report.reader_lost}, undecodable {report.decode_errors}"
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
    help="Only these kinds: fork, exec (failed execs included), exit, credentials. Repeatable. Default: all.",
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
    """
    kinds = parse_kinds(events)
    buffer_bytes = parse_size(buffer_size)
    capture = Capture(CaptureConfig(transport=_TRANSPORTS[transport], buffer_bytes=buffer_bytes))
    stop = _Stop()
    try:
        capture.start()
    except (KernelFeatureError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    except PermissionError as error:
        raise click.ClickException(f"{error}: run sensor trace as root") from None
    backends = ", ".join(f"{c.hook}={c.backend.value}" for c in capture.choices)
    click.echo(f"sensor: ready ({backends}; {len(capture.cache)} processes found)", err=True)
    line = line_formatter(output_format)
    out = sys.stdout
    printed = 0
    deadline = time.monotonic() + duration if duration else None
    try:
        while not stop.requested:
            batch = capture.poll(POLL_MS, kinds)
            if batch:
                if count is not None:
                    batch = batch[: count - printed]
                out.write("".join(line(e) + "\n" for e in batch))
                out.flush()
                printed += len(batch)
            if (count is not None and printed >= count) or (deadline is not None and time.monotonic() >= deadline):
                break
    except BrokenPipeError:
        sys.stdout = None  # the reader left (| head): stop quietly
    finally:
        report = capture.loss()
        capture.close()
        click.echo(loss_summary(report, printed), err=True)

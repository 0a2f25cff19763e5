"""`sensor trace`: print events as they happen, from probes loaded here or from a running `sensor run`."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Generator, Sized
from types import FrameType
from typing import Any

import click

from sensor.api.v1 import subscription_pb2 as sub
from sensor.cli.compact import CompactFormatter
from sensor.cli.logs import log, log_format_option, setup_logging
from sensor.cli.options import (
    build_subscription,
    capture_config,
    capture_options,
    check_flags_fit_side,
    compile_or_refuse,
    connect_options,
    connection,
    describe_backends,
    event_choice,
    explain_rejection,
    output_format_option,
    parse_batch_ns,
    parse_duration_ns,
    start_or_exit,
)
from sensor.cli.remote import (
    Connection,
    StreamEnded,
    SubscriptionRefused,
    SubscriptionRejected,
    stream_with_reconnect,
)
from sensor.kernel.records import Hook
from sensor.telemetry.capture import Capture, CaptureConfig, LossReport, settle_heap
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.hub import Hub, queued_events
from sensor.telemetry.json_lines import json_lines
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.wire_json import JsonLines, response_json_lines
from sensor.telemetry.wire_read import decode_response

POLL_MS = 100
LOCAL_QUEUE_EVENTS = 1 << 20  # drained every poll; the bound only guards against a stuck terminal
# Beyond the capture and TLS flags: what only means something loading probes here, and what only
# means something talking to a running `sensor run`.
LOCAL_ONLY_FLAGS = ("record",)
REMOTE_ONLY_FLAGS = ("reconnect", "batch")


# What each hook's in-kernel filter leaves out, for the summary.
FILTERED_MEANS = {
    Hook.FILE_OPEN: "read-only opens not asked for",
    # A connection's owner is remembered at its connect or accept, for 65 536 sockets at a time.
    Hook.NET_CLOSE: "ends of connections whose connect or accept it did not see",
}


def loss_summary(report: LossReport, printed: int) -> str:
    """The closing line: what was seen and what was lost, by stage."""
    per_hook = ", ".join(f"{hook.label} {c.lost}/{c.sent}" for hook, c in report.kernel.items())
    filtered = ", ".join(
        f"{hook.label} {c.filtered} ({FILTERED_MEANS[hook]})" for hook, c in report.kernel.items() if c.filtered
    )
    return (
        f"{printed} events printed, {report.records_read} records read; "
        f"lost: kernel {report.kernel_lost} (lost/sent by hook: {per_hook}), "
        f"reader {report.reader_lost}, undecodable {report.decode_errors}; "
        + (f"left out by the kernel's filters: {filtered}; " if filtered else "")
        + f"{report.container_events} container events, {report.without_container_metadata} without name/image"
    )


def _summary_fields(report: LossReport, printer: Printer) -> dict[str, object]:
    return {
        "event": "summary",
        "printed": printer.printed,
        "records_read": report.records_read,
        "lost_kernel": report.kernel_lost,
        "lost_reader": report.reader_lost,
        "undecodable": report.decode_errors,
        "filtered_kernel": report.kernel_filtered,
    }


class Deadline:
    """--duration: set going by start(), passed once that many seconds have gone by since."""

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._end: float | None = None

    def start(self) -> None:
        if self._seconds:
            self._end = time.monotonic() + self._seconds

    def passed(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end


class _Interrupted(Exception):
    """A signal asked a blocked client to stop."""


class StopRequest:
    """Set by SIGINT/SIGTERM (and SIGALRM for --duration); the loop finishes its batch and exits cleanly.

    With ``interrupt``, the handler also raises _Interrupted, because a client blocked waiting for
    the next response would otherwise not look at the flag until an event arrives.
    """

    def __init__(self, interrupt: bool = False, duration: float | None = None) -> None:
        self.requested = False
        self._interrupt = interrupt
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
            signal.signal(sig, self._handle)
        if interrupt and duration:
            signal.setitimer(signal.ITIMER_REAL, duration)

    def _handle(self, _sig: int, _frame: FrameType | None) -> None:
        self.requested = True
        if self._interrupt:
            raise _Interrupted


def lines_formatter(output_format: str, with_node: bool = False) -> Callable[[list[TelemetryEvent]], str]:
    """The function that turns a batch of events into its printed lines; ``with_node``: compact lines
    begin with the event's node (JSON has it anyway)."""
    if output_format == "json":
        return json_lines
    compact = CompactFormatter()
    if with_node:
        return lambda batch: "".join([f"{event.node_name}  {compact.format(event)}\n" for event in batch])
    return lambda batch: "".join([compact.format(event) + "\n" for event in batch])


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}


def write_stdout(text: str) -> None:
    """All of ``text`` to standard output, whole lines even when a stop signal comes meanwhile.

    Not through sys.stdout: when a signal with a Python handler interrupts a write that blocks
    (a pipe whose reader is slow), CPython's buffered writer drops the rest of that write without
    an error (measured here: 5 of 100 MB arrived, exit status 0). So the lines go out through
    os.write, each partial write continued, with the stop signals held until they are out.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's captured output)
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        view = memoryview(text.encode())
        while view:
            view = view[os.write(fd, view) :]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class Printer:
    """Writes events as lines and counts them; :attr:`done` once ``count`` lines are out."""

    def __init__(self, output_format: str, count: int | None, with_node: bool = False) -> None:
        self.output_format = output_format
        self._lines = lines_formatter(output_format, with_node)
        self._count = count
        self.printed = 0
        self.lost_reported = 0  # what `lost` events said, over every stage

    @property
    def done(self) -> bool:
        """Whether --count is reached."""
        return self._count is not None and self.printed >= self._count

    def emit(self, batch: list[TelemetryEvent]) -> None:
        """Print a batch (cut at --count)."""
        if self._count is not None:
            batch = batch[: self._count - self.printed]
        if batch:
            self._printed(self._lines(batch), [e.payload for e in batch])

    def emit_lines(self, batch: JsonLines) -> None:
        """Print lines already written (a remote sensor's JSON, sensor.telemetry.wire_json; cut at --count)."""
        lines, payloads = batch.lines, batch.payloads
        if self._count is not None:
            lines, payloads = lines[: self._count - self.printed], payloads[: self._count - self.printed]
        if lines:
            self._printed("".join(lines), payloads)

    def _printed(self, text: str, payloads: list[object]) -> None:
        write_stdout(text)
        self.printed += len(payloads)
        self.lost_reported += sum(p.lost for p in payloads if isinstance(p, LostPayload))


@click.command()
@output_format_option(
    {
        "compact": "one readable line per event",
        "json": "one TelemetryEvent per line (protobuf JSON, proto field names)",
    }
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="KIND[,KIND]",
    help="Only these kinds: fork, exec (failed execs included), exit, credentials, file, network, container; "
    "or only some events of a kind: network:connect, network:dns_query, file:rename (the kind's types, in lower "
    "case). Repeatable. "
    "Default: all; with --filter, the kinds that have every field it names.",
)
@click.option(
    "--reads",
    "read_prefixes",
    multiple=True,
    metavar="PREFIX",
    help="Also file opens that only read, of absolute paths starting with PREFIX ('/' for all). Repeatable. "
    "Without it, opens are shown only when they write, create or truncate; the kernel counts the others.",
)
@click.option(
    "--filter",
    "expression",
    default="",
    metavar="EXPR",
    help="Only events for which EXPR holds, e.g. 'exec_filename LIKE \"/tmp/*\" AND uid == 0'. Applies to each "
    "--event kind; fields and operators are listed in the README (Filter expressions).",
)
@click.option(
    "--container",
    "containers",
    multiple=True,
    metavar="GLOB",
    help="Only events from containers whose name or id (a prefix is enough) matches. Repeatable.",
)
@click.option("--image", "images", multiple=True, metavar="GLOB", help="Only events from containers of these images.")
@click.option("--throttle", metavar="DURATION", help="At most one event per DURATION (500ms, 2s, 1m).")
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="The sensor ends the subscription after N events."
)
@click.option(
    "--include-existing",
    is_flag=True,
    help="First print the containers and processes that exist now, marked as existing (snapshot).",
)
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after SECONDS.", metavar="SECONDS")
@click.option("--count", type=click.IntRange(min=1), help="Stop after printing N events.", metavar="N")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also save every raw kernel record to FILE, for replay through the pipeline (scripts/bench does).",
)
@click.option(
    "--reconnect",
    is_flag=True,
    help="With --connect: when the sensor goes away or is full (--max-subscribers), subscribe again once it can.",
)
@click.option(
    "--batch",
    metavar="DURATION",
    help="With --connect: the sensor sends events in batches, each once its oldest event is DURATION old (at most "
    "1s). Without it the sensor paces the stream by its rate: within about 2 ms up to 2 000 events a second, "
    "up to 20 ms in an exec storm (see Performance).",
)
@connect_options
@capture_options
@log_format_option
def trace(**flags: Any) -> None:
    """Print every process, file, network and container event on this host as it happens.

    Without --connect, loads the BPF probes into this process (no daemon needed; run as
    root). Prints 'ready' on stderr once the probes are attached (or the subscription is
    accepted), and on exit a summary of what was seen and lost.

    \b
    Examples:
      sensor trace                              # everything, one line per event
      sensor trace --event exec,exit            # only execs and exits
      sensor trace --filter 'exit_code != 0'    # failing exits: the kinds that have the filter's fields
      sensor trace --event exec --filter 'exec_filename LIKE "*/curl" AND uid != 0'
      sensor trace --event file --filter 'file_path LIKE "/etc/*"'   # writes, renames, chmods... under /etc
      sensor trace --event file --reads /etc/shadow                  # ... and who reads /etc/shadow
      sensor trace --event network --filter 'net_remote_port == 443'  # connections to port 443
      sensor trace --event network:dns_query --filter 'dns_query LIKE "*.onion"'   # DNS names asked for
      sensor trace --format json --count 100    # 100 events as JSON lines
      sensor trace --container 'web*' --event exec,container
      sensor trace --image 'nginx:*' --include-existing
      sensor trace --connect unix:///run/sensor/sensor.sock --reconnect
    """
    choice = event_choice(flags["events"], flags["expression"])
    kinds = choice.kinds
    subscription = build_subscription(
        kinds,
        flags["expression"],
        flags["containers"],
        flags["images"],
        parse_duration_ns(flags["throttle"], "--throttle") if flags["throttle"] else 0,
        flags["limit"] or 0,
        flags["include_existing"],
        parse_batch_ns(flags["batch"]) if flags["batch"] else 0,
        flags["read_prefixes"],
        choice.types,
    )
    setup_logging(flags["log_format"])
    printer = Printer(flags["output_format"], flags["count"])
    deadline = Deadline(flags["duration"])

    def should_stop() -> bool:
        return stop.requested or printer.done or deadline.passed()

    check_flags_fit_side(flags, LOCAL_ONLY_FLAGS, REMOTE_ONLY_FLAGS)
    if flags["connect"]:
        remote = connection(flags)
        stop = StopRequest(interrupt=True, duration=flags["duration"])
        _trace_remote(remote, subscription, printer, flags["reconnect"], should_stop)
        return
    config = capture_config(flags)
    config.record_path = flags["record"] or ""
    config.file_events = EventKind.FILE in kinds
    config.network_events = EventKind.NETWORK in kinds
    stop = StopRequest()
    _trace_local(config, subscription, kinds, printer, should_stop, deadline)


def _trace_local(
    config: CaptureConfig,
    subscription: sub.Subscription,
    kinds: list[EventKind],
    printer: Printer,
    should_stop: Callable[[], bool],
    deadline: Deadline,
) -> None:
    rules = compile_or_refuse(subscription)
    config.read_prefixes = rules.read_prefixes
    capture = Capture(config)  # it reads the ring buffer every RELAXED_BUSY_POLL_MS: a terminal waits on nobody
    start_or_exit(capture.start, "trace")
    if missing := capture.missing_kinds(kinds):
        capture.close()
        raise click.ClickException("this kernel cannot give " + "; ".join(missing))
    settle_heap()
    hub = Hub(LOCAL_QUEUE_EVENTS)
    subscriber = hub.subscribe(rules, "terminal", capture.snapshot if rules.include_existing else None)
    log.info(
        "ready (%s; cgroup %s; %d processes, %d containers found)",
        describe_backends(capture),
        capture.hierarchy.mode.value,
        len(capture.cache),
        len(capture.containers),
        extra={"fields": {"event": "ready", "processes": len(capture.cache), "containers": len(capture.containers)}},
    )
    deadline.start()  # --duration counts from ready: compiling and attaching the probes takes seconds
    wanted = {*kinds, EventKind.LOST}

    def drain() -> None:
        items = subscriber.take(LOCAL_QUEUE_EVENTS, 0)
        printer.emit(queued_events(items, capture.lost_event, "terminal"))

    try:
        drain()
        while not should_stop() and not subscriber.finished:
            hub.publish(capture.poll(POLL_MS, wanted))
            drain()
        for batch in capture.finish(wanted) if not subscriber.finished else (capture.flush(),):
            hub.publish(batch)
            drain()
    except BrokenPipeError:
        sys.stdout = None  # the reader left (| head): stop quietly
    finally:
        report = capture.loss()
        capture.close()
        limit = " (--limit reached)" if subscriber.limit_reached else ""
        log.info(loss_summary(report, printer.printed) + limit, extra={"fields": _summary_fields(report, printer)})


def _trace_remote(
    connection: Connection,
    subscription: sub.Subscription,
    printer: Printer,
    reconnect: bool,
    should_stop: Callable[[], bool],
) -> None:
    def ready() -> None:
        log.info("ready (subscribed to %s)", connection.address, extra={"fields": {"event": "ready"}})

    # JSON goes from the response's bytes straight to lines; other formats read events first.
    batches: Generator[Sized, None, None]
    if printer.output_format == "json":
        batches = stream_with_reconnect(connection, subscription, ready, reconnect, should_stop, response_json_lines)
        emit: Callable[[Any], None] = printer.emit_lines
    else:
        batches = stream_with_reconnect(connection, subscription, ready, reconnect, should_stop, decode_response)
        emit = printer.emit
    ended = ""
    try:
        for batch in batches:
            emit(batch)
            if should_stop():
                break
    except SubscriptionRejected as rejected:
        raise click.UsageError(explain_rejection(rejected.errors)) from None
    except SubscriptionRefused as refused:
        raise click.ClickException(f"the sensor at {connection.address} refused the subscription: {refused}") from None
    except StreamEnded as end:
        ended = str(end)
        if end.reconnectable:
            raise click.ClickException(f"cannot talk to the sensor at {connection.address}: {end}") from None
    except _Interrupted:
        pass
    except BrokenPipeError:
        sys.stdout = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        batches.close()
    summary = f"{printer.printed} events printed; the sensor reported {printer.lost_reported} lost"
    fields = {"event": "summary", "printed": printer.printed, "lost_reported": printer.lost_reported, "ended": ended}
    log.info(summary + (f"; stream ended: {ended}" if ended else ""), extra={"fields": fields})

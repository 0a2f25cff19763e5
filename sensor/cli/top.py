"""`sensor top`: running containers and what each one uses now, refreshed in place, sorted by CPU.

Rates (CPU %, network and block IO per second) come from two readings of each container and the
times the readings were taken, so a reading served twice from the cache never shows a false zero.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import sys
import termios
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, TextIO

import click
import grpc

from sensor.api.v1 import service_pb2 as api
from sensor.cli.logs import log_format_option, setup_logging
from sensor.cli.options import (
    capture_config,
    capture_options,
    check_flags_fit_side,
    connect_options,
    connection,
    start_or_exit,
)
from sensor.cli.remote import Connection, container_stats, rpc_failure
from sensor.cli.stats_view import human_bytes, network_total, tasks_text
from sensor.cli.table import table_lines
from sensor.server.container_stats import (
    FRESH_MS,
    AmbiguousContainer,
    ContainerNotFound,
    host_stats_cache,
    read_stats,
    stats_targets,
)
from sensor.telemetry.capture import Capture

KEY_WAIT_S = 0.05
ENTER_SCREEN = "\x1b[?1049h\x1b[?25l"  # alternate screen, cursor hidden
LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l"
HOME_AND_CLEAR = "\x1b[H\x1b[2J"
REVERSE, PLAIN = "\x1b[7m", "\x1b[0m"


class SortKey(str, Enum):
    """What the rows are sorted by; the value is the key that picks it."""

    CPU = "c"
    MEMORY = "m"
    PIDS = "p"
    NETWORK = "n"
    IO = "i"
    NAME = "a"


@dataclass(frozen=True, slots=True)
class Row:
    """One container on the screen."""

    container_id: str
    name: str
    image: str
    cpu_percent: float | None  # of one core; None until two readings exist
    cpu_limit: float | None
    memory: int | None
    memory_limit: int | None
    tasks: int | None
    tasks_limit: int | None
    rx_rate: float | None
    tx_rate: float | None
    read_rate: float | None
    write_rate: float | None
    errors: int


def _rate(now: float, before: float, seconds: float) -> float:
    return max(0.0, (now - before) / seconds)


def make_row(previous: api.ContainerStats | None, current: api.ContainerStats) -> Row:
    """A row from a reading, with rates against the previous reading of the same container."""
    seconds = (current.read_time_nanos - previous.read_time_nanos) / 1e9 if previous is not None else 0.0
    before = previous if seconds > 0 else None  # no earlier reading, or the same one again: no rates yet
    cpu = current.cpu if current.HasField("cpu") else None
    memory = current.memory if current.HasField("memory") else None
    pids = current.pids if current.HasField("pids") else None
    cpu_percent = rx = tx = reads = writes = None
    if before is not None:
        if cpu is not None and before.HasField("cpu"):
            cpu_percent = 100 * _rate(cpu.usage_nanos, before.cpu.usage_nanos, seconds) / 1e9
        totals, earlier = network_total(current), network_total(before)
        if totals is not None and earlier is not None:
            rx, tx = _rate(totals[0], earlier[0], seconds), _rate(totals[1], earlier[1], seconds)
        if current.HasField("io") and before.HasField("io"):
            reads = _rate(current.io.read_bytes, before.io.read_bytes, seconds)
            writes = _rate(current.io.write_bytes, before.io.write_bytes, seconds)
    return Row(
        container_id=current.container_id,
        name=current.name or current.container_id[:12],
        image=current.image_name,
        cpu_percent=cpu_percent,
        cpu_limit=cpu.limit_cores if cpu is not None and cpu.HasField("limit_cores") else None,
        memory=memory.working_set_bytes if memory is not None else None,
        memory_limit=memory.limit_bytes if memory is not None and memory.HasField("limit_bytes") else None,
        tasks=pids.current if pids is not None else None,
        tasks_limit=pids.limit if pids is not None and pids.HasField("limit") else None,
        rx_rate=rx,
        tx_rate=tx,
        read_rate=reads,
        write_rate=writes,
        errors=len(current.errors),
    )


class RateTracker:
    """Keeps each container's last reading, to turn the next one into rates."""

    def __init__(self) -> None:
        self._last: dict[str, api.ContainerStats] = {}
        self._rows: dict[str, Row] = {}

    def update(self, readings: list[api.ContainerStats]) -> list[Row]:
        """Rows for these readings; a reading already seen keeps the rates it had."""
        rows = []
        for reading in readings:
            key = reading.container_id
            previous = self._last.get(key)
            if previous is None or previous.read_time_nanos != reading.read_time_nanos or key not in self._rows:
                self._rows[key] = make_row(previous, reading)
                self._last[key] = reading
            rows.append(self._rows[key])
        seen = {r.container_id for r in readings}
        for gone in [k for k in self._last if k not in seen]:
            del self._last[gone]
            self._rows.pop(gone, None)
        return rows


def _sum(values: list[float | None]) -> float:
    return sum(v for v in values if v is not None)


def sort_rows(rows: list[Row], key: SortKey) -> list[Row]:
    """Biggest first (names: alphabetical); containers without a figure yet go last."""
    if key is SortKey.NAME:
        return sorted(rows, key=lambda r: (r.name, r.container_id))
    figure: dict[SortKey, Callable[[Row], float]] = {
        SortKey.CPU: lambda r: r.cpu_percent if r.cpu_percent is not None else -1.0,
        SortKey.MEMORY: lambda r: r.memory if r.memory is not None else -1.0,
        SortKey.PIDS: lambda r: r.tasks if r.tasks is not None else -1.0,
        SortKey.NETWORK: lambda r: _sum([r.rx_rate, r.tx_rate]) if r.rx_rate is not None else -1.0,
        SortKey.IO: lambda r: _sum([r.read_rate, r.write_rate]) if r.read_rate is not None else -1.0,
    }
    return sorted(rows, key=lambda r: (-figure[key](r), r.name))


def _per_second(rate: float | None) -> str:
    return "-" if rate is None else f"{human_bytes(rate)}/s"


COLUMNS = ("CONTAINER", "NAME", "CPU%", "CPUS", "MEM", "MEM%", "PIDS", "NET IN", "NET OUT", "READ", "WRITE", "IMAGE")


def _cells(row: Row) -> list[str]:
    memory_percent = "-"
    if row.memory is not None and row.memory_limit:
        memory_percent = f"{100 * row.memory / row.memory_limit:.0f}%"
    return [
        row.container_id[:12],
        row.name + (" !" if row.errors else ""),
        "-" if row.cpu_percent is None else f"{row.cpu_percent:.1f}",
        "-" if row.cpu_limit is None else f"{row.cpu_limit:g}",
        "?" if row.memory is None else human_bytes(row.memory),
        memory_percent,
        tasks_text(row.tasks, row.tasks_limit),
        _per_second(row.rx_rate),
        _per_second(row.tx_rate),
        _per_second(row.read_rate),
        _per_second(row.write_rate),
        row.image or "?",
    ]


@dataclass(frozen=True, slots=True)
class Frame:
    """One screenful: lines above the table, the table's header, and its rows."""

    head: list[str]
    header: str
    rows: list[str]


KEYS_HELP = "sort: c=cpu m=memory p=pids n=network i=io a=name  q=quit  (! = some figures unreadable)"


def render(rows: list[Row], status: str, clock: str) -> Frame:
    """A summary line, the status (if any), and the table."""
    table = [list(COLUMNS), *(_cells(r) for r in rows)]
    lines = table_lines(table, right=range(2, 11))
    cpu = _sum([r.cpu_percent for r in rows])
    memory = _sum([r.memory for r in rows])
    summary = (
        f"sensor top - {len(rows)} running container{'s' if len(rows) != 1 else ''}"
        f" - CPU {cpu:.1f}% - MEM {human_bytes(memory)}"
        f" - NET in {_per_second(_sum([r.rx_rate for r in rows]))} out {_per_second(_sum([r.tx_rate for r in rows]))}"
        f" - {clock}"
    )
    body = [line.rstrip() for line in lines[1:]] if rows else ["(no running containers)"]
    return Frame([summary, *([status] if status else [])], lines[0].rstrip(), body)


class Screen:
    """The terminal: an alternate screen redrawn in place, keys read one at a time. Plain frames when not a tty."""

    def __init__(self, out: TextIO = sys.stdout, keys: TextIO = sys.stdin) -> None:
        self._out = out
        self._keys = keys
        self.interactive = out.isatty()
        self._saved_mode: list[Any] | None = None

    def __enter__(self) -> Screen:
        if self.interactive:
            self._out.write(ENTER_SCREEN)
            if self._keys.isatty():
                self._saved_mode = termios.tcgetattr(self._keys.fileno())
                tty.setcbreak(self._keys.fileno())
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._saved_mode is not None:
            termios.tcsetattr(self._keys.fileno(), termios.TCSADRAIN, self._saved_mode)
        if self.interactive:
            self._out.write(LEAVE_SCREEN)
            self._out.flush()

    def draw(self, frame: Frame) -> None:
        """Replace the screen with the frame, cut to the terminal's size; print it plain when not a tty."""
        if not self.interactive:
            self._out.write("\n".join([*frame.head, frame.header, *frame.rows]) + "\n\n")
            self._out.flush()
            return
        width, height = shutil.get_terminal_size()
        head = frame.head if len(frame.head) > 1 else [*frame.head, KEYS_HELP]
        room = max(0, height - len(head) - 2)
        lines = [*head, "", f"{REVERSE}{frame.header[:width].ljust(width)}{PLAIN}", *frame.rows[:room]]
        self._out.write(
            HOME_AND_CLEAR + "\r\n".join(line if line.startswith(REVERSE) else line[:width] for line in lines)
        )
        self._out.flush()

    def key(self, timeout: float) -> str:
        """The next key pressed within ``timeout`` seconds, or ""."""
        if self._saved_mode is None:
            time.sleep(timeout)
            return ""
        ready, _, _ = select.select([self._keys], [], [], timeout)
        return os.read(self._keys.fileno(), 1).decode(errors="replace") if ready else ""


class StatsUnavailable(Exception):
    """The stats could not be had this time (the daemon went away); shown, and tried again."""


StatsSource = Callable[[], list[api.ContainerStats]]


def run_top(
    screen: Screen,
    source: StatsSource,
    interval: float,
    iterations: int,
    sort: SortKey,
    idle: Callable[[], None],
) -> None:
    """Draw a frame each ``interval`` until q, Ctrl-C, or ``iterations`` frames (0: no end)."""
    tracker = RateTracker()
    rows: list[Row] = []
    status = ""

    def draw() -> None:
        screen.draw(render(sort_rows(rows, sort), status, time.strftime("%H:%M:%S")))

    frames = 0
    while True:
        status = ""
        try:
            rows = tracker.update(source())
        except StatsUnavailable as unavailable:
            status = f"{unavailable} - retrying every {interval:g}s"
        draw()
        frames += 1
        if iterations and frames >= iterations:
            return
        deadline = time.monotonic() + interval
        while (left := deadline - time.monotonic()) > 0:
            pressed = screen.key(min(KEY_WAIT_S, left)).lower()
            idle()
            if pressed == "q":
                return
            if pressed in {k.value for k in SortKey}:
                sort = SortKey(pressed)
                draw()


def _remote_source(remote: Connection, containers: list[str], max_age_ms: int) -> StatsSource:
    def read() -> list[api.ContainerStats]:
        try:
            return container_stats(remote, containers, max_age_ms)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and error.code() in (
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.INVALID_ARGUMENT,
            ):
                raise click.ClickException(str(error.details())) from None
            raise StatsUnavailable(rpc_failure(error, remote)) from None

    return read


def _local_source(capture: Capture, containers: list[str]) -> StatsSource:
    cache = host_stats_cache()

    def read() -> list[api.ContainerStats]:
        try:
            targets = stats_targets(capture, containers)
        except (ContainerNotFound, AmbiguousContainer) as error:
            raise click.ClickException(str(error)) from None
        return read_stats(cache, targets, FRESH_MS)

    return read


@click.command("top")
@click.argument("containers", nargs=-1, metavar="[CONTAINER]...")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option(
    "--iterations",
    "-n",
    type=click.IntRange(min=0),
    default=0,
    help="Stop after this many frames (0: until q or Ctrl-C). With output to a pipe, top prints plain frames.",
)
@click.option(
    "--sort",
    type=click.Choice([k.name.lower() for k in SortKey]),
    default="cpu",
    show_default=True,
    help="The first sort order; keys change it while running.",
)
@connect_options
@capture_options
@log_format_option
def top(containers: tuple[str, ...], **flags: Any) -> None:
    """Watch running containers' resource use, live: CPU, memory, tasks, network and block IO.

    CPU% is of one core (200 = two cores busy); CPUS is the quota. MEM is the working set
    (usage minus inactive page cache), MEM% of the limit. NET and READ/WRITE are per second,
    loopback left out. Name CONTAINERs (ids, unique id prefixes or names) to watch only those.

    Keys: c cpu, m memory, p pids, n network, i io, a name; q quits.

    \b
    Examples:
      sensor top
      sensor top web db --interval 2
      sensor top --connect unix:///run/sensor/sensor.sock
      sensor top -n 1 > snapshot.txt
    """
    setup_logging(flags["log_format"])
    check_flags_fit_side(flags)
    sort = SortKey[flags["sort"].upper()]
    interval = flags["interval"]
    wanted = list(containers)
    if flags["connect"]:
        source = _remote_source(connection(flags), wanted, max(1, int(interval * 500)))
        _watch(source, lambda: None, interval, flags["iterations"], sort)
        return
    capture = Capture(capture_config(flags))
    start_or_exit(capture.start, "top")

    def keep_model_current() -> None:  # containers come and go while top runs
        capture.poll(0, kinds=())

    try:
        _watch(_local_source(capture, wanted), keep_model_current, interval, flags["iterations"], sort)
    finally:
        capture.close()


def _watch(source: StatsSource, idle: Callable[[], None], interval: float, iterations: int, sort: SortKey) -> None:
    try:
        source()  # a sensor or a container that is not there is an error now, not a status line
    except StatsUnavailable as unavailable:
        raise click.ClickException(str(unavailable)) from None
    # Ctrl-C is how many people leave top: a clean exit, the terminal given back.
    with Screen() as screen, contextlib.suppress(KeyboardInterrupt):
        run_top(screen, source, interval, iterations, sort, idle)

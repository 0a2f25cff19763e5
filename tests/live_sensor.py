"""A real `sensor trace --format json` process, for tests on the live kernel.

Tests start their workloads and wait for the events they expect. Many tests share one sensor, and
pids wrap (pid_max is 32768 on many hosts, and the storm tests run thousands of processes), so a
test matches its events by identity: a unique marker in the argv, a ``process_id``, or a pid among
the events that arrived after the test began (:meth:`LiveSensor.since_now`), never by pid alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.child_process import StderrLines, stop_child

ROOT = Path(__file__).resolve().parents[1]
SENSOR = [sys.executable, "-m", "sensor"]
READY_TIMEOUT_S = 60.0

Event = dict[str, Any]


class LiveSensor:
    """`sensor trace` in a child process; its JSON events collected as they arrive."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SENSOR, "trace", "--format", "json", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._reading = threading.Event()  # cleared: stdout is left unread, as a stalled consumer would
        self._reading.set()
        self._stdout = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout.start()
        self._stderr = StderrLines(self.proc.stderr)
        if not self._stderr.ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise RuntimeError("sensor trace never said ready:\n" + self._stderr.text)

    @property
    def stderr_lines(self) -> list[str]:
        """Its stderr's lines so far."""
        return self._stderr.lines

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._reading.wait()
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def stall_reading(self, seconds: float) -> None:
        """Leave the sensor's output unread for ``seconds``: its pipe fills and its writes block."""
        self._reading.clear()
        try:
            time.sleep(seconds)
        finally:
            self._reading.set()

    def since_now(self) -> SensorView:
        """A view of the events that arrive from now on."""
        with self._changed:
            return SensorView(self, len(self.events))

    def wait_for(
        self, predicate: Callable[[Event], bool], count: int = 1, timeout: float = 15.0, since: int = 0
    ) -> list[Event]:
        """The events from index ``since`` on matching ``predicate``, once there are ``count`` (or fail).

        Each event is tested once, as it arrives.
        """
        deadline = time.monotonic() + timeout
        found: list[Event] = []
        seen = since
        with self._changed:
            while True:
                found.extend(e for e in self.events[seen:] if predicate(e))
                seen = len(self.events)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    stderr = self._stderr.text
                    raise AssertionError(
                        f"expected {count} matching events, saw {len(found)}: {found}\nstderr: {stderr}"
                    )
                self._changed.wait(min(left, 0.2))

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit status."""
        code = stop_child(self.proc)
        self._stdout.join(timeout=5)
        self._stderr.join()
        return code


class SensorView:
    """The events of a shared :class:`LiveSensor` from one index on: what one test may match."""

    def __init__(self, sensor: LiveSensor, since: int) -> None:
        self.sensor = sensor
        self.since = since

    @property
    def events(self) -> list[Event]:
        """The events that arrived since the view was made."""
        return self.sensor.events[self.since :]

    def wait_for(self, predicate: Callable[[Event], bool], count: int = 1, timeout: float = 15.0) -> list[Event]:
        """As :meth:`LiveSensor.wait_for`, over this view's events."""
        return self.sensor.wait_for(predicate, count, timeout, self.since)


def process_id_of(pid: int) -> str:
    """The ``process_id`` of a live process, as the sensor names it (read while it runs)."""
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    start_ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
    return f"{boot_id}-{pid}-{start_ticks}"


def process(event: Event) -> dict[str, Any]:
    """The ``process`` payload of an event ({} for other payloads)."""
    payload: dict[str, Any] = event.get("process", {})
    return payload


def is_exec_of(event: Event, marker: str) -> bool:
    """A successful exec whose argv carries ``marker``."""
    p = process(event)
    return p.get("type") == "EXEC" and not p.get("exec_errno") and marker in p.get("exec_command_line", [])


def of_process(event: Event, process_id: str, event_type: str) -> bool:
    """An event of ``event_type`` about the process ``process_id``."""
    return event.get("process_id") == process_id and process(event).get("type") == event_type


def of_pid(event: Event, pid: int, event_type: str) -> bool:
    """An event of ``event_type`` from process ``pid``: only over a test's own events (a SensorView),
    for a process that never exec'd with a marker and is gone before /proc can name it."""
    return event.get("process_tgid") == pid and process(event).get("type") == event_type


def first_exec_id(sensor: LiveSensor | SensorView, marker: str) -> str:
    """The ``process_id`` of the process that exec'd with ``marker`` in its argv."""
    process_id: str = sensor.wait_for(lambda e: is_exec_of(e, marker))[0]["process_id"]
    return process_id


def env_without_sensor() -> dict[str, str]:
    """The environment for workloads (no PYTHON* leaking into child pythons)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def record_trace(recording: Path, workload: list[str]) -> str:
    """`sensor trace --record` for 3 s around one workload run; its JSON output."""
    trace = subprocess.Popen(
        [*SENSOR, "trace", "--record", str(recording), "--format", "json", "--duration", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert trace.stderr is not None
    said = ""
    while "ready" not in (line := trace.stderr.readline()):  # a first start says it compiles, first
        said += line
        assert line, f"sensor trace ended before ready: {said}"
    time.sleep(0.2)
    subprocess.run(workload, env=env_without_sensor(), check=False)
    out, _ = trace.communicate(timeout=60)
    return out


def check_filters_pick_their_kinds(*trace_args: str) -> None:
    """`sensor trace [trace_args] --filter EXPR` without --event: the kinds with the filter's fields, exactly."""
    mark = f"kinds-{uuid.uuid4().hex[:8]}"
    true_execs = LiveSensor(*trace_args, "--filter", 'exec_filename == "/bin/true"')
    failed_exits = LiveSensor(*trace_args, "--filter", "exit_code != 0")
    try:
        for argv in (["/bin/true", mark], ["/bin/sh", "-c", "exit 3", mark], ["/bin/sh", "-c", "exit 0", mark]):
            subprocess.run(argv, env=env_without_sensor(), check=False)
        true_execs.wait_for(lambda e: is_exec_of(e, mark))
        failed_exits.wait_for(lambda e: mark in e.get("command_line", []) and "exit_code" in process(e))
    finally:
        assert (true_execs.stop(), failed_exits.stop()) == (0, 0)
    kept = [e for e in true_execs.events if "lost" not in e]
    assert kept and {(process(e)["type"], process(e)["exec_filename"]) for e in kept} == {("EXEC", "/bin/true")}
    assert [e["command_line"] for e in kept if mark in e["command_line"]] == [["/bin/true", mark]]
    failures = [e for e in failed_exits.events if "lost" not in e]
    assert all(process(e)["type"] == "EXIT" and process(e)["exit_code"] != 0 for e in failures if "process" in e)
    assert all(e["container"]["exit_code"] != 0 for e in failures if "container" in e)
    assert [process(e)["exit_status"] for e in failures if mark in e.get("command_line", [])] == [3]


AMBIGUOUS_FILTER = ("--filter", 'exec_filename == "x" AND exit_code == 1')
AMBIGUOUS_FILTER_ERROR = (
    "Error: --filter: no event kind has every field it names "
    "(exec_filename is on exec events; exit_code is on exit and container events)"
)

"""A real `sensor trace --format json` process, for tests on the live kernel.

Tests start their workloads and wait for the events they expect; every workload carries a unique
marker so that tests sharing one sensor find only their own events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        self.stderr_lines: list[str] = []
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise RuntimeError("sensor trace never said ready:\n" + "".join(self.stderr_lines))

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            if "ready" in line:
                self._ready.set()
        self._ready.set()

    def wait_for(self, predicate: Callable[[Event], bool], count: int = 1, timeout: float = 15.0) -> list[Event]:
        """The events matching ``predicate``, once there are at least ``count`` (or fail)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self.events if predicate(e)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    stderr = "".join(self.stderr_lines)
                    raise AssertionError(
                        f"expected {count} matching events, saw {len(found)}: {found}\nstderr: {stderr}"
                    )
                self._changed.wait(min(left, 0.2))

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        return code


def process(event: Event) -> dict[str, Any]:
    """The ``process`` payload of an event ({} for other payloads)."""
    payload: dict[str, Any] = event.get("process", {})
    return payload


def is_exec_of(event: Event, marker: str) -> bool:
    """A successful exec whose argv carries ``marker``."""
    p = process(event)
    return p.get("type") == "EXEC" and not p.get("exec_errno") and marker in p.get("exec_command_line", [])


def of_pid(event: Event, pid: int, event_type: str) -> bool:
    """An event of ``event_type`` from process ``pid``."""
    return event.get("process_tgid") == pid and process(event).get("type") == event_type


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
    assert "ready" in trace.stderr.readline()
    time.sleep(0.2)
    subprocess.run(workload, env=env_without_sensor(), check=False)
    out, _ = trace.communicate(timeout=60)
    return out

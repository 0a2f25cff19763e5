"""`sensor fleet worker` processes and `sensor fleet` reads, for the tests of the fleet's jobs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.live_sensor import ROOT, SENSOR

READY_TIMEOUT_S = 30.0


def fleet(urls: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`sensor fleet ARGS --nats URLS`, to its end."""
    return subprocess.run(
        [*SENSOR, "fleet", *args, "--nats", urls], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def fleet_json(urls: str, what: str) -> list[dict[str, Any]]:
    """`sensor fleet WHAT --format json`, one object a line; [] while it says there is nothing yet."""
    done = fleet(urls, what, "--format", "json")
    if done.returncode != 0:
        assert "no bucket" in done.stderr, done.stderr
        return []
    return [json.loads(line) for line in done.stdout.splitlines()]


def wait_for(read: Callable[[], Any], timeout: float = 30.0, what: str = "", every: float = 0.25) -> Any:
    """``read()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


class FleetWorker:
    """`sensor fleet worker --name NAME ARGS`, waited for until it says ready; its stderr kept."""

    def __init__(self, urls: str, name: str, *args: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [*SENSOR, "fleet", "worker", "--nats", urls, "--name", name, *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(READY_TIMEOUT_S) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"worker {name} never said ready:\n{self.stderr}")

    @property
    def stderr(self) -> str:
        """What it logged so far."""
        return "".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if ": ready" in line:
                self._ready.set()
        self._ready.set()

    def kill(self) -> None:
        """SIGKILL: no last heartbeat, no lease given up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM, and its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

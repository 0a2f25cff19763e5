"""`sensor fleet worker` processes and `sensor fleet` reads, for the tests of the fleet's jobs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from tests.child_process import StderrLines, stop_child
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
        self._stderr = StderrLines(self.proc.stderr, ": ready")
        if not self._stderr.ready.wait(READY_TIMEOUT_S) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"worker {name} never said ready:\n{self.stderr}")

    @property
    def stderr(self) -> str:
        """What it logged so far."""
        return self._stderr.text

    def kill(self) -> None:
        """SIGKILL: no last heartbeat, no lease given up."""
        stop_child(self.proc, signal.SIGKILL)

    def stop(self) -> int:
        """SIGTERM, and its exit status (-9 if it had to be killed after 30 s)."""
        return stop_child(self.proc)

"""The exports (see bench.py): the exec storm under `sensor run --export-file` and under `sensor run
--export-nats` to a local nats-server, beside `sensor trace` alone, interleaved as the other storms are;
each export's loss as its GetInfo counts it, and the daemon's (and the server's) CPU per event apart.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_client import SensorTraceProcessKinds, exec_storm_figures
from bench_storm import ROOT, SENSOR, Observation, Observer, wait_for_line

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SensorRunExport(Observer):
    """`sensor run` exporting fork, exec and exit events, with no subscriber."""

    name = ""

    def export_args(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="sensor-bench-")
        self.address = f"unix://{self.dir.name}/s.sock"
        self.daemon = subprocess.Popen(
            [*SENSOR, "run", "--listen", self.address, "--export-event", "fork,exec,exit", *self.export_args()],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_line(self.daemon.stderr, "ready", self.daemon, "sensor run")

    def pids(self) -> list[int]:
        return [self.daemon.pid]

    def parts(self) -> dict[str, int]:
        return {"daemon": self.daemon.pid}

    def _export(self) -> dict[str, int]:
        """The export's counters once it has nothing pending (or after 30 s)."""
        deadline = time.monotonic() + 30
        while True:
            status = subprocess.run(
                [*SENSOR, "status", "--connect", self.address, "--format", "json"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            (export,) = json.loads(status.stdout)["exports"]
            if not int(export.get("pending", 0)) or time.monotonic() > deadline:
                return {k: int(export.get(k, 0)) for k in ("sent", "lost", "pending")}
            time.sleep(0.2)

    def stop(self) -> Observation:
        export = self._export()
        self.daemon.terminate()
        self.daemon.communicate(timeout=60)
        self.dir.cleanup()
        return Observation({"exported": export["sent"]}, {"export": export["lost"] + export["pending"]})


class SensorRunExportFile(SensorRunExport):
    name = "sensor run --export-file"

    def export_args(self) -> list[str]:
        return ["--export-file", f"{self.dir.name}/events.jsonl", "--export-file-max-size", "100M"]


class SensorRunExportNats(SensorRunExport):
    name = "sensor run --export-nats (nats-server on this host)"

    def start(self) -> None:
        self.store = tempfile.TemporaryDirectory(prefix="sensor-bench-nats-")
        self.port = _free_port()
        self.server = subprocess.Popen(
            [NATS_SERVER, "-js", "-sd", self.store.name, "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        super().start()

    def export_args(self) -> list[str]:
        return ["--export-nats", f"nats://127.0.0.1:{self.port}"]

    def pids(self) -> list[int]:
        return [self.daemon.pid, self.server.pid]

    def parts(self) -> dict[str, int]:
        return {"daemon": self.daemon.pid, "nats-server": self.server.pid}

    def stop(self) -> Observation:
        observation = super().stop()
        self.server.terminate()
        self.server.wait(30)
        self.store.cleanup()
        return observation


OBSERVERS: tuple[Callable[[], Observer], ...] = (SensorTraceProcessKinds, SensorRunExportFile, SensorRunExportNats)


def export(binary: Path, seconds: float, repeats: int) -> dict[str, object]:
    """The export benchmark; prints its table and returns its figures."""
    return exec_storm_figures(binary, OBSERVERS, seconds, repeats)

"""The daemon's path (see bench.py): `sensor run` with one `sensor trace --connect --format json`
subscriber, under the two-worker exec storm, beside `sensor trace` alone, interleaved as the other
storms are; the daemon's and the client's CPU per event apart (issue 26's figures).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_files import print_storm_rows, storm_rows
from bench_storm import ROOT, SENSOR, Observation, Observer, SensorTrace, storm_runs, wait_for_line

EVENTS_PER_EXEC = 3  # fork, exec, exit
PRINTED = re.compile(r"(\d+) events printed; the sensor reported (\d+) lost")


class SensorRunClient(Observer):
    """`sensor run` and ``clients`` `sensor trace --connect ADDR --format json` to /dev/null."""

    name = "sensor run + sensor trace --connect --format json"
    batch = ""  # --batch DURATION, or none
    clients = 1

    def start(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="sensor-bench-")
        address = f"unix://{self.dir.name}/s.sock"
        self.daemon = subprocess.Popen(
            [*SENSOR, "run", "--listen", address],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_line(self.daemon.stderr, "ready", self.daemon, "sensor run")
        batch = ["--batch", self.batch] if self.batch else []
        self.client_procs = [
            subprocess.Popen(
                [*SENSOR, "trace", "--connect", address, "--format", "json", "--event", "fork,exec,exit", *batch],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(self.clients)
        ]
        for client in self.client_procs:
            wait_for_line(client.stderr, "ready", client, "sensor trace --connect")

    def pids(self) -> list[int]:
        return [self.daemon.pid, *(client.pid for client in self.client_procs)]

    def parts(self) -> dict[str, int]:
        """The daemon, and the first client (the others cost the same)."""
        return {"daemon": self.daemon.pid, "client": self.client_procs[0].pid}

    def stop(self) -> Observation:
        printed = lost = 0
        for client in self.client_procs:
            client.terminate()
            _, err = client.communicate(timeout=60)
            found = PRINTED.search(err)
            if found is None:
                raise SystemExit(f"no summary from sensor trace --connect: {err}")
            printed += int(found.group(1))
            lost += int(found.group(2))
        self.daemon.terminate()
        self.daemon.communicate(timeout=60)
        self.dir.cleanup()
        return Observation({"printed": printed}, {"subscribers": lost})


class SensorRunClientBatched(SensorRunClient):
    name = "sensor run + sensor trace --connect --format json --batch 20ms"
    batch = "20ms"


class SensorRunTenClientsBatched(SensorRunClient):
    name = "sensor run + 10 x sensor trace --connect --format json --batch 20ms"
    batch = "20ms"
    clients = 10


class SensorTraceProcessKinds(SensorTrace):
    name = "sensor trace --format json --event fork,exec,exit"
    options = ("--event", "fork,exec,exit")

    def stop(self) -> Observation:
        self.proc.terminate()
        self.proc.communicate(timeout=60)
        return Observation()


OBSERVERS: tuple[Callable[[], Observer], ...] = (
    SensorTraceProcessKinds,
    SensorRunClient,
    SensorRunClientBatched,
    SensorRunTenClientsBatched,
)


def exec_storm_figures(
    binary: Path, observers: tuple[Callable[[], Observer], ...], seconds: float, repeats: int
) -> dict[str, object]:
    """The exec storm under each observer, interleaved; prints the table and returns the figures."""

    def workload_of(workers: int) -> Callable[[], int]:
        return lambda: storm_runs(binary, workers, seconds)

    rows = storm_rows("exec", workload_of, EVENTS_PER_EXEC, observers, seconds, repeats)
    print_storm_rows(rows)
    return {"seconds": seconds, "repeats": repeats, "rows": rows}


def client(binary: Path, seconds: float, repeats: int) -> dict[str, object]:
    """The daemon-path benchmark; prints its table and returns its figures."""
    return exec_storm_figures(binary, OBSERVERS, seconds, repeats)

"""Shared fixtures: one live sensor for the whole session, and compiled workloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import DockerDaemon
from tests.live_sensor import ROOT, SENSOR, LiveSensor, SensorView

WORKLOADS = Path(__file__).parent / "workloads"
PROCESS_AND_CONTAINER_KINDS = "fork,exec,exit,credentials,container"


@pytest.fixture(scope="session", autouse=True)
def compiled_programs() -> None:
    """A first start on this kernel compiles the BPF programs (and says so before `ready`): done
    once here, as a person's first run would, so that every test's start loads them. Two objects:
    without the file hooks (`--event` without file) and with them."""
    if os.geteuid() == 0:
        for kinds in (["--event", "exec"], []):
            subprocess.run([*SENSOR, "trace", "--duration", "0.1", *kinds], cwd=ROOT, capture_output=True, check=True)


@pytest.fixture(scope="session")
def session_sensor() -> Iterator[LiveSensor]:
    """`sensor trace --format json` running on this kernel for the whole session: every kind but
    file events (every write on the host, kept for the whole session; tests/e2e/test_file_events.py
    has a sensor of its own)."""
    if os.geteuid() != 0:
        pytest.fail("the live tests load BPF programs: run them as root (scripts/test)")
    sensor = LiveSensor("--event", PROCESS_AND_CONTAINER_KINDS)
    yield sensor
    sensor.stop()


@pytest.fixture
def live_sensor(session_sensor: LiveSensor) -> SensorView:
    """The session's sensor, showing a test only the events that arrived after it began."""
    return session_sensor.since_now()


def _compile_workload(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Path:
    out = tmp_path_factory.mktemp("workloads") / name
    subprocess.run(["gcc", "-O2", *flags, "-o", str(out), str(WORKLOADS / f"{name}.c")], check=True)
    return out


@pytest.fixture(scope="session")
def storm_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/workloads/storm.c, compiled."""
    return _compile_workload(tmp_path_factory, "storm")


@pytest.fixture(scope="session")
def threads_exit_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/workloads/threads_exit.c, compiled."""
    return _compile_workload(tmp_path_factory, "threads_exit", "-pthread")


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    """A dockerd of the tests' own (private socket and roots) with the busybox test image."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is missing: scripts/test installs docker.io; run the suite through it")
    daemon = DockerDaemon(Path(tempfile.mkdtemp(prefix="sensor-dockerd-")))
    yield daemon
    daemon.stop()

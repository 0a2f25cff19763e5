"""Every command with --connect refuses the flags that mean nothing on the side it runs."""

from __future__ import annotations

import subprocess

import pytest

from tests.live_sensor import ROOT, SENSOR

COMMANDS = ["trace", "workload-list", "top"]


def sensor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENSOR, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", COMMANDS)
def test_tls_flags_without_connect_are_refused_not_ignored(command: str) -> None:
    result = sensor(command, "--tls-ca", "/etc/ca.pem", "--tls-server-name", "sensor.example")
    assert result.returncode == 2
    assert "Error: --tls-ca, --tls-server-name: only with --connect" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_capture_flags_with_connect_are_refused_not_ignored(command: str) -> None:
    result = sensor(command, "--connect", "unix:///nonexistent/sensor.sock", "--buffer-size", "1M", "--cgroup-v1")
    assert result.returncode == 2
    assert "Error: --cgroup-v1, --buffer-size set how probes are loaded here; with --connect the daemon decides" in (
        result.stderr
    )
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--connect", "unix:///nonexistent/sensor.sock", "--tls-ca", "/etc/hosts"],
            "Error: --tls-ca: TLS applies to --connect tcp://HOST:PORT; a unix socket is protected by its mode",
        ),
        (["--connect", "tcp://127.0.0.1:1", "--tls-cert", "/etc/hosts"], "Error: --tls-cert and --tls-key go together"),
        (
            ["--connect", "tcp://127.0.0.1:1", "--tls-ca", "/nonexistent/ca.pem"],
            "Error: --tls-ca /nonexistent/ca.pem: No such file or directory",
        ),
    ],
)
def test_tls_flags_that_cannot_work_are_refused_before_connecting(command: str, args: list[str], message: str) -> None:
    result = sensor(command, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr

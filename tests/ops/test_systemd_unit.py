"""scripts/systemd/sensor.service: a valid unit whose hardening still lets the sensor load its probes."""

from __future__ import annotations

import json
import subprocess
import time

from sensor.cli.fleet_jobs import worker
from tests.live_sensor import ROOT, SENSOR

UNIT = ROOT / "scripts/systemd/sensor.service"


def unit_setting(name: str) -> str:
    return next(line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{name}="))


def test_unit_passes_systemd_analyze_verify() -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_unit_runs_the_daemon_with_json_logs_and_a_private_socket_dir() -> None:
    assert unit_setting("ExecStart") == "/usr/local/bin/sensor run --log-format json"
    assert unit_setting("RuntimeDirectory") == "sensor"
    assert unit_setting("CacheDirectory") == "sensor"  # /var/cache/sensor, the --bpf-cache default
    assert unit_setting("Environment") == "SENSOR_LISTEN=unix:///run/sensor/sensor.sock"
    assert unit_setting("ProtectSystem") == "strict"
    assert unit_setting("NoNewPrivileges") == "yes"


def test_the_units_capability_bounding_set_is_enough_to_trace() -> None:
    caps = ",".join("+" + cap.removeprefix("CAP_").lower() for cap in unit_setting("CapabilityBoundingSet").split())
    proc = subprocess.Popen(
        [
            "setpriv",
            f"--bounding-set=-all,{caps}",
            "--inh-caps=-all",
            *SENSOR,
            "trace",
            "--format",
            "json",
            "--duration",
            "30",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    ready = proc.stderr.readline()
    assert "ready" in ready, ready + proc.stderr.read()
    time.sleep(0.2)
    subprocess.run(["/bin/echo", "unit-caps-mark"], check=True, stdout=subprocess.DEVNULL)
    marked = []
    for line in proc.stdout:
        event = json.loads(line)
        if "unit-caps-mark" in event.get("process", {}).get("exec_command_line", []):
            marked.append(event["process"]["exec_filename"])
            break
    proc.terminate()
    proc.communicate(timeout=30)
    assert marked == ["/bin/echo"]


WORKER_UNIT = ROOT / "scripts/systemd/sensor-fleet-worker.service"


def test_the_worker_unit_passes_systemd_analyze_verify() -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(WORKER_UNIT)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_worker_units_command_line_is_one_sensor_fleet_worker_takes() -> None:
    (exec_start,) = [line for line in WORKER_UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    program, *args = exec_start.removeprefix("ExecStart=").replace("%H", "web-1").split()
    assert (program, args[:2]) == ("/usr/local/bin/sensor", ["fleet", "worker"])
    context = worker.make_context("worker", [*args[2:], "--nats", "nats://127.0.0.1:4222"])
    assert (context.params["name"], context.params["log_format"]) == ("web-1", "json")

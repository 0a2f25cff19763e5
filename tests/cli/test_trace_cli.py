"""`sensor trace` and `sensor doctor` as a person runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.live_sensor import (
    AMBIGUOUS_FILTER,
    AMBIGUOUS_FILTER_ERROR,
    ROOT,
    SENSOR,
    LiveSensor,
    check_filters_pick_their_kinds,
)


def sensor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENSOR, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--event", "exec,bogus"],
            "unknown event kind 'bogus' (choose from fork, exec, exit, credentials, file, network, container)",
        ),
        (["--format", "yaml"], "'yaml' is not one of 'compact', 'json'"),
        (["--log-format", "xml"], "'xml' is not one of 'text', 'json'"),
        (["--buffer-size", "3M"], "'3M' must be a power of two"),
        (["--buffer-size", "lots"], "'lots' is not a size"),
        (
            ["--buffer-size", "4G"],
            "Invalid value for --buffer-size: '4G' is over the largest buffer the kernel takes, 2G",
        ),
        (["--count", "0"], "0 is not in the range x>=1"),
        (["--duration", "-1"], "-1.0 is not in the range x>0"),
        (["--throttle", "soon"], "Invalid value for --throttle: 'soon' is not a duration (examples: 500ms, 2s, 1m)"),
        (["--filter", "uid == 0 AND"], "--filter: column 13: expected a field name, NOT or '(', found the end"),
        (
            ["--event", "fork", "--filter", "exec_errno != 0"],
            "--filter: column 1: unknown field 'exec_errno': it is only on EXEC events, and this filter is for FORK",
        ),
        (
            ["--event", "exec", "--filter", "exit_code != 0"],
            "Error: --filter: column 1: unknown field 'exit_code': it is only on EXIT events, and this filter is for "
            "EXEC events\n",  # once, though the exec kind's filter is two (EXEC and UPDATE)
        ),
        (["--reconnect"], "--reconnect: only with --connect"),
        (["--batch", "20ms", "--tls-ca", "/etc/ca.pem"], "--batch, --tls-ca: only with --connect"),
        (["--batch", "2s"], "Invalid value for --batch: '2s' is over the longest batch delay, 1s"),
        (["--batch", "later"], "Invalid value for --batch: 'later' is not a duration (examples: 500ms, 2s, 1m)"),
        (["--connect", "somewhere"], "'somewhere': expected unix:///ABSOLUTE/PATH, /ABSOLUTE/PATH or tcp://HOST:PORT"),
        (["--connect", "/tmp/x.sock", "--cgroup-v1"], "--cgroup-v1 set how probes are loaded here"),
        (["--connect", "/tmp/x.sock", "--record", "/tmp/r"], "--record set how probes are loaded here"),
    ],
)
def test_bad_flags_fail_fast_with_a_specific_message(args: list[str], message: str) -> None:
    result = sensor("trace", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_a_filter_without_event_picks_the_kinds_that_have_its_fields() -> None:
    check_filters_pick_their_kinds()


def test_a_filter_whose_fields_no_kind_has_together_names_each_field_s_kinds() -> None:
    result = sensor("trace", *AMBIGUOUS_FILTER)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().endswith(AMBIGUOUS_FILTER_ERROR)


def test_a_record_file_that_cannot_be_written_stops_trace_before_any_probe_is_loaded(tmp_path: Path) -> None:
    result = sensor("trace", "--record", str(tmp_path / "missing-dir" / "storm.rec"), "--count", "1")
    assert result.returncode == 1
    assert f"Error: cannot record to {tmp_path}/missing-dir/storm.rec: No such file or directory" in result.stderr
    assert "ready" not in result.stderr
    assert "Traceback" not in result.stderr


def trace_while_running(args: list[str], workload: list[str]) -> tuple[int, str, str]:
    """Run `sensor trace ARGS`, starting ``workload`` repeatedly until the trace stops by itself."""
    proc = subprocess.Popen(
        [*SENSOR, "trace", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        subprocess.run(workload, check=False)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_count_stops_after_n_events_with_ready_and_a_loss_summary() -> None:
    code, out, err = trace_while_running(["--format", "json", "--count", "3"], ["/bin/true"])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert all("sensor_sequence_number" in json.loads(line) for line in lines)
    assert "ready" in err.splitlines()[0]
    assert "3 events printed" in err
    assert "lost: kernel 0" in err


def test_log_format_json_writes_every_stderr_line_as_one_json_object() -> None:
    code, _, err = trace_while_running(["--log-format", "json", "--count", "2"], ["/bin/true"])
    assert code == 0
    entries = [json.loads(line) for line in err.splitlines()]
    assert [(e["level"], e["event"]) for e in (entries[0], entries[-1])] == [("info", "ready"), ("info", "summary")]
    assert entries[0]["message"].startswith("ready (")
    assert entries[0]["processes"] > 0
    assert entries[-1]["printed"] == 2
    assert entries[-1]["lost_kernel"] == 0
    assert entries[-1]["time"].endswith("+00:00")


def test_filter_and_limit_work_without_a_daemon() -> None:
    code, out, err = trace_while_running(
        ["--format", "json", "--event", "exec", "--filter", 'exec_command_line LIKE "* local-mark"', "--limit", "2"],
        ["/bin/echo", "local-mark"],
    )
    assert code == 0
    assert [json.loads(line)["process"]["exec_command_line"] for line in out.splitlines()] == [
        ["/bin/echo", "local-mark"]
    ] * 2
    assert "2 events printed" in err and "(--limit reached)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "tcp://127.0.0.1:7443"], "needs --tls-cert and --tls-key"),
        (["--listen", "/tmp/x.sock", "--tls-cert", "a.pem"], "--tls-cert and --tls-key go together"),
        (["--listen", "/tmp/x.sock", "--tls-cert", "a", "--tls-key", "b"], "TLS options apply to --listen tcp://"),
        (["--queue-events", "1"], "1 is not in the range x>=16"),
    ],
)
def test_run_refuses_unsafe_or_bad_listen_flags(args: list[str], message: str) -> None:
    result = sensor("run", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_run_takes_its_flags_from_sensor_environment_variables() -> None:
    result = subprocess.run(
        [*SENSOR, "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SENSOR_LISTEN": "tcp://127.0.0.1:7443"},
    )
    assert result.returncode == 2
    assert "--listen tcp://127.0.0.1:7443 needs --tls-cert and --tls-key" in result.stderr


def test_sigterm_stops_cleanly_with_the_summary() -> None:
    live = LiveSensor()
    time.sleep(0.5)
    live.proc.send_signal(signal.SIGTERM)
    assert live.stop() == 0
    assert "events printed" in live.stderr_lines[-1]


def test_duration_stops_by_itself() -> None:
    result = sensor("trace", "--duration", "1", "--event", "exit")
    assert result.returncode == 0
    assert "ready" in result.stderr
    assert "events printed" in result.stderr


def test_compact_output_is_one_readable_line_per_event() -> None:
    code, out, _ = trace_while_running(["--event", "exit", "--count", "1"], ["/bin/sh", "-c", "exit 4"])
    assert code == 0
    (line,) = out.splitlines()
    assert " exit " in line
    assert "pid=" in line and "uid=" in line


def test_doctor_prints_each_hook_and_its_backend() -> None:
    result = sensor("doctor")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.split()}
    assert rows["fork"] == "raw_tracepoint"
    assert rows["exec"] == "raw_tracepoint"
    assert rows["exit"] == "raw_tracepoint"
    assert rows["transport"] == "ring_buffer"
    assert rows["credentials"] in ("kprobe", "syscall_tracepoints")
    assert "ok: the sensor can attach every required hook" in result.stdout


def test_doctor_says_whether_the_programs_for_this_kernel_are_compiled(tmp_path: Path) -> None:
    assert sensor("trace", "--duration", "1", "--event", "exec").returncode == 0  # compiles if need be
    rows = {line.split("  ")[0]: line for line in sensor("doctor").stdout.splitlines()}
    assert "cached (/var/cache/sensor/bpf-" in rows["compiled programs"]


def test_doctor_as_a_non_root_user_says_what_to_fix_and_fails() -> None:
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *SENSOR, "doctor"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "running as root     no (uid 65534)" in result.stdout
    assert "error: running as root: run as root (sudo sensor ...)" in result.stdout
    assert "error: capabilities: in a container, run privileged or add CAP_SYS_ADMIN" in result.stdout
    assert "the sensor cannot start here: fix running as root, capabilities" in result.stderr


def test_doctor_names_a_dead_runtime_socket_and_what_it_costs(tmp_path: Path) -> None:
    dead = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(dead))
    listener.close()  # the file stays; nobody answers on it
    result = sensor("doctor", "--docker-socket", str(dead))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("docker socket"))
    assert f"{dead}: " in row and "answers" not in row
    assert "note: docker socket: start docker (or point --docker-socket elsewhere)" in result.stdout
    assert any(line.startswith("cgroups") and "(watching /sys/fs/cgroup" in line for line in result.stdout.splitlines())


def test_help_teaches_with_examples() -> None:
    result = sensor("trace", "--help")
    assert result.returncode == 0
    assert "sensor trace --event exec,exit" in result.stdout
    assert "--filter EXPR" in result.stdout and "--connect ADDR" in result.stdout
    assert "--format [compact|json]" in result.stdout

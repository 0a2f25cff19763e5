"""`sensor trace --connect` and `sensor workload-list` against a real `sensor run`, as a person types them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers import IMAGE, DockerDaemon
from tests.live_sensor import (
    AMBIGUOUS_FILTER,
    AMBIGUOUS_FILTER_ERROR,
    SENSOR,
    LiveSensor,
    check_filters_pick_their_kinds,
    env_without_sensor,
    is_exec_of,
)
from tests.sensor_daemon import SensorDaemon, Stream, exec_filter, stub, subscription

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="sensor-cli-"))
    yield f"unix://{directory / 'sensor.sock'}"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(address: str, docker_daemon: DockerDaemon) -> Iterator[SensorDaemon]:
    running = SensorDaemon("--listen", address, "--docker-socket", str(docker_daemon.socket))
    yield running
    running.stop()


def sensor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENSOR, *args], capture_output=True, text=True, timeout=120)


def test_trace_connect_with_a_filter_prints_only_matching_events(daemon: SensorDaemon, address: str) -> None:
    mark = f"mark-{uuid.uuid4().hex[:8]}"
    remote = LiveSensor("--connect", address, "--event", "exec", "--filter", f'exec_command_line LIKE "* {mark}"')
    try:
        subprocess.run(["/bin/true", "nope"], env=env_without_sensor())
        subprocess.run(["/bin/echo", mark], env=env_without_sensor(), stdout=subprocess.DEVNULL)
        found = remote.wait_for(lambda e: is_exec_of(e, mark))
    finally:
        assert remote.stop() == 0
    assert [e["process"]["exec_command_line"] for e in remote.events] == [["/bin/echo", mark]]
    assert found[0]["process_tgid"] > 0
    assert "ready (subscribed to" in "".join(remote.stderr_lines)


def test_trace_connect_with_a_filter_and_no_event_picks_the_kinds_that_have_its_fields(
    daemon: SensorDaemon, address: str
) -> None:
    check_filters_pick_their_kinds("--connect", address)
    result = sensor("trace", "--connect", address, *AMBIGUOUS_FILTER)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().endswith(AMBIGUOUS_FILTER_ERROR)


def test_trace_connect_with_batch_holds_events_until_the_oldest_is_that_old(daemon: SensorDaemon, address: str) -> None:
    mark = f"mark-{uuid.uuid4().hex[:8]}"
    remote = LiveSensor(
        "--connect", address, "--batch", "1s", "--event", "exec", "--filter", f'exec_command_line LIKE "* {mark}"'
    )
    try:
        started = time.monotonic()
        for _ in range(3):
            subprocess.run(["/bin/true", mark], env=env_without_sensor())
            time.sleep(0.05)
        remote.wait_for(lambda e: is_exec_of(e, mark))
        first_printed_after = time.monotonic() - started
        found = remote.wait_for(lambda e: is_exec_of(e, mark), count=3)
    finally:
        assert remote.stop() == 0
    assert len(found) == 3
    assert first_printed_after >= 0.9  # held for its batch: without --batch it comes within milliseconds


def test_trace_connect_with_a_bad_filter_exits_2_naming_the_column(daemon: SensorDaemon, address: str) -> None:
    result = sensor("trace", "--connect", address, "--event", "exec", "--filter", "pid == 1 AND comm = 'sh'")
    assert result.returncode == 2
    assert "Error: --filter: column 19: unexpected character '=' (equality is '==')" in result.stderr


def test_trace_connect_to_a_missing_socket_says_so(tmp_path: Path) -> None:
    result = sensor("trace", "--connect", f"unix://{tmp_path}/none.sock", "--count", "1")
    assert result.returncode == 1
    assert f"Error: cannot talk to the sensor at unix://{tmp_path}/none.sock: UNAVAILABLE" in result.stderr


def test_trace_reconnect_follows_the_sensor_across_a_restart(tmp_path: Path) -> None:
    path = Path(tempfile.mkdtemp(prefix="sensor-re-")) / "sensor.sock"
    first = SensorDaemon("--listen", f"unix://{path}")
    mark = f"mark-{uuid.uuid4().hex[:8]}"
    remote = LiveSensor("--connect", f"unix://{path}", "--reconnect", "--event", "exec", "--filter",
                        f'exec_command_line LIKE "* {mark}*"')  # fmt: skip
    second = None
    try:
        subprocess.run(["/bin/echo", f"{mark}-1"], env=env_without_sensor(), stdout=subprocess.DEVNULL)
        remote.wait_for(lambda e: is_exec_of(e, f"{mark}-1"))
        assert first.stop() == 0
        second = SensorDaemon("--listen", f"unix://{path}")
        stderr = remote.stderr_lines
        for _ in range(100):
            if sum("ready" in line for line in stderr) >= 2:
                break
            subprocess.run(["/bin/sleep", "0.1"])
        subprocess.run(["/bin/echo", f"{mark}-2"], env=env_without_sensor(), stdout=subprocess.DEVNULL)
        remote.wait_for(lambda e: is_exec_of(e, f"{mark}-2"))
    finally:
        assert remote.stop() == 0
        if second is not None:
            second.stop()
        shutil.rmtree(path.parent, ignore_errors=True)
    text = "".join(remote.stderr_lines)
    assert "lost the stream from" in text and "the sensor is shutting down" in text and "reconnecting" in text


def test_trace_reconnect_waits_for_a_subscriber_slot_while_the_sensor_is_full(tmp_path: Path) -> None:
    path = tmp_path / "sensor.sock"
    full = SensorDaemon("--listen", f"unix://{path}", "--max-subscribers", "1")
    occupant = Stream(stub(f"unix:{path}"), subscription(exec_filter()))
    mark = f"mark-{uuid.uuid4().hex[:8]}"
    trace = subprocess.Popen(
        [*SENSOR, "trace", "--connect", f"unix://{path}", "--reconnect", "--format", "json", "--count", "1",
         "--duration", "60", "--event", "exec", "--filter", f'exec_command_line LIKE "* {mark}"'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert trace.stderr is not None
    try:
        said = [trace.stderr.readline()]
        assert said[0].endswith(
            f"the sensor at unix://{path} refused the subscription (RESOURCE_EXHAUSTED: already serving 1 subscribers"
            " (sensor run --max-subscribers)); trying again in 0.5s\n"
        ), said
        occupant.cancel()
        while "ready (subscribed to" not in said[-1]:
            said.append(trace.stderr.readline())
            assert said[-1], said
        subprocess.run(["/bin/echo", mark], env=env_without_sensor(), stdout=subprocess.DEVNULL)
        out, _ = trace.communicate(timeout=60)
    finally:
        trace.kill()
        trace.wait()
        full.stop()
    assert trace.returncode == 0
    assert [json.loads(line)["process"]["exec_command_line"] for line in out.splitlines()] == [["/bin/echo", mark]]


def test_status_shows_what_the_daemon_read_and_lost_and_the_open_subscription(
    daemon: SensorDaemon, address: str
) -> None:
    stream = Stream(stub(address), subscription(exec_filter()))
    try:
        subprocess.run(["/bin/true"], env=env_without_sensor())
        text = sensor("status", "--connect", address)
        document = sensor("status", "--connect", address, "--format", "json")
    finally:
        stream.cancel()
    assert text.returncode == 0, text.stderr
    summary, table = text.stdout.split("\n\n")
    lines = {line.split(":")[0].split()[0]: line for line in summary.splitlines() if not line.startswith(" ")}
    assert f"kernel {os.uname().release}, up " in lines["sensor"]
    assert "exec=" in lines["hooks"] and "exec=none" not in lines["hooks"]
    assert lines["lost"] == "lost: kernel 0, reader 0, undecodable 0, subscribers 0"
    streaming = int(lines["subscriptions"].split()[1])  # ours, and any a test before it has not yet closed
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "SENT", "LOST", "THROTTLED", "QUEUED", "PEER"]
    assert streaming >= 1 and len(rows) == streaming
    info = json.loads(document.stdout)
    assert int(info["counters"]["records_read"]) > 0
    assert info["subscriptions"] and all(s["peer"].startswith("unix:") for s in info["subscriptions"])


def test_status_of_a_missing_daemon_exits_1_naming_the_address(tmp_path: Path) -> None:
    result = sensor("status", "--connect", f"unix://{tmp_path}/none.sock")
    assert result.returncode == 1
    assert f"Error: cannot talk to the sensor at unix://{tmp_path}/none.sock: UNAVAILABLE" in result.stderr


def test_workload_list_connect_shows_a_running_container(
    daemon: SensorDaemon, address: str, docker_daemon: DockerDaemon
) -> None:
    name = f"wl-{uuid.uuid4().hex[:8]}"
    docker_daemon.run("run", "-d", "--name", name, IMAGE, "sleep", "300")
    try:
        for _ in range(50):
            table = sensor("workload-list", "--connect", address, "--only", "containers")
            if name in table.stdout:
                break
    finally:
        docker_daemon.run("rm", "-f", name, check=False)
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["CONTAINER", "NAME", "STATE", "RUNTIME", "PROCS", "POD", "IMAGE"]
    mine = [row.split() for row in rows if name in row]
    assert [row[1:] for row in mine] == [[name, "RUNNING", "docker", "1", "-", IMAGE]]


def test_workload_list_embedded_json_has_this_process() -> None:
    result = sensor("workload-list", "--format", "json", "--only", "processes")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    mine = [p for p in document["processes"] if p["pid"] == os.getpid()]
    assert [(p["command_line"][0], p["language"]) for p in mine] == [(sys.executable, "python")]
    assert "containers" not in document

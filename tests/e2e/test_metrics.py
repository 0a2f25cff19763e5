"""`sensor run --metrics-listen`: a real daemon scraped over HTTP while real processes run."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor.kernel.bpf_stats import enable_stats
from tests.live_sensor import SENSOR, env_without_sensor
from tests.sensor_daemon import SensorDaemon, Stream, argv_has, exec_filter, free_port, scrape, stub, subscription

QUEUE_EVENTS = 256  # as in test_server: the reading client keeps up, the stalled one overflows


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, metrics_port: int) -> Iterator[tuple[SensorDaemon, str]]:
    directory: Path = tmp_path_factory.mktemp("metrics")
    running = SensorDaemon(
        "--listen",
        f"unix://{directory / 's.sock'}",
        "--queue-events",
        str(QUEUE_EVENTS),
        "--metrics-listen",
        str(metrics_port),
    )
    yield running, f"unix:{directory / 's.sock'}"
    running.stop()


def test_ready_line_names_the_metrics_endpoint(daemon: tuple[SensorDaemon, str], metrics_port: int) -> None:
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in daemon[0].stderr


def test_scrape_counts_events_by_kind_records_by_hook_and_every_loss_stage(
    daemon: tuple[SensorDaemon, str], metrics_port: int
) -> None:
    mark = f"mark-{uuid.uuid4().hex[:12]}"
    runs = 1500
    padding = "p" * 4000  # big events: gRPC's flow-control windows hold megabytes before the server blocks
    expression = f'exec_command_line LIKE "* {mark}"'
    stalled = Stream(stub(daemon[1]), subscription(exec_filter(expression)))
    reader = Stream(stub(daemon[1]), subscription(exec_filter(expression)))
    workload = subprocess.Popen(
        ["/bin/sh", "-c", f"i=0; while [ $i -lt {runs} ]; do /bin/true {padding} {mark}; i=$((i+1)); done"],
        env=env_without_sensor(),
    )
    for received, event in enumerate(reader.events(), start=1):
        assert argv_has(event, mark)
        if received == runs:
            break
    assert workload.wait() == 0
    samples = scrape(metrics_port)
    stalled.cancel()
    reader.cancel()
    assert samples[("sensor_events_total", (("kind", "exec"),))] >= runs
    assert samples[("sensor_events_total", (("kind", "fork"),))] >= runs
    assert samples[("sensor_records_total", (("hook", "exec"),))] >= runs
    assert samples[("sensor_records_read_total", ())] >= 3 * runs  # fork, exec, exit of each
    for hook in ("fork", "exec", "exec_failed", "exit", "credentials", "cgroups"):
        assert samples[("sensor_lost_total", (("hook", hook), ("stage", "kernel")))] == 0
    assert samples[("sensor_lost_total", (("hook", ""), ("stage", "reader")))] == 0
    assert samples[("sensor_lost_total", (("hook", ""), ("stage", "decode")))] == 0
    assert samples[("sensor_lost_total", (("hook", ""), ("stage", "subscriber")))] > 0
    dropped = {labels: value for (name, labels), value in samples.items() if name == "sensor_subscriber_dropped_total"}
    assert sorted(value > 0 for value in dropped.values()) == [False, True]  # the stalled one, not the reader
    depths = [value for (name, _), value in samples.items() if name == "sensor_subscriber_queue_events"]
    assert QUEUE_EVENTS in depths
    assert samples[("sensor_subscriptions", ())] == 2


def test_scrape_shows_the_model_the_buffer_and_the_sensor_process(
    daemon: tuple[SensorDaemon, str], metrics_port: int
) -> None:
    samples = scrape(metrics_port)
    assert samples[("sensor_process_cache_entries", ())] > 10
    assert samples[("sensor_process_cache_capacity", ())] == 200_000
    assert samples[("sensor_ring_buffer_size_bytes", ())] == 16 * 1024 * 1024
    assert 0 <= samples[("sensor_ring_buffer_used_bytes", ())] < 16 * 1024 * 1024
    assert ("sensor_container_cache_entries", ()) in samples
    assert samples[("process_resident_memory_bytes", ())] > 10 * 1024 * 1024


def test_bpf_run_time_per_program_is_counted_while_kernel_stats_are_on(
    daemon: tuple[SensorDaemon, str], metrics_port: int
) -> None:
    stats_fd = enable_stats()
    try:
        for _ in range(20):
            subprocess.run(["/bin/true"], check=True)
        samples = scrape(metrics_port)
    finally:
        os.close(stats_fd)
    exec_program = (("program", "on_sched_process_exec"),)
    assert samples[("sensor_bpf_runs_total", exec_program)] >= 20
    assert samples[("sensor_bpf_run_time_seconds_total", exec_program)] > 0
    assert ("sensor_bpf_runs_total", (("program", "tracepoint__syscalls__sys_exit_setuid"),)) in samples


def test_a_bad_metrics_address_is_refused_before_anything_loads() -> None:
    result = subprocess.run(
        [*SENSOR, "run", "--metrics-listen", "localhost:http"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--metrics-listen" in result.stderr
    assert "'localhost:http': expected [HOST:]PORT, e.g. 9464 or 0.0.0.0:9464" in result.stderr


def test_a_metrics_port_in_use_is_a_clear_error_and_the_probes_are_detached(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SENSOR, "run", "--listen", f"unix://{tmp_path / 's.sock'}", "--metrics-listen", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert not (tmp_path / "s.sock").exists()

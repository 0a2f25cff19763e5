"""Processes that span the sensor's start, reused pids, both transports, and a storm with no loss."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from tests.live_sensor import LiveSensor, is_exec_of, of_pid, process
from tests.sensor_daemon import SensorDaemon


def test_a_process_started_before_the_sensor_has_its_context_from_proc(tmp_path: Path) -> None:
    tag = f"before-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(["/bin/sh", "-c", "read line", tag], stdin=subprocess.PIPE, cwd=tmp_path)
    sensor = LiveSensor("--event", "exit")
    try:
        assert proc.stdin is not None
        proc.stdin.close()  # read returns: the shell exits 1
        proc.wait()
        (event,) = sensor.wait_for(lambda e: of_pid(e, proc.pid, "EXIT"))
    finally:
        sensor.stop()
    assert event["command_line"] == ["/bin/sh", "-c", "read line", tag]
    assert event["cwd"] == str(tmp_path.resolve())
    assert event["filename"] == "/usr/bin/dash"  # from /proc/<pid>/exe
    assert process(event)["exit_status"] == 1


def _spawn_with_pid(pid: int, argv: list[str]) -> subprocess.Popen[bytes] | None:
    """Start argv as ``pid`` by setting ns_last_pid just before the fork (others may race us)."""
    Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
    if proc.pid == pid:
        return proc
    proc.kill()
    proc.wait()
    return None


def test_a_reused_pid_never_inherits_the_dead_process_context(live_sensor: LiveSensor, tmp_path: Path) -> None:
    first_tag, second_tag = f"first-{uuid.uuid4().hex[:8]}", f"second-{uuid.uuid4().hex[:8]}"
    first = subprocess.Popen(["/bin/sh", "-c", "read line", first_tag], stdin=subprocess.PIPE, cwd=tmp_path)
    pid = first.pid
    first.kill()
    first.wait()
    time.sleep(0.03)  # a later clock tick, so the two process ids differ as strings too
    second = None
    for _ in range(50):
        second = _spawn_with_pid(pid, ["/bin/sh", "-c", "read line; exit 5", second_tag])
        if second is not None:
            break
    assert second is not None, f"could not get pid {pid} again"
    assert second.stdin is not None
    second.stdin.close()
    second.wait()
    (first_exec,) = live_sensor.wait_for(lambda e: is_exec_of(e, first_tag))
    (second_exec,) = live_sensor.wait_for(lambda e: is_exec_of(e, second_tag))
    exits = live_sensor.wait_for(lambda e: of_pid(e, pid, "EXIT") and e["process_id"] != "", count=2)
    first_exit = next(e for e in exits if e["process_id"] == first_exec["process_id"])
    second_exit = next(e for e in exits if e["process_id"] == second_exec["process_id"])
    assert first_exec["process_tgid"] == second_exec["process_tgid"] == pid
    assert first_exec["process_id"] != second_exec["process_id"]
    assert first_exit["command_line"] == ["/bin/sh", "-c", "read line", first_tag]
    assert process(first_exit)["exit_signal"] == 9
    assert second_exit["command_line"] == ["/bin/sh", "-c", "read line; exit 5", second_tag]
    assert second_exit["cwd"] != str(tmp_path.resolve())
    assert process(second_exit)["exit_status"] == 5


def test_the_perf_buffer_transport_delivers_the_same_exec() -> None:
    tag = f"perf-{uuid.uuid4().hex[:8]}"
    sensor = LiveSensor("--transport", "perf", "--event", "exec")
    try:
        subprocess.run(["/bin/echo", tag, "two words"], capture_output=True, check=True)
        (event,) = sensor.wait_for(lambda e: is_exec_of(e, tag))
    finally:
        code = sensor.stop()
    assert process(event)["exec_command_line"] == ["/bin/echo", tag, "two words"]
    assert code == 0
    assert "transport=perf_buffer" in "".join(sensor.stderr_lines)


# What differs between two sensors watching the same processes: who saw it, and when each looked.
PER_SENSOR_KEYS = ("id", "sensor_id", "sensor_sequence_number", "sensor_monotime_nanos")


def _tagged(sensor: LiveSensor, tag: str) -> list[str]:
    events = [e for e in sensor.events if tag in " ".join(e.get("command_line", []))]
    return sorted(json.dumps({k: v for k, v in e.items() if k not in PER_SENSOR_KEYS}, sort_keys=True) for e in events)


def test_probe_reads_and_btf_loads_report_the_same_processes(tmp_path: Path) -> None:
    tag = f"reads-{uuid.uuid4().hex[:8]}"
    sensors = [LiveSensor("--task-reads", reads) for reads in ("probe-read", "btf")]
    try:
        workload = ["setpriv", "--reuid", "1234", "--regid", "1234", "--clear-groups"]
        workload += ["/bin/sh", "-c", "/bin/echo $0; exit 3", tag]
        assert subprocess.run(workload, cwd=tmp_path, capture_output=True).returncode == 3
        for sensor in sensors:
            sensor.wait_for(lambda e: tag in e.get("command_line", []) and process(e).get("exit_status") == 3)
        time.sleep(0.2)  # the echo's events, read in the same poll or the next
    finally:
        codes = [sensor.stop() for sensor in sensors]
    assert codes == [0, 0]
    assert "task_reads=probe_reads" in "".join(sensors[0].stderr_lines)
    assert "task_reads=btf_loads" in "".join(sensors[1].stderr_lines)
    probe_read, btf = (_tagged(sensor, tag) for sensor in sensors)
    assert probe_read == btf
    events = [json.loads(e) for e in btf]
    kinds = Counter(e["process"]["type"] for e in events)
    assert (kinds["EXEC"], kinds["FORK"], kinds["EXIT"]) == (3, 1, 2)  # setpriv, sh, echo; sh forks echo
    causes = {e["process"]["credentials_cause"] for e in events if e["process"]["type"] == "CREDENTIALS"}
    assert {"setresuid", "setresgid", "setgroups"} <= causes
    (echo,) = (e for e in events if e["process"]["type"] == "EXEC" and e["filename"] == "/bin/echo")
    assert echo["credentials"]["uid"] == echo["credentials"]["egid"] == 1234
    assert echo["cwd"] == str(tmp_path.resolve())


SUMMARY = re.compile(r"lost: kernel (\d+) \(lost/sent by hook: (.*)\), reader (\d+), undecodable (\d+)")


@pytest.mark.parametrize("transport", ["ringbuf"])
def test_two_parallel_storms_for_10_seconds_lose_nothing(storm_binary: Path, tmp_path: Path, transport: str) -> None:
    sensor = LiveSensor("--transport", transport, "--event", "fork,exec,exit")
    try:
        storms = [subprocess.Popen([str(storm_binary), "10"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        results = [s.communicate(timeout=60)[0].split() for s in storms]
        workers = {int(pid): int(runs) for pid, runs in results}
        for pid in workers:
            sensor.wait_for(partial(of_pid, pid=pid, event_type="EXIT"), timeout=60)
    finally:
        code = sensor.stop()
    assert code == 0
    forks: Counter[int] = Counter()
    execs: Counter[int] = Counter()
    exits: Counter[int] = Counter()
    for e in sensor.events:
        p = process(e)
        if p.get("type") == "FORK" and e["process_tgid"] in workers:
            forks[e["process_tgid"]] += 1
        elif p.get("type") == "EXEC" and e.get("parent_pid") in workers and p["exec_filename"] == "/bin/true":
            execs[e["parent_pid"]] += 1
        elif p.get("type") == "EXIT" and e.get("parent_pid") in workers:
            exits[e["parent_pid"]] += 1
    assert forks == workers
    assert execs == workers
    assert exits == workers
    summary = SUMMARY.search("".join(sensor.stderr_lines))
    assert summary is not None, sensor.stderr_lines
    assert summary.group(1) == "0" and summary.group(3) == "0" and summary.group(4) == "0"
    total = sum(workers.values())
    print(f"storm: {total} fork+exec+exit in 10 s by 2 workers = {total / 10:.0f}/s, {3 * total / 10:.0f} events/s")


def test_the_first_start_compiles_once_and_the_daemon_never_maps_llvm(tmp_path: Path) -> None:
    cache = tmp_path / "bpf-cache"
    first = SensorDaemon("--listen", f"unix://{tmp_path}/a.sock", "--bpf-cache", str(cache))
    first.stop()
    assert "compiling the BPF programs for this kernel" in first.stderr
    assert len(list(cache.glob("bpf-*.json"))) == 1
    later = SensorDaemon("--listen", f"unix://{tmp_path}/b.sock", "--bpf-cache", str(cache))
    try:
        maps = Path(f"/proc/{later.proc.pid}/maps").read_text()
        assert "compiling" not in later.stderr
        assert "libLLVM" not in maps and "libclang" not in maps and "libbcc" not in maps
    finally:
        assert later.stop() == 0

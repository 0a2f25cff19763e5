"""Processes that span the sensor's start, reused pids, both transports, and a storm with no loss."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from tests.live_sensor import LiveSensor, SensorView, is_exec_of, of_process, process, process_id_of
from tests.sensor_daemon import SensorDaemon


def test_a_process_started_before_the_sensor_has_its_context_from_proc(tmp_path: Path) -> None:
    tag = f"before-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(["/bin/sh", "-c", "read line", tag], stdin=subprocess.PIPE, cwd=tmp_path)
    process_id = process_id_of(proc.pid)
    program = os.readlink(f"/proc/{proc.pid}/exe")  # the shell /bin/sh is on this host (dash on Debian)
    sensor = LiveSensor("--event", "exit")
    try:
        assert proc.stdin is not None
        proc.stdin.close()  # read returns: the shell exits 1
        proc.wait()
        (event,) = sensor.wait_for(lambda e: of_process(e, process_id, "EXIT"))
    finally:
        sensor.stop()
    assert event["command_line"] == ["/bin/sh", "-c", "read line", tag]
    assert event["cwd"] == str(tmp_path.resolve())
    assert event["filename"] == program
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


def test_a_reused_pid_never_inherits_the_dead_process_context(live_sensor: SensorView, tmp_path: Path) -> None:
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
    (first_exit,) = live_sensor.wait_for(lambda e: of_process(e, first_exec["process_id"], "EXIT"))
    (second_exit,) = live_sensor.wait_for(lambda e: of_process(e, second_exec["process_id"], "EXIT"))
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
    # Process events only below: setpriv also asks nscd's unix socket about uid 1234 (network events).
    events = [event for e in btf if "process" in (event := json.loads(e))]
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
        ids = [process_id_of(storm.pid) for storm in storms]  # each worker runs for 10 s
        results = [s.communicate(timeout=60)[0].split() for s in storms]
        workers = {process_id: int(runs) for process_id, (_pid, runs) in zip(ids, results, strict=True)}
        for process_id in workers:
            sensor.wait_for(partial(of_process, process_id=process_id, event_type="EXIT"), timeout=60)
    finally:
        code = sensor.stop()
    assert code == 0
    forks: Counter[str] = Counter()
    execs: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    for e in sensor.events:
        p = process(e)
        if p.get("type") == "FORK" and e["process_id"] in workers:
            forks[e["process_id"]] += 1
        elif p.get("type") == "EXEC" and e.get("parent_process_id") in workers and p["exec_filename"] == "/bin/true":
            execs[e["parent_process_id"]] += 1
        elif p.get("type") == "EXIT" and e.get("parent_process_id") in workers:
            exits[e["parent_process_id"]] += 1
    assert forks == workers
    assert execs == workers
    assert exits == workers
    summary = SUMMARY.search("".join(sensor.stderr_lines))
    assert summary is not None, sensor.stderr_lines
    assert summary.group(1) == "0" and summary.group(3) == "0" and summary.group(4) == "0"
    total = sum(workers.values())
    print(f"storm: {total} fork+exec+exit in 10 s by 2 workers = {total / 10:.0f}/s, {3 * total / 10:.0f} events/s")


HOOK_COUNTS = re.compile(r"(\w+) (\d+)/(\d+)")
READ = re.compile(r"(\d+) records read")


def test_a_burst_of_large_execs_under_a_stalled_reader_loses_nothing(storm_binary: Path) -> None:
    sensor = LiveSensor("--event", "fork,exec,exit")  # the default buffer, 16 MiB
    try:
        # Two workers exec'ing with a 5 000-byte argument as fast as they can: ~10 MB/s of records here.
        burst = [str(storm_binary), "5", "/bin/true", "0", "5000"]
        storms = [subprocess.Popen(burst, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(1)
        sensor.stall_reading(3)  # the sensor's output blocks: what it takes meanwhile must wait in memory
        results = [s.communicate(timeout=60)[0].split() for s in storms]
        time.sleep(1)
    finally:
        code = sensor.stop()
    assert code == 0
    summary = SUMMARY.search("".join(sensor.stderr_lines))
    read = READ.search("".join(sensor.stderr_lines))
    assert summary is not None and read is not None, sensor.stderr_lines
    counts = {hook: (int(lost), int(sent)) for hook, lost, sent in HOOK_COUNTS.findall(summary.group(2))}
    assert {hook: lost for hook, (lost, _) in counts.items()} == dict.fromkeys(counts, 0)
    assert int(read.group(1)) == sum(sent for _, sent in counts.values())
    runs = sum(int(runs) for _pid, runs in results)
    assert counts["exec"][1] >= runs
    print(f"burst: {runs} execs of 5 000-byte arguments in 5 s, {read.group(1)} records, none lost")


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

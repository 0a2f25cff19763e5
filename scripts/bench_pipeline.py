"""The user-space pipeline alone (see bench.py): replay of recorded kernel records, and memory.

throughput: a real exec storm of at least MIN_RECORDED_EXECS execs is recorded with `sensor trace
--record`, then replayed through decode, the caches, event building, a subscriber's filter and
protobuf encoding, in one thread; the figure is events per second of CPU time of that thread (so
per core). Each round replays it in a fresh process with the hot path compiled
(sensor/compiled.py) and then interpreted (SENSOR_INTERPRETED=1), so the two are compared at the
same moment of the host.

memory: synthetic records, made with the decoder's own layouts, drive the same pipeline in a
fresh process: RSS with 100 000 live processes in the model, and RSS sampled while short-lived
processes fork, exec and exit (bench.py --churn; flat when exited processes leave the model).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sensor.kernel.recording import ReplayReader
from sensor.kernel.records import EXEC_FIELDS, EXIT_FIELDS, FORK_FIELDS, RecordType, layout_struct
from sensor.telemetry.capture import Capture, CaptureConfig, settle_heap
from sensor.telemetry.hub import Hub, queued_events
from sensor.telemetry.subscription import compile_subscription
from sensor.telemetry.wire import event_frames

ROOT = Path(__file__).resolve().parents[1]
FILTER = 'filename != "/nonexistent" OR uid == 0'
_FORK = layout_struct(FORK_FIELDS)
_EXEC = layout_struct(EXEC_FIELDS)
_EXIT = layout_struct(EXIT_FIELDS)


MIN_RECORDED_EXECS = 5_000  # a replay of fewer is over in milliseconds, at the mercy of one timer tick
MAX_RECORDING_ROUNDS = 10


def record_storm(binary: Path, recording: Path, seconds: float) -> int:
    """Record the kernel's records of a storm of at least MIN_RECORDED_EXECS execs (run ``seconds`` at a
    time, however slow the host is just then); returns the storm's execs."""
    trace = subprocess.Popen(
        [sys.executable, "-m", "sensor", "trace", "--record", str(recording), "--format", "json"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert trace.stderr is not None
    if "ready" not in trace.stderr.readline():
        raise SystemExit(f"sensor trace --record did not start: {trace.stderr.read()}")
    execs = 0
    for _ in range(MAX_RECORDING_ROUNDS):
        storm = subprocess.run([str(binary), str(seconds)], capture_output=True, text=True, check=True)
        execs += int(storm.stdout.split()[1])
        if execs >= MIN_RECORDED_EXECS:
            break
    time.sleep(0.5)
    trace.terminate()
    trace.communicate(timeout=60)
    return execs


def replay_rate(records: list[bytes]) -> dict[str, float]:
    """Events per CPU second through decode, caches, build, filter and encode."""
    from sensor.api.v1 import subscription_pb2 as sub

    capture = Capture(CaptureConfig(sensor_id="bench"), replay=ReplayReader(records))
    capture.start()
    settle_heap()  # as sensor run and sensor trace do once started
    request = sub.Subscription()
    for kind in ("FORK", "EXEC", "EXIT"):
        request.event_filter.process_events.append(sub.ProcessEventFilter(type=kind, filter_expression=FILTER))
    hub = Hub(queue_events=len(records) + 1)
    subscriber = hub.subscribe(compile_subscription(request))
    events = 0
    started = time.thread_time()
    wall = time.perf_counter()
    while True:
        batch = capture.poll(0)
        if not batch and capture.loss().records_read == len(records):
            break
        hub.publish(batch)
        # As the server's stream does:
        events += len(event_frames(queued_events(subscriber.take(len(records), 0), capture.lost_event, "subscriber")))
    cpu = time.thread_time() - started
    wall = time.perf_counter() - wall
    capture.close()
    return {
        "records": len(records),
        "events": events,
        "cpu_s": cpu,
        "events_per_cpu_s": events / cpu,
        "records_per_cpu_s": len(records) / cpu,
        "wall_s": wall,
    }


def synthetic(pid: int, start_ns: int, parent: int, exits: bool, ktime_ns: int) -> list[bytes]:
    """Fork, exec (and exit) records of one process, as the BPF programs would send them."""
    creds = (0,) * 8
    comm = b"worker"
    fork = _FORK.pack(
        RecordType.FORK, 0, parent, ktime_ns, parent, 1, 1_000_000, 0, 1, *creds, comm, pid, pid, start_ns, 0x11
    )
    filename = b"/usr/bin/worker\0"
    args = b"/usr/bin/worker\0--job\0" + str(pid).encode() + b"\0"
    cwd = b"tmp\0"
    exec_record = (
        _EXEC.pack(
            RecordType.EXEC,
            0,
            pid,
            ktime_ns + 1000,
            pid,
            parent,
            start_ns,
            1_000_000,
            1,
            *creds,
            comm,
            pid,
            0,
            len(filename),
            len(args),
            len(args),
            len(cwd),
            pid,  # ns_tgid: the host's pid namespace
            0,
        )
        + filename
        + args
        + cwd
    )
    out = [fork, exec_record]
    if exits:
        out.append(
            _EXIT.pack(
                RecordType.EXIT, 0, pid, ktime_ns + 2000, pid, parent, start_ns, 1_000_000, 1, *creds, comm, 0, 1
            )
        )
    return out


REPLAY_CHILD = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import sensor
from bench_pipeline import REPLAYS_PER_PROCESS, replay_rate
from sensor.kernel.recording import read_recording
records = read_recording(Path(sys.argv[2]))
print(json.dumps([{**replay_rate(records), "hot_path": sensor.HOT_PATH.reason} for _ in range(REPLAYS_PER_PROCESS)]))
"""
REPLAYS_PER_PROCESS = 3  # a fresh capture each; the recording is short, so one replay is at the host's mercy
REPLAY_ROUNDS = 5


def replay_rates(recording: Path) -> dict[str, object]:
    """Replay rates, compiled and interpreted, interleaved over REPLAY_ROUNDS fresh processes each."""
    rates: dict[str, list[dict[str, object]]] = {"compiled": [], "interpreted": []}
    for _ in range(REPLAY_ROUNDS):
        for path, env in (("compiled", {}), ("interpreted", {"SENSOR_INTERPRETED": "1"})):
            child = subprocess.run(
                [sys.executable, "-c", REPLAY_CHILD, str(ROOT / "scripts"), str(recording)],
                cwd=ROOT,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            )
            rates[path].extend(json.loads(child.stdout))
    if not str(rates["compiled"][0]["hot_path"]).startswith("compiled"):
        raise SystemExit(f"the hot path is not compiled ({rates['compiled'][0]['hot_path']}): run scripts/compile.py")
    summary: dict[str, object] = {"records": rates["compiled"][0]["records"], "events": rates["compiled"][0]["events"]}
    for path, runs in rates.items():
        per_cpu_s = sorted(float(str(run["events_per_cpu_s"])) for run in runs)
        summary[path] = {"median": statistics.median(per_cpu_s), "best": per_cpu_s[-1], "runs": per_cpu_s}
    return summary


MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from bench_pipeline import memory_run
print(json.dumps(memory_run(int(sys.argv[2]), int(sys.argv[3]))))
"""


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process (this one by default)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def memory_run(live: int, churn: int) -> dict[str, object]:
    """In this (fresh) process: RSS empty, with ``live`` processes, then while ``churn`` come and go."""
    now = time.monotonic_ns()
    config = CaptureConfig(sensor_id="bench", exit_grace_ns=1_000_000_000)
    replay = ReplayReader([])
    capture = Capture(config, replay=replay)
    capture.start()
    baseline = rss_bytes()
    chunk = 10_000  # the synthetic records are the bench's input: made and dropped a chunk at a time
    for first in range(0, live, chunk):
        records: list[bytes] = []
        for i in range(first, min(live, first + chunk)):
            records += synthetic(100_000 + i, now - 10**12 + i, 1, False, now - 10**12 + i * 1000)
        _drain(capture, replay, records)
    del records
    with_live = rss_bytes()
    live_in_model = len(capture.cache)
    samples = []
    step = max(1, churn // 10)
    # Short-lived processes at a steady pace of event time, ending "now": exits older than the
    # grace period leave the model as the replay moves on.
    span_ns = 120 * 10**9
    first_ns = time.monotonic_ns() - span_ns
    for done in range(0, churn, step):
        for first in range(done, min(churn, done + step), chunk):
            records = []
            for i in range(first, min(churn, done + step, first + chunk)):
                pid = 1_000_000 + (i % 3_000_000)
                records += synthetic(pid, first_ns + i * 100, 1, True, first_ns + i * (span_ns // max(churn, 1)))
            _drain(capture, replay, records)
        del records
        capture.cache.expire(time.monotonic_ns())
        samples.append({"processes": done + step, "rss_bytes": rss_bytes(), "in_model": len(capture.cache)})
    capture.close()
    return {
        "baseline_rss_bytes": baseline,
        "live": live,
        "live_in_model": live_in_model,
        "rss_with_live_bytes": with_live,
        "churn_samples": samples,
    }


def _drain(capture: Capture, replay: ReplayReader, records: list[bytes]) -> None:
    replay.extend(records)
    while capture.poll(0) or not replay.done:
        pass


def pipeline(binary: Path, seconds: float, live: int, churn: int) -> dict[str, object]:
    """The pipeline benchmark; prints its table and returns its figures."""
    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as tmp:
        recording = Path(tmp) / "storm.rec"
        execs = record_storm(binary, recording, seconds)
        rate = replay_rates(recording)
    child = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(ROOT / "scripts"), str(live), str(churn)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(child.stdout)
    mib = 1024 * 1024
    print(f"\nreplay of a recorded storm ({execs} execs, {rate['records']} records, {rate['events']} events):")
    print("  events per CPU-second (decode, caches, build, filter, encode), median and best of each path:")
    for path in ("compiled", "interpreted"):
        figures = rate[path]
        assert isinstance(figures, dict)
        print(f"  {path:12s} {figures['median']:8.0f} {figures['best']:8.0f}")
    print(
        f"RSS: empty model {memory['baseline_rss_bytes'] / mib:.0f} MiB; with {memory['live_in_model']} processes "
        f"{memory['rss_with_live_bytes'] / mib:.0f} MiB"
    )
    print(
        "churn: "
        + ", ".join(f"{s['processes'] // 1000}k {s['rss_bytes'] / mib:.0f} MiB" for s in memory["churn_samples"])
    )
    return {"storm_execs": execs, "replay": rate, "memory": memory}

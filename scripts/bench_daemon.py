"""The daemon's own figures (see bench.py): start-up, idle memory, latency, BPF time per hook.

start-up: `sensor run` from launch to its ready line (probes compiled and attached, /proc and
cgroups scanned), and its RSS once idle.

latency: a gRPC subscriber of `sensor run` takes each exec of a paced storm and compares its
receipt time with the event's kernel timestamp (both CLOCK_MONOTONIC, same host): p50 and p99 at
1 000 execs per second and at the storm's full speed, and at 1 000 per second for a subscriber
asking for batches of up to 20 ms (what the storm benchmark's batched subscriber trades).

BPF time: with the kernel's run-time accounting on (BPF_ENABLE_STATS, held only for this run), a
full-speed storm under `sensor run`; each program's run time per call, read from the sensor's
own Prometheus metrics.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_pipeline import rss_bytes
from bench_storm import SensorDaemonBatched
from prometheus_client.parser import text_string_to_metric_families

from sensor.kernel.bpf_stats import enable_stats

ROOT = Path(__file__).resolve().parents[1]
BATCH_DELAY_NS = SensorDaemonBatched.batch_delay_ns  # as the storm benchmark's batched subscriber asks
SENSOR = [sys.executable, "-m", "sensor"]
LATENCY_CLIENT = r"""
import signal, sys, time, grpc
from sensor.api.v1 import service_pb2 as api, service_pb2_grpc, subscription_pb2 as sub
from sensor.server.address import open_channel, parse_address
channel = open_channel(parse_address(sys.argv[1]))
request = api.GetEventsRequest(subscription=sub.Subscription(event_filter=sub.EventFilter(process_events=[
    sub.ProcessEventFilter(type="EXEC", filter_expression='exec_filename == "/bin/true"')]),
    modifier=sub.Modifier(batch=sub.BatchModifier(max_delay=int(sys.argv[2])))))
call = service_pb2_grpc.TelemetryServiceStub(channel).GetEvents(request)
responses = iter(call)
next(responses)
signal.signal(signal.SIGTERM, lambda *_: call.cancel())
print("subscribed", flush=True)
delays = []
try:
    for response in responses:
        now = time.monotonic_ns()
        delays.extend(now - event.sensor_monotime_nanos for event in response.events)
except grpc.RpcError:
    pass
print(" ".join(str(d) for d in delays), flush=True)
"""
# Program names as the BPF source declares them, by the hook they serve.
HOOK_PROGRAMS = {
    "exec": ("on_sched_process_exec",),
    "fork": ("on_task_newtask",),
    "exit": ("on_sched_process_exit",),
    "exec_failed (syscall enter+exit)": (
        "tracepoint__syscalls__sys_enter_execve",
        "tracepoint__syscalls__sys_exit_execve",
    ),
}


class Daemon:
    """`sensor run` on a private socket, optionally with metrics."""

    def __init__(self, metrics_port: int | None = None, bpf_cache: str | None = None) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="sensor-bench-")
        self.target = f"unix:{self.dir.name}/s.sock"
        args = [*SENSOR, "run", "--listen", f"unix://{self.dir.name}/s.sock"]
        if metrics_port is not None:
            args += ["--metrics-listen", str(metrics_port)]
        if bpf_cache is not None:
            args += ["--bpf-cache", bpf_cache]
        started = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        said = ""
        while "ready" not in (line := self.proc.stderr.readline()):
            said += line
            if not line:
                raise SystemExit(f"sensor run did not start: {said}")
        self.ready_s = time.monotonic() - started

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=60)
        self.dir.cleanup()


def startup(repeats: int = 3) -> dict[str, float]:
    """Ready time on the first start (compiling the BPF programs), then on later ones (loading them)."""
    with tempfile.TemporaryDirectory(prefix="sensor-bench-cache-") as cache:
        first = Daemon(bpf_cache=cache)
        first.stop()
        ready, rss = [], []
        for _ in range(repeats):
            daemon = Daemon(bpf_cache=cache)
            time.sleep(2)
            ready.append(daemon.ready_s)
            rss.append(rss_bytes(daemon.proc.pid))
            daemon.stop()
    return {
        "first_ready_s": first.ready_s,
        "ready_s_median": statistics.median(ready),
        "ready_s_max": max(ready),
        "idle_rss_bytes": statistics.median(rss),
    }


def latency(binary: Path, rate: int, seconds: float, batch_delay_ns: int = 0) -> dict[str, float]:
    """Kernel-to-subscriber delay of each exec of a storm at ``rate`` per second (0: full speed).

    ``batch_delay_ns``: the subscriber asks for batches of up to that long (modifier.batch).
    """
    daemon = Daemon()
    client = subprocess.Popen(
        [sys.executable, "-c", LATENCY_CLIENT, daemon.target, str(batch_delay_ns)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None and client.stdout.readline().strip() == "subscribed"
    storm = subprocess.run(
        [str(binary), str(seconds), "/bin/true", str(rate)], capture_output=True, text=True, check=True
    )
    time.sleep(0.5)
    client.terminate()
    delays = sorted(int(d) for d in client.communicate(timeout=60)[0].split())
    daemon.stop()
    runs = int(storm.stdout.split()[1])
    if not delays:
        raise SystemExit("the latency subscriber received nothing")
    return {
        "rate_asked": rate,
        "batch_delay_ms": batch_delay_ns / 1e6,
        "execs_per_s": runs / seconds,
        "received": len(delays),
        "storm_execs": runs,
        "p50_ms": delays[len(delays) // 2] / 1e6,
        "p99_ms": delays[int(len(delays) * 0.99)] / 1e6,
        "max_ms": delays[-1] / 1e6,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bpf_time(binary: Path, seconds: float) -> dict[str, dict[str, float]]:
    """Run time per call of each hook's programs during a full-speed storm."""
    port = free_port()
    daemon = Daemon(metrics_port=port)
    stats_fd = enable_stats()
    try:
        subprocess.run([str(binary), str(seconds)], capture_output=True, check=True)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        os.close(stats_fd)
        daemon.stop()
    run_ns: dict[str, float] = {}
    runs: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sensor_bpf_run_time_seconds_total":
                run_ns[sample.labels["program"]] = sample.value * 1e9
            elif sample.name == "sensor_bpf_runs_total":
                runs[sample.labels["program"]] = sample.value
    out = {}
    for hook, programs in HOOK_PROGRAMS.items():
        calls = max(runs.get(p, 0) for p in programs)
        total = sum(run_ns.get(p, 0) for p in programs)
        out[hook] = {"calls": calls, "ns_per_call": total / calls if calls else 0.0}
    return out


def daemon_figures(binary: Path, seconds: float) -> dict[str, object]:
    """The daemon benchmark; prints its table and returns its figures."""
    start = startup()
    paced = latency(binary, 1000, seconds)
    full = latency(binary, 0, seconds)
    batched = latency(binary, 1000, seconds, BATCH_DELAY_NS)
    bpf = bpf_time(binary, seconds)
    print(
        f"\nstart-up to ready: {start['ready_s_median']:.2f} s (max {start['ready_s_max']:.2f}; "
        f"first start, compiling the BPF programs: {start['first_ready_s']:.2f} s); "
        f"idle RSS {start['idle_rss_bytes'] / 2**20:.0f} MiB"
    )
    print("| exec rate | execs/s run | received | p50 | p99 | max |")
    print("|---|---|---|---|---|---|")
    for row, label in ((paced, "1 000/s"), (full, "full speed"), (batched, "1 000/s, batches <= 20 ms")):
        print(
            f"| {label} | {row['execs_per_s']:.0f} | {row['received']}/{row['storm_execs']} | "
            f"{row['p50_ms']:.2f} ms | {row['p99_ms']:.2f} ms | {row['max_ms']:.2f} ms |"
        )
    print("| hook | BPF calls | ns per call |")
    print("|---|---|---|")
    for hook, row in bpf.items():
        print(f"| {hook} | {row['calls']:.0f} | {row['ns_per_call']:.0f} |")
    return {"startup": start, "latency": [paced, full, batched], "bpf": bpf}

"""The storm benchmark (see bench.py): exec-storm rate alone and under each observer, interleaved.

Observers: `sensor trace --format json` to /dev/null; `sensor run` with one gRPC subscriber taking
every process event, as each poll brings them and again in batches of up to 20 ms; and the peers
available here: a bpftrace one-liner printing execs, and a minimal bcc Python consumer
(scripts/peers/bcc_consumer.py). Each observed run is compared with the storm alone just before
and just after it (see storm()); the figure is the median of those ratios, with the spread.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SENSOR = [sys.executable, "-m", "sensor"]
TRACE_SUMMARY = re.compile(
    r"lost/sent by hook: fork (\d+)/(\d+), exec (\d+)/(\d+), exec_failed \d+/\d+, exit (\d+)/(\d+)"
)
# A minimal Python subscriber that decodes every event. Its channel is sensor trace --connect's
# (open_channel: it reads on its own thread, as the README advises Python clients).
SUBSCRIBER = r"""
import signal, sys, grpc
from sensor.api.v1 import service_pb2 as api, service_pb2_grpc, subscription_pb2 as sub, telemetry_pb2 as pb
from sensor.server.address import open_channel, parse_address
channel = open_channel(parse_address(sys.argv[1]))
request = api.GetEventsRequest(subscription=sub.Subscription(event_filter=sub.EventFilter(
    process_events=[sub.ProcessEventFilter(type=t) for t in ("FORK", "EXEC", "EXIT")]),
    modifier=sub.Modifier(batch=sub.BatchModifier(max_delay=int(sys.argv[2])))))
call = service_pb2_grpc.TelemetryServiceStub(channel).GetEvents(request)
responses = iter(call)
next(responses)
counts = {"fork": 0, "exec": 0, "exit": 0, "lost": 0}
signal.signal(signal.SIGTERM, lambda *_: call.cancel())
print("subscribed", flush=True)
try:
    for response in responses:
        for event in response.events:
            if event.WhichOneof("event") == "lost":
                counts["lost"] += event.lost.lost
            else:
                counts[pb.ProcessEvent.ProcessEventType.Name(event.process.type).lower()] += 1
except grpc.RpcError:
    pass
print(counts["fork"], counts["exec"], counts["exit"], counts["lost"], flush=True)
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BPFTRACE = 'tracepoint:sched:sched_process_exec { printf("%d %s\\n", pid, str(args->filename)); }'


@dataclass
class Observation:
    """One observer's run over one storm: what it saw and lost, per kind where it can tell."""

    seen: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)


class Observer:
    """Something that watches the storm: started before it, stopped after it."""

    name = ""

    def start(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        """The observer's processes, whose CPU time the storm pays for."""
        raise NotImplementedError

    def parts(self) -> dict[str, int]:
        """Processes whose CPU time is also reported apart, by name (a daemon and its client)."""
        return {}

    def stop(self) -> Observation:
        raise NotImplementedError


def wait_for_line(stream: object, word: str, proc: subprocess.Popen[str], what: str) -> None:
    assert hasattr(stream, "readline")
    line = stream.readline()
    while line and word not in line:
        line = stream.readline()
    if not line:
        raise SystemExit(f"{what} did not start (exit {proc.poll()})")


class SensorTrace(Observer):
    name = "sensor trace --format json"
    options: tuple[str, ...] = ()  # beyond --format json

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*SENSOR, "trace", "--format", "json", *self.options],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_line(self.proc.stderr, "ready", self.proc, "sensor trace")

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> Observation:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        match = TRACE_SUMMARY.search(err)
        if match is None:
            raise SystemExit(f"no summary from sensor trace: {err}")
        fork_lost, fork_sent, exec_lost, exec_sent, exit_lost, exit_sent = (int(g) for g in match.groups())
        return Observation(
            {"fork": fork_sent, "exec": exec_sent, "exit": exit_sent},
            {"fork": fork_lost, "exec": exec_lost, "exit": exit_lost},
        )


class SensorDaemon(Observer):
    name = "sensor run + 1 gRPC subscriber"
    batch_delay_ns = 0

    def start(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="sensor-bench-")
        socket = f"{self.dir.name}/s.sock"
        self.proc = subprocess.Popen(
            [*SENSOR, "run", "--listen", f"unix://{socket}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_line(self.proc.stderr, "ready", self.proc, "sensor run")
        self.client = subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER, f"unix:{socket}", str(self.batch_delay_ns)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        wait_for_line(self.client.stdout, "subscribed", self.client, "the subscriber")

    def pids(self) -> list[int]:
        return [self.proc.pid, self.client.pid]

    def stop(self) -> Observation:
        self.client.send_signal(signal.SIGTERM)
        fork, exec_, exit_, lost = (int(x) for x in self.client.communicate(timeout=60)[0].split())
        self.proc.terminate()
        self.proc.communicate(timeout=60)
        self.dir.cleanup()
        return Observation({"fork": fork, "exec": exec_, "exit": exit_}, {"subscriber": lost})


BPFTRACE_EXIT_S = 10


class Bpftrace(Observer):
    name = "bpftrace (printf per exec)"
    program = BPFTRACE
    printed = 0  # lines it printed, once stopped

    def start(self) -> None:
        # Its output goes to a file: a pipe nobody reads until the end fills at 64 KiB, and then
        # bpftrace blocks on it and its perf buffer overflows (the bench would be losing its events).
        self.dir = tempfile.TemporaryDirectory(prefix="sensor-bench-")
        self.output = Path(self.dir.name) / "bpftrace.out"
        with self.output.open("w") as output:
            self.proc = subprocess.Popen(["bpftrace", "-e", self.program], stdout=output, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while "Attaching" not in self.output.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bpftrace did not start (exit {self.proc.poll()})")
            time.sleep(0.05)

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> Observation:
        # Twice in slow spells it ignored SIGINT for minutes; SIGTERM is its other graceful exit.
        for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self.proc.send_signal(stop_signal)
            try:
                self.proc.wait(timeout=BPFTRACE_EXIT_S)
                break
            except subprocess.TimeoutExpired:
                print(f"bpftrace still running {BPFTRACE_EXIT_S} s after {stop_signal.name}", file=sys.stderr)
        self.printed = sum(1 for line in self.output.read_text().splitlines() if line[:1].isdigit())
        self.dir.cleanup()
        return Observation({"exec": self.printed})


class BccConsumer(Observer):
    name = "bcc Python consumer (perf buffer)"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/peers/bcc_consumer.py")], stderr=subprocess.PIPE, text=True
        )
        wait_for_line(self.proc.stderr, "ready", self.proc, "the bcc consumer")

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> Observation:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        words = err.split()
        counts = {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}
        return Observation({k: counts[k] for k in ("fork", "exec", "exit")}, {"perf buffer": counts["lost"]})


class SensorDaemonBatched(SensorDaemon):
    """The same subscriber asking for batches of up to 20 ms (modifier.batch): fewer, larger responses."""

    name = "sensor run + 1 gRPC subscriber, batches <= 20 ms"
    batch_delay_ns = 20_000_000


OBSERVERS: tuple[Callable[[], Observer], ...] = (SensorTrace, SensorDaemon, SensorDaemonBatched, Bpftrace, BccConsumer)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far, all their threads."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / CLOCK_TICKS


@dataclass
class ObservedRun:
    """One storm under an observer, and the storm alone right after it."""

    runs: int  # the storm's execs under the observer
    cpu_s: float  # the observer's CPU time meanwhile
    seen: Observation
    alone_after: float  # execs/s of the storm alone just after
    ratio: float  # the observed rate against the mean of the alone runs either side
    cpu_parts: dict[str, float] = field(default_factory=dict)  # Observer.parts()' CPU time meanwhile


def observed_run(observer: Observer, workload: Callable[[], int], seconds: float, alone_before: float) -> ObservedRun:
    """Start ``observer``, run ``workload`` (a storm of ``seconds``; its rounds) under it, stop it, then
    run it alone; the ratio is against the mean of ``alone_before`` and that last run (this host's
    speed drifts within minutes)."""
    observer.start()
    pids = observer.pids()
    parts = observer.parts()
    cpu_before = cpu_seconds(pids)
    parts_before = {name: cpu_seconds([pid]) for name, pid in parts.items()}
    runs = workload()
    time.sleep(0.3)  # what is in flight reaches the observer, and is paid for
    cpu = cpu_seconds(pids) - cpu_before
    cpu_parts = {name: cpu_seconds([pid]) - parts_before[name] for name, pid in parts.items()}
    seen = observer.stop()
    after = workload() / seconds
    return ObservedRun(runs, cpu, seen, after, runs / seconds / ((alone_before + after) / 2), cpu_parts)


def build_workload(workdir: Path, name: str) -> Path:
    """tests/workloads/NAME.c, compiled into ``workdir``."""
    binary = workdir / name
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(ROOT / f"tests/workloads/{name}.c")], check=True)
    return binary


def workload_rounds(argv: list[str], workers: int) -> int:
    """Run ``workers`` copies of a workload at once; the sum of the rounds each printed (``<pid> <rounds>``)."""
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    return sum(int(p.communicate()[0].split()[1]) for p in procs)


def build_storm(workdir: Path) -> Path:
    return build_workload(workdir, "storm")


def storm_runs(binary: Path, workers: int, seconds: float) -> int:
    return workload_rounds([str(binary), str(seconds)], workers)


def storm(binary: Path, seconds: float, repeats: int) -> dict[str, object]:
    """The storm benchmark; prints its table and returns its figures.

    Every observed run sits between two runs of the storm alone, and its ratio is against their
    mean: this host's speed drifts by 2-5x within minutes, and a baseline taken a whole round
    earlier made single ratios stray from 0.2 to 3. The observers' order flips every repeat, so
    none always runs first.
    """
    rows = []
    for workers in (1, 2):
        alone: list[float] = []
        per_observer: dict[str, dict[str, list[Any]]] = {}

        def workload(workers: int = workers) -> int:
            return storm_runs(binary, workers, seconds)

        before = workload() / seconds
        alone.append(before)
        for repeat in range(repeats):
            for make in OBSERVERS if repeat % 2 == 0 else OBSERVERS[::-1]:
                observer = make()
                run = observed_run(observer, workload, seconds, before)
                alone.append(run.alone_after)
                entry = per_observer.setdefault(
                    observer.name, {"ratios": [], "rates": [], "obs": [], "runs": [], "cpu": []}
                )
                entry["ratios"].append(run.ratio)
                entry["rates"].append(run.runs / seconds)
                entry["obs"].append(run.seen)
                entry["runs"].append(run.runs)
                entry["cpu"].append(run.cpu_s)
                before = run.alone_after
        for name, entry in per_observer.items():
            ratios = entry["ratios"]
            seen_total: dict[str, int] = {}
            lost_total: dict[str, int] = {}
            for obs in entry["obs"]:
                for k, v in obs.seen.items():
                    seen_total[k] = seen_total.get(k, 0) + v
                for k, v in obs.lost.items():
                    lost_total[k] = lost_total.get(k, 0) + v
            rows.append(
                {
                    "workers": workers,
                    "observer": name,
                    "alone_per_s": statistics.median(alone),
                    "observed_per_s": statistics.median(entry["rates"]),
                    "ratio_median": statistics.median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "storm_execs": sum(entry["runs"]),
                    "cpu_us_per_exec": sum(entry["cpu"]) / sum(entry["runs"]) * 1e6,
                    "seen": seen_total,
                    "lost": lost_total,
                }
            )
    print(
        "| storm workers | observer | alone execs/s | observed execs/s | ratio (median, min-max) | "
        "observer CPU per exec | storm execs | seen (fork/exec/exit) | lost |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        kinds = "/".join(str(r["seen"].get(k, "-")) for k in ("fork", "exec", "exit"))
        lost = ", ".join(f"{k} {v}" for k, v in r["lost"].items()) or "not counted"
        print(
            f"| {r['workers']} | {r['observer']} | {r['alone_per_s']:.0f} | {r['observed_per_s']:.0f} | "
            f"{r['ratio_median']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | {r['cpu_us_per_exec']:.0f} µs | "
            f"{r['storm_execs']} | {kinds} | "
            f"{lost} |"
        )
    return {"seconds": seconds, "repeats": repeats, "rows": rows}

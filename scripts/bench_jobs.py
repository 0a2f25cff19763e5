"""Fleet jobs (see bench.py): archive jobs reading a full stream to disk, on one worker and on three, and
the time from a worker's SIGKILL to its job running on another.

One nats-server on this machine. The stream is filled once with a recorded exec storm replayed
through the pipeline (`sensor trace --record`), sent through the sensor's own export (JetStreamSink)
as one node's events. Throughput: three archive jobs of every event, defined before the fill, each
reading the whole stream into its own file; events archived a second (all jobs together) from the
jobs' start to the last one's last acknowledgement, and the workers' CPU per archived event.
Re-dispatch: three workers (heartbeat 1s, expiry 3s) with a job each; one SIGKILLed, timed to the
line in which another worker says it runs the job (a worker only says so once it has the job).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench_fanin import replayed_events
from bench_storm import ROOT, cpu_seconds

sys.path[:0] = [str(ROOT)]  # the server and worker launchers are the tests' own
STREAM_EVENTS = 60_000
JOBS = 3
WORKER_FLAGS = ("--heartbeat", "1s", "--expiry", "3s", "--lease", "3s")
FILL_NODE = "bench-archive"


def fill_stream(urls: str, recording: Path, count: int) -> None:
    """``count`` events of the recording, as one node's, stored in SENSOR_EVENTS."""
    from sensor.export.jetstream import JetStreamConfig, JetStreamSink
    from sensor.fleet.engine import EngineAddress, NodeHeartbeat
    from sensor.telemetry.events import TelemetryEvent
    from sensor.telemetry.kinds.lost import LostPayload

    templates = replayed_events(recording)
    sink = JetStreamSink(
        JetStreamConfig(EngineAddress.parse(urls), FILL_NODE, buffer_events=count + 1),
        lambda n, stage: TelemetryEvent("bench", 0, 0, LostPayload(lost=n, stage=stage)),
        lambda: NodeHeartbeat(FILL_NODE, "bench", "bench", "bench", time.time(), time.time()),
    )
    events = []
    for sequence in range(count):
        t = templates[sequence % len(templates)]
        events.append(
            TelemetryEvent(
                "bench", sequence + 1, time.monotonic_ns(), t.payload, t.process_id, t.process_pid, t.process_tgid,
                command_line=t.command_line, filename=t.filename, comm=t.comm, node_name=FILL_NODE,
            )
        )  # fmt: skip
    sink.write(events)
    deadline = time.monotonic() + 300
    while _sent(sink) < count:  # a sink closed before it connected would give its buffer up
        if time.monotonic() > deadline:
            raise SystemExit(f"the stream took {_sent(sink)} of {count} events in 5 minutes")
        time.sleep(0.1)
    sink.close(30)


def _sent(sink: Any) -> int:
    from sensor.export.exporter import ExportStats

    stats = ExportStats("nats", "")
    sink.fill(stats)
    return stats.sent


def _progress(urls: str) -> dict[str, int]:
    from nats.js import JetStreamContext

    from sensor.fleet.engine import read_bucket
    from sensor.fleet.jobs.records import PROGRESS_BUCKET, JobProgress
    from tests.nats_servers import run_js

    async def read(js: JetStreamContext) -> dict[str, int]:
        entries = await read_bucket(js, PROGRESS_BUCKET)
        return {job: JobProgress.decode(e.value or b"").done for job, e in entries.items()}

    return run_js(urls, read)


def _add_jobs(urls: str, names: list[str], directory: Path) -> None:
    from tests.fleet_processes import fleet

    for name in names:
        added = fleet(urls, "job", "add", name, "--kind", "archive", "--dir", str(directory))
        if added.returncode != 0:
            raise SystemExit(f"job add {name}: {added.stderr}")


def _remove_jobs(urls: str, names: list[str]) -> None:
    from tests.fleet_processes import fleet

    for name in names:
        fleet(urls, "job", "remove", name)


def archive_round(urls: str, recording: Path, store: Path, workers: int, round_: int) -> dict[str, float]:
    """Three archive jobs of a freshly filled stream on ``workers`` workers: events archived a second
    and the workers' CPU per event."""
    from tests.fleet_processes import FleetWorker
    from tests.nats_servers import run_js

    run_js(urls, lambda js: js.purge_stream("SENSOR_EVENTS"))
    names = [f"bench{round_}-{workers}w-{i}" for i in range(JOBS)]
    _add_jobs(urls, names, store / f"archive-{round_}")  # defined before the fill: each reads all of it
    fill_stream(urls, recording, STREAM_EVENTS)
    total = STREAM_EVENTS * JOBS
    team = [FleetWorker(urls, f"bench-w{round_}-{i}", *WORKER_FLAGS) for i in range(workers)]
    try:
        pids = [w.proc.pid for w in team]
        started, cpu_before = time.monotonic(), cpu_seconds(pids)
        while sum(_progress(urls).get(n, 0) for n in names) < total:
            if time.monotonic() - started > 600:
                raise SystemExit("the archive jobs did not finish in 10 minutes")
            time.sleep(0.1)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(pids) - cpu_before
    finally:
        for worker in team:
            worker.stop()
        _remove_jobs(urls, names)
    return {"events_per_s": total / elapsed, "cpu_us_per_event": cpu / total * 1e6}


def redispatch_times(urls: str, store: Path, repeats: int) -> list[float]:
    """Seconds from a worker's SIGKILL to its job's `running job` line on another worker, ``repeats`` times."""
    from tests.fleet_processes import FleetWorker, fleet_json, wait_for

    names = [f"moving-{i}" for i in range(JOBS)]
    _add_jobs(urls, names, store / "moving")
    team = {f"bench-m{i}": FleetWorker(urls, f"bench-m{i}", *WORKER_FLAGS) for i in range(JOBS)}
    times = []
    try:
        for n in range(repeats):

            def spread() -> dict[str, str]:
                jobs = {j["definition"]["name"]: j["assignment"]["worker"] for j in fleet_json(urls, "jobs")}
                live = {name for name, worker in team.items() if worker.proc.poll() is None}
                return jobs if all(jobs.get(name) in live for name in names) else {}

            placed = wait_for(spread, 60, "every job on a live worker")
            victim = max(team, key=lambda w: sum(1 for worker in placed.values() if worker == w))
            moving = sorted(job for job, worker in placed.items() if worker == victim)
            lines = {name: len(w.lines) for name, w in team.items()}
            team[victim].kill()
            killed = time.monotonic()
            others = [(w, lines[name]) for name, w in team.items() if name != victim]
            said = [f"running job {job} " for job in moving]
            wait_for(partial(_all_said, said, others), 60, "the jobs running again", every=0.01)
            times.append(time.monotonic() - killed)
            del team[victim]
            replacement = f"bench-m{JOBS + n}"
            team[replacement] = FleetWorker(urls, replacement, *WORKER_FLAGS)
    finally:
        for worker in team.values():
            worker.stop()
        _remove_jobs(urls, names)
    return times


def _all_said(said: list[str], workers: list[tuple[Any, int]]) -> bool:
    """Whether each of ``said`` is in a line a worker logged after its first ``n`` lines."""
    return all(any(s in line for worker, n in workers for line in worker.lines[n:]) for s in said)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def jobs(binary: Path, seconds: float, repeats: int) -> dict[str, Any]:
    """The jobs benchmark; prints its table and returns its figures."""
    from bench_pipeline import record_storm

    from tests.nats_servers import NatsServer

    figures: dict[str, Any] = {"stream_events": STREAM_EVENTS, "jobs": JOBS}
    with tempfile.TemporaryDirectory(prefix="sensor-bench-jobs-") as directory:
        store = Path(directory)
        recording = store / "storm.rec"
        record_storm(binary, recording, seconds)
        server = NatsServer(store / "nats")
        server.start()
        try:
            fill_stream(server.url, recording, 10)  # the stream made
            rounds: dict[int, list[dict[str, float]]] = {1: [], 3: []}
            for round_ in range(repeats):
                for workers in (1, 3):
                    rounds[workers].append(archive_round(server.url, recording, store, workers, round_))
            moves = redispatch_times(server.url, store, repeats)
        finally:
            server.stop()
    print(f"\n{JOBS} archive jobs, each of a {STREAM_EVENTS}-event stream, {repeats} runs: median (min-max)")
    print("| workers | events archived/s (all jobs) | workers' CPU per event |")
    print("|---|---|---|")
    for workers, runs in rounds.items():
        rate = [r["events_per_s"] for r in runs]
        cpu = [r["cpu_us_per_event"] for r in runs]
        print(f"| {workers} | {_spread(rate)} | {_spread(cpu)} µs |")
        figures[f"workers_{workers}"] = runs
    print(f"SIGKILL to the job running on another worker (expiry 3s): {_spread(moves)} s")
    figures["redispatch_s"] = moves
    return figures

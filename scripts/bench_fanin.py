"""Fan-in (see bench.py): 50 nodes publishing to a three-server JetStream cluster on this machine (the
stream replicated three times), through the sensor's own export (JetStreamSink), at offered rates in
turn; one `sensor fleet trace --format json` consumer reading them back. Per rate: events a second
stored, loss, and the latency from the moment an event is handed to its node's export to the moment the
consumer prints it (p50, p99).

The nodes are two publisher processes of 25 sinks each (each sink its own connection, thread and
buffer, as on a node). Their events are a recorded exec storm (`sensor trace --record`) replayed
through the pipeline once, then sent by every node in turn as its own: its node name and sensor id,
its sequence numbers, the time it hands them over as their time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_storm import ROOT, SENSOR

sys.path[:0] = [str(ROOT)]  # the cluster launcher is the tests' own (tests/nats_servers.py)
NODES = 50
PUBLISHERS = 2
RATES = (1_000, 5_000)  # offered events a second, all nodes together
SECONDS = 8.0
TICK_S = 0.01
PUBLISHER = [sys.executable, __file__, "publish"]
CONSUMER = [*SENSOR, "fleet", "trace", "--format", "json", "--event", "fork,exec,exit", "--node", "bench-*"]


def replayed_events(recording: Path) -> list[Any]:
    """The TelemetryEvents the pipeline makes of a recording."""
    from sensor.kernel.recording import ReplayReader, read_recording
    from sensor.telemetry.capture import Capture, CaptureConfig

    records = read_recording(recording)
    capture = Capture(CaptureConfig(sensor_id="bench"), replay=ReplayReader(records))
    capture.start()
    events = []
    while capture.loss().records_read < len(records):
        events.extend(capture.poll(0))
    capture.close()
    return events


def publish(urls: str, recording: Path, first_node: int, nodes: int, rate: int, seconds: float) -> dict[str, int]:
    """Run ``nodes`` sinks publishing ``rate`` events a second in all for ``seconds``; their counters."""
    from sensor.export.exporter import ExportStats
    from sensor.export.jetstream import JetStreamConfig, JetStreamSink
    from sensor.fleet.engine import EngineAddress, NodeHeartbeat
    from sensor.telemetry.events import TelemetryEvent
    from sensor.telemetry.kinds.lost import LostPayload

    templates = replayed_events(recording)

    address = EngineAddress.parse(urls)
    names = [f"bench-node-{i:02d}" for i in range(first_node, first_node + nodes)]

    def lost_event(count: int, stage: str) -> TelemetryEvent:
        return TelemetryEvent("bench", 0, time.monotonic_ns(), LostPayload(lost=count, stage=stage))

    def beat(name: str) -> NodeHeartbeat:
        return NodeHeartbeat(name, name, "bench", "bench", time.time(), time.time())

    sinks = [
        JetStreamSink(JetStreamConfig(address, name, replicas=3), lost_event, lambda name=name: beat(name))
        for name in names
    ]
    per_tick = rate * TICK_S / len(sinks) / PUBLISHERS
    owed = [0.0] * len(sinks)
    sequence = [0] * len(sinks)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick_end = time.monotonic() + TICK_S
        for i, sink in enumerate(sinks):
            owed[i] += per_tick
            batch = []
            while owed[i] >= 1.0:
                owed[i] -= 1.0
                t = templates[sequence[i] % len(templates)]
                sequence[i] += 1
                as_node = TelemetryEvent(
                    names[i], sequence[i], time.monotonic_ns(), t.payload, t.process_id, t.process_pid,
                    t.process_tgid, t.cpu, t.credentials, t.container_id, t.container_name, t.image_id,
                    t.image_name, t.pod_uid, t.language, t.comm, t.filename, t.command_line, t.cwd,
                    t.parent_process_id, t.parent_pid, t.ancestors, t.snapshot, t.creator_process_id,
                    t.creator_pid, t.cwd_truncated, names[i],
                )  # fmt: skip
                batch.append(as_node)
            if batch:
                sink.write(batch)
        time.sleep(max(0.0, tick_end - time.monotonic()))
    totals = {"offered": sum(sequence), "sent": 0, "lost": 0}
    for sink in sinks:
        sink.close(30)
        stats = ExportStats("nats", "")
        sink.fill(stats)
        totals["sent"] += stats.sent
        totals["lost"] += stats.lost
    return totals


class Consumer:
    """`sensor fleet trace --format json` of the fan-in's nodes; the latency of each line as it arrives."""

    def __init__(self, urls: str) -> None:
        self.proc = subprocess.Popen(
            [*CONSUMER, "--nats", urls],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "ready" in line:
                break
        self.latencies_ns: list[int] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic_ns()
            self.latencies_ns.append(now - int(json.loads(line)["sensor_monotime_nanos"]))

    def take(self) -> list[int]:
        taken, self.latencies_ns = self.latencies_ns, []
        return taken

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _stored(urls: str) -> int:
    from tests.nats_servers import run_js

    async def count(js: Any) -> int:
        return int((await js.stream_info("SENSOR_EVENTS")).state.messages)

    return run_js(urls, count)


def fanin(binary: Path, seconds: float) -> dict[str, object]:
    """The fan-in benchmark; prints its table and returns its figures."""
    from bench_pipeline import record_storm

    from tests.nats_servers import NatsCluster

    rows = []
    with tempfile.TemporaryDirectory(prefix="sensor-bench-nats-") as store:
        recording = Path(store) / "storm.rec"
        record_storm(binary, recording, seconds)
        cluster = NatsCluster(Path(store))
        cluster.start()
        try:
            # The stream and buckets, made by a first short publish; then the consumer.
            publish(cluster.urls, recording, 0, 1, 10, 0.5)
            consumer = Consumer(cluster.urls)
            try:
                for rate in RATES:
                    before = _stored(cluster.urls)
                    started = time.monotonic()
                    per = NODES // PUBLISHERS
                    procs = [
                        subprocess.Popen(
                            [*PUBLISHER, cluster.urls, str(recording), str(p * per), str(per), str(rate)],
                            cwd=ROOT,
                            stdout=subprocess.PIPE,
                            text=True,
                        )
                        for p in range(PUBLISHERS)
                    ]
                    results = [json.loads(p.communicate(timeout=SECONDS + 120)[0]) for p in procs]
                    elapsed = time.monotonic() - started
                    stored = _stored(cluster.urls) - before
                    time.sleep(2.0)
                    latencies = sorted(consumer.take())
                    row = {
                        "nodes": NODES,
                        "offered_per_s": rate,
                        "offered": sum(r["offered"] for r in results),
                        "stored": stored,
                        "stored_per_s": round(stored / elapsed),
                        "lost": sum(r["lost"] for r in results),
                        "consumed": len(latencies),
                        "latency_p50_ms": round(statistics.median(latencies) / 1e6, 1) if latencies else None,
                        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99)] / 1e6, 1) if latencies else None,
                    }
                    rows.append(row)
            finally:
                consumer.stop()
        finally:
            cluster.stop()
    print("\n| nodes | offered/s | offered | stored | stored/s (incl. drain) | lost | consumed | p50 | p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['nodes']} | {r['offered_per_s']} | {r['offered']} | {r['stored']} | {r['stored_per_s']} | "
            f"{r['lost']} | {r['consumed']} | {r['latency_p50_ms']} ms | {r['latency_p99_ms']} ms |"
        )
    return {"seconds": SECONDS, "rows": rows}


if __name__ == "__main__" and sys.argv[1:2] == ["publish"]:
    urls, recording, first, count, rate = sys.argv[2], Path(sys.argv[3]), *map(int, sys.argv[4:7])
    print(json.dumps(publish(urls, recording, first, count, rate, SECONDS)))

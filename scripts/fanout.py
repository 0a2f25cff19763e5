"""The fanout benchmark (see bench.py): replayed events -> hub -> TelemetryService -> N client processes."""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from sensor.model.process_cache import ProcessInfoCache
from sensor.model.procfs import read_boot_id, scan_processes
from sensor.server.address import parse_address
from sensor.server.daemon import Daemon, ServerConfig
from sensor.telemetry.builder import EventBuilder
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.wire import event_frame

ROOT = Path(__file__).resolve().parents[1]
BATCH = 512
FILTER = 'uid >= 0 AND exec_filename != ""'
CLIENT = """
import sys, time
from sensor.api.v1 import service_pb2 as api, service_pb2_grpc, subscription_pb2 as sub
from sensor.server.address import open_channel, parse_address
target, wanted, expression = sys.argv[1], int(sys.argv[2]), sys.argv[3]
channel = open_channel(parse_address(target))
request = api.GetEventsRequest(subscription=sub.Subscription(event_filter=sub.EventFilter(
    process_events=[sub.ProcessEventFilter(type="EXEC", filter_expression=expression)])))
responses = iter(service_pb2_grpc.TelemetryServiceStub(channel).GetEvents(request))
next(responses)
print("subscribed", flush=True)
got = lost = 0
for response in responses:
    for event in response.events:
        if event.WhichOneof("event") == "lost":
            lost += event.lost.lost
        else:
            got += 1
    if got + lost >= wanted:
        break
print(got, lost, time.monotonic(), flush=True)
"""


class ReplayCapture:
    """Stands in for Capture without the kernel: each poll hands out the next batch of prepared events."""

    def __init__(self, events: list[TelemetryEvent], builder: EventBuilder) -> None:
        self.batches = deque(events[i : i + BATCH] for i in range(0, len(events), BATCH))
        self.go = threading.Event()
        self.builder = builder

    def start(self) -> None:
        pass

    def poll(self, timeout_ms: int, kinds: object = None) -> list[TelemetryEvent]:
        if not self.go.is_set() or not self.batches:
            time.sleep(timeout_ms / 1000)
            return []
        return self.batches.popleft()

    def flush(self) -> list[TelemetryEvent]:
        return []

    def snapshot(self) -> list[TelemetryEvent]:
        return []

    def lost_event(self, count: int, stage: str) -> TelemetryEvent:
        return self.builder.lost(count, stage, "", time.monotonic_ns())

    def close(self) -> None:
        pass


def host_events(count: int) -> tuple[list[TelemetryEvent], EventBuilder]:
    """``count`` EXEC events modelled on this host's processes, as the sensor would describe them."""
    cache = ProcessInfoCache(read_boot_id())
    cache.load_snapshot(scan_processes())
    builder = EventBuilder("bench", cache)
    now = time.monotonic_ns()
    templates = [builder.existing_process(info, None, now) for info in cache.processes() if info.filename]
    return [
        dataclasses.replace(templates[i % len(templates)], sensor_sequence_number=i, snapshot=False)
        for i in range(count)
    ], builder


def unencoded(events: list[TelemetryEvent]) -> list[TelemetryEvent]:
    """Copies that have not been encoded yet, so each run pays for its own encoding."""
    return [dataclasses.replace(e, encoded=b"") for e in events]


def encode_rate(events: list[TelemetryEvent]) -> float:
    fresh = unencoded(events)
    started = time.perf_counter()
    for event in fresh:
        event_frame(event)
    return len(fresh) / (time.perf_counter() - started)


def stream_rate(events: list[TelemetryEvent], builder: EventBuilder, subscribers: int) -> dict[str, float]:
    replay = ReplayCapture(unencoded(events), builder)
    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as tmp:
        config = ServerConfig(parse_address(f"unix://{tmp}/s.sock"), queue_events=len(events) + BATCH)
        daemon = Daemon(config, replay)  # type: ignore[arg-type]
        daemon.start()
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", CLIENT, f"unix:{tmp}/s.sock", str(len(events)), FILTER],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(subscribers)
        ]
        for client in clients:
            assert client.stdout is not None and client.stdout.readline().strip() == "subscribed"
        started = time.monotonic()
        replay.go.set()
        results = [client.communicate(timeout=600)[0].split() for client in clients]
        daemon.stop()
    elapsed = max(float(r[2]) for r in results) - started
    delivered = sum(int(r[0]) for r in results)
    return {
        "subscribers": subscribers,
        "per_subscriber_per_s": delivered / subscribers / elapsed,
        "total_per_s": delivered / elapsed,
        "lost": sum(int(r[1]) for r in results),
    }


def fanout(count: int) -> dict[str, object]:
    """The fanout benchmark; prints its table and returns its figures."""
    events, builder = host_events(count)
    encode = statistics.median(encode_rate(events) for _ in range(3))
    rows = [stream_rate(events, builder, n) for n in (1, 10)]
    print(f"\nencoding alone (event_frame, one thread): {encode:.0f} events/s")
    print("| subscribers | events/s to each | events/s total | total / encoding alone | lost |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['subscribers']} | {r['per_subscriber_per_s']:.0f} | {r['total_per_s']:.0f} | "
            f"{r['total_per_s'] / encode:.2f} | {r['lost']:.0f} |"
        )
    return {"events": count, "filter": FILTER, "encode_per_s": encode, "rows": rows}

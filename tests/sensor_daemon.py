"""A real `sensor run` in a child process, and gRPC clients of it, for the server tests."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
from prometheus_client.parser import text_string_to_metric_families

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import service_pb2_grpc
from sensor.api.v1 import subscription_pb2 as sub
from sensor.api.v1 import telemetry_pb2 as pb
from sensor.server.address import MAX_RECEIVE_BYTES
from tests.child_process import StderrLines, stop_child
from tests.live_sensor import READY_TIMEOUT_S, ROOT, SENSOR


class SensorDaemon:
    """`sensor run ARGS`, started and waited for until it says ready."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [*SENSOR, "run", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stderr = StderrLines(self.proc.stderr)
        if not self._stderr.ready.wait(READY_TIMEOUT_S) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("sensor run never said ready:\n" + self.stderr)

    @property
    def stderr(self) -> str:
        """Everything it wrote to stderr so far."""
        return self._stderr.text

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, and return the exit status."""
        code = stop_child(self.proc, timeout=timeout)
        self._stderr.join()
        return code


def stub(target: str) -> service_pb2_grpc.TelemetryServiceStub:
    """A client of the service at ``target`` (a gRPC target, e.g. unix:/path)."""
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)])
    return service_pb2_grpc.TelemetryServiceStub(channel)


def exec_filter(expression: str = "", event_type: str = "EXEC") -> sub.ProcessEventFilter:
    """A process filter for one type."""
    return sub.ProcessEventFilter(type=event_type, filter_expression=expression)


def subscription(
    *process_filters: sub.ProcessEventFilter,
    ticker_ns: int = 0,
    **fields: object,
) -> sub.Subscription:
    """A Subscription with these process filters, an optional ticker, and other top-level fields."""
    result = sub.Subscription(**fields)  # type: ignore[arg-type]
    result.event_filter.process_events.extend(process_filters)
    if ticker_ns:
        result.event_filter.ticker_events.append(sub.TickerEventFilter(interval=ticker_ns))
    return result


class Stream:
    """A GetEvents call; the first response (statuses) is read at once."""

    def __init__(self, client: service_pb2_grpc.TelemetryServiceStub, request: sub.Subscription) -> None:
        self.call = client.GetEvents(api.GetEventsRequest(subscription=request))
        self._responses: Iterator[api.GetEventsResponse] = iter(self.call)
        self.statuses = list(next(self._responses).statuses)

    def responses(self) -> Iterator[api.GetEventsResponse]:
        """Each response as it arrives, until the stream ends."""
        return self._responses

    def events(self) -> Iterator[pb.TelemetryEvent]:
        """Each event as it arrives, until the stream ends."""
        for response in self._responses:
            yield from response.events

    def collect_until(self, done: object, timeout: float = 20.0) -> list[pb.TelemetryEvent]:
        """Events up to and including the first for which ``done(event)`` holds (needs a ticker to time out)."""
        assert callable(done)
        deadline = time.monotonic() + timeout
        out: list[pb.TelemetryEvent] = []
        for event in self.events():
            if event.WhichOneof("event") != "ticker":
                out.append(event)
                if done(event):
                    return out
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"stream ended or timed out after {len(out)} events: {out[-5:]}")

    def cancel(self) -> None:
        """End the call from this side."""
        self.call.cancel()


def argv_has(event: pb.TelemetryEvent, marker: str) -> bool:
    """An EXEC whose command line carries ``marker``."""
    return event.WhichOneof("event") == "process" and marker in event.process.exec_command_line


def sock_path(directory: Path) -> str:
    """A socket path under ``directory`` (short enough for sun_path)."""
    return str(directory / "sensor.sock")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> Samples:
    """Every sample of the metrics endpoint on ``port``, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

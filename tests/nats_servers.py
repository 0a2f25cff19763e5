"""Real `nats-server` processes with JetStream on loopback ports, alone or as a three-server cluster,
and a small synchronous client of them for the tests' own reads."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.fleet.engine import EVENTS_STREAM
from tests.sensor_daemon import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
T = TypeVar("T")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """One nats-server; :meth:`start` again after :meth:`kill` brings it back on the same ports and store."""

    def __init__(self, store: Path, name: str = "n1", cluster_port: int = 0, routes: tuple[int, ...] = ()) -> None:
        self.store = store
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self.cluster_port = cluster_port
        self.routes = routes
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store / f"{name}.log"

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it takes connections."""
        self.store.mkdir(parents=True, exist_ok=True)
        args = [NATS_SERVER, "-js", "-sd", str(self.store / self.name), "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["-n", self.name, "-m", str(self.monitor_port)]
        if self.cluster_port:
            routes = ",".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            args += ["--cluster_name", "sensor-test", "--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
            args += ["--routes", routes]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {self.name} did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no goodbye to its peers or clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class NatsCluster:
    """Three servers routed to one another: JetStream replicates across them."""

    def __init__(self, store: Path) -> None:
        cluster_ports = [free_port() for _ in range(3)]
        self.servers = [
            NatsServer(store, f"n{i + 1}", cluster_ports[i], tuple(p for p in cluster_ports if p != cluster_ports[i]))
            for i in range(3)
        ]

    @property
    def urls(self) -> str:
        """Every server's URL, comma-separated (as --export-nats takes them)."""
        return ",".join(s.url for s in self.servers)

    def start(self) -> None:
        """Start all three, and wait until JetStream has a leader (a stream can be made)."""
        for server in self.servers:
            server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                run_js(self.urls, _jetstream_ready)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            server.stop()


async def _jetstream_ready(js: JetStreamContext) -> None:
    await js.account_info()


def run_js(urls: str, work: Callable[[JetStreamContext], Awaitable[T]], retry_s: float = 60.0) -> T:
    """Run ``work`` on a fresh connection's JetStream, synchronously; tried again for ``retry_s`` while
    the cluster does not answer (a new leader is being chosen after a server died)."""

    async def main() -> T:
        nc = await nats.connect(urls.split(","), connect_timeout=2, max_reconnect_attempts=3)
        try:
            return await work(nc.jetstream(timeout=10))
        finally:
            await nc.close()

    deadline = time.monotonic() + retry_s
    while True:
        try:
            return asyncio.run(main())
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stored_events(urls: str, stream: str = EVENTS_STREAM) -> list[tuple[str, pb.TelemetryEvent]]:
    """Every message in the stream, in the stream's order: (subject, the event); none while there is no stream."""

    async def read(js: JetStreamContext) -> list[tuple[str, pb.TelemetryEvent]]:
        try:
            info = await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            return []
        count = info.state.messages
        if not count:
            return []
        subscription = await js.pull_subscribe("sensor.events.>", stream=stream)
        out: list[tuple[str, pb.TelemetryEvent]] = []
        try:
            while len(out) < count:
                try:
                    messages = await subscription.fetch(min(1024, count - len(out)), timeout=5)
                except nats.errors.TimeoutError:
                    if out:  # drained: after a failover the count can name messages no consumer gets
                        break
                    raise
                for message in messages:
                    out.append((message.subject, pb.TelemetryEvent.FromString(message.data)))
                    await message.ack()
        finally:
            await subscription.unsubscribe()  # one read, one consumer: none left behind per poll
        return out

    return run_js(urls, read)

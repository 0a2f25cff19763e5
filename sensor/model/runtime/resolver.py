"""Container metadata looked up in the background, from the runtimes in priority order.

The pipeline thread never waits on a runtime: it calls :meth:`MetadataResolver.request` and later
drains answers with :meth:`MetadataResolver.drain`. One worker thread asks the sources (Docker API
sockets first, then OCI state directories) and caches answers and errors for ``ttl_s``; one thread
per Docker socket follows its events stream. A container no source knows yet is asked again with
backoff for ``retry_for_s`` ("not available yet"); after that it is final ("never available"). A
socket that is missing or dies is a warning, and its lookups are skipped until it answers again.
"""

from __future__ import annotations

import heapq
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from sensor.model.runtime.docker import DockerClient
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent, RuntimeUnavailable
from sensor.model.runtime.oci import OciStateSource

DEFAULT_TTL_S = 30.0
DEFAULT_RETRY_FOR_S = 10.0
FIRST_RETRY_S = 0.05
EVENTS_RECONNECT_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class MetadataResult:
    """An answer for one container: ``metadata`` None with ``final`` means no runtime knows it."""

    container_id: str
    metadata: ContainerMetadata | None
    final: bool


Answer = MetadataResult | RuntimeEvent


class MetadataResolver:
    """Asks the runtimes about containers off the pipeline thread; answers are drained in order."""

    def __init__(
        self,
        docker_sockets: tuple[str, ...],
        oci: OciStateSource | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        retry_for_s: float = DEFAULT_RETRY_FOR_S,
        warn: Callable[[str], None] = lambda message: None,
        warn_if_missing: bool = True,
    ) -> None:
        self._dockers = [DockerClient(path, "podman" if "podman" in path else "docker") for path in docker_sockets]
        self._oci = oci or OciStateSource()
        self._retry_for_s = retry_for_s
        self._warn = warn
        # False for the default sockets: a host without Docker is normal, not worth a warning.
        self._warn_if_missing = warn_if_missing
        self._cache: TTLCache[str, ContainerMetadata | None] = TTLCache(maxsize=8192, ttl=ttl_s)
        self._down: dict[str, str] = {}  # socket -> the error that took it down, while down
        self._errors: dict[str, int] = {}  # socket -> failed requests, for metrics
        self._errors_lock = threading.Lock()  # the worker and the followers both count
        self._requests: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the pipeline thread's side -----------------------------------------------------------

    def start(self) -> None:
        """Start the lookup worker and one events follower per Docker socket."""
        self._threads.append(threading.Thread(target=self._work, name="metadata-resolver", daemon=True))
        for client in self._dockers:
            self._threads.append(
                threading.Thread(target=self._follow, args=(client,), name=f"events {client.socket_path}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def request(self, container_id: str, refresh: bool = False) -> None:
        """Look a container up (again, bypassing the cache, when ``refresh``); the answer comes through drain()."""
        self._requests.put((container_id, refresh))

    def drain(self) -> list[Answer]:
        """Answers and runtime events that arrived since the last call, in arrival order."""
        out: list[Answer] = []
        while True:
            try:
                out.append(self._answers.get_nowait())
            except queue.Empty:
                return out

    def known_containers(self) -> dict[str, ContainerMetadata]:
        """Every container the Docker daemons know now (running or not), asked synchronously at start-up."""
        found: dict[str, ContainerMetadata] = {}
        for client in self._dockers:
            try:
                for container_id in client.list_ids():
                    metadata = client.inspect(container_id)
                    if metadata is not None:
                        found[container_id] = metadata
            except RuntimeUnavailable as error:
                self._mark_down(client, error)
        return found

    def stop(self) -> None:
        """Stop asking; threads blocked on a socket end with the process (they are daemons)."""
        self._stop.set()
        self._requests.put(("", False))

    # -- worker ---------------------------------------------------------------------------------

    def _work(self) -> None:
        # (due time, container id, first asked at): lookups waiting for their retry.
        retries: list[tuple[float, str, float]] = []
        while not self._stop.is_set():
            timeout = max(0.0, retries[0][0] - time.monotonic()) if retries else None
            try:
                container_id, refresh = self._requests.get(timeout=timeout)
                if container_id:
                    self._lookup(container_id, refresh, time.monotonic(), retries)
            except queue.Empty:
                pass
            now = time.monotonic()
            while retries and retries[0][0] <= now:
                _, container_id, first = heapq.heappop(retries)
                self._lookup(container_id, True, first, retries)

    def _lookup(self, container_id: str, refresh: bool, first: float, retries: list[tuple[float, str, float]]) -> None:
        if not refresh and container_id in self._cache:
            self._answers.put(MetadataResult(container_id, self._cache[container_id], final=True))
            return
        metadata = self._ask_sources(container_id)
        if metadata is not None:
            self._cache[container_id] = metadata
            self._answers.put(MetadataResult(container_id, metadata, final=True))
            return
        waited = time.monotonic() - first
        if waited >= self._retry_for_s:
            self._cache[container_id] = None
            self._answers.put(MetadataResult(container_id, None, final=True))
            return
        # Not available yet: the runtime may not have written its state, or its socket is down.
        delay = max(FIRST_RETRY_S, min(waited, self._retry_for_s - waited))
        heapq.heappush(retries, (time.monotonic() + delay, container_id, first))
        self._answers.put(MetadataResult(container_id, None, final=False))

    def _ask_sources(self, container_id: str) -> ContainerMetadata | None:
        for client in self._dockers:
            if client.socket_path in self._down:
                continue
            try:
                metadata = client.inspect(container_id)
            except RuntimeUnavailable as error:
                self._mark_down(client, error)
                continue
            if metadata is not None:
                return metadata
        return self._oci.find(container_id)

    def errors(self) -> dict[str, int]:
        """Failed requests per runtime socket since start."""
        with self._errors_lock:
            return dict(self._errors)

    def _mark_down(self, client: DockerClient, error: RuntimeUnavailable) -> None:
        with self._errors_lock:
            self._errors[client.socket_path] = self._errors.get(client.socket_path, 0) + 1
        if client.socket_path not in self._down:
            self._down[client.socket_path] = str(error)
            if not self._warn_if_missing and not os.path.exists(client.socket_path):
                return
            self._warn(f"{error}; {client.runtime} containers get ids without names until it answers")

    # -- events followers -------------------------------------------------------------------------

    def _follow(self, client: DockerClient) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                client.ping()
                if self._down.pop(client.socket_path, None) is not None:
                    self._warn(f"{client.runtime} API at {client.socket_path} answers again")
                backoff = 0.5
                for event in client.events():
                    self._answers.put(event)
                    if event.state in (None, ContainerState.CREATED):
                        self.request(event.container_id, refresh=True)
            except RuntimeUnavailable as error:
                self._mark_down(client, error)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, EVENTS_RECONNECT_MAX_S)

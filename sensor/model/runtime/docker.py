"""The Docker Engine API (and Podman's Docker-compatible one) over its unix socket.

Plain ``http.client`` on an AF_UNIX socket: three read-only calls (inspect, list, the events
stream), no dependency. Every failure to reach the daemon is a RuntimeUnavailable.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent, RuntimeUnavailable

DEFAULT_DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")
API_TIMEOUT_S = 2.0

# Docker's event actions, as lifecycle states; None: the container changed, inspect it again.
_ACTIONS: dict[str, ContainerState | None] = {
    "create": ContainerState.CREATED,
    "start": ContainerState.RUNNING,
    "restart": ContainerState.RUNNING,
    "unpause": ContainerState.RUNNING,
    "die": ContainerState.EXITED,
    "destroy": ContainerState.DESTROYED,
    "rename": None,
    "update": None,
}
_STATES = {
    "created": ContainerState.CREATED,
    "running": ContainerState.RUNNING,
    "paused": ContainerState.RUNNING,
    "restarting": ContainerState.RUNNING,
    "exited": ContainerState.EXITED,
    "dead": ContainerState.EXITED,
    "removing": ContainerState.EXITED,
}


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerClient:
    """Read-only Docker Engine API client for one socket."""

    def __init__(self, socket_path: str, runtime: str = "docker") -> None:
        self.socket_path = socket_path
        self.runtime = runtime

    def _get(self, path: str, timeout: float | None = API_TIMEOUT_S) -> http.client.HTTPResponse:
        connection = _UnixHTTPConnection(self.socket_path, timeout)
        try:
            connection.request("GET", path, headers={"Host": "docker"})
            return connection.getresponse()
        except OSError as error:
            connection.close()
            raise RuntimeUnavailable(f"{self.runtime} API at {self.socket_path}: {error}") from None

    def _get_json(self, path: str) -> Any:
        response = self._get(path)
        try:
            body = response.read()
        except OSError as error:
            raise RuntimeUnavailable(f"{self.runtime} API at {self.socket_path}: {error}") from None
        finally:
            response.close()
        if response.status == 404:
            return None
        if response.status != 200:
            raise RuntimeUnavailable(f"{self.runtime} API {path}: HTTP {response.status} {body[:200]!r}")
        return json.loads(body)

    def ping(self) -> None:
        """Raise RuntimeUnavailable unless the daemon answers."""
        response = self._get("/_ping")
        response.read()
        response.close()
        if response.status != 200:
            raise RuntimeUnavailable(f"{self.runtime} API at {self.socket_path}: ping answered HTTP {response.status}")

    def inspect(self, container_id: str) -> ContainerMetadata | None:
        """One container's metadata; None when this daemon does not know the id."""
        raw = self._get_json(f"/containers/{quote(container_id)}/json")
        return None if raw is None else metadata_from_inspect(raw, self.runtime)

    def list_ids(self) -> list[str]:
        """The ids of every container the daemon knows, running or not."""
        raw = self._get_json("/containers/json?all=1") or []
        return [c["Id"] for c in raw]

    def events(self) -> Iterator[RuntimeEvent]:
        """Container lifecycle events as they happen; ends (RuntimeUnavailable) when the daemon goes away."""
        filters = quote(json.dumps({"type": ["container"]}))
        response = self._get(f"/events?filters={filters}", timeout=None)
        if response.status != 200:
            raise RuntimeUnavailable(f"{self.runtime} events: HTTP {response.status}")
        try:
            while True:
                line = response.readline()
                if not line:
                    raise RuntimeUnavailable(f"{self.runtime} events stream at {self.socket_path} closed")
                event = event_from_json(json.loads(line), self.runtime)
                if event is not None:
                    yield event
        except (OSError, http.client.HTTPException) as error:
            raise RuntimeUnavailable(f"{self.runtime} events stream: {error}") from None
        finally:
            response.close()


def metadata_from_inspect(raw: dict[str, Any], runtime: str) -> ContainerMetadata:
    """ContainerMetadata from the JSON of ``GET /containers/{id}/json``."""
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    labels = config.get("Labels") or {}
    status = _STATES.get(state.get("Status", ""))
    return ContainerMetadata(
        name=(raw.get("Name") or "").lstrip("/"),
        image_id=raw.get("Image") or "",
        image_name=config.get("Image") or "",
        labels=dict(labels),
        runtime=runtime,
        init_pid=int(state.get("Pid") or 0),
        state=status,
        exit_code=int(state.get("ExitCode", 0)) if status is ContainerState.EXITED else None,
        pod_name=labels.get("io.kubernetes.pod.name", ""),
        pod_namespace=labels.get("io.kubernetes.pod.namespace", ""),
    )


def event_from_json(raw: dict[str, Any], runtime: str) -> RuntimeEvent | None:
    """A lifecycle event from one line of ``GET /events``; None for actions that change nothing we track."""
    action = str(raw.get("Action") or raw.get("status") or "").split(":", 1)[0]
    if action not in _ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    container_id = actor.get("ID") or raw.get("id") or ""
    attributes = actor.get("Attributes") or {}
    exit_code = attributes.get("exitCode")
    return RuntimeEvent(
        container_id=container_id,
        state=_ACTIONS[action],
        exit_code=int(exit_code) if exit_code is not None else None,
        runtime=runtime,
    )

"""The Docker API client: inspect and events parsing, and a dead socket as RuntimeUnavailable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sensor.model.runtime.docker import DockerClient, event_from_json, metadata_from_inspect
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState, RuntimeEvent, RuntimeUnavailable

ID = "ab" * 32
INSPECT = {
    "Id": ID,
    "Name": "/web",
    "Image": "sha256:" + "cd" * 32,
    "Config": {"Image": "nginx:1.25", "Labels": {"io.kubernetes.pod.name": "web-1", "app": "web"}},
    "State": {"Status": "exited", "Pid": 0, "ExitCode": 7},
}


def test_inspect_json_becomes_metadata() -> None:
    assert metadata_from_inspect(INSPECT, "docker") == ContainerMetadata(
        name="web",
        image_id="sha256:" + "cd" * 32,
        image_name="nginx:1.25",
        labels={"io.kubernetes.pod.name": "web-1", "app": "web"},
        runtime="docker",
        init_pid=0,
        state=ContainerState.EXITED,
        exit_code=7,
        pod_name="web-1",
    )


def test_a_running_container_has_its_pid_and_no_exit_code() -> None:
    running = {**INSPECT, "State": {"Status": "running", "Pid": 4242, "ExitCode": 0}}
    metadata = metadata_from_inspect(running, "docker")
    assert (metadata.state, metadata.init_pid, metadata.exit_code) == (ContainerState.RUNNING, 4242, None)


@pytest.mark.parametrize(
    ("action", "attributes", "expected"),
    [
        ("create", {}, RuntimeEvent(ID, ContainerState.CREATED, None, "docker")),
        ("start", {}, RuntimeEvent(ID, ContainerState.RUNNING, None, "docker")),
        ("die", {"exitCode": "7"}, RuntimeEvent(ID, ContainerState.EXITED, 7, "docker")),
        ("destroy", {}, RuntimeEvent(ID, ContainerState.DESTROYED, None, "docker")),
        ("rename", {"oldName": "/a", "name": "b"}, RuntimeEvent(ID, None, None, "docker")),
        ("exec_start: sh", {}, None),
        ("attach", {}, None),
    ],
)
def test_events_stream_lines_become_lifecycle_events(
    action: str, attributes: dict[str, str], expected: RuntimeEvent | None
) -> None:
    raw = {"Type": "container", "Action": action, "Actor": {"ID": ID, "Attributes": attributes}}
    assert event_from_json(raw, "docker") == expected


def test_a_missing_socket_is_runtime_unavailable_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    with pytest.raises(RuntimeUnavailable, match=f"docker API at {path}: .*No such file"):
        DockerClient(str(path)).inspect(ID)


def test_a_socket_nobody_listens_on_is_runtime_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: connections are refused
    try:
        with pytest.raises(RuntimeUnavailable, match="refused"):
            DockerClient(str(path)).list_ids()
    finally:
        stale.close()

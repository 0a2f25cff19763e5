"""Containers on the live kernel with real runtimes: a private dockerd, and runc by itself."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor.kernel.cgroupfs import detect_hierarchy
from tests.containers import IMAGE, DockerDaemon, RuncBundle
from tests.live_sensor import Event, LiveSensor, env_without_sensor, is_exec_of, process

LIFECYCLE = ["CREATED", "RUNNING", "EXITED", "DESTROYED"]


def container(event: Event) -> dict[str, object]:
    """The ``container`` payload of an event ({} for other payloads)."""
    payload: dict[str, object] = event.get("container", {})
    return payload


def lifecycle_of(sensor: LiveSensor, container_id: str, count: int) -> list[Event]:
    """The first ``count`` lifecycle events of one container, in order.

    UPDATED is left out: it comes whenever the runtime's description changes, and also when the
    metadata came after the sensor's wait, following the events that went out without the name.
    """

    def wanted(e: Event) -> bool:
        return e.get("container_id") == container_id and container(e).get("type", "UPDATED") != "UPDATED"

    return sensor.wait_for(wanted, count)


def assert_named(sensor: LiveSensor, events: list[Event], name: str) -> Event:
    """Each event carries the container's name, or went out before the runtime answered (the
    sensor's wait is bounded) and an UPDATED carrying the name follows it. Returns a named event."""
    unnamed = [e for e in events if e.get("container_name") != name]
    if not unnamed:
        return events[0]
    container_id = unnamed[0]["container_id"]
    (update,) = sensor.wait_for(
        lambda e: e.get("container_id") == container_id and container(e).get("type") == "UPDATED"
    )
    assert update["container_name"] == name
    assert all(int(e["sensor_sequence_number"]) < int(update["sensor_sequence_number"]) for e in unnamed)
    return update


def remove_cgroup(path: Path) -> None:
    """rmdir a cgroup its processes have just left: the kernel lets go of a dead task a moment later."""
    deadline = time.monotonic() + 5
    while True:
        try:
            path.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def marker() -> str:
    return f"m{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def existing(docker_daemon: DockerDaemon) -> Iterator[str]:
    """A container started before the sensor; its id."""
    name = f"before-{uuid.uuid4().hex[:8]}"
    container_id = docker_daemon.run("run", "-d", "--name", name, IMAGE, "sleep", "300").stdout.strip()
    yield container_id
    docker_daemon.run("rm", "-f", container_id, check=False)


@pytest.fixture(scope="module")
def sensor(docker_daemon: DockerDaemon, existing: str) -> Iterator[LiveSensor]:
    """`sensor trace` asking the tests' dockerd, with the start-up snapshot."""
    live = LiveSensor("--docker-socket", str(docker_daemon.socket), "--include-existing")
    yield live
    live.stop()


def test_docker_run_reports_created_running_exited_with_code_and_destroyed(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    name = f"exit7-{uuid.uuid4().hex[:8]}"
    mark = marker()
    result = docker_daemon.run("run", "--name", name, IMAGE, "sh", "-c", f"echo {mark}; exit 7", check=False)
    assert result.returncode == 7
    container_id = docker_daemon.run("inspect", "-f", "{{.Id}}", name).stdout.strip()
    docker_daemon.run("rm", name)

    events = lifecycle_of(sensor, container_id, 4)
    assert [container(e)["type"] for e in events] == LIFECYCLE
    assert container(events[2])["exit_code"] == 7
    assert_named(sensor, events, name)
    for event in events:
        assert container(event)["runtime"] == "docker"
        if event.get("container_name") == name:
            assert event["image_name"] == IMAGE
            assert str(event["image_id"]).startswith("sha256:")


def test_exec_events_inside_a_container_carry_its_id_name_and_image(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    name = f"execs-{uuid.uuid4().hex[:8]}"
    mark = marker()
    container_id = docker_daemon.run("run", "-d", "--name", name, IMAGE, "sh", "-c", f"sleep 1 {mark}").stdout.strip()

    (exec_event,) = sensor.wait_for(lambda e: is_exec_of(e, mark))
    assert exec_event["container_id"] == container_id
    assert exec_event["container_name"] == name
    assert exec_event["image_name"] == IMAGE
    assert str(exec_event["image_id"]).startswith("sha256:")
    assert process(exec_event)["exec_command_line"] == ["sleep", "1", mark]  # sh -c execs its last command
    docker_daemon.run("rm", "-f", container_id)


def test_execs_carry_their_language_go_from_build_info_and_python_from_the_command(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    name = f"lang-{uuid.uuid4().hex[:8]}"
    container_id = docker_daemon.run("run", "-d", "--name", name, IMAGE, "sleep", "5").stdout.strip()
    # containerd's shim for this container is a Go program, exec'd with the id in its argv.
    shims = sensor.wait_for(lambda e: is_exec_of(e, container_id) and "shim" in str(e.get("filename")))
    assert {e.get("language") for e in shims} == {"go"}
    mark = marker()
    subprocess.run([sys.executable, "-c", "pass", mark], check=True, env=env_without_sensor())
    (python,) = sensor.wait_for(lambda e: is_exec_of(e, mark))
    assert python["language"] == "python"
    docker_daemon.run("rm", "-f", container_id)


def test_a_container_started_before_the_sensor_is_in_the_snapshot(sensor: LiveSensor, existing: str) -> None:
    (snapshot,) = sensor.wait_for(
        lambda e: e.get("container_id") == existing and e.get("snapshot") is True and bool(container(e))
    )
    assert container(snapshot)["type"] == "RUNNING"
    assert str(snapshot["container_name"]).startswith("before-")
    assert snapshot["image_name"] == IMAGE
    (sleeper,) = sensor.wait_for(
        lambda e: e.get("container_id") == existing and e.get("snapshot") is True and "process" in e
    )
    assert sleeper["command_line"] == ["sleep", "300"]
    assert sleeper["container_name"] == snapshot["container_name"]


def test_docker_rename_gives_updated_and_later_events_carry_the_new_name(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    old, new = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
    container_id = docker_daemon.run("run", "-d", "--name", old, IMAGE, "sleep", "60").stdout.strip()
    lifecycle_of(sensor, container_id, 2)  # CREATED, RUNNING
    docker_daemon.run("rename", old, new)
    # A metadata answer that came after the sensor's wait may add an UPDATED of its own before this
    # one, under the old name; the rename's is the one that carries the new name.
    renamed = sensor.wait_for(
        lambda e: (
            e.get("container_id") == container_id
            and container(e).get("type") == "UPDATED"
            and e.get("container_name") == new
        )
    )
    assert renamed[0]["image_name"] == IMAGE
    mark = marker()
    docker_daemon.run("exec", new, "echo", mark)
    (exec_event,) = sensor.wait_for(lambda e: is_exec_of(e, mark) and e.get("container_id") == container_id)
    assert exec_event["container_name"] == new
    docker_daemon.run("rm", "-f", container_id)


def test_a_burst_of_short_containers_carries_full_metadata(sensor: LiveSensor, docker_daemon: DockerDaemon) -> None:
    names = [f"burst-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    ids = [docker_daemon.run("run", "-d", "--name", n, IMAGE, "sh", "-c", "true").stdout.strip() for n in names]
    for container_id in ids:
        docker_daemon.run("wait", container_id)
        docker_daemon.run("rm", container_id)
    destroyed = sensor.wait_for(
        lambda e: e.get("container_id") in ids and container(e).get("type") == "DESTROYED", count=len(ids)
    )
    assert len(destroyed) == len(ids)
    inside = [e for e in sensor.events if e.get("container_id") in ids]
    full = [e for e in inside if e.get("container_name") and e.get("image_name")]
    share = len(full) / len(inside)
    print(f"burst of {len(ids)} containers: {len(full)}/{len(inside)} in-container events with name and image")
    assert share >= 0.95, f"only {share:.0%} of in-container events carried name and image"


@pytest.fixture
def kubepods_bundle(tmp_path: Path) -> Iterator[tuple[RuncBundle, str, str]]:
    pod_uid = str(uuid.uuid4())
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    bundle = RuncBundle(
        tmp_path / "bundle",
        ["sh", "-c", "sleep 1; exit 3"],
        f"/kubepods/burstable/pod{pod_uid}/{container_id}",
        {
            "io.kubernetes.cri.container-name": "web",
            "io.kubernetes.cri.image-name": "registry.local/web:1.0",
            "io.kubernetes.cri.sandbox-name": "web-7d9f",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": pod_uid,
        },
    )
    yield bundle, container_id, pod_uid
    bundle.remove_cgroups()


def test_runc_container_in_a_kubepods_cgroup_gives_its_id_pod_uid_and_oci_metadata(
    sensor: LiveSensor, kubepods_bundle: tuple[RuncBundle, str, str]
) -> None:
    bundle, container_id, pod_uid = kubepods_bundle
    assert bundle.run(container_id).returncode == 3

    events = lifecycle_of(sensor, container_id, 4)
    assert [container(e)["type"] for e in events] == LIFECYCLE
    assert container(events[2])["exit_code"] == 3
    assert {e["pod_uid"] for e in events} == {pod_uid}
    named = assert_named(sensor, events, "web")
    assert named["image_name"] == "registry.local/web:1.0"
    assert container(named)["pod_name"] == "web-7d9f"
    assert container(named)["pod_namespace"] == "shop"
    (init_exec,) = sensor.wait_for(
        lambda e: e.get("container_id") == container_id and process(e).get("exec_command_line") == bundle.args
    )
    assert init_exec["pod_uid"] == pod_uid
    assert init_exec["container_name"] == "web"
    assert container(events[1])["host_pid"] == init_exec["process_tgid"]


def test_a_missing_docker_socket_is_a_warning_and_runc_containers_still_resolve(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-docker.sock"
    live = LiveSensor("--docker-socket", str(missing), "--event", "container")
    try:
        container_id = uuid.uuid4().hex + uuid.uuid4().hex
        bundle = RuncBundle(tmp_path / "bundle", ["sh", "-c", "sleep 1"], f"/sensor-test/{container_id}", {})
        assert bundle.run(container_id).returncode == 0
        events = lifecycle_of(live, container_id, 4)
        assert [container(e)["type"] for e in events] == LIFECYCLE
        named = assert_named(live, events, container_id)  # runc's own name for it
        assert container(named)["runtime"] == "runc"
        warnings = "".join(live.stderr_lines)
        assert f"{missing}" in warnings and "warning" in warnings
        bundle.remove_cgroups()
    finally:
        assert live.stop() == 0


def test_a_helper_that_execs_and_exits_in_the_cgroup_before_the_init_does_not_end_the_container(
    sensor: LiveSensor,
) -> None:
    # runc moves its own `runc init` into the container's cgroup, and on a slow host that process
    # re-executes itself there before the container's init (pid 1 of the new pid namespace) execs.
    # The same order by hand: a host-namespace exec that exits, then the init in its own pid namespace.
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    cgroup = detect_hierarchy().mount / "sensor-test" / container_id
    cgroup.mkdir(parents=True)
    try:
        join = f"echo $$ > {cgroup}/cgroup.procs && exec "
        subprocess.run(["sh", "-c", join + "/bin/true"], check=True)
        init = subprocess.run(["sh", "-c", join + "unshare --pid --fork /bin/sh -c 'exit 6'"])
        assert init.returncode == 6
    finally:
        remove_cgroup(cgroup)
        remove_cgroup(cgroup.parent)
    events = lifecycle_of(sensor, container_id, 4)
    assert [container(e)["type"] for e in events] == LIFECYCLE
    assert container(events[2])["exit_code"] == 6
    init_argv = ["/bin/sh", "-c", "exit 6"]
    (init_exec,) = sensor.wait_for(
        lambda e: e.get("container_id") == container_id and process(e).get("exec_command_line") == init_argv
    )
    assert container(events[2])["host_pid"] == init_exec["process_tgid"]


def test_v1_cgroup_hierarchy_finds_the_same_containers(docker_daemon: DockerDaemon) -> None:
    live = LiveSensor("--docker-socket", str(docker_daemon.socket), "--cgroup-v1")
    try:
        mode = detect_hierarchy(prefer_v1=True).mode.value  # what this host mounts
        assert any(f"cgroup {mode}" in line for line in live.stderr_lines)
        name = f"v1-{uuid.uuid4().hex[:8]}"
        docker_daemon.run("run", "--name", name, IMAGE, "sh", "-c", "exit 5", check=False)
        container_id = docker_daemon.run("inspect", "-f", "{{.Id}}", name).stdout.strip()
        docker_daemon.run("rm", name)
        events = lifecycle_of(live, container_id, 4)
        assert [container(e)["type"] for e in events] == LIFECYCLE
        assert container(events[2])["exit_code"] == 5
        (init_exec,) = live.wait_for(
            lambda e: (
                e.get("container_id") == container_id and process(e).get("exec_command_line") == ["sh", "-c", "exit 5"]
            )
        )
        assert init_exec["container_name"] == name
    finally:
        assert live.stop() == 0


def test_a_file_written_in_a_container_has_the_path_the_container_sees_and_its_id(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    name = f"files-{uuid.uuid4().hex[:8]}"
    mark = marker()
    command = f"cd /tmp && echo x > {mark} && sleep 1"
    container_id = docker_daemon.run("run", "-d", "--name", name, IMAGE, "sh", "-c", command).stdout.strip()

    (event,) = sensor.wait_for(lambda e: e.get("file", {}).get("filename") == f"/tmp/{mark}")
    assert event["container_id"] == container_id
    assert event["file"]["path"] == mark  # relative to the cwd the container sees, not the host's overlay path
    assert event["file"]["created"] is True
    assert event["cwd"] == "/"  # the cwd at exec: the shell's cd came after, and the kernel walked the new one
    docker_daemon.run("rm", "-f", container_id)


# Listens on ADDRESS:PORT in the test's own network namespace, and prints what the one client sent.
VETH_SERVER = r"""
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
conn, peer = s.accept()
print(conn.recv(100).decode().strip(), peer[0], flush=True)
"""


def test_a_connect_from_a_container_on_a_veth_carries_its_id_and_the_containers_namespace(
    sensor: LiveSensor, docker_daemon: DockerDaemon
) -> None:
    short = uuid.uuid4().hex[:6]
    namespace, host_end, container_end = f"sensor-{short}", f"vh{short}", f"vc{short}"
    server_address, container_address, port = "10.213.0.1", "10.213.0.2", 8053
    mark = marker()
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    server = None
    try:
        in_namespace = ["ip", "netns", "exec", namespace]
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", container_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "netns", namespace], check=True)
        subprocess.run([*in_namespace, "ip", "addr", "add", f"{server_address}/24", "dev", host_end], check=True)
        subprocess.run([*in_namespace, "ip", "link", "set", host_end, "up"], check=True)
        server = subprocess.Popen(
            [*in_namespace, sys.executable, "-S", "-c", VETH_SERVER, server_address, str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        command = f"sleep 2; echo {mark} | nc -w 2 {server_address} {port}"
        name = f"net-{short}"
        args = ("run", "-d", "--network", "none", "--name", name, IMAGE, "sh", "-c", command)
        container_id = docker_daemon.run(*args).stdout.strip()
        pid = docker_daemon.run("inspect", "-f", "{{.State.Pid}}", container_id).stdout.strip()
        container_netns = Path(f"/proc/{pid}/ns/net").stat().st_ino
        subprocess.run(["ip", "link", "set", container_end, "netns", pid], check=True)
        in_container = ["nsenter", "-t", pid, "-n", "ip"]
        subprocess.run([*in_container, "addr", "add", f"{container_address}/24", "dev", container_end], check=True)
        subprocess.run([*in_container, "link", "set", container_end, "up"], check=True)
        assert server.stdout.readline().split() == [mark, container_address]

        (connect,) = sensor.wait_for(
            lambda e: e.get("container_id") == container_id and e.get("network", {}).get("type") == "CONNECT"
        )
        assert connect["comm"] == "nc"
        network = connect["network"]
        assert (network["remote_address"], network["remote_port"]) == (server_address, port)
        assert network["local_address"] == container_address
        assert network["netns"] == container_netns
        assert "errno" not in network
        docker_daemon.run("rm", "-f", container_id)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=False)

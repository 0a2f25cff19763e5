"""Container stats from a real `sensor run`, over gRPC, metrics and the CLI, for real Docker containers.

Each container does one thing whose footprint is known: burn CPU under a half-core quota, hold
48 MiB, write 16 MiB straight to disk, receive pings on a veth interface made for the test, or
share the host's network. The figures are asserted within bounds a busy 2-core VM still meets.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import service_pb2_grpc
from sensor.cli.top import LEAVE_SCREEN
from sensor.model.stats.cgroup_files import device_name
from tests.containers import IMAGE, DockerDaemon
from tests.live_sensor import ROOT, SENSOR
from tests.sensor_daemon import SensorDaemon, free_port, scrape, stub

MiB = 1 << 20
HELD_MIB = 48
WRITTEN_MIB = 16
PINGS = 20
PING_BYTES = 1000
HOST_ADDRESS, CONTAINER_ADDRESS = "10.251.0.1", "10.251.0.2"
FRESH_MS = 1


@dataclass(frozen=True)
class Fleet:
    """The containers, by role: role -> docker name."""

    names: dict[str, str]
    disk: str  # the block device the writer writes to


@pytest.fixture(scope="module")
def fleet(docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    suffix = os.urandom(3).hex()
    names = {role: f"{role}-{suffix}" for role in ("burner", "holder", "writer", "talker", "hostnet")}
    workloads = tmp_path_factory.mktemp("stats-workloads")
    hold = workloads / "hold_memory"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(hold), str(ROOT / "tests/workloads/hold_memory.c")], check=True)
    volume = Path(tempfile.mkdtemp(prefix="sensor-stats-", dir="/var/tmp"))  # on a block device, not tmpfs
    device = os.stat(volume).st_dev
    disk = device_name(os.major(device), os.minor(device))
    run = docker_daemon.run
    run("run", "-d", "--name", names["burner"], "--cpus", "0.5", "--memory", "64m", "--pids-limit", "50", IMAGE,
        "sh", "-c", "while :; do :; done")  # fmt: skip
    run("run", "-d", "--name", names["holder"], "-v", f"{hold}:/hold:ro", IMAGE, "/hold", str(HELD_MIB))
    # blk-throttle counts IO only for devices with a rule in the cgroup (see cgroup_v1.read_io): give it one.
    write = f"dd if=/dev/zero of=/data/f bs=1M count={WRITTEN_MIB} oflag=direct && sleep 300"
    limit = f"/dev/{disk}:1tb"
    run(
        "run",
        "-d",
        "--name",
        names["writer"],
        "--device-write-bps",
        limit,
        "-v",
        f"{volume}:/data",
        IMAGE,
        "sh",
        "-c",
        write,
    )
    run("run", "-d", "--name", names["talker"], IMAGE, "sleep", "300")
    run("run", "-d", "--name", names["hostnet"], "--network", "host", IMAGE, "sleep", "300")
    talker_pid = run("inspect", "-f", "{{.State.Pid}}", names["talker"]).stdout.strip()
    host_end, container_end = f"sh{suffix}", f"sc{suffix}"
    for command in (
        f"ip link add {host_end} type veth peer name {container_end}",
        f"ip link set {container_end} netns {talker_pid}",
        f"ip addr add {HOST_ADDRESS}/30 dev {host_end}",
        f"ip link set {host_end} up",
        f"nsenter -t {talker_pid} -n ip addr add {CONTAINER_ADDRESS}/30 dev {container_end}",
        f"nsenter -t {talker_pid} -n ip link set {container_end} up",
        f"busybox ping -c {PINGS} -i 0.05 -s {PING_BYTES} -W 5 {CONTAINER_ADDRESS}",
    ):
        subprocess.run(command.split(), check=True, capture_output=True)
    time.sleep(1)  # the writer's dd and the holder's memset finish
    yield Fleet(names, disk)
    subprocess.run(["ip", "link", "del", host_end], capture_output=True)
    run("rm", "-f", *names.values(), check=False)
    subprocess.run(["rm", "-rf", str(volume)])


@pytest.fixture(scope="module")
def daemon(
    fleet: Fleet, docker_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SensorDaemon, str, int]]:
    directory = tmp_path_factory.mktemp("stats-daemon")
    port = free_port()
    running = SensorDaemon(
        "--listen",
        f"unix://{directory / 's.sock'}",
        "--docker-socket",
        str(docker_daemon.socket),
        "--metrics-listen",
        str(port),
    )
    yield running, f"unix:{directory / 's.sock'}", port
    running.stop()


def stats_by_name(
    client: service_pb2_grpc.TelemetryServiceStub, fleet: Fleet, max_age_ms: int = FRESH_MS
) -> dict[str, api.ContainerStats]:
    """The fleet's stats by role, once the runtime has named every container."""
    deadline = time.monotonic() + 20
    while True:
        response = client.GetContainerStats(api.GetContainerStatsRequest(max_age_ms=max_age_ms), timeout=30)
        by_name = {s.name: s for s in response.stats}
        if all(name in by_name for name in fleet.names.values()) or time.monotonic() > deadline:
            return {role: by_name[name] for role, name in fleet.names.items()}
        time.sleep(0.2)


def test_a_container_under_a_half_core_quota_burns_about_half_a_core_and_is_throttled(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    client = stub(daemon[1])
    first = stats_by_name(client, fleet)["burner"]
    time.sleep(2)
    second = stats_by_name(client, fleet)["burner"]

    cores = (second.cpu.usage_nanos - first.cpu.usage_nanos) / (second.read_time_nanos - first.read_time_nanos)
    assert 0.2 < cores < 0.65
    assert second.cpu.limit_cores == 0.5
    assert second.cpu.throttled_periods > first.cpu.throttled_periods
    assert second.cpu.user_nanos + second.cpu.system_nanos > 0
    assert second.memory.limit_bytes == 64 * MiB
    assert (second.pids.current, second.pids.limit) == (1, 50)
    assert list(second.errors) == []


def test_a_container_holding_48_mib_shows_it_in_rss_and_working_set_without_limits(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    holder = stats_by_name(stub(daemon[1]), fleet)["holder"]

    assert HELD_MIB * MiB <= holder.memory.rss_bytes < (HELD_MIB + 8) * MiB
    assert HELD_MIB * MiB <= holder.memory.working_set_bytes <= holder.memory.usage_bytes
    assert not holder.memory.HasField("limit_bytes")  # unlimited: absent, not 2**63
    assert not holder.pids.HasField("limit")
    assert not holder.cpu.HasField("limit_cores")


def test_a_container_writing_16_mib_directly_shows_the_bytes_on_its_device(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    writer = stats_by_name(stub(daemon[1]), fleet)["writer"]

    device = next(d for d in writer.io.devices if d.device == fleet.disk)
    assert WRITTEN_MIB * MiB <= device.write_bytes < (WRITTEN_MIB + 4) * MiB
    assert device.write_ops >= WRITTEN_MIB
    assert writer.io.write_bytes == sum(d.write_bytes for d in writer.io.devices)


def test_pings_on_a_veth_interface_in_the_containers_namespace_are_counted_on_that_interface(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    talker = stats_by_name(stub(daemon[1]), fleet)["talker"]

    assert talker.network.host_network is False
    interfaces = {i.name: i for i in talker.network.interfaces}
    assert set(interfaces) == {"lo", f"sc{fleet.names['talker'].split('-')[1]}"}
    veth = next(i for name, i in interfaces.items() if name != "lo")
    assert PINGS <= veth.rx_packets < PINGS + 10  # requests (and a neighbour probe or two)
    assert PINGS <= veth.tx_packets < PINGS + 10  # replies
    assert veth.rx_bytes >= PINGS * PING_BYTES


def test_a_container_on_the_host_network_says_so_and_lists_no_interfaces(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    hostnet = stats_by_name(stub(daemon[1]), fleet)["hostnet"]

    assert hostnet.network.host_network is True
    assert list(hostnet.network.interfaces) == []


def test_readings_are_reused_within_the_callers_bound_and_renewed_past_it(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    client = stub(daemon[1])
    name = fleet.names["burner"]

    def ask(max_age_ms: int) -> api.ContainerStats:
        request = api.GetContainerStatsRequest(containers=[name], max_age_ms=max_age_ms)
        response: api.GetContainerStatsResponse = client.GetContainerStats(request, timeout=30)
        return response.stats[0]

    fresh = ask(FRESH_MS)
    time.sleep(0.05)
    cached = ask(60_000)
    time.sleep(0.05)
    renewed = ask(FRESH_MS)

    assert cached.read_time_nanos == fresh.read_time_nanos
    assert cached.age_nanos >= 50_000_000
    assert renewed.read_time_nanos > fresh.read_time_nanos


def test_naming_containers_selects_them_and_a_wrong_name_is_not_found(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    client = stub(daemon[1])
    names = [fleet.names["holder"], fleet.names["burner"]]

    chosen = client.GetContainerStats(api.GetContainerStatsRequest(containers=names), timeout=30)
    assert sorted(s.name for s in chosen.stats) == sorted(names)

    with pytest.raises(grpc.RpcError) as missing:
        client.GetContainerStats(api.GetContainerStatsRequest(containers=["no-such-container"]), timeout=30)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == "no running container has the id or name 'no-such-container'"

    with pytest.raises(grpc.RpcError) as ambiguous:
        client.GetContainerStats(api.GetContainerStatsRequest(containers=[""]), timeout=30)
    assert ambiguous.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_list_workloads_carries_stats_only_when_asked(daemon: tuple[SensorDaemon, str, int], fleet: Fleet) -> None:
    client = stub(daemon[1])
    burner = fleet.names["burner"]

    plain = client.ListWorkloads(api.ListWorkloadsRequest(), timeout=30)
    with_stats = client.ListWorkloads(api.ListWorkloadsRequest(include_stats=True), timeout=30)

    assert not next(c for c in plain.containers if c.name == burner).HasField("stats")
    stats = next(c for c in with_stats.containers if c.name == burner).stats
    assert stats.cpu.usage_nanos > 0 and stats.memory.limit_bytes == 64 * MiB


def test_metrics_carry_each_containers_figures_and_leave_unlimited_limits_out(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    stats_by_name(stub(daemon[1]), fleet)  # every container named by now
    samples = scrape(daemon[2])

    def value(metric: str, role: str, **extra: str) -> float | None:
        for (name, labels), sample in samples.items():
            label_map = dict(labels)
            if name == metric and label_map.get("name") == fleet.names[role] and extra.items() <= label_map.items():
                return sample
        return None

    assert (value("sensor_container_cpu_usage_seconds_total", "burner") or 0) > 0
    assert value("sensor_container_cpu_limit_cores", "burner") == 0.5
    assert value("sensor_container_memory_limit_bytes", "burner") == 64 * MiB
    assert value("sensor_container_memory_limit_bytes", "holder") is None
    assert (value("sensor_container_memory_rss_bytes", "holder") or 0) >= HELD_MIB * MiB
    assert (value("sensor_container_io_write_bytes_total", "writer", device=fleet.disk) or 0) >= WRITTEN_MIB * MiB
    assert value("sensor_container_pids_limit", "burner") == 50
    veth = f"sc{fleet.names['talker'].split('-')[1]}"
    assert (value("sensor_container_network_receive_packets_total", "talker", interface=veth) or 0) >= PINGS
    assert value("sensor_container_stats_errors", "burner") == 0


def test_workload_list_with_stats_prints_each_containers_use(
    daemon: tuple[SensorDaemon, str, int], fleet: Fleet
) -> None:
    result = subprocess.run(
        [
            *SENSOR,
            "workload-list",
            "--connect",
            f"unix://{daemon[1][len('unix:') :]}",
            "--only",
            "containers",
            "--stats",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:9] == ["CONTAINER", "NAME", "STATE", "RUNTIME", "PROCS", "CPU", "MEM", "PIDS", "NET"]
    burner = next(r for r in rows if fleet.names["burner"] in r).split()
    assert burner[6].endswith("/64M") and burner[7] == "1/50"
    hostnet = next(r for r in rows if fleet.names["hostnet"] in r).split()
    assert hostnet[8] == "host"


CLEAR = "\x1b[H\x1b[2J"


class Terminal:
    """The controlling side of a pseudo-terminal: what the program drew, and keys to send it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = ""

    def read_until(self, done: Callable[[str], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"the screen never showed what was expected:\n{self.seen[-3000:]}"
            ready, _, _ = select.select([self.fd], [], [], left)
            try:
                chunk = os.read(self.fd, 65536) if ready else b""
            except OSError:  # the program ended and closed the terminal
                return
            self.seen += chunk.decode(errors="replace")

    def frames(self) -> list[str]:
        """Each complete frame drawn so far."""
        return self.seen.split(CLEAR)[1:-1]

    def press(self, key: str) -> None:
        os.write(self.fd, key.encode())


def test_top_in_a_terminal_shows_the_burner_first_sorts_on_a_key_and_quits_on_q(
    fleet: Fleet, docker_daemon: DockerDaemon
) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200", "LINES": "40"}
    top = subprocess.Popen(
        [*SENSOR, "top", "--interval", "0.5", "--docker-socket", str(docker_daemon.socket)],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    screen = Terminal(controller)
    try:
        screen.read_until(lambda seen: seen.count(CLEAR) >= 4)  # three whole frames: rates are known
        frame = screen.frames()[-1]
        rows = [line for line in frame.splitlines() if any(name in line for name in fleet.names.values())]
        assert fleet.names["burner"] in rows[0]  # sorted by CPU: the burner leads
        assert 20 < float(rows[0].split()[2]) < 65
        assert "\x1b[?1049h" in screen.seen  # drawn on the alternate screen

        screen.press("a")  # sort by name
        drawn = screen.seen.count(CLEAR)
        screen.read_until(lambda seen: seen.count(CLEAR) >= drawn + 2)
        by_name = [line.split()[1] for line in screen.frames()[-1].splitlines() if line[:1].isalnum() and " " in line]
        ours = [name for name in by_name if name in fleet.names.values()]
        assert ours == sorted(fleet.names.values())

        screen.press("q")
        screen.read_until(lambda seen: LEAVE_SCREEN in seen, timeout=15)
        assert top.wait(timeout=15) == 0  # and the terminal was given back
    finally:
        if top.poll() is None:
            top.kill()
            top.wait()
        os.close(controller)


def test_top_piped_prints_plain_frames_and_stops_after_n(daemon: tuple[SensorDaemon, str, int], fleet: Fleet) -> None:
    result = subprocess.run(
        [
            *SENSOR,
            "top",
            "--connect",
            f"unix://{daemon[1][len('unix:') :]}",
            "-n",
            "2",
            "--interval",
            "0.5",
            "--sort",
            "memory",
            fleet.names["holder"],
            fleet.names["burner"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    frames = result.stdout.strip().split("\n\n")
    assert len(frames) == 2
    rows = [
        line
        for line in frames[1].splitlines()
        if line.split()[1:2] in ([fleet.names["holder"]], [fleet.names["burner"]])
    ]
    assert [r.split()[1] for r in rows] == [fleet.names["holder"], fleet.names["burner"]]  # by memory: holder first
    assert frames[1].startswith("sensor top - 2 running containers")


def test_top_for_an_unknown_container_or_a_dead_daemon_says_so(
    daemon: tuple[SensorDaemon, str, int], tmp_path: Path
) -> None:
    def top(address: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SENSOR, "top", "--connect", address, "-n", "1", *args], capture_output=True, text=True, timeout=60
        )

    dead = top(f"unix://{tmp_path / 'nobody.sock'}")
    unknown = top(f"unix://{daemon[1][len('unix:') :]}", "no-such-container")

    assert dead.returncode == 1
    assert f"cannot talk to the sensor at unix://{tmp_path / 'nobody.sock'}: UNAVAILABLE" in dead.stderr
    assert unknown.returncode == 1
    assert "no running container has the id or name 'no-such-container'" in unknown.stderr

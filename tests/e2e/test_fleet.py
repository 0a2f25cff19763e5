"""`sensor run --export-nats` against a real nats-server: every event stored once, in order; `sensor fleet
trace` and `sensor fleet nodes` read the fleet back."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import telemetry_pb2 as pb
from sensor.export.exporter import STOP_GRACE_S
from sensor.fleet.engine import EVENTS_STREAM
from tests.child_process import StderrLines, stop_child
from tests.live_sensor import ROOT, SENSOR
from tests.nats_servers import NatsServer, run_js, stored_events
from tests.sensor_daemon import SensorDaemon, stub

NODE_A, NODE_B = "node-a.test", "node-b"


def marker() -> str:
    return f"mark-{uuid.uuid4().hex[:12]}"


def run_marked(mark: str, count: int) -> None:
    """``count`` execs of /bin/echo with ``mark`` in their argv, one after another."""
    subprocess.run(["/bin/sh", "-c", f'for i in $(seq {count}); do /bin/echo {mark} "$i" >/dev/null; done'], check=True)


def marked(stored: list[tuple[str, pb.TelemetryEvent]], mark: str, node: str) -> list[tuple[str, pb.TelemetryEvent]]:
    return [
        (subject, e)
        for subject, e in stored
        if e.node_name == node and e.WhichOneof("event") == "process" and mark in e.process.exec_command_line
    ]


def wait_until(condition: object, timeout: float = 30.0, what: str = "") -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


def start_exporting(directory: Path, server_urls: str, node: str, *extra: str) -> SensorDaemon:
    directory.mkdir(parents=True, exist_ok=True)
    return SensorDaemon(
        "--listen", f"unix://{directory / 's.sock'}", "--export-nats", server_urls, "--node-name", node,
        "--heartbeat", "1s", "--heartbeat-expiry", "4s", *extra,
    )  # fmt: skip


def nats_url(daemon: SensorDaemon) -> str:
    """The URL a daemon exports to."""
    return daemon.args[daemon.args.index("--export-nats") + 1]


def export_info(daemon: SensorDaemon, name: str = "nats") -> api.ExportInfo:
    """The daemon's export ``name`` (nats, or languages: its language reports), as GetInfo says."""
    socket = daemon.args[1].removeprefix("unix://")
    info: api.GetInfoResponse = stub(f"unix:{socket}").GetInfo(api.GetInfoRequest(), timeout=10)
    (export,) = [e for e in info.exports if e.name == name]
    return export


@pytest.fixture(scope="module")
def two_nodes(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SensorDaemon]]:
    base = tmp_path_factory.mktemp("nodes")
    daemons = [start_exporting(base / "a", nats_server.url, NODE_A)]
    try:
        daemons.append(start_exporting(base / "b", nats_server.url, NODE_B, "--export-event", "exec"))
        yield daemons
    finally:
        for daemon in daemons:
            assert daemon.stop() == 0


def test_every_event_of_a_workload_is_stored_once_in_order_on_its_node_and_kind_subject(
    nats_server: NatsServer, two_nodes: list[SensorDaemon]
) -> None:
    mark = marker()
    run_marked(mark, 50)
    wait_until(lambda: len(marked(stored_events(nats_server.url), mark, NODE_B)) >= 50, what="node b's 50 execs")
    wait_until(lambda: len(marked(stored_events(nats_server.url), mark, NODE_A)) >= 50, what="node a's 50 execs")
    time.sleep(1.0)  # anything stored twice would be there by now
    stored = stored_events(nats_server.url)
    for node, subject_node in ((NODE_A, "node-a_test"), (NODE_B, "node-b")):
        mine = marked(stored, mark, node)
        assert [int(e.process.exec_command_line[2]) for _, e in mine] == list(range(1, 51))
        assert {s for s, _ in mine} == {f"sensor.events.{subject_node}.exec"}
        assert len({e.id for _, e in mine}) == 50
        sequence = [e.sensor_sequence_number for s, e in stored if e.node_name == node]
        assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)  # no event twice, none reordered
    # Node b exports only execs; node a every kind (the forks and exits of the same workload too).
    assert {s.rsplit(".", 1)[1] for s, e in stored if e.node_name == NODE_B} == {"exec"}
    assert {"fork", "exec", "exit"} <= {s.rsplit(".", 1)[1] for s, e in stored if e.node_name == NODE_A}


def test_getinfo_shows_the_export_with_nothing_lost(two_nodes: list[SensorDaemon], tmp_path: Path) -> None:
    socket = two_nodes[0].args[1].removeprefix("unix://")
    info: api.GetInfoResponse = stub(f"unix:{socket}").GetInfo(api.GetInfoRequest(), timeout=10)
    assert info.node_name == NODE_A
    assert [e.name for e in info.exports] == ["languages", "nats"]  # the language reports go with --export-nats
    export = info.exports[1]
    assert (export.destination, export.lost, export.error) == (f"{nats_url(two_nodes[0])} stream SENSOR_EVENTS", 0, "")
    assert export.sent > 0


class FleetTrace:
    """`sensor fleet trace ARGS` in a child process, its lines collected."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SENSOR, "fleet", "trace", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read_out, daemon=True).start()
        self._stderr = StderrLines(self.proc.stderr)
        assert self._stderr.ready.wait(30), "sensor fleet trace never said ready:\n" + self._stderr.text

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> int:
        """SIGINT, as a person's Ctrl-C, and its exit status."""
        return stop_child(self.proc, signal.SIGINT, timeout=20)


def test_fleet_trace_prints_exactly_the_events_its_filter_and_node_choose(
    nats_server: NatsServer, two_nodes: list[SensorDaemon]
) -> None:
    mark, other = marker(), marker()
    expression = f'exec_filename == "/bin/echo" AND exec_command_line LIKE "*{mark}*"'
    trace = FleetTrace("--nats", nats_server.url, "--node", "node-a*", "--filter", expression)
    try:
        run_marked(other, 3)
        run_marked(mark, 3)
        wait_until(lambda: len(trace.lines) >= 3, what="three lines")
        time.sleep(1.0)
    finally:
        assert trace.stop() == 0
    assert len(trace.lines) == 3, trace.lines
    for i, line in enumerate(trace.lines, 1):
        assert line.startswith(f"{NODE_A}  ")
        assert line.split("  ", 1)[1].split()[1] == "exec"
        assert f"/bin/echo: /bin/echo {mark} {i}" in line


def test_fleet_trace_reads_from_a_time_in_the_past_as_json(
    nats_server: NatsServer, two_nodes: list[SensorDaemon]
) -> None:
    mark = marker()
    run_marked(mark, 2)
    wait_until(lambda: len(marked(stored_events(nats_server.url), mark, NODE_B)) == 2, what="stored")
    expression = f'exec_filename == "/bin/echo" AND exec_command_line LIKE "*{mark}*"'
    result = subprocess.run(
        [*SENSOR, "fleet", "trace", "--nats", nats_server.url, "--since", "2m", "--node", NODE_B,
         "--event", "exec", "--filter", expression, "--format", "json", "--duration", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["node_name"], e["process"]["exec_command_line"][1:]) for e in events] == [
        (NODE_B, [mark, "1"]),
        (NODE_B, [mark, "2"]),
    ]


def fleet_nodes(url: str) -> dict[str, dict[str, object]]:
    result = subprocess.run(
        [*SENSOR, "fleet", "nodes", "--nats", url, "--format", "json"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return {n["node_name"]: n for n in map(json.loads, result.stdout.splitlines())}


def test_fleet_nodes_lists_live_nodes_and_marks_a_killed_one_gone_after_the_expiry_not_before(
    nats_server: NatsServer, two_nodes: list[SensorDaemon], tmp_path: Path
) -> None:
    doomed = start_exporting(tmp_path, nats_server.url, "node-doomed")
    try:
        wait_until(lambda: "node-doomed" in fleet_nodes(nats_server.url), what="its first heartbeat")
        nodes = fleet_nodes(nats_server.url)
        assert {nodes[n]["state"] for n in (NODE_A, NODE_B, "node-doomed")} == {"up"}
        assert nodes[NODE_A]["processes"] and nodes[NODE_A]["kernel"]
        doomed.proc.kill()
        killed_at = time.monotonic()
        doomed.proc.wait()
        last_beat = float(str(fleet_nodes(nats_server.url)["node-doomed"]["at"]))
        assert fleet_nodes(nats_server.url)["node-doomed"]["state"] == "up"  # within the expiry, still up
        wait_until(lambda: fleet_nodes(nats_server.url)["node-doomed"]["state"] == "gone", timeout=15, what="gone")
        assert time.time() - last_beat >= 4.0  # not before the expiry
        assert time.monotonic() - killed_at < 10.0
        assert fleet_nodes(nats_server.url)[NODE_A]["state"] == "up"
    finally:
        doomed.stop()


def test_a_node_that_stops_cleanly_is_marked_stopped_at_once(nats_server: NatsServer, tmp_path: Path) -> None:
    daemon = start_exporting(tmp_path, nats_server.url, "node-leaving")
    wait_until(lambda: "node-leaving" in fleet_nodes(nats_server.url), what="its first heartbeat")
    assert daemon.stop() == 0
    assert fleet_nodes(nats_server.url)["node-leaving"]["state"] == "stopped"


def test_fleet_commands_say_clearly_when_nats_cannot_be_reached() -> None:
    result = subprocess.run(
        [*SENSOR, "fleet", "nodes", "--nats", "nats://127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "cannot reach NATS at nats://127.0.0.1:1" in result.stderr


def test_a_stream_deleted_under_a_running_export_is_made_again_and_nothing_is_lost(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    daemon = start_exporting(tmp_path, nats_server.url, "node-restored", "--export-event", "exec")
    try:
        first = marker()
        run_marked(first, 2)
        wait_until(lambda: len(marked(stored_events(nats_server.url), first, "node-restored")) == 2, what="stored")
        run_js(nats_server.url, lambda js: js.delete_stream(EVENTS_STREAM))
        after = marker()
        run_marked(after, 5)
        wait_until(
            lambda: len(marked(stored_events(nats_server.url), after, "node-restored")) == 5, what="stored again"
        )
        export = export_info(daemon)
        assert (export.lost, export.pending) == (0, 0)
    finally:
        assert daemon.stop() == 0


def test_a_daemon_whose_nats_is_gone_stops_at_once_counting_what_it_could_not_publish(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    server.start()
    daemon = start_exporting(tmp_path / "d", server.url, "node-cut", "--export-event", "exec")
    try:
        wait_until(lambda: export_info(daemon).error == "", what="connected")
        server.kill()
        run_marked(marker(), 20)
        wait_until(lambda: export_info(daemon).pending >= 20, what="the events buffered")
        started = time.monotonic()
        assert daemon.stop() == 0
        # At once: not after the grace an export has to write out what it holds (about 2 s here, the
        # daemon's own stop; 6 s once in a loaded CI run).
        assert time.monotonic() - started < STOP_GRACE_S
        said = re.search(r"export nats: stopped with (\d+) events unpublished", daemon.stderr)
        assert said is not None and int(said.group(1)) >= 20, daemon.stderr
    finally:
        daemon.stop()
        server.stop()

"""The export to a three-server JetStream cluster on loopback, the stream replicated three times, while
servers die: one killed mid-run loses nothing and stores nothing twice; all three killed, the sensor
keeps tracing, buffers, counts what overflowed, says it in the stream, and delivers the rest on their return."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_fleet import export_info, marked, marker, run_marked, start_exporting, wait_until
from tests.nats_servers import NatsCluster, stored_events
from tests.sensor_daemon import Stream, argv_has, exec_filter, stub, subscription


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nats = NatsCluster(tmp_path / "nats")
    nats.start()
    yield nats
    nats.stop()


def test_a_server_killed_mid_run_loses_nothing_and_stores_nothing_twice(cluster: NatsCluster, tmp_path: Path) -> None:
    node = "cluster-node"
    daemon = start_exporting(
        tmp_path / "d", cluster.urls, node, "--export-nats-replicas", "3", "--export-event", "exec"
    )
    try:
        mark = marker()
        wait_until(lambda: export_info(daemon).error == "", what="connected")
        workload = threading.Thread(target=run_marked, args=(mark, 400))
        workload.start()
        time.sleep(0.5)
        cluster.servers[0].kill()  # a replica of the stream, perhaps its leader, perhaps the one we talk to
        workload.join()
        survivors = ",".join(s.url for s in cluster.servers[1:])
        wait_until(lambda: len(marked(stored_events(survivors), mark, node)) >= 400, timeout=60, what="all 400")
        time.sleep(2.0)  # a copy published again would be stored by now
        mine = marked(stored_events(survivors), mark, node)
        assert len(mine) == 400
        assert sorted(int(e.process.exec_command_line[2]) for _, e in mine) == list(range(1, 401))
        assert export_info(daemon).lost == 0
    finally:
        assert daemon.stop() == 0


def test_with_every_server_down_the_sensor_buffers_counts_the_overflow_and_delivers_the_rest(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    node = "cut-off-node"
    daemon = start_exporting(
        tmp_path / "d",
        cluster.urls,
        node,
        "--export-nats-replicas",
        "3",
        "--export-event",
        "exec",
        "--export-buffer",
        "100",
    )
    try:
        wait_until(lambda: export_info(daemon).error == "", what="connected")
        for server in cluster.servers:
            server.kill()
        mark = marker()
        run_marked(mark, 300)  # 300 execs (and the host's others) into a buffer of 100
        wait_until(lambda: export_info(daemon).lost >= 200, what="the overflow counted")
        cut_off = export_info(daemon)
        # The buffer, full, and the loss marker that goes in with the first event it has room for again.
        assert cut_off.pending in (100, 101) and cut_off.error != ""
        # The sensor keeps tracing meanwhile: its own clients still get every event.
        socket = daemon.args[1].removeprefix("unix://")
        stream = Stream(stub(f"unix:{socket}"), subscription(exec_filter(), ticker_ns=500_000_000))
        meanwhile = marker()
        run_marked(meanwhile, 1)
        assert stream.collect_until(lambda e: argv_has(e, meanwhile))[-1].node_name == node
        stream.cancel()
        for server in cluster.servers:
            server.start()
        wait_until(lambda: export_info(daemon).pending == 0, timeout=90, what="the buffer delivered")
        stored = stored_events(cluster.urls)
        mine = marked(stored, mark, node)
        numbers = [int(e.process.exec_command_line[2]) for _, e in mine]
        assert numbers == list(range(1, len(numbers) + 1))  # the first ones, each once, in order
        assert 0 < len(numbers) <= 100
        losses = [e.lost for _, e in stored if e.node_name == node and e.WhichOneof("event") == "lost"]
        assert sum(loss.lost for loss in losses) == export_info(daemon).lost
        assert {loss.stage for loss in losses} == {"export"}
    finally:
        assert daemon.stop() == 0

"""Fleet jobs end to end on a three-server NATS cluster: real `sensor fleet worker` processes, real
archive jobs fed by a real `sensor run --export-nats`, workers and the dispatcher killed with SIGKILL."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_fleet import marked, marker, run_marked, start_exporting
from tests.fleet_processes import FleetWorker, fleet, fleet_json, wait_for
from tests.nats_servers import NatsCluster, stored_events
from tests.sensor_daemon import SensorDaemon

EXPIRY_S = 3.0
LEASE_S = 3.0
WORKER_FLAGS = ("--heartbeat", "1s", "--expiry", f"{EXPIRY_S:g}s", "--lease", f"{LEASE_S:g}s", "--replicas", "3")
NODE = "jobs-node"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    servers = NatsCluster(tmp_path_factory.mktemp("cluster"))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def node(cluster: NatsCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SensorDaemon]:
    daemon = start_exporting(
        tmp_path_factory.mktemp("node"), cluster.urls, NODE, "--export-event", "exec", "--export-nats-replicas", "3"
    )
    yield daemon
    assert daemon.stop() == 0


def running(urls: str) -> dict[str, str]:
    """Job -> the worker running it, for the jobs whose worker says it runs them."""
    return {j["definition"]["name"]: j["assignment"]["worker"] for j in fleet_json(urls, "jobs") if j["status"]}


def per_worker(jobs: dict[str, str]) -> dict[str, int]:
    return dict(Counter(jobs.values()))


def dispatcher(urls: str) -> str | None:
    found = [w["name"] for w in fleet_json(urls, "workers") if w["state"] == "up" and w["dispatcher"]]
    return found[0] if len(found) == 1 else None


def archived(directory: Path, job: str, mark: str) -> list[dict[str, Any]]:
    """The marked execs in a job's file (no rotation at these sizes)."""
    path = directory / f"{job}.jsonl"
    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in events if mark in e.get("process", {}).get("exec_command_line", [])]


def test_jobs_spread_evenly_move_off_a_killed_worker_and_archive_every_event_once(
    cluster: NatsCluster, node: SensorDaemon, tmp_path: Path
) -> None:
    urls = cluster.urls
    archive = tmp_path / "archive"
    workers = {name: FleetWorker(urls, name, *WORKER_FLAGS) for name in ("w1", "w2", "w3")}
    try:
        jobs = [f"execs{i}" for i in range(1, 7)]
        for job in jobs:
            added = fleet(urls, "job", "add", job, "--kind", "archive", "--dir", str(archive), "--event", "exec")
            assert added.returncode == 0, added.stderr
        spread = wait_for(lambda: (r := running(urls)) and len(r) == 6 and r, 30, "six jobs running")
        assert sorted(per_worker(spread).values()) == [2, 2, 2]

        # A known workload, during which one worker (not the dispatcher) dies without a word.
        lead = wait_for(lambda: dispatcher(urls), 15, "a dispatcher")
        victim = next(name for name in ("w1", "w2", "w3") if name != lead)
        mark = marker()
        workload = threading.Thread(target=run_marked, args=(mark, 300))
        workload.start()
        time.sleep(0.5)
        workers[victim].kill()
        killed = time.monotonic()
        moved = wait_for(
            lambda: (r := running(urls)) and len(r) == 6 and victim not in r.values() and r, 30, "the jobs moved"
        )
        took = time.monotonic() - killed
        print(f"jobs of a killed worker ran again after {took:.1f}s (expiry {EXPIRY_S:g}s)")
        assert sorted(per_worker(moved).values()) == [3, 3]
        assert took < EXPIRY_S + 4.0, f"jobs ran again {took:.1f}s after their worker died"
        workload.join()

        # Every archive holds each of the 300 marked execs exactly once, moved or not.
        wait_for(lambda: all(len(archived(archive, j, mark)) >= 300 for j in jobs), 30, "every job's 300 execs")
        time.sleep(1.5)  # anything archived twice would be there by now
        in_stream = {e.id for _, e in marked(stored_events(urls), mark, NODE)}  # what the engine holds
        assert len(in_stream) == 300
        for job in jobs:
            found = archived(archive, job, mark)
            assert sorted(int(e["process"]["exec_command_line"][2]) for e in found) == list(range(1, 301)), job
            assert len(found) == 300 and {e["id"] for e in found} == in_stream

        # The dispatcher dies: another takes the lease and dispatches its jobs.
        workers[lead].kill()
        killed = time.monotonic()
        survivor = next(name for name in ("w1", "w2", "w3") if name not in (lead, victim))
        wait_for(lambda: dispatcher(urls) == survivor, 30, "a new dispatcher")
        took = time.monotonic() - killed
        print(f"a new dispatcher after {took:.1f}s (lease {LEASE_S:g}s)")
        assert took < LEASE_S + 3.0
        alone = wait_for(lambda: (r := running(urls)) and set(r.values()) == {survivor} and r, 30, "jobs on one")
        assert len(alone) == 6

        # A fourth worker joins: the new jobs go to it, the least loaded.
        workers["w4"] = FleetWorker(urls, "w4", *WORKER_FLAGS)
        for job in ("late1", "late2"):
            added = fleet(urls, "job", "add", job, "--kind", "archive", "--dir", str(archive), "--event", "exec")
            assert added.returncode == 0, added.stderr
        final = wait_for(lambda: (r := running(urls)) and len(r) == 8 and r, 30, "the late jobs running")
        assert (final["late1"], final["late2"]) == ("w4", "w4")
        assert per_worker(final) == {survivor: 6, "w4": 2}
    finally:
        for worker in workers.values():
            worker.stop()
        for job in (*jobs, "late1", "late2"):
            fleet(urls, "job", "remove", job)


def test_a_removed_job_stops_and_a_job_name_is_refused_twice(
    cluster: NatsCluster, node: SensorDaemon, tmp_path: Path
) -> None:
    urls = cluster.urls
    worker = FleetWorker(urls, "solo", *WORKER_FLAGS)
    try:
        added = fleet(urls, "job", "add", "once", "--kind", "archive", "--dir", str(tmp_path), "--event", "exec")
        assert added.returncode == 0, added.stderr
        again = fleet(urls, "job", "add", "once", "--kind", "languages")
        assert again.returncode == 1
        assert "job once exists (sensor fleet job remove once first)" in again.stderr
        wait_for(lambda: running(urls).get("once") == "solo", 30, "the job running")
        header, row = fleet(urls, "jobs").stdout.splitlines()
        assert header.split() == ["JOB", "KIND", "WORKER", "SINCE", "DONE", "BACKLOG", "HEARTBEAT", "STATE", "WHAT"]
        assert row.split()[:3] == ["once", "archive", "solo"] and re.search(r"\ds ago +running ", row), row
        (view,) = fleet_json(urls, "jobs")
        assert view["heartbeat_at"] > view["assignment"]["since"] - 1 and view["status"]["kind"] == "archive"
        assert fleet(urls, "job", "remove", "once").returncode == 0
        wait_for(lambda: "job once taken away" in worker.stderr, 30, "the worker stopping the job")
        missing = fleet(urls, "job", "remove", "once")
        assert (missing.returncode, missing.stderr.strip().splitlines()[-1]) == (1, "Error: no job once")
    finally:
        assert worker.stop() == 0, worker.stderr[-3000:]

"""Language reports end to end: a real runc container in a kubepods cgroup with CRI annotations, a real
`sensor run --export-nats` reporting it, a real `sensor fleet worker` running the languages job, and
`sensor fleet languages` reading the result."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.containers import RuncBundle
from tests.e2e.test_fleet import export_info, start_exporting
from tests.fleet_processes import FleetWorker, fleet, fleet_json, wait_for
from tests.nats_servers import NATS_SERVER, NatsServer
from tests.sensor_daemon import SensorDaemon

NODE = "lang-node"
BUFFER_S = 1.0


@dataclass
class LanguageFleet:
    """A NATS server, a reporting node, a worker and a languages job."""

    server: NatsServer
    node: SensorDaemon
    worker: FleetWorker

    def workload(self, pod_uid: str) -> dict[str, Any] | None:
        """The pod's record in sensor_languages, if there is one."""
        found = [w for w in fleet_json(self.server.url, "languages") if w["workload"]["key"] == pod_uid]
        return found[0] if found else None


@contextlib.contextmanager
def language_fleet(base: Path, refresh: str, ttl: str) -> Iterator[LanguageFleet]:
    server = NatsServer(base / "nats")
    server.start()
    node = worker = None
    try:
        node = start_exporting(
            base / "node", server.url, NODE, "--languages-buffer", f"{BUFFER_S:g}s", "--languages-refresh", refresh
        )
        worker = FleetWorker(server.url, "w1", "--heartbeat", "1s", "--expiry", "3s", "--lease", "3s")
        added = fleet(server.url, "job", "add", "langs", "--kind", "languages", "--ttl", ttl)
        assert added.returncode == 0, added.stderr
        yield LanguageFleet(server, node, worker)
    finally:
        if worker is not None:
            assert worker.stop() == 0
        if node is not None:
            assert node.stop() == 0
        server.stop()


def pod_bundle(directory: Path, pod_uid: str, container_id: str, script: str) -> RuncBundle:
    """A bundle in the pod's kubepods cgroup, as a CRI runtime makes it, whose rootfs holds a `python3`
    (busybox: the exec is what counts) and a Go binary (nats-server, with the libraries it links)."""
    bundle = RuncBundle(
        directory,
        ["sh", "-c", script],
        f"/kubepods/besteffort/pod{pod_uid}/{container_id}",
        {
            "io.kubernetes.cri.container-name": "app",
            "io.kubernetes.cri.image-name": "registry.local/app:2.1",
            "io.kubernetes.cri.sandbox-name": "app-6c8f",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": pod_uid,
            "app.kubernetes.io/name": "app",
        },
    )
    rootfs = directory / "rootfs"
    (rootfs / "bin" / "python3").symlink_to("busybox")
    copy_with_libraries(Path(NATS_SERVER), rootfs, "/bin/app-server")
    return bundle


def copy_with_libraries(binary: Path, rootfs: Path, inside: str) -> None:
    """``binary`` at ``inside`` in ``rootfs``, with the shared libraries ldd names at their own paths."""
    shutil.copy2(binary, rootfs / inside.lstrip("/"))
    listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    for word in listing.split():
        if word.startswith("/"):
            target = rootfs / word.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(word, target)


def languages_of(record: dict[str, Any]) -> dict[str, list[str]]:
    return {container: sorted(languages) for container, languages in record["containers"].items()}


GO_WHEN_ASKED = "python3; while [ ! -e /go ]; do sleep 0.1; done; /bin/app-server -a 0.0.0.0 -p 14998 & exec sleep 600"


def test_a_pod_shows_its_languages_a_parked_process_counts_once_described_and_a_destroyed_pod_is_removed(
    tmp_path: Path,
) -> None:
    pod_uid, container_id = str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex
    bundle = pod_bundle(tmp_path / "bundle", pod_uid, container_id, GO_WHEN_ASKED)
    hidden_root = tmp_path / "runc-root"  # runc's state where the sensor does not look: not described yet
    described = Path("/run/runc") / container_id
    with language_fleet(tmp_path, refresh="2s", ttl="10m") as setup:
        runc = bundle.start(container_id, hidden_root)
        try:
            # python3 ran at once; with no metadata, the node parks it.
            wait_for(lambda: export_info(setup.node, "languages").pending >= 1, 20, "the python process parked")
            time.sleep(2 * BUFFER_S + 1)
            assert setup.workload(pod_uid) is None  # parked: nothing reported of an undescribed container
            described.parent.mkdir(exist_ok=True)
            described.symlink_to(hidden_root / container_id)  # the runtime's state appears where it is read
            record = wait_for(lambda: setup.workload(pod_uid), 20, "the pod, once its container is described")
            assert record["workload"] == {
                "key": pod_uid,
                "kind": "pod",
                "name": "app-6c8f",
                "namespace": "shop",
                "owner": "app",
            }
            assert languages_of(record) == {"app": ["python"]}
            assert list(record["containers"]["app"]["python"]) == [NODE]

            (bundle.directory / "rootfs" / "go").touch()  # the Go binary runs now
            asked = time.monotonic()
            record = wait_for(
                lambda: (r := setup.workload(pod_uid)) and "go" in r["containers"]["app"] and r, 20, "go reported"
            )
            took = time.monotonic() - asked
            assert languages_of(record) == {"app": ["go", "python"]}
            assert took < BUFFER_S + 5.0, f"the Go process was reported {took:.1f}s after it started"
            (row,) = [line.split() for line in fleet(setup.server.url, "languages").stdout.splitlines()[1:]]
            assert row[:6] == ["shop", "pod/app-6c8f", "app", "app", "go,python", NODE]

            bundle.destroy(container_id, hidden_root)
            wait_for(lambda: setup.workload(pod_uid) is None, 20, "the destroyed pod removed")
        finally:
            bundle.destroy(container_id, hidden_root)
            runc.wait(10)
            described.unlink(missing_ok=True)
            bundle.remove_cgroups()


def test_a_language_nobody_reports_again_expires_after_the_ttl(tmp_path: Path) -> None:
    pod_uid, container_id = str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex
    bundle = pod_bundle(tmp_path / "bundle", pod_uid, container_id, "python3; exec sleep 600")
    # One report (the refresh is far away), kept for 4s by the job.
    with language_fleet(tmp_path, refresh="10m", ttl="4s") as setup:
        runc = bundle.start(container_id)
        try:
            record = wait_for(lambda: setup.workload(pod_uid), 20, "the pod's first report")
            assert languages_of(record) == {"app": ["python"]}
            seen = time.monotonic()
            wait_for(lambda: setup.workload(pod_uid) is None, 20, "the pod expired")
            assert time.monotonic() - seen >= 2.0  # expired by the TTL, not gone at once
            assert runc.poll() is None  # the container still runs: this was expiry, not removal
        finally:
            bundle.destroy(container_id)
            runc.wait(10)
            bundle.remove_cgroups()

"""Real container runtimes for tests: a private dockerd, a busybox image, and runc bundles.

dockerd runs on its own socket, data root and exec root under a temporary directory, so it never
touches a daemon the host may already run; it is stopped by pid when the tests end. Images come
from `docker import` of a busybox-static root filesystem (no registry is reachable here).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

DOCKER = "/usr/bin/docker"  # Debian's client, the same version as its dockerd
BUSYBOX = "/bin/busybox"
IMAGE = "sensor-test/busybox:1"
APPLETS = ("sh", "sleep", "cat", "echo", "true", "ls", "nc")
START_TIMEOUT_S = 30.0


def make_rootfs(target: Path) -> Path:
    """A minimal root filesystem: busybox-static and its applets in /bin."""
    (target / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("tmp", "etc", "proc", "sys", "dev"):
        (target / name).mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    for applet in APPLETS:
        link = target / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    return target


class DockerDaemon:
    """A dockerd of the tests' own, with the busybox image imported."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "docker.sock"
        self.log = (workdir / "dockerd.log").open("w")
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--iptables=false",
                "--bridge=none",
                "--data-root",
                str(workdir / "data"),
                "--exec-root",
                str(workdir / "exec"),
                "--pidfile",
                str(workdir / "dockerd.pid"),
                "-H",
                f"unix://{self.socket}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        rootfs = make_rootfs(workdir / "rootfs")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        self.run("import", "-", IMAGE, stdin=tar.stdout)
        tar.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dockerd exited: " + (self.workdir / "dockerd.log").read_text()[-2000:])
            if subprocess.run([DOCKER, "-H", self.host, "version"], capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("dockerd did not answer in time: " + (self.workdir / "dockerd.log").read_text()[-2000:])

    @property
    def host(self) -> str:
        """The -H value for the docker client."""
        return f"unix://{self.socket}"

    def run(self, *args: str, check: bool = True, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[str]:
        """`docker ARGS` against this daemon."""
        return subprocess.run(
            [DOCKER, "-H", self.host, *args],
            check=check,
            capture_output=True,
            text=True,
            stdin=stdin,
            timeout=60,
        )

    def stop(self) -> None:
        """Remove every container, stop dockerd (by pid), and delete its files."""
        ids = self.run("ps", "-aq", check=False).stdout.split()
        if ids:
            self.run("rm", "-f", *ids, check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        unmount_below(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)


def unmount_below(directory: Path) -> None:
    """Unmount whatever is mounted under ``directory``, deepest first.

    dockerd leaves its default network namespace bind-mounted at exec/netns/default; a leftover mount
    keeps the directory from being deleted.
    """
    prefix = str(directory) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [point for point in (line.split()[1] for line in mounts) if point.startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


class RuncBundle:
    """An OCI bundle for `runc run`, in a cgroup path of the test's choosing."""

    def __init__(self, directory: Path, args: list[str], cgroups_path: str, annotations: dict[str, str]) -> None:
        self.directory = directory
        self.args = args
        self.cgroups_path = cgroups_path
        make_rootfs(directory / "rootfs")
        subprocess.run(["runc", "spec"], cwd=directory, check=True)
        config = json.loads((directory / "config.json").read_text())
        config["process"]["terminal"] = False
        config["process"]["args"] = args
        config["linux"]["cgroupsPath"] = cgroups_path
        config["annotations"] = annotations
        (directory / "config.json").write_text(json.dumps(config))

    def run(self, container_id: str) -> subprocess.CompletedProcess[str]:
        """`runc run ID` in the foreground, to the end."""
        return subprocess.run(
            ["runc", "run", container_id], cwd=self.directory, capture_output=True, text=True, timeout=60
        )

    def start(self, container_id: str, root: Path | None = None) -> subprocess.Popen[bytes]:
        """`runc run ID` in the background, its state under ``root`` (None: runc's own, /run/runc)."""
        return subprocess.Popen(
            ["runc", *self._root(root), "run", container_id],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def destroy(self, container_id: str, root: Path | None = None) -> None:
        """Kill the container and delete it (its cgroup goes with it)."""
        subprocess.run(["runc", *self._root(root), "kill", container_id, "KILL"], capture_output=True)
        subprocess.run(["runc", *self._root(root), "delete", "--force", container_id], capture_output=True)

    @staticmethod
    def _root(root: Path | None) -> list[str]:
        return ["--root", str(root)] if root is not None else []

    def remove_cgroups(self) -> None:
        """runc leaves the parents of its cgroup behind: remove them in every hierarchy."""
        parts = [p for p in self.cgroups_path.split("/") if p]
        for mount in Path("/sys/fs/cgroup").iterdir():
            for depth in range(len(parts), 0, -1):
                with contextlib.suppress(OSError):
                    os.rmdir(mount.joinpath(*parts[:depth]))

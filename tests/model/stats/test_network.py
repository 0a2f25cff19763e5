"""Reading a network namespace's interfaces over rtnetlink, from a namespace this test makes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from sensor.model.stats.network import read_network
from sensor.model.stats.sample import NetworkStats


@pytest.fixture
def isolated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process in a new network namespace whose loopback is up and has carried 3 pings."""
    proc = subprocess.Popen(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            "ip link set lo up && busybox ping -c 3 -i 0.05 -q 127.0.0.1 >/dev/null && sleep 30",
        ]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-P", str(proc.pid), "sleep"]).returncode:
        time.sleep(0.05)
    assert proc.poll() is None, "the namespaced shell ended early"
    yield proc
    proc.kill()
    proc.wait()


def test_a_process_in_its_own_namespace_shows_that_namespaces_interfaces(
    isolated_process: subprocess.Popen[bytes],
) -> None:
    stats = read_network(isolated_process.pid)

    assert stats.host_network is False
    assert [i.name for i in stats.interfaces] == ["lo"]
    loopback = stats.interfaces[0]
    assert loopback.rx_packets == loopback.tx_packets >= 6  # 3 requests and 3 replies, each seen both ways


def test_a_process_in_the_sensors_own_namespace_is_host_network_without_interfaces() -> None:
    assert read_network(os.getpid()) == NetworkStats(host_network=True)


def test_a_gone_process_raises() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()

    with pytest.raises(FileNotFoundError):
        read_network(proc.pid)

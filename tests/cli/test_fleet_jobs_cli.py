"""`sensor fleet worker` and `sensor fleet job add` refuse bad flags before they reach NATS, saying why."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sensor.cli.main import cli
from tests.fleet_processes import wait_for
from tests.nats_servers import NATS_SERVER
from tests.sensor_daemon import free_port

NOWHERE = f"nats://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "--heartbeat", "10s", "--expiry", "5s"], "must be longer than --heartbeat 10s"),
        (["worker", "--lease", "1s"], "--lease: must be longer than 1s"),
        (["worker", "--name", "a.b"], "'a.b' cannot name a worker"),
        (["job", "add", "x", "--kind", "archive"], "an archive job needs --dir"),
        (["job", "add", "x", "--kind", "languages", "--dir", "/tmp"], "--dir, --event, --filter"),
        (["job", "add", "x", "--kind", "languages", "--node", "web-*"], "are for archive jobs"),
        (["job", "add", "bad name", "--kind", "languages"], "'bad name' cannot name a job"),
        (["job", "add", "x", "--kind", "archive", "--dir", "/tmp", "--filter", "nope == 1"], "column 1"),
        (["job", "add", "x", "--kind", "archive", "--dir", "/tmp", "--event", "nothing"], "nothing"),
        (["job", "add", "x", "--kind", "sorting"], "'sorting' is not one of 'archive', 'languages'"),
        (["job", "add", "x", "--kind", "languages", "--ttl", "soon"], "--ttl"),
    ],
)
def test_a_bad_flag_is_refused_before_connecting(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["fleet", *args, "--nats", NOWHERE])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "cannot reach NATS" not in result.output


@pytest.mark.parametrize("command", [["jobs"], ["workers"], ["languages"], ["job", "remove", "x"]])
def test_an_unreachable_nats_is_a_clear_error(command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["fleet", *command, "--nats", NOWHERE])
    assert result.exit_code == 1
    assert f"cannot reach NATS at {NOWHERE}" in result.output


def test_a_language_refresh_shorter_than_its_buffer_is_refused(tmp_path: Path) -> None:
    args = ["run", "--listen", f"unix://{tmp_path}/s.sock", "--export-nats", NOWHERE, "--languages-refresh", "5s"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--languages-refresh: must not be shorter than --languages-buffer" in result.output


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def nats_without_jetstream() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port), 15, "nats-server")
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("command", [["jobs"], ["workers"], ["nodes"], ["job", "add", "x", "--kind", "languages"]])
def test_a_nats_without_jetstream_is_said_so(nats_without_jetstream: str, command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["fleet", *command, "--nats", nats_without_jetstream])
    assert result.exit_code == 1
    assert "NATS: JetStream does not answer (is nats-server run with -js" in result.output

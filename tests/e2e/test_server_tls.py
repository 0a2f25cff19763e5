"""`sensor run --listen tcp://` with TLS and mutual TLS, and clients with and without the right certificates."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import service_pb2_grpc
from tests.live_sensor import SENSOR, env_without_sensor
from tests.sensor_daemon import SensorDaemon

pytestmark = pytest.mark.live
NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, name: str, extensions: str) -> None:
    """``name``.key and ``name``.pem, signed by the test CA in ``directory``."""
    (directory / f"{name}.ext").write_text(extensions + "\n")
    _openssl("req", *NEW_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a CA nobody trusts."""
    directory = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", *NEW_KEY, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-subj", f"/CN={ca}", cwd=directory
        )
    _issue(directory, "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    _issue(directory, "client", "extendedKeyUsage=clientAuth")
    return directory


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _info(port: int, certs: Path, ca: str = "ca", client: bool = False) -> api.GetInfoResponse:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certs / f"{ca}.pem").read_bytes(),
        private_key=(certs / "client.key").read_bytes() if client else None,
        certificate_chain=(certs / "client.pem").read_bytes() if client else None,
    )
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        info: api.GetInfoResponse = service_pb2_grpc.TelemetryServiceStub(channel).GetInfo(
            api.GetInfoRequest(), timeout=10
        )
        return info


def _tls_daemon(certs: Path, *extra: str) -> tuple[SensorDaemon, int]:
    port = _free_port()
    server = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
    return SensorDaemon("--listen", f"tcp://127.0.0.1:{port}", *server, *extra), port


@pytest.fixture(scope="module")
def tls(certs: Path) -> Iterator[int]:
    daemon, port = _tls_daemon(certs)
    yield port
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def mutual_tls(certs: Path) -> Iterator[int]:
    daemon, port = _tls_daemon(certs, "--tls-client-ca", str(certs / "ca.pem"))
    yield port
    assert daemon.stop() == 0


def test_tls_client_trusting_the_ca_is_served(tls: int, certs: Path) -> None:
    assert _info(tls, certs).sensor_id


def test_tls_client_trusting_another_ca_is_refused(tls: int, certs: Path) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _info(tls, certs, ca="other-ca")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_client_without_a_certificate(mutual_tls: int, certs: Path) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _info(mutual_tls, certs)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(mutual_tls: int, certs: Path) -> None:
    assert _info(mutual_tls, certs, client=True).sensor_id


def test_trace_connects_over_mutual_tls_and_prints_events(mutual_tls: int, certs: Path) -> None:
    trace = subprocess.Popen(
        [*SENSOR, "trace", "--connect", f"tcp://127.0.0.1:{mutual_tls}", "--tls-ca", str(certs / "ca.pem"),
         "--tls-cert", str(certs / "client.pem"), "--tls-key", str(certs / "client.key"),
         "--event", "exec", "--filter", 'exec_command_line LIKE "* tls-mark"', "--count", "1", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert trace.stderr is not None
    assert "ready" in trace.stderr.readline()
    subprocess.run(["/bin/echo", "tls-mark"], env=env_without_sensor(), stdout=subprocess.DEVNULL)
    out, _ = trace.communicate(timeout=30)
    assert trace.returncode == 0
    assert [json.loads(line)["process"]["exec_command_line"] for line in out.splitlines()] == [
        ["/bin/echo", "tls-mark"]
    ]

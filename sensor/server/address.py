"""Where the server listens and clients connect: unix sockets (default) and TCP with TLS."""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.experimental

DEFAULT_SOCKET = "/run/sensor/sensor.sock"
DEFAULT_ADDRESS = f"unix://{DEFAULT_SOCKET}"
MAX_RECEIVE_BYTES = 64 << 20  # ListWorkloads of a host with 100k processes is ~30 MiB


class AddressError(ValueError):
    """An address, socket path or certificate the server or client cannot use."""


@dataclass(frozen=True, slots=True)
class Address:
    """A unix socket path, or a TCP host and port."""

    unix_path: str = ""
    host: str = ""
    port: int = 0

    @property
    def is_unix(self) -> bool:
        """Whether this is a unix socket."""
        return bool(self.unix_path)

    @property
    def target(self) -> str:
        """The address as gRPC spells it."""
        if self.unix_path:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"unix://{self.unix_path}" if self.unix_path else f"tcp://{self.target}"


def parse_address(text: str) -> Address:
    """``unix:///run/sensor/sensor.sock``, ``/path/to.sock``, or ``tcp://HOST:PORT``. Raises AddressError."""
    value = text.strip()
    if value.startswith("unix://"):
        value = value[len("unix://") :]
    elif value.startswith("unix:"):
        value = value[len("unix:") :]
    elif value.startswith("tcp://"):
        host, sep, port = value[len("tcp://") :].rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise AddressError(f"{text!r}: expected tcp://HOST:PORT with a port from 1 to 65535")
        return Address(host=host, port=int(port))
    if not value.startswith("/"):
        raise AddressError(f"{text!r}: expected unix:///ABSOLUTE/PATH, /ABSOLUTE/PATH or tcp://HOST:PORT")
    return Address(unix_path=value)


def claim_unix_socket(path: str) -> None:
    """Make ``path`` free to bind: create its directory, remove a stale socket, refuse a live one."""
    directory = Path(path).parent
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AddressError(f"{path} exists and is not a socket; remove it or choose another --listen path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as error:
        if error.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise AddressError(f"{path}: cannot tell whether a server is using it: {error.strerror}") from None
        os.unlink(path)  # nobody accepts on it: a sensor that died without cleaning up
        return
    finally:
        probe.close()
    raise AddressError(f"{path}: another server is listening on it (is a sensor already running?)")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise AddressError(f"{what} {path}: {error.strerror}") from None


def server_credentials(cert: str, key: str, client_ca: str | None) -> grpc.ServerCredentials:
    """TLS for a TCP listener; with ``client_ca``, clients must present a certificate it signed."""
    pair = (_read(key, "--tls-key"), _read(cert, "--tls-cert"))
    if client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials([pair], _read(client_ca, "--tls-client-ca"), require_client_auth=True)


def open_channel(
    address: Address,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    server_name: str | None = None,
) -> grpc.Channel:
    """A channel to a sensor: plain on a unix socket, TLS on TCP (with a client certificate when given).

    Raises AddressError for TLS material that cannot work: any with a unix socket (it would be
    ignored), half a key pair, or a file that cannot be read.
    """
    options: list[tuple[str, str | int]] = [
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        # GetEvents' responses are read on the calling thread instead of being handed over from
        # gRPC's channel thread: about a sixth less client CPU under the exec storm.
        (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
    ]
    if address.is_unix:
        tls = (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key), ("--tls-server-name", server_name))
        given = [flag for flag, value in tls if value]
        if given:
            raise AddressError(
                f"{', '.join(given)}: TLS applies to --connect tcp://HOST:PORT; a unix socket is protected by its mode"
            )
        return grpc.insecure_channel(address.target, options=options)
    if (cert is None) != (key is None):
        raise AddressError("--tls-cert and --tls-key go together")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "--tls-ca") if ca else None,
        private_key=_read(key, "--tls-key") if key else None,
        certificate_chain=_read(cert, "--tls-cert") if cert else None,
    )
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address.target, credentials, options=options)

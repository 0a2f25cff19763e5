"""Listen and connect addresses, and claiming a unix socket path."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sensor.server.address import Address, AddressError, claim_unix_socket, parse_address


@pytest.mark.parametrize(
    ("text", "address", "target"),
    [
        (
            "unix:///run/sensor/sensor.sock",
            Address(unix_path="/run/sensor/sensor.sock"),
            "unix:/run/sensor/sensor.sock",
        ),
        ("unix:/tmp/s.sock", Address(unix_path="/tmp/s.sock"), "unix:/tmp/s.sock"),
        ("/tmp/s.sock", Address(unix_path="/tmp/s.sock"), "unix:/tmp/s.sock"),
        ("tcp://127.0.0.1:7443", Address(host="127.0.0.1", port=7443), "127.0.0.1:7443"),
        ("tcp://[::1]:7443", Address(host="::1", port=7443), "[::1]:7443"),
    ],
)
def test_addresses_parse_to_their_grpc_target(text: str, address: Address, target: str) -> None:
    assert parse_address(text) == address
    assert address.target == target


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tcp://127.0.0.1", "'tcp://127.0.0.1': expected tcp://HOST:PORT with a port from 1 to 65535"),
        ("tcp://host:0", "'tcp://host:0': expected tcp://HOST:PORT with a port from 1 to 65535"),
        ("relative.sock", "'relative.sock': expected unix:///ABSOLUTE/PATH, /ABSOLUTE/PATH or tcp://HOST:PORT"),
    ],
)
def test_bad_addresses_say_what_is_expected(text: str, error: str) -> None:
    with pytest.raises(AddressError) as raised:
        parse_address(text)
    assert str(raised.value) == error


def test_a_stale_socket_is_removed_and_a_live_one_refused(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    claim_unix_socket(str(stale))
    assert not stale.exists()
    live = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(live))
        server.listen()
        with pytest.raises(AddressError) as raised:
            claim_unix_socket(str(live))
    assert str(raised.value) == f"{live}: another server is listening on it (is a sensor already running?)"


def test_a_regular_file_in_the_way_is_refused_and_a_missing_directory_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(AddressError, match="exists and is not a socket"):
        claim_unix_socket(str(tmp_path / "file"))
    claim_unix_socket(str(tmp_path / "new" / "dir" / "s.sock"))
    assert (tmp_path / "new" / "dir").is_dir()

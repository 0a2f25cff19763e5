"""The network kind: a record becomes its payload, a DNS question is read whole or not at all, and a
person reads a line at a glance."""

from __future__ import annotations

import socket
import struct

import pytest

from sensor.kernel.records import Creds, NetOp, NetRecord
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.network import (
    HOST_NETNS,
    DnsQuestion,
    NetworkEventType,
    NetworkPayload,
    describe,
    duration_text,
    parse_dns_question,
    payload_of,
    unix_path,
)

ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)
LOOPBACK = socket.inet_pton(socket.AF_INET, "127.0.0.1").ljust(16, b"\0")
NONE = bytes(16)


def record(op: NetOp, ret: int = 0, **fields: object) -> NetRecord:
    values: dict[str, object] = {
        "flags": 0, "duration_ns": 0, "netns": 4026531840, "fd": 3, "family": socket.AF_INET,
        "sock_type": socket.SOCK_STREAM, "protocol": socket.IPPROTO_TCP, "local_port": 0, "remote_port": 0,
        "backlog": 0, "local_addr": NONE, "remote_addr": NONE, "data": b"",
    }  # fmt: skip
    values.update(fields)
    return NetRecord(0, 7, 1, 7, 1, 5, 4, 0, ROOT, "curl", op, ret=ret, **values)  # type: ignore[arg-type]


def question(name: bytes, qtype: int, qid: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(label)]) + label for label in name.split(b".") if label)
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, 1)


def test_a_dns_query_gives_its_id_name_and_type() -> None:
    assert parse_dns_question(question(b"example.test", 1)) == DnsQuestion(0x1234, "example.test", "A")
    assert parse_dns_question(question(b"example.test", 28)) == DnsQuestion(0x1234, "example.test", "AAAA")
    assert parse_dns_question(question(b"x.test", 999)) == DnsQuestion(0x1234, "x.test", "TYPE999")
    assert parse_dns_question(question(b"", 2)) == DnsQuestion(0x1234, ".", "NS")


def test_bytes_in_a_dns_name_that_are_not_text_or_are_dots_stay_reversible() -> None:
    payload = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x03a.\xff\x04test\x00" + struct.pack(">HH", 1, 1)
    assert parse_dns_question(payload) == DnsQuestion(1, "a\\x2e\\xff.test", "A")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        question(b"example.test", 1)[:11],  # shorter than a header
        struct.pack(">HHHHHH", 1, 0x0100, 0, 0, 0, 0),  # no question
        question(b"example.test", 1)[:20],  # a label past the end
        question(b"example.test", 1)[:-3],  # no room for the type
        struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\0\x01\0\x01",  # a compression pointer
        struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x3fa" * 10,  # labels past 255 bytes
    ],
)
def test_a_payload_that_is_not_a_whole_question_gives_no_name(payload: bytes) -> None:
    assert parse_dns_question(payload) is None


def test_a_non_blocking_connect_is_in_progress_not_failed() -> None:
    connecting = record(NetOp.CONNECT, -115, local_port=40000, local_addr=LOOPBACK, remote_port=443,
                        remote_addr=LOOPBACK)  # fmt: skip
    assert payload_of(connecting) == NetworkPayload(
        NetworkEventType.CONNECT, family="inet", protocol="tcp", socket_type="stream", local_address="127.0.0.1",
        local_port=40000, remote_address="127.0.0.1", remote_port=443, in_progress=True, fd=3, netns=4026531840,
    )  # fmt: skip


def test_an_accept_names_the_new_connection_s_fd_and_a_failed_bind_its_errno() -> None:
    accepted = payload_of(record(NetOp.ACCEPT, 9, local_port=80, local_addr=LOOPBACK, remote_port=5000,
                                 remote_addr=LOOPBACK))  # fmt: skip
    assert (accepted.fd, accepted.errno, accepted.remote_port) == (9, 0, 5000)
    refused = payload_of(record(NetOp.BIND, -98, local_port=80, local_addr=LOOPBACK))
    assert (refused.errno, refused.fd, refused.local_address, refused.remote_address) == (98, 3, "127.0.0.1", "")


def test_a_unix_socket_has_its_path_or_its_abstract_name_and_no_protocol() -> None:
    assert unix_path(b"/run/docker.sock\0junk") == "/run/docker.sock"
    assert unix_path(b"\0name\0with nul") == "@name\\x00with nul"
    event = payload_of(record(NetOp.CONNECT, 0, family=socket.AF_UNIX, protocol=0, data=b"/run/x.sock\0"))
    assert (event.family, event.protocol, event.unix_path, event.local_address) == ("unix", "", "/run/x.sock", "")


def test_a_dns_record_carries_the_question_and_a_garbled_one_says_so() -> None:
    sent = record(NetOp.DNS_QUERY, 29, sock_type=socket.SOCK_DGRAM, protocol=socket.IPPROTO_UDP, remote_port=53,
                  remote_addr=LOOPBACK, data=question(b"example.test", 1, 7))  # fmt: skip
    payload = payload_of(sent)
    assert (payload.dns_query, payload.dns_type, payload.dns_id, payload.errno) == ("example.test", "A", 7, 0)
    garbled = payload_of(record(NetOp.DNS_QUERY, 5, data=b"\xff" * 5))
    assert (garbled.dns_unparsed, garbled.dns_query) == (True, "")


def event_of(payload: NetworkPayload) -> TelemetryEvent:
    return TelemetryEvent("s", 1, 2, payload, process_tgid=42, process_pid=42)


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        (
            NetworkPayload(NetworkEventType.CONNECT, family="inet", protocol="tcp", local_address="10.0.0.5",
                           local_port=44312, remote_address="93.184.216.34", remote_port=443),
            "connect   pid=42      uid=0     tcp 10.0.0.5:44312 -> 93.184.216.34:443 ok",
        ),
        (
            NetworkPayload(NetworkEventType.CONNECT, family="inet6", protocol="tcp", local_address="::1",
                           local_port=1, remote_address="::1", remote_port=2, errno=111),
            "connect   pid=42      uid=0     tcp [::1]:1 -> [::1]:2 ECONNREFUSED",
        ),
        (
            NetworkPayload(NetworkEventType.ACCEPT, family="inet", protocol="tcp", local_address="0.0.0.0",
                           local_port=80, remote_address="10.1.1.1", remote_port=5000, fd=7),
            "accept    pid=42      uid=0     tcp 0.0.0.0:80 <- 10.1.1.1:5000 fd 7",
        ),
        (
            NetworkPayload(NetworkEventType.LISTEN, family="inet", protocol="tcp", local_address="0.0.0.0",
                           local_port=80, backlog=511),
            "listen    pid=42      uid=0     tcp 0.0.0.0:80 backlog=511 ok",
        ),
        (
            NetworkPayload(NetworkEventType.CLOSE, family="inet", protocol="tcp", local_address="10.0.0.5",
                           local_port=44312, remote_address="1.1.1.1", remote_port=443, duration_ns=12_300_000),
            "close     pid=42      uid=0     tcp 10.0.0.5:44312 -> 1.1.1.1:443 after 12.3ms",
        ),
        (
            NetworkPayload(NetworkEventType.DNS_QUERY, family="inet", protocol="udp", local_address="0.0.0.0",
                           local_port=5353, remote_address="127.0.0.53", remote_port=53, dns_query="a.test",
                           dns_type="A"),
            "dns       pid=42      uid=0     udp 0.0.0.0:5353 -> 127.0.0.53:53 A a.test",
        ),
        (
            NetworkPayload(NetworkEventType.CONNECT, family="unix", socket_type="stream", unix_path="@bus"),
            "connect   pid=42      uid=0     stream unix:@bus ok",
        ),
    ],
)  # fmt: skip
def test_each_network_event_reads_as_one_line(payload: NetworkPayload, line: str) -> None:
    assert describe(event_of(payload), payload) == line


def test_durations_read_in_the_unit_that_fits() -> None:
    assert [duration_text(ns) for ns in (85_000, 12_340_000, 4_021_000_000)] == ["85us", "12.3ms", "4.021s"]


def test_a_socket_in_another_network_namespace_says_which() -> None:
    payload = NetworkPayload(
        NetworkEventType.CONNECT, family="inet", protocol="udp", local_address="127.0.0.1", local_port=5,
        remote_address="127.0.0.1", remote_port=53, netns=HOST_NETNS + 1,
    )  # fmt: skip
    assert describe(event_of(payload), payload) == (
        f"connect   pid=42      uid=0     udp netns={HOST_NETNS + 1} 127.0.0.1:5 -> 127.0.0.1:53 ok"
    )
    payload.netns = HOST_NETNS
    assert "netns" not in describe(event_of(payload), payload)

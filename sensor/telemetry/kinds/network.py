"""The network kind: connect, accept, bind, listen, DNS queries, a non-blocking connect's outcome and
a TCP connection's end (bpf/network.bpf.c)."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import Hook, NetOp, NetRecord, text
from sensor.memo import BoundedMemo
from sensor.telemetry.event_fields import INT, PROCESS_COMMON, B, Field, S
from sensor.telemetry.filter_rules import KindRules, SubscriptionError, typed_rules
from sensor.telemetry.json_text import quoted, string_json
from sensor.telemetry.kinds.kind import EventKind, PayloadKind, errno_name, who

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


class NetworkEventType(str, Enum):
    """``NetworkEvent.NetworkEventType``."""

    CONNECT = "CONNECT"
    CONNECT_RESULT = "CONNECT_RESULT"
    ACCEPT = "ACCEPT"
    BIND = "BIND"
    LISTEN = "LISTEN"
    CLOSE = "CLOSE"
    DNS_QUERY = "DNS_QUERY"


@dataclass(slots=True)
class NetworkPayload:
    """``NetworkEvent``: only the fields of its type are set (see protos/sensor/api/v1/telemetry.proto)."""

    type: NetworkEventType
    family: str = ""
    protocol: str = ""
    socket_type: str = ""
    local_address: str = ""
    local_port: int = 0
    remote_address: str = ""
    remote_port: int = 0
    unix_path: str = ""
    errno: int = 0
    in_progress: bool = False
    fd: int = 0
    backlog: int = 0
    duration_ns: int = 0
    netns: int = 0
    dns_query: str = ""
    dns_type: str = ""
    dns_id: int = 0
    dns_unparsed: bool = False


# --- from a kernel record

_TYPE_OF_OP: Final = {op: NetworkEventType(op.name) for op in NetOp}
_FAMILIES: Final[dict[int, str]] = {socket.AF_INET: "inet", socket.AF_INET6: "inet6", socket.AF_UNIX: "unix"}
_PROTOCOLS: Final[dict[int, str]] = {
    socket.IPPROTO_TCP: "tcp",
    socket.IPPROTO_UDP: "udp",
    socket.IPPROTO_ICMP: "icmp",
    58: "icmpv6",
}
_SOCKET_TYPES: Final[dict[int, str]] = {
    socket.SOCK_STREAM: "stream",
    socket.SOCK_DGRAM: "dgram",
    socket.SOCK_SEQPACKET: "seqpacket",
    socket.SOCK_RAW: "raw",
}
_EINPROGRESS: Final = 115
_MEMO_BOUND: Final = 4096


def _address(family_and_raw: tuple[int, bytes]) -> str:
    family, raw = family_and_raw
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw)


_addresses: Final[BoundedMemo[tuple[int, bytes], str]] = BoundedMemo(_address, _MEMO_BOUND)


def address_text(family: int, raw: bytes) -> str:
    """``10.0.0.5``, ``::1``; empty for a family without addresses."""
    return _addresses[family, raw] if family == socket.AF_INET or family == socket.AF_INET6 else ""


def unix_path(raw: bytes) -> str:
    """A sockaddr_un's path: up to its NUL, or ``@name`` for an abstract one (which may hold NULs: as \\x00)."""
    if raw[:1] == b"\0":
        return "@" + text(raw[1:]).replace("\0", "\\x00")
    return text(raw.split(b"\0", 1)[0])


_DNS_TYPES: Final = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}
_DNS_HEADER: Final = struct.Struct(">HHHHHH")
_DNS_NAME_MAX = 255  # RFC 1035's bound on a name's wire length


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """The first question of a DNS message."""

    id: int
    name: str
    type: str


def parse_dns_question(payload: bytes) -> DnsQuestion | None:
    """The question of a DNS query, or None when the bytes are not one this can read whole: fewer
    than a header, no question, a label past the bytes or past 255 bytes of name, or a compression
    pointer (a query's question has none). Never a partial name."""
    if len(payload) < _DNS_HEADER.size:
        return None
    query_id, _flags, questions, _, _, _ = _DNS_HEADER.unpack_from(payload)
    if questions == 0:
        return None
    labels = []
    at = _DNS_HEADER.size
    while True:
        if at >= len(payload) or at - _DNS_HEADER.size > _DNS_NAME_MAX:
            return None
        length = payload[at]
        at += 1
        if length == 0:
            break
        if length > 63 or at + length > len(payload):
            return None
        labels.append(text(payload[at : at + length]))
        at += length
    if at + 4 > len(payload):
        return None
    (qtype,) = struct.unpack_from(">H", payload, at)
    name = ".".join(label.replace(".", "\\x2e") for label in labels) or "."
    return DnsQuestion(query_id, name, _DNS_TYPES.get(qtype, f"TYPE{qtype}"))


def _socket_names(kind: tuple[int, int, int]) -> tuple[str, str, str]:
    family, protocol, sock_type = kind
    return (
        _FAMILIES.get(family, str(family)),
        "" if family == socket.AF_UNIX else _PROTOCOLS.get(protocol, str(protocol)),
        _SOCKET_TYPES.get(sock_type, str(sock_type) if sock_type else ""),
    )


# (family, protocol, type) -> their names: a host has a handful of kinds of socket.
_socket_kinds: Final[BoundedMemo[tuple[int, int, int], tuple[str, str, str]]] = BoundedMemo(_socket_names, 256)
_NO_ADDRESS: Final = bytes(16)


def payload_of(record: NetRecord) -> NetworkPayload:
    """The payload of a network record. An end with no address and no port (no peer yet) is left empty."""
    op = record.op
    family = record.family
    failed = record.ret < 0 and op is not NetOp.DNS_QUERY
    family_name, protocol, socket_type = _socket_kinds[family, record.protocol, record.sock_type]
    local, remote = record.local_addr, record.remote_addr
    payload = NetworkPayload(
        _TYPE_OF_OP[op],
        family_name,
        protocol,
        socket_type,
        address_text(family, local) if record.local_port or local != _NO_ADDRESS else "",
        record.local_port,
        address_text(family, remote) if record.remote_port or remote != _NO_ADDRESS else "",
        record.remote_port,
        fd=record.ret if op is NetOp.ACCEPT and not failed else record.fd,
        netns=record.netns,
    )
    if family == socket.AF_UNIX and record.data:
        payload.unix_path = unix_path(record.data)
    if op is NetOp.CONNECT and record.ret == -_EINPROGRESS:
        payload.in_progress = True
    elif failed:
        payload.errno = -record.ret
    if op is NetOp.LISTEN:
        payload.backlog = record.backlog
    elif op is NetOp.CLOSE:
        payload.duration_ns = record.duration_ns
    elif op is NetOp.DNS_QUERY:
        question = parse_dns_question(record.data)
        if question is None:
            payload.dns_unparsed = True
        else:
            payload.dns_id = question.id
            payload.dns_query = question.name
            payload.dns_type = question.type
    return payload


# --- protobuf


def to_proto(p: NetworkPayload) -> pb.NetworkEvent:
    """The ``NetworkEvent`` message (each field written out: the daemon runs this per event)."""
    return pb.NetworkEvent(
        type=p.type.value,
        family=p.family,
        protocol=p.protocol,
        socket_type=p.socket_type,
        local_address=p.local_address,
        local_port=p.local_port,
        remote_address=p.remote_address,
        remote_port=p.remote_port,
        unix_path=p.unix_path,
        errno=p.errno,
        in_progress=p.in_progress,
        fd=p.fd,
        backlog=p.backlog,
        duration_ns=p.duration_ns,
        netns=p.netns,
        dns_query=p.dns_query,
        dns_type=p.dns_type,
        dns_id=p.dns_id,
        dns_unparsed=p.dns_unparsed,
    )


_PLAIN_FIELDS: Final = tuple(field.name for field in fields(NetworkPayload) if field.name != "type")


_TYPE_OF_NUMBER: Final = {pb.NetworkEvent.NetworkEventType.Value(t.value): t for t in NetworkEventType}


def from_proto(p: pb.NetworkEvent) -> NetworkPayload:
    """A received ``NetworkEvent`` (client side: its fields copied by name)."""
    event_type = _TYPE_OF_NUMBER[p.type]
    return NetworkPayload(event_type, **{name: getattr(p, name) for name in _PLAIN_FIELDS})


# --- JSON


def _json_head(kind: tuple[str, str, str, str]) -> str:
    event_type, family, protocol, socket_type = kind
    out = f'{{"type":"{event_type}"'
    if family:
        out += ',"family":' + quoted(family)
    if protocol:
        out += ',"protocol":' + quoted(protocol)
    if socket_type:
        out += ',"socket_type":' + quoted(socket_type)
    return out


# The first fields, the same for every event of a type on a kind of socket: written once.
_json_heads: Final[BoundedMemo[tuple[str, str, str, str], str]] = BoundedMemo(_json_head, 1024)


def to_json(p: NetworkPayload) -> str:
    """The ``NetworkEvent`` as JSON: zero values left out, 64-bit integers as strings (protobuf's mapping)."""
    out = _json_heads[p.type.value, p.family, p.protocol, p.socket_type]
    if p.local_address:
        out += ',"local_address":' + string_json[p.local_address]
    if p.local_port:
        out += f',"local_port":{p.local_port}'
    if p.remote_address:
        out += ',"remote_address":' + string_json[p.remote_address]
    if p.remote_port:
        out += f',"remote_port":{p.remote_port}'
    if p.unix_path:
        out += ',"unix_path":' + quoted(p.unix_path)
    if p.errno:
        out += f',"errno":{p.errno}'
    if p.in_progress:
        out += ',"in_progress":true'
    if p.fd:
        out += f',"fd":{p.fd}'
    if p.backlog:
        out += f',"backlog":{p.backlog}'
    if p.duration_ns:
        out += f',"duration_ns":"{p.duration_ns}"'
    if p.netns:
        out += f',"netns":{p.netns}'
    if p.dns_query:
        out += ',"dns_query":' + quoted(p.dns_query)
    if p.dns_type:
        out += ',"dns_type":' + quoted(p.dns_type)
    if p.dns_id:
        out += f',"dns_id":{p.dns_id}'
    if p.dns_unparsed:
        out += ',"dns_unparsed":true'
    return out + "}"


# --- the compact line


def endpoint(address: str, port: int) -> str:
    """``10.0.0.5:443``, ``[::1]:443``."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _ends(p: NetworkPayload, arrow: str) -> str:
    if p.family == "unix":
        return f"unix:{p.unix_path}" if p.unix_path else "unix"
    local = endpoint(p.local_address, p.local_port)
    if p.type is NetworkEventType.BIND or p.type is NetworkEventType.LISTEN:
        return local
    return f"{local} {arrow} {endpoint(p.remote_address, p.remote_port)}"


def duration_text(ns: int) -> str:
    """``85us``, ``12.3ms``, ``4.021s``."""
    if ns < 1_000_000:
        return f"{ns // 1000}us"
    return f"{ns / 1e6:.1f}ms" if ns < 1_000_000_000 else f"{ns / 1e9:.3f}s"


def _result(p: NetworkPayload) -> str:
    if p.errno:
        return errno_name(p.errno)
    return "in progress" if p.in_progress else "ok"


def _own_netns() -> int:
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


# The sensor's own network namespace (the host's, run as the README says): compact lines name any other.
HOST_NETNS: Final = _own_netns()
_SHORT_NAMES: Final = {NetworkEventType.DNS_QUERY: "dns", NetworkEventType.CONNECT_RESULT: "connected"}


def describe(event: TelemetryEvent, p: NetworkPayload) -> str:
    """``connect pid=... tcp 10.0.0.5:44312 -> 93.184.216.34:443 ok``, ``dns ... A example.test``; a
    socket in another network namespace than the sensor's says ``netns=N`` first."""
    t = p.type
    name = _SHORT_NAMES.get(t, t.value.lower())
    line = f"{name:<9} {who(event)} {p.protocol or p.socket_type} "
    if p.netns and p.netns != HOST_NETNS:
        line += f"netns={p.netns} "
    if t is NetworkEventType.ACCEPT:
        return line + f"{_ends(p, '<-')} " + (_result(p) if p.errno else f"fd {p.fd}")
    if t is NetworkEventType.CLOSE:
        return line + f"{_ends(p, '->')} after {duration_text(p.duration_ns)}"
    if t is NetworkEventType.DNS_QUERY:
        asked = "(unparsed)" if p.dns_unparsed else f"{p.dns_type} {p.dns_query}"
        return line + f"{_ends(p, '->')} {asked}"
    if t is NetworkEventType.LISTEN:
        return line + f"{_ends(p, '->')} backlog={p.backlog} {_result(p)}"
    return line + f"{_ends(p, '->')} {_result(p)}"


# --- filter fields

FIELDS: Final[dict[str, Field]] = {
    **PROCESS_COMMON,
    "net_type": Field(S, "e.payload.type.value"),
    "net_family": Field(S, "e.payload.family"),
    "net_protocol": Field(S, "e.payload.protocol"),
    "net_socket_type": Field(S, "e.payload.socket_type"),
    "net_local_address": Field(S, "e.payload.local_address"),
    "net_local_port": Field(INT, "e.payload.local_port"),
    "net_remote_address": Field(S, "e.payload.remote_address"),
    "net_remote_port": Field(INT, "e.payload.remote_port"),
    "net_unix_path": Field(S, "e.payload.unix_path"),
    "net_errno": Field(INT, "e.payload.errno"),
    "net_in_progress": Field(B, "e.payload.in_progress"),
    "net_fd": Field(INT, "e.payload.fd"),
    "net_backlog": Field(INT, "e.payload.backlog"),
    "net_duration_ns": Field(INT, "e.payload.duration_ns"),
    "net_netns": Field(INT, "e.payload.netns"),
    "dns_query": Field(S, "e.payload.dns_query"),
    "dns_type": Field(S, "e.payload.dns_type"),
    "dns_id": Field(INT, "e.payload.dns_id"),
}


def compile_filters(filters: Sequence[Any], where: str, errors: list[SubscriptionError]) -> KindRules:
    """``NetworkEventFilter``s."""
    all_types = [t.value for t in NetworkEventType]
    return typed_rules(filters, where, errors, all_types, pb.NetworkEvent.NetworkEventType.Name, FIELDS)


KIND: Final = PayloadKind(
    payload_type=NetworkPayload,
    proto_field="network",
    types={t.value: EventKind.NETWORK for t in NetworkEventType},
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={EventKind.NETWORK: FIELDS},
    filter_field="network_events",
    compile_filters=compile_filters,
    records={NetRecord: EventKind.NETWORK},
    payload_of=lambda record, _boot_id: payload_of(record),
    needs_hooks={EventKind.NETWORK: Hook.NET_CONNECT},
)

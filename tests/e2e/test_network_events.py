"""Network events on the live kernel: each test runs small Python workloads that make the calls on
loopback (or in a network namespace of their own), report what the kernel told them (getsockname,
getpeername, fds, errnos, the namespace's inode) on stdout, and match the sensor's events to those
processes by process_id.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.live_sensor import Event, LiveSensor, SensorView, env_without_sensor, first_exec_id


@pytest.fixture(scope="module")
def network_sensor() -> Iterator[LiveSensor]:
    """`sensor trace --event exec,network` for this module's tests."""
    sensor = LiveSensor("--event", "exec,network")
    yield sensor
    sensor.stop()


@pytest.fixture
def live_sensor(network_sensor: LiveSensor) -> SensorView:
    """The module's sensor, showing a test only the events that arrived after it began."""
    return network_sensor.since_now()


def net(event: Event) -> dict[str, Any]:
    """The ``network`` payload of an event ({} for other payloads)."""
    payload: dict[str, Any] = event.get("network", {})
    return payload


def marker() -> str:
    return f"m{uuid.uuid4().hex[:12]}"


def run_python(code: str, *args: str, prefix: tuple[str, ...] = ()) -> tuple[str, Any]:
    """Run ``code`` in a fresh Python whose argv[1] is a new marker; the marker and its JSON output."""
    mark = marker()
    done = subprocess.run(
        [*prefix, sys.executable, "-S", "-c", code, mark, *args],
        env=env_without_sensor(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return mark, json.loads(done.stdout)


def events_of(sensor: SensorView, mark: str, count: int) -> list[Event]:
    """The first ``count`` network events of the process that ran with ``mark``."""
    process_id = first_exec_id(sensor, mark)
    return sensor.wait_for(lambda e: e.get("process_id") == process_id and bool(net(e)), count)


def by_type(events: list[Event]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(net(e)["type"], []).append(net(e))
    return out


# The client of the TCP exchange: connects, says what its socket is, waits for the server's close.
CLIENT = r"""
import json, socket, sys
mark, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
c = socket.socket(family, socket.SOCK_STREAM)
c.connect((host, port))
seen = {"fd": c.fileno(), "local": list(c.getsockname()[:2]), "remote": list(c.getpeername()[:2])}
print(json.dumps(seen), flush=True)
c.sendall(b"x")
c.recv(1)
c.close()
"""

# The server: binds a port (argv[3], 0: any), listens, runs CLIENT in a process of its own, accepts.
SERVER = r"""
import json, socket, subprocess, sys
mark, host, port, client_code = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
client_mark = mark[::-1]  # not in this process's own argv: the client's exec is told apart by it
family = socket.AF_INET6 if ":" in host else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.bind((host, port))
srv.listen(7)
port = srv.getsockname()[1]
client_argv = [sys.executable, "-S", "-c", client_code, client_mark, host, str(port)]
client = subprocess.Popen(client_argv, stdout=subprocess.PIPE, text=True)
conn, peer = srv.accept()
conn.recv(1)
accepted = {"fd": conn.fileno(), "local": list(conn.getsockname()[:2]), "peer": list(peer[:2])}
conn.close()
seen = json.loads(client.stdout.readline())
client.wait()
print(json.dumps({"listen_fd": srv.fileno(), "port": port, "accepted": accepted, "client": seen}))
"""


def tcp_exchange(
    sensor: SensorView, host: str, port: int = 0
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]], Any]:
    """Run the server and client on ``host``; each one's events by type, and what the server printed."""
    mark, seen = run_python(SERVER, host, str(port), CLIENT)
    client_mark = mark[::-1]
    server_events = by_type(events_of(sensor, mark, 4))  # bind, listen, accept, close
    client_events = by_type(events_of(sensor, client_mark, 2))  # connect, close
    return server_events, client_events, seen


@pytest.mark.parametrize(("host", "family"), [("127.0.0.1", "inet"), ("::1", "inet6")])
def test_a_tcp_connection_gives_bind_listen_accept_connect_and_both_closes_with_their_owners(
    live_sensor: SensorView, host: str, family: str
) -> None:
    server, client, seen = tcp_exchange(live_sensor, host)
    port = seen["port"]
    client_port = seen["client"]["local"][1]
    netns = os.stat("/proc/self/ns/net").st_ino
    common = {"family": family, "protocol": "tcp", "socket_type": "stream", "netns": netns}

    assert server["BIND"] == [
        {"type": "BIND", **common, "local_address": host, "local_port": port, "fd": seen["listen_fd"]}
    ]
    assert server["LISTEN"] == [
        {"type": "LISTEN", **common, "local_address": host, "local_port": port, "fd": seen["listen_fd"], "backlog": 7}
    ]
    assert server["ACCEPT"] == [
        {
            "type": "ACCEPT",
            **common,
            "local_address": host,
            "local_port": port,
            "remote_address": host,
            "remote_port": client_port,
            "fd": seen["accepted"]["fd"],
        }
    ]
    assert client["CONNECT"] == [
        {
            "type": "CONNECT",
            **common,
            "local_address": host,
            "local_port": client_port,
            "remote_address": host,
            "remote_port": port,
            "fd": seen["client"]["fd"],
        }
    ]
    (server_close,) = server["CLOSE"]
    (client_close,) = client["CLOSE"]
    assert int(server_close.pop("duration_ns")) > 0
    assert int(client_close.pop("duration_ns")) > 0
    assert server_close == {
        "type": "CLOSE",
        **common,
        "local_address": host,
        "local_port": port,
        "remote_address": host,
        "remote_port": client_port,
        "fd": seen["accepted"]["fd"],
    }
    assert client_close == {
        "type": "CLOSE",
        **common,
        "local_address": host,
        "local_port": client_port,
        "remote_address": host,
        "remote_port": port,
        "fd": seen["client"]["fd"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_bind_and_listen_on_a_chosen_port_report_that_port(live_sensor: SensorView) -> None:
    port = free_port()
    server, _client, seen = tcp_exchange(live_sensor, "127.0.0.1", port)
    assert seen["port"] == port
    assert [e["local_port"] for e in server["BIND"] + server["LISTEN"] + server["ACCEPT"]] == [port, port, port]


CONNECTS = r"""
import errno, json, select, socket, sys
mark, port = sys.argv[1], int(sys.argv[2])
out = {}
refused = socket.socket()
out["refused"] = {"errno": refused.connect_ex(("127.0.0.1", port)), "fd": refused.fileno()}
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
nb = socket.socket()
nb.setblocking(False)
out["nonblocking"] = {"errno": nb.connect_ex(srv.getsockname()), "fd": nb.fileno()}
select.select([], [nb], [], 5)
out["nonblocking"]["so_error"] = nb.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
out["nonblocking"]["local"] = list(nb.getsockname())
out["nonblocking"]["remote"] = list(srv.getsockname())
nb_refused = socket.socket()
nb_refused.setblocking(False)
out["nonblocking_refused"] = {"errno": nb_refused.connect_ex(("127.0.0.1", port)), "fd": nb_refused.fileno()}
select.select([], [nb_refused], [], 5)
out["nonblocking_refused"]["so_error"] = nb_refused.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
print(json.dumps(out))
"""


def test_refused_and_non_blocking_connects_report_the_errno_and_the_outcome(live_sensor: SensorView) -> None:
    closed_port = free_port()
    mark, seen = run_python(CONNECTS, str(closed_port))
    assert seen["refused"]["errno"] == errno.ECONNREFUSED
    assert seen["nonblocking"]["errno"] == errno.EINPROGRESS
    assert seen["nonblocking"]["so_error"] == 0
    assert seen["nonblocking_refused"]["so_error"] == errno.ECONNREFUSED
    # connect, bind, listen, connect, its outcome, connect, its outcome
    events = [net(e) for e in events_of(live_sensor, mark, 7)]
    connects = [
        (e["type"], e["fd"], e.get("errno", 0), e.get("in_progress", False), e["remote_port"])
        for e in events
        if e["type"].startswith("CONNECT")
    ]
    server_port = seen["nonblocking"]["remote"][1]
    assert connects == [
        ("CONNECT", seen["refused"]["fd"], errno.ECONNREFUSED, False, closed_port),
        ("CONNECT", seen["nonblocking"]["fd"], 0, True, server_port),
        ("CONNECT_RESULT", seen["nonblocking"]["fd"], 0, False, server_port),
        ("CONNECT", seen["nonblocking_refused"]["fd"], 0, True, closed_port),
        ("CONNECT_RESULT", seen["nonblocking_refused"]["fd"], errno.ECONNREFUSED, False, closed_port),
    ]
    (established,) = [e for e in events if e["type"] == "CONNECT_RESULT" and not e.get("errno")]
    assert established["local_port"] == seen["nonblocking"]["local"][1]


UNIX = r"""
import json, os, socket, sys
mark, directory = sys.argv[1], sys.argv[2]
path = os.path.join(directory, mark + ".sock")
abstract = "\0sensor-test-" + mark
servers = []
for address in (path, abstract):
    s = socket.socket(socket.AF_UNIX)
    s.bind(address)
    s.listen(1)
    servers.append(s)
fds = []
for address in (path, abstract):
    c = socket.socket(socket.AF_UNIX)
    c.connect(address)
    fds.append(c.fileno())
missing = socket.socket(socket.AF_UNIX)
print(json.dumps({"path": path, "abstract": "@sensor-test-" + mark, "fds": fds,
                  "missing_errno": missing.connect_ex(path + ".missing"), "missing_fd": missing.fileno()}))
"""


def test_unix_socket_connects_name_the_path_and_the_abstract_name(live_sensor: SensorView, tmp_path: Any) -> None:
    mark, seen = run_python(UNIX, str(tmp_path))
    events = [net(e) for e in events_of(live_sensor, mark, 7)]  # two binds, two listens, three connects
    connects = [(e["unix_path"], e["fd"], e.get("errno", 0)) for e in events if e["type"] == "CONNECT"]
    assert connects == [
        (seen["path"], seen["fds"][0], 0),
        (seen["abstract"], seen["fds"][1], 0),
        (seen["path"] + ".missing", seen["missing_fd"], errno.ENOENT),
    ]
    assert {e["family"] for e in events} == {"unix"}
    assert [e["unix_path"] for e in events if e["type"] == "BIND"] == [seen["path"], seen["abstract"]]


# In a network namespace of its own (unshare -n): lo up, a resolver on 127.0.0.1:53 that answers
# each question with an empty NOERROR, and three queries for example.test: sendto, and on a
# connected socket with send() and write().
DNS = r"""
import fcntl, json, os, socket, struct, sys, threading
mark, labels = sys.argv[1], sys.argv[2].encode().split(b".")
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0)))[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))
resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
resolver.bind(("127.0.0.1", 53))
def answer():
    for _ in range(3):
        query, peer = resolver.recvfrom(512)
        resolver.sendto(query[:2] + b"\x81\x80" + query[4:], peer)
threading.Thread(target=answer, daemon=True).start()
def question(qid, qtype):
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", qtype, 1)
unconnected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
unconnected.sendto(question(0x1111, 1), ("127.0.0.1", 53))
unconnected.recv(512)
connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connected.connect(("127.0.0.1", 53))
connected.send(question(0x2222, 28))
connected.recv(512)
os.write(connected.fileno(), question(0x3333, 15))
connected.recv(512)
print(json.dumps({"netns": os.stat("/proc/self/ns/net").st_ino,
                  "ports": [unconnected.getsockname()[1], connected.getsockname()[1]],
                  "fds": [unconnected.fileno(), connected.fileno()]}))
"""


def test_dns_queries_to_a_resolver_in_a_namespace_of_their_own_carry_the_name_type_and_namespace(
    live_sensor: SensorView,
) -> None:
    mark, seen = run_python(DNS, "example.test", prefix=("unshare", "--net"))
    assert seen["netns"] != os.stat("/proc/self/ns/net").st_ino
    events = [net(e) for e in events_of(live_sensor, mark, 5)]  # the resolver's bind, 3 queries, a connect
    queries = [e for e in events if e["type"] == "DNS_QUERY"]
    common = {"type": "DNS_QUERY", "family": "inet", "protocol": "udp", "socket_type": "dgram", "netns": seen["netns"]}
    unconnected_port, connected_port = seen["ports"]
    unconnected_fd, connected_fd = seen["fds"]
    assert [e for e in events if e["type"] == "CONNECT"] == [
        {**common, "type": "CONNECT", "local_address": "127.0.0.1", "local_port": connected_port,
         "remote_address": "127.0.0.1", "remote_port": 53, "fd": connected_fd},
    ]  # fmt: skip
    assert queries == [
        {**common, "local_address": "0.0.0.0", "local_port": unconnected_port, "remote_address": "127.0.0.1",
         "remote_port": 53, "fd": unconnected_fd, "dns_query": "example.test", "dns_type": "A", "dns_id": 0x1111},
        {**common, "local_address": "127.0.0.1", "local_port": connected_port, "remote_address": "127.0.0.1",
         "remote_port": 53, "fd": connected_fd, "dns_query": "example.test", "dns_type": "AAAA", "dns_id": 0x2222},
        {**common, "local_address": "127.0.0.1", "local_port": connected_port, "remote_address": "127.0.0.1",
         "remote_port": 53, "fd": connected_fd, "dns_query": "example.test", "dns_type": "MX", "dns_id": 0x3333},
    ]  # fmt: skip


def test_a_network_filter_picks_the_events_by_port_and_dns_name() -> None:
    name = f"{marker()}.example.test"
    sensor = LiveSensor("--event", "network", "--filter", f'net_remote_port == 53 AND dns_query == "{name}"')
    try:
        view = sensor.since_now()
        _mark, seen = run_python(DNS, name, prefix=("unshare", "--net"))
        got = view.wait_for(lambda e: net(e).get("dns_query") == name, 3)
        assert [(net(e)["dns_type"], net(e)["netns"]) for e in got] == [(t, seen["netns"]) for t in ("A", "AAAA", "MX")]
        # The same workload's connect to port 53 and its resolver's bind are left out by the filter.
        mine = [e for e in view.events if net(e).get("netns") == seen["netns"]]
        assert [net(e)["type"] for e in mine] == ["DNS_QUERY"] * 3
    finally:
        sensor.stop()

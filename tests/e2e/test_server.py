"""`sensor run` on the live kernel, with real gRPC clients: filters, modifiers, snapshot, slow clients, lifecycle."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import subscription_pb2 as sub
from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.features import choose_backends, probe_kernel
from tests.containers import IMAGE, DockerDaemon
from tests.live_sensor import ROOT, SENSOR, env_without_sensor
from tests.sensor_daemon import SensorDaemon, Stream, argv_has, exec_filter, free_port, scrape, stub, subscription

pytestmark = pytest.mark.live
QUEUE_EVENTS = 256
TICK_NS = 200_000_000


@pytest.fixture(scope="module")
def socket_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="sensor-run-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(socket_dir: Path, docker_daemon: DockerDaemon) -> Iterator[SensorDaemon]:
    running = SensorDaemon(
        "--listen",
        f"unix://{socket_dir / 'sensor.sock'}",
        "--queue-events",
        str(QUEUE_EVENTS),
        "--docker-socket",
        str(docker_daemon.socket),
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def target(daemon: SensorDaemon, socket_dir: Path) -> str:
    return f"unix:{socket_dir / 'sensor.sock'}"


def run(*argv: str) -> None:
    subprocess.run(argv, env=env_without_sensor())


def marker() -> str:
    return f"mark-{uuid.uuid4().hex[:12]}"


def test_socket_is_mode_0600_and_owned_by_root(daemon: SensorDaemon, socket_dir: Path) -> None:
    info = os.stat(socket_dir / "sensor.sock")
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == 0


def test_a_filter_passes_exactly_the_matching_events(target: str) -> None:
    mark = marker()
    end = marker()
    expression = f'(exec_filename == "/bin/true" AND exec_command_line LIKE "* {mark}") OR command_line LIKE "* {end}"'
    stream = Stream(stub(target), subscription(exec_filter(expression)))
    assert [(s.code, s.message) for s in stream.statuses] == [(api.Status.Code.OK, "")]
    run("/bin/true", mark)
    run("/bin/false", mark)
    run("/bin/true", "other", mark + "x")
    run("/bin/echo", end)
    events = stream.collect_until(lambda e: argv_has(e, end))
    stream.cancel()
    assert [(e.process.exec_filename, list(e.process.exec_command_line)) for e in events] == [
        ("/bin/true", ["/bin/true", mark]),
        ("/bin/echo", ["/bin/echo", end]),
    ]


def test_a_bad_expression_is_rejected_with_its_field_and_column(target: str) -> None:
    stream = Stream(stub(target), subscription(exec_filter('uid == 0 AND exec_flename == "/bin/sh"')))
    assert [(s.code, s.field, s.message) for s in stream.statuses] == [
        (
            api.Status.Code.INVALID_ARGUMENT,
            "event_filter.process_events[0].filter_expression",
            "column 14: unknown field 'exec_flename' (did you mean 'exec_filename'?)",
        )
    ]
    with pytest.raises(grpc.RpcError):
        list(stream.events())
    assert stream.call.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_field_of_another_event_type_is_rejected_with_the_type_that_has_it(target: str) -> None:
    stream = Stream(stub(target), subscription(exec_filter("exit_code != 0", "FORK")))
    assert [s.message for s in stream.statuses] == [
        "column 1: unknown field 'exit_code': it is only on EXIT events, and this filter is for FORK events"
    ]


def test_limit_ends_the_stream_with_a_status_after_n_events(target: str) -> None:
    mark = marker()
    stream = Stream(
        stub(target),
        subscription(exec_filter(f'exec_command_line LIKE "* {mark}"'), modifier=sub.Modifier(limit={"limit": 3})),
    )
    for _ in range(5):
        run("/bin/true", mark)
    responses = list(stream._responses)
    events = [e for r in responses for e in r.events]
    assert [list(e.process.exec_command_line) for e in events] == [["/bin/true", mark]] * 3
    assert [(s.code, s.message) for r in responses for s in r.statuses] == [
        (api.Status.Code.LIMIT_REACHED, "limit of 3 events reached")
    ]
    assert stream.call.code() is grpc.StatusCode.OK


def _batches_until(stream: Stream, count: int) -> list[list[int]]:
    """The kernel times of the events each response held, until ``count`` events have come."""
    batches: list[list[int]] = []
    for response in stream.responses():
        if response.events:
            batches.append([e.sensor_monotime_nanos for e in response.events])
        if sum(map(len, batches)) >= count:
            return batches
    raise AssertionError(f"the stream ended after {batches}")


def test_a_batch_delay_gathers_a_spread_out_burst_into_one_response(target: str) -> None:
    mark = marker()
    wanted = exec_filter(f'exec_command_line LIKE "* {mark}"')
    batched = Stream(stub(target), subscription(wanted, modifier=sub.Modifier(batch={"max_delay": 1_000_000_000})))
    immediate = Stream(stub(target), subscription(wanted))
    for _ in range(5):
        run("/bin/true", mark)
        time.sleep(0.03)  # a few polls apart: separate responses without a batch delay
    batches = _batches_until(batched, 5)
    # The promise: a response goes out once its oldest event is max_delay old, not before, so events
    # that happened within a second of the first share its response (a slow host may spread them wider).
    assert all(batch[-1] - batch[0] <= 1_000_000_000 for batch in batches)
    if batches[-1][-1] - batches[0][0] < 900_000_000:
        assert [len(batch) for batch in batches] == [5]
    assert len(_batches_until(immediate, 5)) > 1
    batched.cancel()
    immediate.cancel()


def test_throttle_passes_at_most_one_event_per_interval(target: str) -> None:
    mark = marker()
    end = marker()
    throttled = Stream(
        stub(target),
        subscription(
            exec_filter(f'exec_command_line LIKE "* {mark}"'),
            ticker_ns=TICK_NS,
            modifier=sub.Modifier(throttle={"interval": 1_000_000_000}),
        ),
    )
    unthrottled = Stream(
        stub(target),
        subscription(exec_filter(f'exec_command_line LIKE "* {mark}" OR exec_command_line LIKE "* {end}"')),
    )
    for _ in range(10):  # a burst well inside one second
        run("/bin/true", mark)
    time.sleep(1.5)
    run("/bin/false", mark)
    run("/bin/echo", end)
    all_events = unthrottled.collect_until(lambda e: argv_has(e, end))
    unthrottled.cancel()
    burst_span = all_events[9].sensor_monotime_nanos - all_events[0].sensor_monotime_nanos
    assert burst_span < 1_000_000_000, "the burst took longer than the throttle interval; the test needs a faster host"
    seen = []
    deadline = time.monotonic() + 3.0
    for event in throttled.events():
        if event.WhichOneof("event") == "process":
            seen.append(event.process.exec_filename)
        if time.monotonic() > deadline:
            break
    throttled.cancel()
    assert seen == ["/bin/true", "/bin/false"]


def test_ticker_events_arrive_at_the_asked_interval(target: str) -> None:
    stream = Stream(stub(target), subscription(ticker_ns=TICK_NS))
    ticks = []
    for event in stream.events():
        ticks.append(event.ticker.seconds * 10**9 + event.ticker.nanos)
        if len(ticks) == 4:
            break
    stream.cancel()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(TICK_NS * 0.5 < gap < TICK_NS * 5 for gap in gaps), gaps


def test_include_existing_sends_running_processes_first_marked_snapshot(target: str) -> None:
    mark = marker()
    sleeper = subprocess.Popen([mark, "300"], executable="/bin/sleep")
    try:
        time.sleep(0.3)
        end = marker()
        stream = Stream(
            stub(target),
            subscription(
                exec_filter(f'command_line == "{mark} 300" OR exec_command_line LIKE "* {end}"'),
                include_existing=True,
            ),
        )
        run("/bin/echo", end)
        events = stream.collect_until(lambda e: argv_has(e, end))
        stream.cancel()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert [(e.process_tgid, e.snapshot, list(e.command_line)) for e in events[:1]] == [
        (sleeper.pid, True, [mark, "300"])
    ]
    assert [e.snapshot for e in events[1:]] == [False]


def test_container_filter_passes_only_that_containers_events(target: str, docker_daemon: DockerDaemon) -> None:
    name = marker()
    end = marker()
    container_stream = Stream(
        stub(target),
        subscription(exec_filter(), container_filter=sub.ContainerFilter(names=[name])),
    )
    everything = Stream(stub(target), subscription(exec_filter(f'exec_command_line LIKE "* {end}"')))
    docker_daemon.run("run", "-d", "--name", name, IMAGE, "sleep", "300")
    try:
        docker_daemon.run("exec", name, "echo", end)
        run("/bin/echo", end)  # the same command on the host: not for the container subscriber
        seen: list[bool] = []  # host events go out at once; the container's may wait for its metadata

        def both_seen(event: pb.TelemetryEvent) -> bool:
            seen.append(bool(event.container_id))
            return len(seen) == 2

        host_and_container = everything.collect_until(both_seen)
        inside = container_stream.collect_until(lambda e: argv_has(e, end))
    finally:
        docker_daemon.run("rm", "-f", name, check=False)
        container_stream.cancel()
        everything.cancel()
    assert sorted(bool(e.container_id) for e in host_and_container) == [False, True]
    assert {(e.container_name, e.image_name) for e in inside} == {(name, IMAGE)}
    assert ["sleep", "300"] in [list(e.process.exec_command_line) for e in inside]
    assert list(inside[-1].process.exec_command_line) == ["echo", end]


def test_a_client_that_never_reads_loses_events_counted_while_another_gets_all(target: str) -> None:
    mark = marker()
    runs = 1500
    padding = "p" * 4000  # big events: gRPC's flow-control windows hold megabytes before the server blocks
    expression = f'exec_command_line LIKE "* {mark}"'
    stalled = Stream(stub(target), subscription(exec_filter(expression)))
    reader = Stream(stub(target), subscription(exec_filter(expression)))
    workload = subprocess.Popen(
        ["/bin/sh", "-c", f"i=0; while [ $i -lt {runs} ]; do /bin/true {padding} {mark}; i=$((i+1)); done"]
    )
    for received, event in enumerate(reader.events(), start=1):  # read while the workload runs
        assert argv_has(event, mark), event
        if received == runs:
            break
    reader.cancel()
    assert workload.wait() == 0
    info = stub(target).GetInfo(api.GetInfoRequest())
    assert info.counters.lost_subscribers > 0
    stalled_info = [s for s in info.subscriptions if s.lost > 0]
    assert len(stalled_info) == 1
    counted_loss = stalled_info[0].lost
    assert 0 < stalled_info[0].queued <= QUEUE_EVENTS  # bounded; how full it is now rests on gRPC's windows
    delivered = 0
    told_lost = 0
    for event in stalled.events():
        if event.WhichOneof("event") == "lost":
            assert event.lost.stage == "subscriber"
            told_lost += event.lost.lost
        else:
            delivered += 1
        if delivered + told_lost == runs:
            break
    stalled.cancel()
    assert told_lost == counted_loss
    assert delivered + told_lost == runs  # every event either arrived or was reported lost


def test_list_workloads_has_this_process_and_a_running_container(target: str, docker_daemon: DockerDaemon) -> None:
    name = marker()
    docker_daemon.run("run", "-d", "--name", name, IMAGE, "sleep", "300")
    try:
        deadline = time.monotonic() + 10
        while True:
            response = stub(target).ListWorkloads(api.ListWorkloadsRequest())
            containers = [c for c in response.containers if c.name == name]
            # Docker's create event can name it CREATED a moment before the kernel's attach is read.
            if any(c.state != "CREATED" for c in containers) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        docker_daemon.run("rm", "-f", name, check=False)
    assert [(c.state, c.image_name, c.runtime, c.processes) for c in containers] == [("RUNNING", IMAGE, "docker", 1)]
    mine = [p for p in response.processes if p.pid == os.getpid()]
    assert [(p.language, p.credentials.uid, p.command_line[0]) for p in mine] == [("python", 0, sys.executable)]


def test_get_info_reports_hooks_kernel_and_counters(target: str) -> None:
    info = stub(target).GetInfo(api.GetInfoRequest())
    assert info.kernel == os.uname().release
    probed = {c.hook: c.backend.value for c in choose_backends(probe_kernel())}  # what this kernel offers
    assert info.transport == probed["transport"]
    assert {h.hook: h.backend for h in info.hooks}["credentials"] == probed["credentials"]
    assert info.counters.records_read > 0
    assert info.counters.events_published > 0
    assert info.counters.lost_kernel == 0
    assert info.counters.processes_cached > 10


def test_health_is_serving_and_reflection_lists_the_service(target: str) -> None:
    channel = grpc.insecure_channel(target)
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    health = check(health_pb2.HealthCheckRequest(service="sensor.v1.TelemetryService"))
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflect = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    answer = next(reflect(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    services = {s.name for s in answer.list_services_response.service}
    assert {"sensor.v1.TelemetryService", "grpc.health.v1.Health"} <= services


def test_a_live_socket_is_refused_and_a_stale_one_replaced(daemon: SensorDaemon, socket_dir: Path) -> None:
    second = subprocess.run(
        [*SENSOR, "run", "--listen", f"unix://{socket_dir / 'sensor.sock'}"], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    assert "another server is listening on it" in second.stderr
    stale_path = socket_dir / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(stale_path))  # bound, never listening, left behind: what a killed daemon leaves
    stale.close()
    replaced = SensorDaemon("--listen", f"unix://{stale_path}")
    try:
        assert stub(f"unix:{stale_path}").GetInfo(api.GetInfoRequest()).version
    finally:
        assert replaced.stop() == 0
    assert not stale_path.exists()


# A subscriber in its own process, so that the test can kill it the way a crashed client dies.
SUBSCRIBER = """
import sys, time
from tests.sensor_daemon import Stream, exec_filter, stub, subscription
stream = Stream(stub(sys.argv[1]), subscription(exec_filter()))
print("subscribed", flush=True)
time.sleep(600)
"""


def test_streams_beyond_max_subscribers_are_refused_and_a_killed_clients_slot_comes_back(tmp_path: Path) -> None:
    metrics_port = free_port()
    running = SensorDaemon(
        "--listen",
        f"unix://{tmp_path / 'sensor.sock'}",
        "--max-subscribers",
        "1",
        "--metrics-listen",
        str(metrics_port),
    )
    target = f"unix:{tmp_path / 'sensor.sock'}"
    client = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, target], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout is not None and client.stdout.readline() == "subscribed\n"
        with pytest.raises(grpc.RpcError) as refused:
            Stream(stub(target), subscription(exec_filter()))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.details() == "already serving 1 subscribers (sensor run --max-subscribers)"
        assert stub(target).GetInfo(api.GetInfoRequest(), timeout=10).sensor_id  # unary calls keep their threads
        trace = subprocess.run(
            [*SENSOR, "trace", "--connect", f"unix://{tmp_path / 'sensor.sock'}", "--duration", "5"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert trace.returncode == 1
        assert trace.stderr.splitlines()[-1] == (
            f"Error: the sensor at unix://{tmp_path / 'sensor.sock'} refused the subscription: "
            "RESOURCE_EXHAUSTED: already serving 1 subscribers (sensor run --max-subscribers)"
        )
        counters = stub(target).GetInfo(api.GetInfoRequest(), timeout=10).counters
        assert (counters.subscriptions_active, counters.subscriptions_refused) == (1, 2)
        assert scrape(metrics_port)[("sensor_subscriptions_refused_total", ())] == 2
        client.kill()
        client.wait()
        deadline = time.monotonic() + 10
        while True:
            try:
                second = Stream(stub(target), subscription(exec_filter()))
                break
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline, "the killed client's slot never came back"
                time.sleep(0.1)
        assert [s.code for s in second.statuses] == [api.Status.Code.OK]
        second.cancel()
    finally:
        client.kill()
        client.wait()
        assert running.stop() == 0


def test_plaintext_tcp_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SENSOR, "run", "--listen", "tcp://127.0.0.1:7443"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "needs --tls-cert and --tls-key" in result.stderr


def test_sigterm_closes_streams_with_a_status_detaches_and_exits_0(socket_dir: Path) -> None:
    path = socket_dir / "term.sock"
    programs_before = _bpf_program_count()
    term = SensorDaemon("--listen", f"unix://{path}")
    assert _bpf_program_count() > programs_before
    stream = Stream(stub(f"unix:{path}"), subscription(exec_filter()))
    assert term.stop() == 0
    with pytest.raises(grpc.RpcError):
        list(stream.events())
    assert stream.call.code() is grpc.StatusCode.UNAVAILABLE
    assert stream.call.details() == "the sensor is shutting down"
    assert "stopped" in term.stderr
    assert not path.exists()
    assert _bpf_program_count_settles_at(programs_before) == programs_before


def _bpf_program_count() -> int:
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line[:1].isdigit())


def _bpf_program_count_settles_at(expected: int, timeout: float = 10.0) -> int:
    """The host's BPF program count once it reaches ``expected``, or as it is after ``timeout``: the
    kernel frees a detached raw tracepoint's program after an RCU grace period, not at the close."""
    deadline = time.monotonic() + timeout
    while (count := _bpf_program_count()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def test_a_subscriber_s_read_prefix_reaches_the_kernel_and_its_reads_arrive(target: str, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "secret").write_text("x")
    request = subscription(ticker_ns=TICK_NS)
    wanted = sub.FileEventFilter(type="OPEN", filter_expression=f'file_path LIKE "{watched}/*"')
    wanted.read_prefixes.append(f"{watched}/")
    request.event_filter.file_events.append(wanted)
    stream = Stream(stub(target), request)
    assert [(s.code, s.message) for s in stream.statuses] == [(api.Status.Code.OK, "")]
    # The pipeline hands the new prefix to the kernel between two polls: read until a read arrives.
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time\nwhile True:\n open({str(watched / 'secret')!r}).close(); time.sleep(0.05)",
        ]
    )
    try:
        (event,) = stream.collect_until(lambda e: e.WhichOneof("event") == "file")
    finally:
        reader.kill()
        stream.cancel()
    assert event.process_tgid == reader.pid
    assert (event.file.type, event.file.filename, event.file.open_flags & os.O_ACCMODE) == (
        pb.FileEvent.OPEN,
        str(watched / "secret"),
        os.O_RDONLY,
    )
    assert event.file.inode == (watched / "secret").stat().st_ino


@pytest.mark.parametrize(
    ("flag", "hook", "filters", "reason"),
    [
        (
            "--no-file-events",
            "file_open",
            "file_events",
            "file events: file_open: not attached: file events not wanted "
            "(sensor run --no-file-events, or trace --event without file)",
        ),
        (
            "--no-network-events",
            "net_connect",
            "network_events",
            "network events: net_connect: not attached: network events not wanted "
            "(sensor run --no-network-events, or --event without network)",
        ),
    ],
)
def test_a_daemon_without_a_kinds_hooks_refuses_its_subscriptions_saying_why(
    socket_dir: Path, flag: str, hook: str, filters: str, reason: str
) -> None:
    daemon = SensorDaemon("--listen", f"unix://{socket_dir}/without.sock", flag)
    try:
        assert f"{hook}=none" in daemon.stderr
        request = subscription(exec_filter())
        getattr(request.event_filter, filters).add()
        stream = Stream(stub(f"unix:{socket_dir}/without.sock"), request)
        assert [(s.code, s.field, s.message) for s in stream.statuses] == [
            (api.Status.Code.INVALID_ARGUMENT, "event_filter", reason)
        ]
        with pytest.raises(grpc.RpcError):
            list(stream.events())
        assert stream.call.code() is grpc.StatusCode.INVALID_ARGUMENT
        process_only = Stream(stub(f"unix:{socket_dir}/without.sock"), subscription(exec_filter()))
        assert [s.code for s in process_only.statuses] == [api.Status.Code.OK]
        process_only.cancel()
    finally:
        daemon.stop()


def test_a_network_subscription_gets_a_connect_and_its_close_as_protobuf(target: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        request = subscription(ticker_ns=TICK_NS)
        request.event_filter.network_events.append(
            sub.NetworkEventFilter(filter_expression=f"net_remote_port == {port} AND net_type != 'CONNECT_RESULT'")
        )
        stream = Stream(stub(target), request)
        assert [(s.code, s.message) for s in stream.statuses] == [(api.Status.Code.OK, "")]
        client = subprocess.Popen(
            [sys.executable, "-S", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port})).close()"]
        )
        client.wait()
        accepted, _ = listener.accept()
        accepted.close()
        try:
            events = stream.collect_until(lambda e: e.network.type == pb.NetworkEvent.CLOSE)
        finally:
            stream.cancel()
    connect, close = events
    assert connect.process_id == close.process_id
    assert connect.process_tgid == client.pid
    assert [e.network.type for e in events] == [pb.NetworkEvent.CONNECT, pb.NetworkEvent.CLOSE]
    assert (connect.network.family, connect.network.protocol, connect.network.remote_port) == ("inet", "tcp", port)
    assert close.network.local_port == connect.network.local_port != 0
    assert close.network.duration_ns > 0
    assert connect.network.netns == os.stat("/proc/self/ns/net").st_ino

"""Sample events with every field set, one per payload kind, shared by the JSON and protobuf tests."""

from __future__ import annotations

from sensor.kernel.records import Creds
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.file import FileEventType, FilePayload
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.network import NetworkEventType, NetworkPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from sensor.telemetry.kinds.ticker import TickerPayload

USER = Creds(1000, 100, 1002, 102, 1001, 101, 1001, 101)
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)


AnyPayload = ProcessPayload | FilePayload | NetworkPayload | LostPayload | ContainerPayload | TickerPayload


def event(payload: AnyPayload) -> TelemetryEvent:
    return TelemetryEvent(
        sensor_id="s1",
        sensor_sequence_number=2**40,
        sensor_monotime_nanos=123_456_789_000,
        payload=payload,
        process_id="boot-42-100",
        process_pid=43,
        process_tgid=42,
        cpu=1,
        credentials=USER,
        comm="curl",
        filename="/usr/bin/curl",
        command_line=["curl", "-s", "caf\\xe9"],
        cwd="/home/u",
        parent_process_id="boot-1-1",
        parent_pid=1,
        ancestors=[ProcessRef("boot-1-1", 1, "init", "/sbin/init")],
        container_id="ab" * 32,
        container_name="web",
        image_id="sha256:" + "cd" * 32,
        image_name="nginx:1.25",
        pod_uid="5e0b6a64-4f1b-4b0c-9d3e-2a1f0c9b8e7d",
        language="python",
        creator_process_id="boot-41-99",
        creator_pid=41,
        node_name="node-7.example",
    )


PAYLOADS: list[AnyPayload] = [
    ProcessPayload(ProcessEventType.FORK, fork_child_pid=44, fork_child_id="boot-44-101", fork_clone_flags=2**33 + 17),
    ProcessPayload(ProcessEventType.EXEC, exec_filename="/usr/bin/curl", exec_command_line=["curl"], exec_old_pid=45),
    ProcessPayload(ProcessEventType.EXEC, exec_filename="/nope", exec_errno=2),
    ProcessPayload(ProcessEventType.EXIT, exit_code=0x300, exit_status=3, exit_thread_only=True),
    ProcessPayload(
        ProcessEventType.CREDENTIALS, old_credentials=ROOT, new_credentials=USER, credentials_cause="setresuid"
    ),
    ProcessPayload(
        ProcessEventType.CREDENTIALS,
        old_credentials=USER,
        new_credentials=USER,
        credentials_cause="setgroups",
        old_groups=(100,),
        new_groups=(100, 27, 2**32 - 2),
        groups_truncated=True,
    ),
    FilePayload(
        FileEventType.OPEN,
        filename="/etc/caf\\xe9",
        open_flags=0o1101,
        open_mode=0o644,
        path="caf\\xe9",
        fd=3,
        created=True,
        device=2**40 + 5,
        inode=2**33,
        path_truncated=True,
    ),
    FilePayload(FileEventType.OPEN, filename="/secret", open_flags=1, path="/secret", errno=13),
    FilePayload(FileEventType.CHOWN, filename="/a", path="/a", flags=0x100, uid=-1, gid=1000),
    FilePayload(
        FileEventType.RENAME,
        filename="/a",
        path="a",
        new_filename="/b",
        new_path="b",
        flags=1,
        mode=0o755,
        length=2**40,
    ),
    NetworkPayload(
        NetworkEventType.CLOSE,
        family="inet6",
        protocol="tcp",
        socket_type="stream",
        local_address="::1",
        local_port=443,
        remote_address="2001:db8::7",
        remote_port=51000,
        fd=5,
        duration_ns=2**40,
        netns=4026531840,
    ),
    NetworkPayload(
        NetworkEventType.CONNECT,
        family="inet",
        protocol="tcp",
        remote_address="10.0.0.9",
        remote_port=80,
        in_progress=True,
        fd=3,
    ),
    NetworkPayload(NetworkEventType.CONNECT, family="unix", socket_type="stream", unix_path="@caf\\xe9", errno=111),
    NetworkPayload(NetworkEventType.LISTEN, family="inet", local_address="0.0.0.0", local_port=8080, backlog=128),
    NetworkPayload(
        NetworkEventType.DNS_QUERY,
        family="inet",
        protocol="udp",
        remote_address="127.0.0.53",
        remote_port=53,
        dns_query="example.test",
        dns_type="AAAA",
        dns_id=4660,
    ),
    NetworkPayload(NetworkEventType.DNS_QUERY, dns_unparsed=True),
    LostPayload(lost=7, stage="kernel", hook="exec"),
    ContainerPayload(
        "EXITED",
        name="web",
        image_id="sha256:" + "cd" * 32,
        image_name="nginx:1.25",
        host_pid=4242,
        exit_code=7,
        runtime="docker",
        labels={"app": "web", "tier": "front"},
        cgroup_path="/docker/" + "ab" * 32,
        pod_uid="5e0b6a64-4f1b-4b0c-9d3e-2a1f0c9b8e7d",
        pod_name="web-1",
        pod_namespace="shop",
    ),
    ContainerPayload("CREATED", metadata_missing=True),
]

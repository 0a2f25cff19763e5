"""The JSON form is protobuf's JSON mapping of TelemetryEvent, field for field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format

from sensor.api.v1 import telemetry_pb2
from sensor.kernel.records import Creds
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.builder import decode_exit_code
from sensor.telemetry.events import (
    ContainerPayload,
    LostPayload,
    ProcessEventType,
    ProcessPayload,
    TelemetryEvent,
    to_json_dict,
)

USER = Creds(1000, 100, 1002, 102, 1001, 101, 1001, 101)
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)


AnyPayload = ProcessPayload | LostPayload | ContainerPayload


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
    )


PAYLOADS: list[AnyPayload] = [
    ProcessPayload(ProcessEventType.FORK, fork_child_pid=44, fork_child_id="boot-44-101", fork_clone_flags=2**33 + 17),
    ProcessPayload(ProcessEventType.EXEC, exec_filename="/usr/bin/curl", exec_command_line=["curl"], exec_old_pid=45),
    ProcessPayload(ProcessEventType.EXEC, exec_filename="/nope", exec_errno=2),
    ProcessPayload(ProcessEventType.EXIT, exit_code=0x300, exit_status=3, exit_thread_only=True),
    ProcessPayload(
        ProcessEventType.CREDENTIALS, old_credentials=ROOT, new_credentials=USER, credentials_cause="setresuid"
    ),
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


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_json_parses_as_the_proto_and_prints_back_the_same(payload: AnyPayload) -> None:
    ours = to_json_dict(event(payload))
    message = json_format.Parse(json.dumps(ours), telemetry_pb2.TelemetryEvent())
    theirs = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    # Ours writes a subset of the fields (protobuf may omit zeros; ours keeps some, like uid 0, visible).
    assert_subset(ours, theirs)
    sparse = json_format.MessageToDict(message, preserving_proto_field_name=True)
    assert_subset(sparse, ours)
    assert ours["credentials"] == {
        "uid": 1000,
        "gid": 100,
        "euid": 1001,
        "egid": 101,
        "suid": 1002,
        "sgid": 102,
        "fsuid": 1001,
        "fsgid": 101,
    }


def assert_subset(small: dict[str, Any], big: dict[str, Any], path: str = "") -> None:
    for key, value in small.items():
        assert key in big, f"{path}{key} missing"
        if isinstance(value, dict):
            assert_subset(value, big[key], f"{path}{key}.")
        else:
            assert big[key] == value, f"{path}{key}: {value!r} != {big[key]!r}"


def test_64_bit_integers_are_strings_as_the_mapping_requires() -> None:
    out = to_json_dict(event(PAYLOADS[0]))
    assert out["sensor_sequence_number"] == "1099511627776"
    assert out["process"]["fork_clone_flags"] == "8589934609"


def test_the_event_id_is_stable_and_distinct_per_sequence_number() -> None:
    a, b = event(PAYLOADS[1]), event(PAYLOADS[1])
    assert a.id == b.id
    b.sensor_sequence_number += 1
    assert a.id != b.id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, (0, 0, False)), (0x300, (3, 0, False)), (9, (0, 9, False)), (0x86, (0, 6, True))],
)
def test_exit_code_decoding(raw: int, expected: tuple[int, int, bool]) -> None:
    assert decode_exit_code(raw) == expected

"""A JSON line is protobuf's JSON mapping of TelemetryEvent, field for field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format

from sensor.api.v1 import telemetry_pb2
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.json_lines import json_line, json_lines
from sensor.telemetry.kinds.ticker import TickerPayload
from sensor.telemetry.wire import event_bytes
from tests.telemetry.samples import PAYLOADS, AnyPayload, event


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_json_parses_as_the_proto_and_prints_back_the_same(payload: AnyPayload) -> None:
    line = json_line(event(payload))
    ours = json.loads(line)
    message = json_format.Parse(line, telemetry_pb2.TelemetryEvent())
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


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{type(p).__name__}-{getattr(p, 'type', '')}")
def test_json_says_what_the_protobuf_form_says(payload: AnyPayload) -> None:
    sample = event(payload)
    ours = json.loads(json_line(sample))
    sent = telemetry_pb2.TelemetryEvent.FromString(event_bytes(sample))
    theirs = json_format.MessageToDict(sent, preserving_proto_field_name=True)
    assert_subset(theirs, ours)
    assert ours["node_name"] == "node-7.example"


def assert_subset(small: dict[str, Any], big: dict[str, Any], path: str = "") -> None:
    for key, value in small.items():
        assert key in big, f"{path}{key} missing"
        if isinstance(value, dict):
            assert_subset(value, big[key], f"{path}{key}.")
        else:
            assert big[key] == value, f"{path}{key}: {value!r} != {big[key]!r}"


def test_64_bit_integers_are_strings_as_the_mapping_requires() -> None:
    out = json.loads(json_line(event(PAYLOADS[0])))
    assert out["sensor_sequence_number"] == "1099511627776"
    assert out["process"]["fork_clone_flags"] == "8589934609"


def test_a_ticker_writes_its_wall_time_as_strings() -> None:
    line = json_line(TelemetryEvent("s1", 9, 10, TickerPayload(1_700_000_000, 5)))
    assert json.loads(line) == {
        "id": TelemetryEvent("s1", 9, 10, TickerPayload(0, 0)).id,
        "sensor_id": "s1",
        "sensor_sequence_number": "9",
        "sensor_monotime_nanos": "10",
        "ticker": {"seconds": "1700000000", "nanos": "5"},
    }


def test_shared_fragments_follow_a_change_of_command_line_and_ancestors() -> None:
    first = event(PAYLOADS[0])
    assert json.loads(json_line(first))["command_line"] == ["curl", "-s", "caf\\xe9"]
    again = event(PAYLOADS[0])
    again.command_line = ["curl", "--version"]  # same process and scalars, a new list: written anew
    again.ancestors = [ProcessRef("boot-1-1", 1, "systemd", "/lib/systemd/systemd")]
    out = json.loads(json_line(again))
    assert out["command_line"] == ["curl", "--version"]
    assert out["ancestors"] == [
        {"process_id": "boot-1-1", "pid": 1, "comm": "systemd", "filename": "/lib/systemd/systemd"}
    ]


def test_strings_are_escaped_and_unicode_is_kept() -> None:
    weird = event(PAYLOADS[1])
    weird.comm = 'a"b\\c\n'
    weird.cwd = "/home/zoë"
    line = json_line(weird)
    assert "\n" not in line and "zoë" in line
    out = json.loads(line)
    assert (out["comm"], out["cwd"]) == ('a"b\\c\n', "/home/zoë")


def test_a_batch_is_its_lines_each_ending_in_a_newline() -> None:
    first, second = event(PAYLOADS[0]), event(PAYLOADS[1])
    assert json_lines([first, second]) == json_line(first) + "\n" + json_line(second) + "\n"
    assert json_lines([]) == ""

"""TelemetryEvent -> one JSON line: protobuf's JSON mapping, written by hand because it runs per event.

The mapping: proto field names, 64-bit integers as strings, enums by name. Unlike protobuf's
printer it always writes credentials, so uid 0 is visible. tests/telemetry/test_json_lines.py
parses the output with protobuf to prove the two agree.

As with the protobuf frames (sensor.telemetry.wire), what many events share is written once: a
process version's context, a credential set, an ancestor, a container. A line is those fragments
joined to the few fields that are the event's own.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Final

from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import ContextMemo, TelemetryEvent
from sensor.telemetry.json_text import MAX_FRAGMENTS, creds_json, string_json, strings
from sensor.telemetry.kinds.registry import payload_kind


def _context_json(event: TelemetryEvent) -> str:
    """What every event of one process version shares, after its comm."""
    out = ""
    if event.language:
        out += ',"language":' + encode_basestring(event.language)
    out += ',"filename":' + encode_basestring(event.filename)
    if event.command_line:
        out += ',"command_line":' + strings(event.command_line)
    out += ',"cwd":' + encode_basestring(event.cwd)
    if event.parent_process_id:
        out += f',"parent_process_id":{encode_basestring(event.parent_process_id)},"parent_pid":{event.parent_pid}'
    return out


def _context_tail_json(event: TelemetryEvent) -> str:
    """The context fields after ancestors and snapshot, in field order; nearly always empty."""
    out = ""
    if event.creator_process_id:
        out += f',"creator_process_id":{encode_basestring(event.creator_process_id)},"creator_pid":{event.creator_pid}'
    if event.cwd_truncated:
        out += ',"cwd_truncated":true'
    return out


_contexts: Final = ContextMemo(_context_json, MAX_FRAGMENTS)


def _ancestor_json(ref: ProcessRef) -> str:
    """One ``ancestors`` element, written once per process version and kept on the shared ref."""
    if not ref.json:
        ref.json = (
            f'{{"process_id":{encode_basestring(ref.process_id)},"pid":{ref.pid},'
            f'"comm":{encode_basestring(ref.comm)},"filename":{encode_basestring(ref.filename)}}}'
        )
    return ref.json


def _container_part(event: TelemetryEvent) -> str:
    out = ',"container_id":' + string_json[event.container_id]
    for key in ("container_name", "image_id", "image_name", "pod_uid"):
        value = getattr(event, key)
        if value:
            out += f',"{key}":' + string_json[value]
    return out


def _process_part(event: TelemetryEvent) -> str:
    out = (
        f',"process_id":{encode_basestring(event.process_id)},"process_pid":{event.process_pid}'
        f',"process_tgid":{event.process_tgid},"cpu":{event.cpu}'
    )
    if event.credentials is not None:
        out += ',"credentials":' + creds_json[event.credentials]
    out += ',"comm":' + string_json[event.comm] + _contexts.of(event)
    if event.ancestors:
        out += ',"ancestors":[' + ",".join(map(_ancestor_json, event.ancestors)) + "]"
    return out


def _payload(event: TelemetryEvent) -> str:
    kind = payload_kind(event.payload)
    return ',"' + kind.proto_field + '":' + kind.to_json(event.payload)


def json_line(event: TelemetryEvent) -> str:
    """The event as one compact JSON object (no newline)."""
    out = (
        f'{{"id":"{event.id}","sensor_id":{string_json[event.sensor_id]}'
        f',"sensor_sequence_number":"{event.sensor_sequence_number}"'
        f',"sensor_monotime_nanos":"{event.sensor_monotime_nanos}"'
    )
    if event.node_name:
        out += ',"node_name":' + string_json[event.node_name]
    if event.container_id:
        out += _container_part(event)
    if event.process_id:
        out += _process_part(event)
    if event.snapshot:
        out += ',"snapshot":true'
    if event.creator_process_id or event.cwd_truncated:
        out += _context_tail_json(event)
    return out + _payload(event) + "}"


def json_lines(events: list[TelemetryEvent]) -> str:
    """Events as JSON lines, each ending in a newline (one call per batch: the loop runs compiled)."""
    return "".join([json_line(event) + "\n" for event in events])

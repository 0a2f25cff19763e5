"""TelemetryEvent -> one JSON line: protobuf's JSON mapping, written by hand because it runs per event.

The mapping: proto field names, 64-bit integers as strings, enums by name. Unlike protobuf's
printer it always writes credentials, so uid 0 is visible. tests/telemetry/test_json_lines.py
parses the output with protobuf to prove the two agree.

As with the protobuf frames (sensor.telemetry.wire), what many events share is written once: the
context a process shares with its siblings, a credential set, an ancestor, a container. A line is
those fragments joined to the few fields that are the event's own.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Final

from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import ContextMemo, TelemetryEvent
from sensor.telemetry.json_text import MAX_FRAGMENTS, creds_json, string_json, strings
from sensor.telemetry.kinds.registry import payload_kind


def context_json(language: str, filename: str, command_line: list[str], cwd: str, parent: str, parent_pid: int) -> str:
    """What the events of a process and its siblings share (events.shared_context_key), after the comm."""
    out = ""
    if language:
        out += ',"language":' + encode_basestring(language)
    out += ',"filename":' + encode_basestring(filename)
    if command_line:
        out += ',"command_line":' + strings(command_line)
    out += ',"cwd":' + encode_basestring(cwd)
    if parent:
        out += f',"parent_process_id":{encode_basestring(parent)},"parent_pid":{parent_pid}'
    return out


def context_tail_json(creator: str, creator_pid: int, cwd_truncated: bool) -> str:
    """The context fields after ancestors and snapshot, in field order; nearly always empty."""
    out = ""
    if creator:
        out += f',"creator_process_id":{encode_basestring(creator)},"creator_pid":{creator_pid}'
    if cwd_truncated:
        out += ',"cwd_truncated":true'
    return out


_contexts: Final = ContextMemo(
    lambda e: context_json(e.language, e.filename, e.command_line, e.cwd, e.parent_process_id, e.parent_pid),
    MAX_FRAGMENTS,
)


def _ancestor_json(ref: ProcessRef) -> str:
    """One ``ancestors`` element, written once per process version and kept on the shared ref."""
    if not ref.json:
        ref.json = (
            f'{{"process_id":{encode_basestring(ref.process_id)},"pid":{ref.pid},'
            f'"comm":{encode_basestring(ref.comm)},"filename":{encode_basestring(ref.filename)}}}'
        )
    return ref.json


def ancestors_json(ancestors: list[ProcessRef]) -> str:
    """The ``ancestors`` field, or nothing when there are none."""
    if not ancestors:
        return ""
    return ',"ancestors":[' + ",".join(map(_ancestor_json, ancestors)) + "]"


def _credentials_field(credentials: Creds) -> str:
    return ',"credentials":' + creds_json[credentials]


def _comm_field(comm: str) -> str:
    return ',"comm":' + encode_basestring(comm)


# Whole fields, made once per distinct value: a line is a list of fragments joined once, so a
# fragment written whole is a piece fewer to copy.
credentials_fields: Final[BoundedMemo[Creds, str]] = BoundedMemo(_credentials_field, MAX_FRAGMENTS)
comm_fields: Final[BoundedMemo[str, str]] = BoundedMemo(_comm_field, MAX_FRAGMENTS)
SNAPSHOT_FIELD: Final = ',"snapshot":true'


def container_json(container_id: str, name: str, image_id: str, image_name: str, pod_uid: str) -> str:
    """The container fields of an event in a container."""
    out = ',"container_id":' + string_json[container_id]
    if name:
        out += ',"container_name":' + string_json[name]
    if image_id:
        out += ',"image_id":' + string_json[image_id]
    if image_name:
        out += ',"image_name":' + string_json[image_name]
    if pod_uid:
        out += ',"pod_uid":' + string_json[pod_uid]
    return out


def head_json(event_id: str, sensor_id: str, sequence: int, monotime: int, node_name: str) -> str:
    """A line's start: the event's id, sensor, sequence number, time and node."""
    out = (
        f'{{"id":"{event_id}","sensor_id":{string_json[sensor_id]}'
        f',"sensor_sequence_number":"{sequence}","sensor_monotime_nanos":"{monotime}"'
    )
    if node_name:
        out += ',"node_name":' + string_json[node_name]
    return out


def process_head_json(process_id: str, pid: int, tgid: int, cpu: int) -> str:
    """The process fields before its credentials."""
    return f',"process_id":{encode_basestring(process_id)},"process_pid":{pid},"process_tgid":{tgid},"cpu":{cpu}'


def payload_json(payload: object) -> str:
    """The event's ``oneof event`` member as a field."""
    kind = payload_kind(payload)
    return ',"' + kind.proto_field + '":' + kind.to_json(payload)


def json_line_parts(event: TelemetryEvent, out: list[str], end: str) -> None:
    """The event's line as fragments appended to ``out``, the last one ``end`` (its closing brace).

    The order of the fields is the one sensor.telemetry.wire_json writes too (its tests hold the
    two equal): head, container, process (credentials, comm, shared context, ancestors), snapshot,
    the context's tail, the payload.
    """
    out.append(
        head_json(event.id, event.sensor_id, event.sensor_sequence_number, event.sensor_monotime_nanos, event.node_name)
    )
    if event.container_id:
        out.append(
            container_json(event.container_id, event.container_name, event.image_id, event.image_name, event.pod_uid)
        )
    if event.process_id:
        out.append(process_head_json(event.process_id, event.process_pid, event.process_tgid, event.cpu))
        if event.credentials is not None:
            out.append(credentials_fields[event.credentials])
        out.append(comm_fields[event.comm])
        out.append(_contexts.of(event))
        if event.ancestors:
            out.append(ancestors_json(event.ancestors))
    if event.snapshot:
        out.append(SNAPSHOT_FIELD)
    if event.creator_process_id or event.cwd_truncated:
        out.append(context_tail_json(event.creator_process_id, event.creator_pid, event.cwd_truncated))
    out.append(payload_json(event.payload))
    out.append(end)


def json_line(event: TelemetryEvent) -> str:
    """The event as one compact JSON object (no newline)."""
    out: list[str] = []
    json_line_parts(event, out, "}")
    return "".join(out)


def json_lines(events: list[TelemetryEvent]) -> str:
    """Events as JSON lines, each ending in a newline: every fragment of the batch joined at once."""
    out: list[str] = []
    for event in events:
        json_line_parts(event, out, "}\n")
    return "".join(out)

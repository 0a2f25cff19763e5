"""TelemetryEvent -> one JSON line: protobuf's JSON mapping, written by hand because it runs per event.

The mapping: proto field names, 64-bit integers as strings, enums by name. Unlike protobuf's
printer it always writes credentials, so uid 0 is visible. tests/telemetry/test_json_lines.py
parses the output with protobuf to prove the two agree.

As with the protobuf frames (sensor.telemetry.wire), what many events share is written once: a
process version's context, a credential set, an ancestor, a container. A line is those fragments
joined to the few fields that are the event's own.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Any, Final

from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import (
    ContainerPayload,
    ContextMemo,
    LostPayload,
    ProcessEventType,
    ProcessPayload,
    TelemetryEvent,
    TickerPayload,
)

MAX_FRAGMENTS = 8192  # distinct values of each shared part whose JSON is kept


def creds_dict(creds: Creds) -> dict[str, int]:
    """``Credentials`` with every field, zeros included."""
    return {
        "uid": creds.uid,
        "gid": creds.gid,
        "euid": creds.euid,
        "egid": creds.egid,
        "suid": creds.suid,
        "sgid": creds.sgid,
        "fsuid": creds.fsuid,
        "fsgid": creds.fsgid,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _strings(values: list[str]) -> str:
    return "[" + ",".join(map(encode_basestring, values)) + "]"


_creds_json: Final[BoundedMemo[Creds, str]] = BoundedMemo(lambda creds: _dumps(creds_dict(creds)), MAX_FRAGMENTS)
_string_json: Final[BoundedMemo[str, str]] = BoundedMemo(encode_basestring, MAX_FRAGMENTS)


def _context_json(event: TelemetryEvent) -> str:
    """What every event of one process version shares, after its comm."""
    out = ""
    if event.language:
        out += ',"language":' + encode_basestring(event.language)
    out += ',"filename":' + encode_basestring(event.filename)
    if event.command_line:
        out += ',"command_line":' + _strings(event.command_line)
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


_TYPE_NAMES: Final = {t: t.value for t in ProcessEventType}  # .value is interpreted (enum.py)
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
    out = ',"container_id":' + _string_json[event.container_id]
    for key in ("container_name", "image_id", "image_name", "pod_uid"):
        value = getattr(event, key)
        if value:
            out += f',"{key}":' + _string_json[value]
    return out


def _process_part(event: TelemetryEvent) -> str:
    out = (
        f',"process_id":{encode_basestring(event.process_id)},"process_pid":{event.process_pid}'
        f',"process_tgid":{event.process_tgid},"cpu":{event.cpu}'
    )
    if event.credentials is not None:
        out += ',"credentials":' + _creds_json[event.credentials]
    out += ',"comm":' + _string_json[event.comm] + _contexts.of(event)
    if event.ancestors:
        out += ',"ancestors":[' + ",".join(map(_ancestor_json, event.ancestors)) + "]"
    return out


def _process_payload(p: ProcessPayload) -> str:
    t = p.type
    if t is ProcessEventType.FORK:
        out = (
            f'{{"type":"FORK","fork_child_pid":{p.fork_child_pid},"fork_child_id":{encode_basestring(p.fork_child_id)}'
            f',"fork_clone_flags":"{p.fork_clone_flags}"'
        )
        if p.fork_thread:
            out += ',"fork_thread":true'
    elif t is ProcessEventType.EXIT:
        out = (
            f'{{"type":"EXIT","exit_code":{p.exit_code},"exit_status":{p.exit_status}'
            f',"exit_signal":{p.exit_signal},"exit_core_dumped":{"true" if p.exit_core_dumped else "false"}'
        )
        if p.exit_thread_only:
            out += ',"exit_thread_only":true'
    elif t is ProcessEventType.CREDENTIALS:
        out = '{"type":"CREDENTIALS"'
        if p.old_credentials is not None:
            out += ',"old_credentials":' + _creds_json[p.old_credentials]
        if p.new_credentials is not None:
            out += ',"new_credentials":' + _creds_json[p.new_credentials]
        out += ',"credentials_cause":' + encode_basestring(p.credentials_cause)
        if p.old_groups:
            out += ',"old_groups":' + _dumps(p.old_groups)
        if p.new_groups:
            out += ',"new_groups":' + _dumps(p.new_groups)
        if p.groups_truncated:
            out += ',"groups_truncated":true'
    else:
        out = f'{{"type":"{_TYPE_NAMES[t]}","exec_filename":{_string_json[p.exec_filename]}'
        if p.exec_command_line:
            out += ',"exec_command_line":' + _strings(p.exec_command_line)
        if p.exec_command_line_truncated:
            out += ',"exec_command_line_truncated":true'
        if p.exec_errno:
            out += f',"exec_errno":{p.exec_errno}'
        if p.exec_old_pid:
            out += f',"exec_old_pid":{p.exec_old_pid}'
    return out + "}"


# ContainerEvent fields written only when set (proto3 leaves zero values out).
_CONTAINER_OPTIONAL_FIELDS = (
    "name",
    "image_id",
    "image_name",
    "host_pid",
    "runtime",
    "cgroup_path",
    "pod_uid",
    "pod_name",
    "pod_namespace",
)


def _container_payload(c: ContainerPayload) -> str:
    out: dict[str, Any] = {"type": c.type}
    for key in _CONTAINER_OPTIONAL_FIELDS:
        value = getattr(c, key)
        if value:
            out[key] = value
    if c.type == "EXITED":
        out["exit_code"] = c.exit_code
    if c.labels:
        out["labels"] = c.labels
    if c.metadata_missing:
        out["metadata_missing"] = True
    return _dumps(out)


def _payload(event: TelemetryEvent) -> str:
    payload = event.payload
    if isinstance(payload, ProcessPayload):
        return ',"process":' + _process_payload(payload)
    if isinstance(payload, ContainerPayload):
        return ',"container":' + _container_payload(payload)
    if isinstance(payload, TickerPayload):
        return f',"ticker":{{"seconds":"{payload.seconds}","nanos":"{payload.nanos}"}}'
    assert isinstance(payload, LostPayload)
    hook = ',"hook":' + encode_basestring(payload.hook) if payload.hook else ""
    return f',"lost":{{"lost":"{payload.lost}","stage":{encode_basestring(payload.stage)}{hook}}}'


def json_line(event: TelemetryEvent) -> str:
    """The event as one compact JSON object (no newline)."""
    out = (
        f'{{"id":"{event.id}","sensor_id":{_string_json[event.sensor_id]}'
        f',"sensor_sequence_number":"{event.sensor_sequence_number}"'
        f',"sensor_monotime_nanos":"{event.sensor_monotime_nanos}"'
    )
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

"""GetEventsResponse bytes -> JSON lines, for `sensor trace --connect --format json`: no event objects.

The daemon writes each event as its own fields, then one run of its process's context: its process
id and tgid, then what the process shares with its siblings (parent, command line, cwd, credentials,
ancestors: sensor.telemetry.wire). Here that shared part is rendered to its JSON fragments once per
distinct bytes, the payload once per distinct bytes (an exit's or an
exec's repeat), and a line is those fragments joined to the event's own few scalars, by the very
functions that write the embedded path's lines (sensor.telemetry.json_lines): the output is the
same, byte for byte. An event laid out otherwise (its context in pieces, no id) is read the long
way, through sensor.telemetry.wire_read.
"""

from __future__ import annotations

from typing import Final

from sensor.memo import BoundedMemo, RecentMemo
from sensor.telemetry.json_lines import (
    SNAPSHOT_FIELD,
    ancestors_json,
    comm_fields,
    container_json,
    context_json,
    context_tail_json,
    credentials_fields,
    head_json,
    json_line,
    payload_json,
    process_head_json,
)
from sensor.telemetry.kinds.registry import proto_field_kind
from sensor.telemetry.wire_read import (
    COMM,
    CONTAINER_NAME,
    CONTEXT_NUMBERS,
    CPU,
    ID,
    IMAGE_ID,
    IMAGE_NAME,
    MEMO_BOUND,
    MONOTIME,
    NODE_NAME,
    PAYLOADS,
    PID,
    PROCESS_ID,
    SENSOR_ID,
    SEQUENCE,
    SNAPSHOT,
    TGID,
    WireError,
    context_fields,
    decode_event,
    event_spans,
    int64,
    run_end,
    skip_field,
    texts,
    varint,
)


class _ContextJson:
    """A run of context fields (but the process id and tgid, read with the event's own), rendered."""

    def __init__(self, run: bytes) -> None:
        f = context_fields[run]
        self.container_id = f.container_id
        self.pod_uid = f.pod_uid
        self.credentials = "" if f.credentials is None else credentials_fields[f.credentials]
        self.context = context_json(
            f.language, f.filename, f.command_line or [], f.cwd, f.parent_process_id, f.parent_pid
        )
        self.ancestors = ancestors_json(f.ancestors or [])
        self.tail = context_tail_json(f.creator_process_id, f.creator_pid, f.cwd_truncated)


class _PayloadJson:
    """A payload field, read and rendered: its JSON field, and the payload (what a printer counts)."""

    def __init__(self, number: int, body: bytes) -> None:
        name, parse = PAYLOADS[number]
        self.payload: object = proto_field_kind(name).from_proto(parse(body))
        self.json = payload_json(self.payload)


_NO_CONTEXT: Final = _ContextJson(b"")
_context_json: Final[RecentMemo[_ContextJson]] = RecentMemo(_ContextJson, MEMO_BOUND)
_payloads: Final[dict[bytes, _PayloadJson]] = {}
_comm_fields: Final[BoundedMemo[bytes, str]] = BoundedMemo(lambda raw: comm_fields[raw.decode()], MEMO_BOUND)


def _payload(number: int, field: bytes, body: bytes) -> _PayloadJson:
    held = _payloads.get(field)
    if held is None:
        if len(_payloads) >= MEMO_BOUND:  # a fork's payload never repeats: forget all now and then
            _payloads.clear()
        held = _payloads[field] = _PayloadJson(number, body)
    return held


class JsonLines:
    """A response's events as JSON lines (each ending in a newline), and each one's payload."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.payloads: list[object] = []

    def __len__(self) -> int:
        return len(self.lines)


def _event(raw: bytes, at: int, end: int, out: JsonLines) -> None:
    """The event in ``raw[at:end]`` as a line of ``out``."""
    start = at
    event_id = sensor_id = container_name = image_id = image_name = node_name = ""
    comm = comm_fields[""]
    sequence = monotime = pid = cpu = tgid = 0
    process_id = ""
    snapshot = False
    context: _ContextJson | None = None
    payload: _PayloadJson | None = None
    while at < end:
        field_start = at
        key, at = varint(raw, at)
        number = key >> 3
        wire_type = key & 7
        if number == TGID:  # the process's own: before its shared context
            tgid_value, at = varint(raw, at)
            tgid = int64(tgid_value)
            continue
        if number == PROCESS_ID:
            length, at = varint(raw, at)
            if at + length > end:
                raise WireError("the process id runs past the end of its event")
            process_id = raw[at : at + length].decode()
            at += length
            continue
        if number in CONTEXT_NUMBERS:
            if context is not None:  # a second run: not the daemon's layout
                _slow_event(raw[start:end], out)
                return
            # The daemon writes the run last: try the rest of the event as one before finding its end.
            context = _context_json.get(raw[field_start:end])
            if context is not None:
                break
            at = run_end(raw, field_start, end, CONTEXT_NUMBERS)
            if at > end:
                raise WireError("a context field runs past the end of its event")
            context = _context_json[raw[field_start:at]]
            continue
        if wire_type == 0:
            value, at = varint(raw, at)
            if number == SEQUENCE:
                sequence = value
            elif number == MONOTIME:
                monotime = int64(value)
            elif number == PID:
                pid = int64(value)
            elif number == CPU:
                cpu = int64(value)
            elif number == SNAPSHOT:
                snapshot = value != 0
            continue
        if wire_type != 2:
            at = skip_field(raw, at, wire_type)
            continue
        length, at = varint(raw, at)
        value_start = at
        at += length
        if at > end:
            raise WireError(f"field {number} runs past the end of its event")
        if number in PAYLOADS:
            payload = _payload(number, raw[field_start:at], raw[value_start:at])
        elif number == COMM:
            comm = _comm_fields[raw[value_start:at]]
        elif number == ID:
            event_id = raw[value_start:at].decode()
        elif number == SENSOR_ID:
            sensor_id = texts[raw[value_start:at]]
        elif number == NODE_NAME:
            node_name = texts[raw[value_start:at]]
        elif number == CONTAINER_NAME:
            container_name = texts[raw[value_start:at]]
        elif number == IMAGE_ID:
            image_id = texts[raw[value_start:at]]
        elif number == IMAGE_NAME:
            image_name = texts[raw[value_start:at]]
    if payload is None:
        raise WireError("an event without a payload")
    if not event_id:
        _slow_event(raw[start:end], out)
        return
    if context is None:
        context = _NO_CONTEXT
    parts = [head_json(event_id, sensor_id, sequence, monotime, node_name)]
    if context.container_id:
        parts.append(container_json(context.container_id, container_name, image_id, image_name, context.pod_uid))
    if process_id:
        parts.append(process_head_json(process_id, pid, tgid, cpu))
        parts.append(context.credentials)
        parts.append(comm)
        parts.append(context.context)
        parts.append(context.ancestors)
    if snapshot:
        parts.append(SNAPSHOT_FIELD)
    parts.append(context.tail)
    parts.append(payload.json)
    parts.append("}\n")
    out.lines.append("".join(parts))
    out.payloads.append(payload.payload)


def _slow_event(raw: bytes, out: JsonLines) -> None:
    event = decode_event(raw)
    out.lines.append(json_line(event) + "\n")
    out.payloads.append(event.payload)


def response_json_lines(raw: bytes) -> tuple[JsonLines, bytes]:
    """A ``GetEventsResponse``: its events as JSON lines, and the rest of the message (its statuses)
    as bytes for protobuf to read. Raises WireError for bytes the sensor does not write."""
    spans, rest = event_spans(raw)
    out = JsonLines()
    for start, end in spans:
        _event(raw, start, end, out)
    return out, rest

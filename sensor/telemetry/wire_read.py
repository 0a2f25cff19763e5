"""GetEventsResponse bytes -> TelemetryEvents, for clients: the wire read by hand, what repeats read once.

A client of the daemon (`sensor trace --connect`) gets a response of many events, and most of each
event is its process's context: the same credentials, command line, cwd and ancestors as the
process's other events. Through protobuf's parser each event became a fresh message and a fresh set
of Python objects, about 9 µs an event; and since its command line and ancestors were new objects,
the JSON writer's memos (sensor.telemetry.json_lines), which know a context by those objects,
missed every time. Here each repeating part is read once per distinct byte string and the very
same objects are handed out again, so the writer's memos hit as they do in the daemon. The payload
itself (a few fields) still goes through protobuf, then its kind's ``from_proto``.
"""

from __future__ import annotations

from typing import Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo, RecentMemo
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.process import creds_from_proto
from sensor.telemetry.kinds.registry import proto_field_kind

MEMO_BOUND = 8192  # distinct values of each repeating part remembered


class WireError(ValueError):
    """Bytes that are not a GetEventsResponse the sensor sends."""


def varint(raw: bytes, at: int) -> tuple[int, int]:
    """The varint at ``at``, and where the next field starts."""
    if at < len(raw) and raw[at] < 0x80:  # most keys and lengths: one byte, without the loop's shifts
        return raw[at], at + 1
    value = 0
    shift = 0
    while True:
        if at >= len(raw):
            raise WireError("a varint runs past the end")
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def skip_field(raw: bytes, at: int, wire_type: int) -> int:
    """Past a field of a type this reader does not keep."""
    if wire_type == 0:
        return varint(raw, at)[1]
    if wire_type == 2:
        length, at = varint(raw, at)
        return at + length
    if wire_type == 1:
        return at + 8
    if wire_type == 5:
        return at + 4
    raise WireError(f"wire type {wire_type} is not one the sensor writes")


def _creds(raw: bytes) -> Creds:
    return creds_from_proto(pb.Credentials.FromString(raw))


def _ref(raw: bytes) -> ProcessRef:
    message = pb.ProcessRef.FromString(raw)
    return ProcessRef(message.process_id, message.pid, message.comm, message.filename)


def _elements(run: bytes) -> list[bytes]:
    """The values of a run of one repeated length-delimited field (each element's key and length included)."""
    out = []
    at = 0
    while at < len(run):
        at = varint(run, at)[1]
        length, at = varint(run, at)
        out.append(run[at : at + length])
        at += length
    return out


def _strings(run: bytes) -> list[str]:
    return [value.decode() for value in _elements(run)]


def _refs(run: bytes) -> list[ProcessRef]:
    """A run of ``ancestors`` elements: each ref is the one every event with the same bytes gets."""
    return [_refs_one[value] for value in _elements(run)]


def run_end(raw: bytes, at: int, end: int, numbers: frozenset[int]) -> int:
    """Past the fields from ``at`` (up to ``end``) whose numbers are in ``numbers`` (a run the daemon
    writes together)."""
    while at < end:
        key, after = varint(raw, at)
        if key >> 3 not in numbers:
            break
        at = skip_field(raw, after, key & 7)
    return at


# Shared objects, by their bytes on the wire. Lists are shared too: never mutate what a decoded
# event holds (the JSON writer's context memo relies on it being the same list).
texts: Final[BoundedMemo[bytes, str]] = BoundedMemo(bytes.decode, MEMO_BOUND)
_creds_of: Final[BoundedMemo[bytes, Creds]] = BoundedMemo(_creds, MEMO_BOUND)
_refs_one: Final[BoundedMemo[bytes, ProcessRef]] = BoundedMemo(_ref, MEMO_BOUND)
_ref_lists: Final[BoundedMemo[bytes, list[ProcessRef]]] = BoundedMemo(_refs, MEMO_BOUND)
_string_lists: Final[BoundedMemo[bytes, list[str]]] = BoundedMemo(_strings, MEMO_BOUND)

# TelemetryEvent's field numbers (protos/sensor/api/v1/telemetry.proto; a test holds each to the
# descriptor's). The decoder does not read the id (1): TelemetryEvent derives it; wire_json copies it.
ID: Final = 1
SENSOR_ID: Final = 2
SEQUENCE: Final = 3
MONOTIME: Final = 4
PROCESS_ID: Final = 5
PID: Final = 6
TGID: Final = 7
CPU: Final = 8
CREDENTIALS: Final = 9
CONTAINER_ID: Final = 10
CONTAINER_NAME: Final = 11
IMAGE_ID: Final = 12
IMAGE_NAME: Final = 13
POD_UID: Final = 14
LANGUAGE: Final = 15
NODE_NAME: Final = 16
COMM: Final = 20
FILENAME: Final = 21
COMMAND_LINE: Final = 22
CWD: Final = 23
PARENT_PROCESS_ID: Final = 24
PARENT_PID: Final = 25
ANCESTORS: Final = 26
SNAPSHOT: Final = 27
CREATOR_PROCESS_ID: Final = 28
CREATOR_PID: Final = 29
CWD_TRUNCATED: Final = 30


def _payload_parsers() -> dict[int, tuple[str, Any]]:
    out = {}
    for f in pb.TelemetryEvent.DESCRIPTOR.oneofs_by_name["event"].fields:
        assert f.message_type is not None  # every member of the oneof is a message
        out[f.number] = (f.name, getattr(pb, f.message_type.name).FromString)
    return out


# The ``event`` oneof: field number -> (the kind's field name, its message's parser).
PAYLOADS: Final = _payload_parsers()


def int64(value: int) -> int:
    """A varint as protobuf's int32/int64 (negative numbers are written as 64-bit two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class EventFields:
    """A TelemetryEvent's fields as they are read."""

    def __init__(self) -> None:
        self.sensor_id = ""
        self.sequence = 0
        self.monotime = 0
        self.process_id = ""
        self.pid = 0
        self.tgid = 0
        self.cpu = 0
        self.credentials: Creds | None = None
        self.container_id = ""
        self.container_name = ""
        self.image_id = ""
        self.image_name = ""
        self.pod_uid = ""
        self.language = ""
        self.comm = ""
        self.filename = ""
        self.command_line: list[str] | None = None
        self.cwd = ""
        self.parent_process_id = ""
        self.parent_pid = 0
        self.ancestors: list[ProcessRef] | None = None
        self.snapshot = False
        self.creator_process_id = ""
        self.creator_pid = 0
        self.cwd_truncated = False
        self.node_name = ""
        self.payload: Any = None

    def take_context(self, context: EventFields) -> None:
        """The context fields a run held (those it did not hold are at their defaults there, and
        left as they are here: protobuf writes fields by number, so a context may come in pieces
        between the event's own fields)."""
        if context.process_id:
            self.process_id = context.process_id
        if context.tgid:
            self.tgid = context.tgid
        if context.credentials is not None:
            self.credentials = context.credentials
        if context.container_id:
            self.container_id = context.container_id
        if context.pod_uid:
            self.pod_uid = context.pod_uid
        if context.language:
            self.language = context.language
        if context.filename:
            self.filename = context.filename
        if context.command_line is not None:
            self.command_line = context.command_line
        if context.cwd:
            self.cwd = context.cwd
        if context.parent_process_id:
            self.parent_process_id = context.parent_process_id
        if context.parent_pid:
            self.parent_pid = context.parent_pid
        if context.ancestors is not None:
            self.ancestors = context.ancestors
        if context.creator_process_id:
            self.creator_process_id = context.creator_process_id
        if context.creator_pid:
            self.creator_pid = context.creator_pid
        if context.cwd_truncated:
            self.cwd_truncated = context.cwd_truncated


# The fields of a process's context, which the daemon writes one after another, once per process
# version (sensor.telemetry.wire): process_id, tgid, credentials, container_id, pod_uid, language,
# filename, command_line, cwd, parent_process_id, parent_pid, ancestors, creator_process_id,
# creator_pid, cwd_truncated. A run of them is read once per distinct bytes.
CONTEXT_NUMBERS: Final = frozenset(
    {PROCESS_ID, TGID, CREDENTIALS, CONTAINER_ID, POD_UID, LANGUAGE, FILENAME, COMMAND_LINE, CWD}
    | {PARENT_PROCESS_ID, PARENT_PID, ANCESTORS, CREATOR_PROCESS_ID, CREATOR_PID, CWD_TRUNCATED}
)


# Each repeated field read as a run of its own elements.
_REPEATED: Final = {COMMAND_LINE: frozenset({COMMAND_LINE}), ANCESTORS: frozenset({ANCESTORS})}


def _context(run: bytes) -> EventFields:
    fields = EventFields()
    _read(run, fields, False)
    return fields


context_fields: Final[RecentMemo[EventFields]] = RecentMemo(_context, MEMO_BOUND)


def _read(raw: bytes, f: EventFields, contexts: bool) -> None:
    """Fill ``f`` from the fields of one message; ``contexts``: read a run of context fields as one."""
    at = 0
    end = len(raw)
    while at < end:
        field_start = at
        key, at = varint(raw, at)
        number = key >> 3
        wire_type = key & 7
        if contexts and number in CONTEXT_NUMBERS:
            at = run_end(raw, field_start, end, CONTEXT_NUMBERS)
            f.take_context(context_fields[raw[field_start:at]])
            continue
        if wire_type == 0:
            value = raw[at] if at < end else 0x80
            if value < 0x80:
                at += 1
            else:
                value, at = varint(raw, at)
            if number == SEQUENCE:
                f.sequence = value
            elif number == MONOTIME:
                f.monotime = int64(value)
            elif number == PID:
                f.pid = int64(value)
            elif number == TGID:
                f.tgid = int64(value)
            elif number == CPU:
                f.cpu = int64(value)
            elif number == PARENT_PID:
                f.parent_pid = int64(value)
            elif number == CREATOR_PID:
                f.creator_pid = int64(value)
            elif number == SNAPSHOT:
                f.snapshot = value != 0
            elif number == CWD_TRUNCATED:
                f.cwd_truncated = value != 0
            continue
        if wire_type != 2:
            at = skip_field(raw, at, wire_type)
            continue
        length = raw[at] if at < end else 0x80
        if length < 0x80:
            at += 1
        else:
            length, at = varint(raw, at)
        start = at
        at += length
        if at > end:
            raise WireError(f"field {number} runs past the end of its event")
        # Written out, busiest first: compiled, each is an integer compare and a store, where a
        # table of names and setattr() was a lookup by name per field.
        if number == COMM:
            f.comm = texts[raw[start:at]]
        elif number == SENSOR_ID:
            f.sensor_id = texts[raw[start:at]]
        elif number == NODE_NAME:
            f.node_name = texts[raw[start:at]]
        elif number == CONTAINER_NAME:
            f.container_name = texts[raw[start:at]]
        elif number == IMAGE_ID:
            f.image_id = texts[raw[start:at]]
        elif number == IMAGE_NAME:
            f.image_name = texts[raw[start:at]]
        elif number in PAYLOADS:
            name, parse = PAYLOADS[number]
            f.payload = proto_field_kind(name).from_proto(parse(raw[start:at]))
        elif number == FILENAME:
            f.filename = texts[raw[start:at]]
        elif number == CWD:
            f.cwd = texts[raw[start:at]]
        elif number == PROCESS_ID:
            f.process_id = texts[raw[start:at]]
        elif number == PARENT_PROCESS_ID:
            f.parent_process_id = texts[raw[start:at]]
        elif number == CREDENTIALS:
            f.credentials = _creds_of[raw[start:at]]
        elif number in (COMMAND_LINE, ANCESTORS):
            # The elements of a repeated field come one after another: take the whole run at once.
            at = run_end(raw, at, end, _REPEATED[number])
            if number == COMMAND_LINE:
                f.command_line = _string_lists[raw[field_start:at]]
            else:
                f.ancestors = _ref_lists[raw[field_start:at]]
        elif number == LANGUAGE:
            f.language = texts[raw[start:at]]
        elif number == CONTAINER_ID:
            f.container_id = texts[raw[start:at]]
        elif number == POD_UID:
            f.pod_uid = texts[raw[start:at]]
        elif number == CREATOR_PROCESS_ID:
            f.creator_process_id = texts[raw[start:at]]


def decode_event(raw: bytes) -> TelemetryEvent:
    """One ``TelemetryEvent`` message. Raises WireError for bytes the sensor does not write."""
    f = EventFields()
    _read(raw, f, True)
    if f.payload is None:
        raise WireError("an event without a payload")
    return TelemetryEvent(
        f.sensor_id, f.sequence, f.monotime, f.payload, f.process_id, f.pid, f.tgid, f.cpu, f.credentials,
        f.container_id, f.container_name, f.image_id, f.image_name, f.pod_uid, f.language, f.comm, f.filename,
        f.command_line, f.cwd, f.parent_process_id, f.parent_pid, f.ancestors, f.snapshot, f.creator_process_id,
        f.creator_pid, f.cwd_truncated, f.node_name,
    )  # fmt: skip


def event_spans(raw: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """Where each event of a ``GetEventsResponse`` lies in ``raw`` (start, end), and the rest of the
    message (its statuses) as bytes for protobuf to read (rare: the first response and the last)."""
    spans = []
    rest = b""
    at = 0
    end = len(raw)
    while at < end:
        field_start = at
        key, at = varint(raw, at)
        if key == 0x0A:  # events: field 1, length-delimited
            length, at = varint(raw, at)
            if at + length > end:
                raise WireError("an event runs past the end of its response")
            spans.append((at, at + length))
            at += length
        else:
            at = skip_field(raw, at, key & 7)
            rest += raw[field_start:at]
    return spans, rest


def decode_response(raw: bytes) -> tuple[list[TelemetryEvent], bytes]:
    """A ``GetEventsResponse``: its events, and the rest of the message (its statuses) as bytes."""
    spans, rest = event_spans(raw)
    return [decode_event(raw[start:end]) for start, end in spans], rest

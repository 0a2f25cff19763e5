"""TelemetryEvent -> protobuf ``sensor.v1.TelemetryEvent``, and GetEventsResponse framing (clients
read them back with sensor.telemetry.wire_read).

The server encodes each event once, however many subscribers it goes to: :func:`event_frame` keeps
the bytes on the event, and a response is those frames concatenated, because a repeated message
field on the wire is just its elements one after another (tag, length, bytes).
"""

from __future__ import annotations

from typing import Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo
from sensor.model.process_cache import ProcessRef
from sensor.telemetry.events import ContextMemo, TelemetryEvent
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload, creds_proto
from sensor.telemetry.kinds.registry import payload_kind

_EVENTS_TAG: Final = b"\x0a"  # GetEventsResponse.events: field 1, length-delimited
_CREDENTIALS_TAG: Final = b"\x4a"  # TelemetryEvent.credentials: field 9, length-delimited
_ANCESTORS_TAG: Final = b"\xd2\x01"  # TelemetryEvent.ancestors: field 26, length-delimited
MAX_CREDENTIAL_FRAMES = 4096
MAX_CONTEXT_FRAMES = 8192  # shared contexts (sensor.telemetry.events.shared_context_key) whose encoding is kept


def _own_parts(event: TelemetryEvent) -> pb.TelemetryEvent:
    """What is this event's alone: not its process's context, credentials or ancestors (see :func:`event_frame`)."""
    # The payload goes in through the constructor: CopyFrom after it would copy it again.
    kind = payload_kind(event.payload)
    nested: dict[str, Any] = {kind.proto_field: kind.to_proto(event.payload)}
    return pb.TelemetryEvent(
        id=event.id,
        sensor_id=event.sensor_id,
        node_name=event.node_name,
        sensor_sequence_number=event.sensor_sequence_number,
        sensor_monotime_nanos=event.sensor_monotime_nanos,
        process_pid=event.process_pid,
        cpu=event.cpu,
        container_name=event.container_name,
        image_id=event.image_id,
        image_name=event.image_name,
        comm=event.comm,
        snapshot=event.snapshot,
        **nested,
    )


_SMALL_VARINTS: Final = [bytes([n]) for n in range(0x80)]
_UINT64 = 1 << 64  # a negative int32/int64 goes on the wire as its 64-bit two's complement


def _uvarint(n: int) -> bytes:
    """A base-128 varint. The bytes are gathered in an int and converted once: compiled, that is
    integer arithmetic, where appending to a bytearray is a method call per byte (3-4x slower)."""
    if n < 0x80:
        return _SMALL_VARINTS[n]
    out = 0
    shift = 0
    while n > 0x7F:
        out |= ((n & 0x7F) | 0x80) << shift
        n >>= 7
        shift += 8
    out |= n << shift
    return out.to_bytes((shift >> 3) + 1, "little")


def _frame(tag: bytes, body: bytes) -> bytes:
    return tag + _uvarint(len(body)) + body


# The ``credentials`` field per distinct set of ids: a host has a handful.
_credential_frames: Final[BoundedMemo[Creds, bytes]] = BoundedMemo(
    lambda creds: _frame(_CREDENTIALS_TAG, creds_proto(creds).SerializeToString()), MAX_CREDENTIAL_FRAMES
)


# Hand-written encoding of the process context, ancestors, and what is each fork, exec and exit
# event's own (the bulk of the stream): building the generated messages field by field cost more
# than the rest of the pipeline. Fields go in field-number order, zero values left out, as
# protobuf writes them (tests/telemetry/test_wire.py holds the encodings byte for byte equal).
_STRING_FIELDS_KEPT = 1024


def _int_field(key: bytes, n: int) -> bytes:
    if n == 0:
        return b""
    return key + _uvarint(n if n > 0 else n + _UINT64)


def _bool_field(key: bytes, value: bool) -> bytes:
    return key + b"\x01" if value else b""


def _bytes_field(key: bytes, raw: bytes) -> bytes:
    return _frame(key, raw) if raw else b""


def _string_field(key: bytes, text: str) -> bytes:
    return _bytes_field(key, text.encode()) if text else b""


def _string_memo(key: bytes) -> BoundedMemo[str, bytes]:
    """One field's encodings of the few values it takes (sensor id, comm, names, program paths)."""
    return BoundedMemo(lambda text: _string_field(key, text), _STRING_FIELDS_KEPT)


def _strings_field(key: bytes, texts: list[str]) -> bytes:
    """A repeated string: one field per element, empty ones included."""
    return b"".join([_frame(key, text.encode()) for text in texts])


def _shared_context_bytes(event: TelemetryEvent) -> bytes:
    """The context fields after the process id and tgid (made once per shared context: _shared_contexts)."""
    return b"".join(
        (
            _string_field(b"\x52", event.container_id),  # 10
            _string_field(b"\x72", event.pod_uid),  # 14
            _string_field(b"\x7a", event.language),  # 15
            _string_field(b"\xaa\x01", event.filename),  # 21
            _strings_field(b"\xb2\x01", event.command_line),  # 22
            _string_field(b"\xba\x01", event.cwd),  # 23
            _string_field(b"\xc2\x01", event.parent_process_id),  # 24
            _int_field(b"\xc8\x01", event.parent_pid),  # 25
            _string_field(b"\xe2\x01", event.creator_process_id),  # 28
            _int_field(b"\xe8\x01", event.creator_pid),  # 29
            _bool_field(b"\xf0\x01", event.cwd_truncated),  # 30
        )
    )


_shared_contexts: Final = ContextMemo(_shared_context_bytes, MAX_CONTEXT_FRAMES)


def process_context_bytes(event: TelemetryEvent) -> bytes:
    """The process's context fields: its id (5) and tgid (7), then what it shares with its siblings,
    which is encoded once for all of them (and which clients read once: sensor.telemetry.wire_json)."""
    return (
        _string_field(b"\x2a", event.process_id) + _int_field(b"\x38", event.process_tgid) + _shared_contexts.of(event)
    )


def ancestor_frame(ref: ProcessRef) -> bytes:
    """One ``ancestors`` element, encoded once per process version and kept on the shared ref."""
    if not ref.encoded:
        body = b"".join(
            (
                _string_field(b"\x0a", ref.process_id),
                _int_field(b"\x10", ref.pid),
                _string_field(b"\x1a", ref.comm),
                _string_field(b"\x22", ref.filename),
            )
        )
        ref.encoded = _frame(_ANCESTORS_TAG, body)
    return ref.encoded


_sensor_ids: Final = _string_memo(b"\x12")  # TelemetryEvent.sensor_id = 2
_node_names: Final = _string_memo(b"\x82\x01")  # 16
_container_names: Final = _string_memo(b"\x5a")  # 11
_image_ids: Final = _string_memo(b"\x62")  # 12
_image_names: Final = _string_memo(b"\x6a")  # 13
_comms: Final = _string_memo(b"\xa2\x01")  # 20
_exec_filenames: Final = _string_memo(b"\x2a")  # ProcessEvent.exec_filename = 5
_PROCESS_TAG: Final = b"\xa2\x06"  # TelemetryEvent.process = 100, length-delimited
_FORK_TYPE: Final = b"\x08\x01"  # ProcessEvent.type = 1: FORK
_EXEC_TYPE: Final = b"\x08\x02"
_EXIT_TYPE: Final = b"\x08\x03"


def _process_body(p: ProcessPayload) -> bytes | None:
    """A fork, exec or exit ``ProcessEvent``; None for the other types (the generated code writes those)."""
    t = p.type
    if t is ProcessEventType.FORK:
        return b"".join(
            (
                _FORK_TYPE,
                _int_field(b"\x10", p.fork_child_pid),
                _string_field(b"\x1a", p.fork_child_id),
                _int_field(b"\x20", p.fork_clone_flags),
                _bool_field(b"\xa0\x01", p.fork_thread),  # 20
            )
        )
    if t is ProcessEventType.EXEC:
        return b"".join(
            (
                _EXEC_TYPE,
                _exec_filenames[p.exec_filename],
                _strings_field(b"\x32", p.exec_command_line),
                _bool_field(b"\xa8\x01", p.exec_command_line_truncated),  # 21
                _int_field(b"\xb0\x01", p.exec_errno),  # 22
                _int_field(b"\xb8\x01", p.exec_old_pid),  # 23
            )
        )
    if t is ProcessEventType.EXIT:
        return b"".join(
            (
                _EXIT_TYPE,
                _int_field(b"\x38", p.exit_code),
                _int_field(b"\x40", p.exit_status),
                _int_field(b"\x48", p.exit_signal),
                _bool_field(b"\x50", p.exit_core_dumped),
                _bool_field(b"\xc0\x01", p.exit_thread_only),  # 24
            )
        )
    return None


def own_parts_bytes(event: TelemetryEvent) -> bytes:
    """The encoding of what is this event's alone: by hand for fork, exec and exit, else by the generated code."""
    payload = event.payload
    body = _process_body(payload) if isinstance(payload, ProcessPayload) else None
    if body is None:
        return _own_parts(event).SerializeToString()
    return b"".join(
        (
            _string_field(b"\x0a", event.id),
            _sensor_ids[event.sensor_id],
            _int_field(b"\x18", event.sensor_sequence_number),
            _int_field(b"\x20", event.sensor_monotime_nanos),
            _int_field(b"\x30", event.process_pid),
            _int_field(b"\x40", event.cpu),
            _container_names[event.container_name],
            _image_ids[event.image_id],
            _image_names[event.image_name],
            _node_names[event.node_name],
            _comms[event.comm],
            _bool_field(b"\xd8\x01", event.snapshot),  # 27
            _bytes_field(_PROCESS_TAG, body),
        )
    )


def event_frame(event: TelemetryEvent) -> bytes:
    """The event as one element of GetEventsResponse.events, encoded on first use and then reused.

    A process's context, its credentials and its ancestors are the same for many events: their
    encodings are made once and appended to the rest, since protobuf parses fields in any order
    (a repeated field's elements in the order they come).
    """
    if not event.encoded:
        parts = [own_parts_bytes(event), process_context_bytes(event)]
        if event.credentials is not None:
            parts.append(_credential_frames[event.credentials])
        for ancestor in event.ancestors:
            parts.append(ancestor_frame(ancestor))
        event.encoded = _frame(_EVENTS_TAG, b"".join(parts))
    return event.encoded


def event_frames(events: list[TelemetryEvent]) -> list[bytes]:
    """Each event's frame (one compiled loop for a whole response)."""
    return [event_frame(event) for event in events]


def event_bytes(event: TelemetryEvent) -> bytes:
    """The event as a ``TelemetryEvent`` message of its own (an export's payload): its frame without
    the frame's tag and length."""
    frame = event_frame(event)
    at = 1  # the one-byte tag
    while frame[at] & 0x80:
        at += 1
    return frame[at + 1 :]

"""The file kind: opens, and changes to the tree (unlink, rmdir, rename, mkdir, link, symlink, chmod,
chown, truncate), from the syscall tracepoints (bpf/file.bpf.c)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import FILE_OPEN_CHANGES, FileFlags, FileOp, FileRecord, Hook, text_bytes
from sensor.telemetry.event_fields import INT, PROCESS_COMMON, B, Field, S
from sensor.telemetry.expression import EventPredicate
from sensor.telemetry.filter_rules import KindRules, Rules, SubscriptionError, compile_rule, filter_types
from sensor.telemetry.json_text import quoted
from sensor.telemetry.kinds.kind import EventKind, PayloadKind, errno_name, who

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


class FileEventType(str, Enum):
    """``FileEvent.FileEventType``: what the syscall did."""

    OPEN = "OPEN"
    UNLINK = "UNLINK"
    RMDIR = "RMDIR"
    RENAME = "RENAME"
    MKDIR = "MKDIR"
    LINK = "LINK"
    SYMLINK = "SYMLINK"
    CHMOD = "CHMOD"
    CHOWN = "CHOWN"
    TRUNCATE = "TRUNCATE"


@dataclass(slots=True)
class FilePayload:
    """``FileEvent``: only the fields of its type are set (see protos/sensor/api/v1/telemetry.proto)."""

    type: FileEventType
    filename: str = ""
    open_flags: int = 0
    open_mode: int = 0
    path: str = ""
    errno: int = 0
    fd: int = 0
    created: bool = False
    device: int = 0
    inode: int = 0
    new_filename: str = ""
    new_path: str = ""
    flags: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    length: int = 0
    path_truncated: bool = False


# --- from a kernel record

_TYPE_OF_OP: Final = {op: FileEventType(op.name) for op in FileOp}
_TRUNCATED: Final = int(
    FileFlags.PATH_TRUNCATED | FileFlags.BASE_TRUNCATED | FileFlags.PATH2_TRUNCATED | FileFlags.BASE2_TRUNCATED
)
_CREATED: Final = int(FileFlags.CREATED)
_NO_ID: Final = 0xFFFFFFFF  # chown's "leave this id as it is"


def absolute(path: str, directory: str) -> str:
    """``path`` joined to the directory it is relative to, with ``.``, ``..`` and ``//`` resolved as
    written. Empty ``path`` (an fd's operation): the directory. Unknown directory (a bad dirfd):
    the path as given."""
    if not path:
        return directory
    if path[0] != "/":
        if not directory:
            return path
        path = directory + "/" + path if directory != "/" else "/" + path
    if "/." in path or "//" in path or (path.endswith("/") and len(path) > 1):
        return posixpath.normpath(path)
    return path


def read_only_open(payload: FilePayload) -> bool:
    """An open that neither writes, creates nor truncates (sent only when a subscription asks for reads)."""
    return payload.type is FileEventType.OPEN and not payload.open_flags & FILE_OPEN_CHANGES


def payload_of(record: FileRecord) -> FilePayload:
    """The payload of a file record."""
    op = record.op
    failed = record.ret < 0
    payload = FilePayload(
        _TYPE_OF_OP[op],
        filename=record.path if op is FileOp.SYMLINK else absolute(record.path, record.directory),
        path=record.path,
        errno=-record.ret if failed else 0,
        path_truncated=bool(record.flags & _TRUNCATED),
    )
    if op is FileOp.OPEN:
        payload.open_flags = record.how
        payload.open_mode = record.mode
        if not failed:
            payload.fd = record.ret
            payload.created = bool(record.flags & _CREATED)
            payload.device = record.dev
            payload.inode = record.ino
        return payload
    payload.flags = record.how
    if record.path2:
        payload.new_filename = absolute(record.path2, record.directory2)
        payload.new_path = record.path2
    if op is FileOp.MKDIR or op is FileOp.CHMOD:
        payload.mode = record.mode
    elif op is FileOp.CHOWN:
        payload.uid = -1 if record.uid == _NO_ID else record.uid
        payload.gid = -1 if record.gid == _NO_ID else record.gid
    elif op is FileOp.TRUNCATE:
        payload.length = record.length
    return payload


# --- protobuf


def to_proto(p: FilePayload) -> pb.FileEvent:
    """The ``FileEvent`` message (each field written out: the daemon runs this per event)."""
    return pb.FileEvent(
        type=p.type.value,
        filename=p.filename,
        open_flags=p.open_flags,
        open_mode=p.open_mode,
        path=p.path,
        errno=p.errno,
        fd=p.fd,
        created=p.created,
        device=p.device,
        inode=p.inode,
        new_filename=p.new_filename,
        new_path=p.new_path,
        flags=p.flags,
        mode=p.mode,
        uid=p.uid,
        gid=p.gid,
        length=p.length,
        path_truncated=p.path_truncated,
    )


_PLAIN_FIELDS: Final = tuple(field.name for field in fields(FilePayload) if field.name != "type")


_TYPE_OF_NUMBER: Final = {pb.FileEvent.FileEventType.Value(t.value): t for t in FileEventType}


def from_proto(p: pb.FileEvent) -> FilePayload:
    """A received ``FileEvent`` (client side: its fields copied by name)."""
    event_type = _TYPE_OF_NUMBER[p.type]
    return FilePayload(event_type, **{name: getattr(p, name) for name in _PLAIN_FIELDS})


# --- JSON


def to_json(p: FilePayload) -> str:
    """The ``FileEvent`` as JSON: zero values left out, 64-bit integers as strings (protobuf's mapping)."""
    out = f'{{"type":"{p.type.value}"'
    if p.filename:
        out += ',"filename":' + quoted(p.filename)
    if p.open_flags:
        out += f',"open_flags":{p.open_flags}'
    if p.open_mode:
        out += f',"open_mode":{p.open_mode}'
    if p.path:
        out += ',"path":' + quoted(p.path)
    if p.errno:
        out += f',"errno":{p.errno}'
    if p.fd:
        out += f',"fd":{p.fd}'
    if p.created:
        out += ',"created":true'
    if p.device:
        out += f',"device":"{p.device}"'
    if p.inode:
        out += f',"inode":"{p.inode}"'
    if p.new_filename:
        out += ',"new_filename":' + quoted(p.new_filename)
    if p.new_path:
        out += ',"new_path":' + quoted(p.new_path)
    if p.flags:
        out += f',"flags":{p.flags}'
    if p.mode:
        out += f',"mode":{p.mode}'
    if p.uid:
        out += f',"uid":"{p.uid}"'
    if p.gid:
        out += f',"gid":"{p.gid}"'
    if p.length:
        out += f',"length":"{p.length}"'
    if p.path_truncated:
        out += ',"path_truncated":true'
    return out + "}"


# --- the compact line

_ACCESS_MODES: Final = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}
_OPEN_FLAG_NAMES: Final = (
    "O_CREAT",
    "O_EXCL",
    "O_NOCTTY",
    "O_TRUNC",
    "O_APPEND",
    "O_NONBLOCK",
    "O_DSYNC",
    "O_DIRECT",
    "O_LARGEFILE",
    "O_DIRECTORY",
    "O_NOFOLLOW",
    "O_NOATIME",
    "O_CLOEXEC",
    "O_SYNC",
    "O_PATH",
    "O_TMPFILE",
)
# Flags of two bits first (O_SYNC holds O_DSYNC's, O_TMPFILE O_DIRECTORY's), so each bit is named once.
_OPEN_FLAGS: Final = sorted(
    ((value, name) for name in _OPEN_FLAG_NAMES if (value := getattr(os, name, 0))),
    key=lambda flag: (-bin(flag[0]).count("1"), flag[0]),
)


def open_flags_text(flags: int) -> str:
    """``O_WRONLY|O_CREAT|O_TRUNC``: the access mode, then each flag set in bit order, then what is left in hex."""
    rest = flags & ~os.O_ACCMODE
    found = []
    for value, name in _OPEN_FLAGS:
        if rest & value == value:
            found.append((value, name))
            rest &= ~value
    names = [_ACCESS_MODES.get(flags & os.O_ACCMODE, "O_ACCMODE"), *(name for _, name in sorted(found))]
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def describe(event: TelemetryEvent, p: FilePayload) -> str:
    """``open pid=... /etc/shadow (O_WRONLY|O_TRUNC) -> fd 3``, ``rename pid=... /tmp/a -> /tmp/b``."""
    line = f"{p.type.value.lower():<9} {who(event)} {p.filename}"
    t = p.type
    if t is FileEventType.OPEN:
        line += f" ({open_flags_text(p.open_flags)})"
        if p.created:
            line += " created"
        return line + (f" -> {errno_name(p.errno)}" if p.errno else f" -> fd {p.fd}")
    if p.new_filename:
        line += f" -> {p.new_filename}"
    if t is FileEventType.MKDIR or t is FileEventType.CHMOD:
        line += f" mode={p.mode:04o}"
    elif t is FileEventType.CHOWN:
        line += f" uid={p.uid} gid={p.gid}"
    elif t is FileEventType.TRUNCATE:
        line += f" length={p.length}"
    return line + (f" -> {errno_name(p.errno)}" if p.errno else "")


# --- filter fields

FIELDS: Final[dict[str, Field]] = {
    **PROCESS_COMMON,
    "file_type": Field(S, "e.payload.type.value"),
    "file_path": Field(S, "e.payload.filename"),
    "file_given_path": Field(S, "e.payload.path"),
    "file_new_path": Field(S, "e.payload.new_filename"),
    "file_flags": Field(INT, "(e.payload.open_flags | e.payload.flags)"),
    "file_mode": Field(INT, "(e.payload.open_mode | e.payload.mode)"),
    "file_errno": Field(INT, "e.payload.errno"),
    "file_fd": Field(INT, "e.payload.fd"),
    "file_created": Field(B, "e.payload.created"),
    "file_device": Field(INT, "e.payload.device"),
    "file_inode": Field(INT, "e.payload.inode"),
    "file_uid": Field(INT, "e.payload.uid"),
    "file_gid": Field(INT, "e.payload.gid"),
    "file_length": Field(INT, "e.payload.length"),
    "file_path_truncated": Field(B, "e.payload.path_truncated"),
}


# --- subscriptions


def compile_filters(filters: Sequence[Any], where: str, errors: list[SubscriptionError]) -> KindRules:
    """``FileEventFilter``s, and the read prefixes of those that take opens.

    An OPEN rule passes a read-only open only under its own filter's prefixes: the kernel sends
    the union of every subscriber's, and more where it cannot tell (relative paths).
    """
    rules: Rules = {}
    read_prefixes: set[bytes] = set()
    all_types = [t.value for t in FileEventType]
    for i, f in enumerate(filters):
        predicate = compile_rule(f.filter_expression, FIELDS, f"{where}[{i}]", errors)
        prefixes = tuple(f.read_prefixes)
        for j, prefix in enumerate(prefixes):
            if not prefix.startswith("/"):
                message = f"{prefix!r} does not start with '/'"
                errors.append(SubscriptionError(f"{where}[{i}].read_prefixes[{j}]", message))
        for t in filter_types(f.type, all_types, pb.FileEvent.FileEventType.Name):
            if t == FileEventType.OPEN.value:
                read_prefixes.update(text_bytes(prefix) for prefix in prefixes if prefix.startswith("/"))
                rules.setdefault(t, []).append(_opens_rule(predicate, prefixes))
            else:
                rules.setdefault(t, []).append(predicate)
    return KindRules(rules, frozenset(read_prefixes))


def _opens_rule(predicate: EventPredicate | None, read_prefixes: tuple[str, ...]) -> EventPredicate:
    """``predicate`` for opens that change the file, or read-only ones under ``read_prefixes``."""

    def passes(event: TelemetryEvent) -> bool:
        payload = event.payload
        assert isinstance(payload, FilePayload)
        if read_only_open(payload) and not (read_prefixes and payload.filename.startswith(read_prefixes)):
            return False
        return predicate is None or predicate(event)

    return passes


KIND: Final = PayloadKind(
    payload_type=FilePayload,
    proto_field="file",
    types={t.value: EventKind.FILE for t in FileEventType},
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={EventKind.FILE: FIELDS},
    filter_field="file_events",
    compile_filters=compile_filters,
    records={FileRecord: EventKind.FILE},
    payload_of=lambda record, _boot_id: payload_of(record),
    needs_hooks={EventKind.FILE: Hook.FILE_OPEN},
)

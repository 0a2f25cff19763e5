"""The process kinds: fork, exec (failed execs and UPDATE events too), exit and credentials.

They share one payload, ProcessPayload (the flat ``ProcessEvent`` message, Capsule8's shape), told
apart by its type. The protobuf encoding of the fork, exec and exit events, the bulk of the stream,
is also written by hand in sensor.telemetry.wire; :func:`to_proto` is the generated form both are
checked against.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from sensor.api.v1 import telemetry_pb2 as pb
from sensor.kernel.records import (
    AnyRecord,
    Creds,
    CredsRecord,
    ExecFailedRecord,
    ExecFlags,
    ExecRecord,
    ExitRecord,
    ForkRecord,
    Hook,
)
from sensor.model.process_cache import CLONE_THREAD
from sensor.model.procfs import make_process_id, start_ticks
from sensor.telemetry.event_fields import INT, PROCESS_COMMON, B, Field, S, creds_fields
from sensor.telemetry.filter_rules import KindRules, Rules, SubscriptionError, compile_rule
from sensor.telemetry.json_text import creds_json, dumps, quoted, string_json, strings
from sensor.telemetry.kinds.kind import EventKind, PayloadKind, errno_name, who

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


class ProcessEventType(str, Enum):
    """``ProcessEvent.ProcessEventType``."""

    FORK = "FORK"
    EXEC = "EXEC"
    EXIT = "EXIT"
    UPDATE = "UPDATE"
    CREDENTIALS = "CREDENTIALS"


@dataclass(init=False, slots=True)
class ProcessPayload:
    """``ProcessEvent``: only the fields of its type are set."""

    type: ProcessEventType
    fork_child_pid: int
    fork_child_id: str
    fork_clone_flags: int
    fork_thread: bool
    exec_filename: str
    exec_command_line: list[str]
    exec_command_line_truncated: bool
    exec_errno: int
    exec_old_pid: int
    exit_code: int
    exit_status: int
    exit_signal: int
    exit_core_dumped: bool
    exit_thread_only: bool
    old_credentials: Creds | None
    new_credentials: Creds | None
    credentials_cause: str
    old_groups: tuple[int, ...]
    new_groups: tuple[int, ...]
    groups_truncated: bool

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        type: ProcessEventType,
        fork_child_pid: int = 0,
        fork_child_id: str = "",
        fork_clone_flags: int = 0,
        fork_thread: bool = False,
        exec_filename: str = "",
        exec_command_line: list[str] | None = None,
        exec_command_line_truncated: bool = False,
        exec_errno: int = 0,
        exec_old_pid: int = 0,
        exit_code: int = 0,
        exit_status: int = 0,
        exit_signal: int = 0,
        exit_core_dumped: bool = False,
        exit_thread_only: bool = False,
        old_credentials: Creds | None = None,
        new_credentials: Creds | None = None,
        credentials_cause: str = "",
        old_groups: tuple[int, ...] = (),
        new_groups: tuple[int, ...] = (),
        groups_truncated: bool = False,
    ) -> None:
        self.type = type
        self.fork_child_pid = fork_child_pid
        self.fork_child_id = fork_child_id
        self.fork_clone_flags = fork_clone_flags
        self.fork_thread = fork_thread
        self.exec_filename = exec_filename
        self.exec_command_line = [] if exec_command_line is None else exec_command_line
        self.exec_command_line_truncated = exec_command_line_truncated
        self.exec_errno = exec_errno
        self.exec_old_pid = exec_old_pid
        self.exit_code = exit_code
        self.exit_status = exit_status
        self.exit_signal = exit_signal
        self.exit_core_dumped = exit_core_dumped
        self.exit_thread_only = exit_thread_only
        self.old_credentials = old_credentials
        self.new_credentials = new_credentials
        self.credentials_cause = credentials_cause
        self.old_groups = old_groups
        self.new_groups = new_groups
        self.groups_truncated = groups_truncated


# --- from a kernel record

# An exec's arguments were cut or unreadable: tested as a plain int, since Flag arithmetic is slow.
_ARGS_CUT: Final = int(ExecFlags.ARGS_TRUNCATED | ExecFlags.ARGS_UNREADABLE)


def decode_exit_code(raw: int) -> tuple[int, int, bool]:
    """(exit status, signal, core dumped) from task->exit_code."""
    return (raw >> 8) & 0xFF, raw & 0x7F, bool(raw & 0x80)


def payload_of(record: AnyRecord, boot_id: str) -> ProcessPayload:
    """The payload of a fork, exec, failed exec, exit or credentials record."""
    if isinstance(record, ExecRecord):
        return ProcessPayload(
            ProcessEventType.EXEC,
            exec_filename=record.filename,
            exec_command_line=record.argv,
            exec_command_line_truncated=bool(int(record.flags) & _ARGS_CUT),
            exec_old_pid=record.old_pid if record.old_pid != record.pid else 0,
        )
    if isinstance(record, ForkRecord):
        return ProcessPayload(
            ProcessEventType.FORK,
            fork_child_pid=record.child_pid,
            fork_child_id=make_process_id(boot_id, record.child_tgid, start_ticks(record.child_start_ns)),
            fork_clone_flags=record.clone_flags,
            fork_thread=bool(record.clone_flags & CLONE_THREAD),
        )
    if isinstance(record, ExitRecord):
        status, signal_number, core = decode_exit_code(record.exit_code)
        return ProcessPayload(
            ProcessEventType.EXIT,
            exit_code=record.exit_code,
            exit_status=status,
            exit_signal=signal_number,
            exit_core_dumped=core,
            exit_thread_only=not record.group_dead,
        )
    if isinstance(record, ExecFailedRecord):
        return ProcessPayload(ProcessEventType.EXEC, exec_filename=record.filename, exec_errno=record.error)
    assert isinstance(record, CredsRecord), f"not a process record: {type(record).__name__}"
    return ProcessPayload(
        ProcessEventType.CREDENTIALS,
        old_credentials=record.old,
        new_credentials=record.creds,
        credentials_cause=record.cause.name.lower(),
        old_groups=record.old_groups,
        new_groups=record.groups,
        groups_truncated=record.groups_truncated,
    )


RECORD_KINDS: Final = {
    ForkRecord: EventKind.FORK,
    ExecRecord: EventKind.EXEC,
    ExecFailedRecord: EventKind.EXEC,
    ExitRecord: EventKind.EXIT,
    CredsRecord: EventKind.CREDENTIALS,
}


# --- protobuf


def creds_proto(c: Creds) -> pb.Credentials:
    """Credentials as the API message."""
    return pb.Credentials(
        uid=c.uid, gid=c.gid, euid=c.euid, egid=c.egid, suid=c.suid, sgid=c.sgid, fsuid=c.fsuid, fsgid=c.fsgid
    )


def creds_from_proto(c: pb.Credentials) -> Creds:
    """The API message as Credentials."""
    return Creds(c.uid, c.gid, c.suid, c.sgid, c.euid, c.egid, c.fsuid, c.fsgid)


def to_proto(p: ProcessPayload) -> pb.ProcessEvent:
    """The ``ProcessEvent`` message."""
    out = pb.ProcessEvent(type=p.type.value)  # the enum's value is its proto name
    t = p.type
    if t is ProcessEventType.FORK:
        out.fork_child_pid = p.fork_child_pid
        out.fork_child_id = p.fork_child_id
        out.fork_clone_flags = p.fork_clone_flags
        out.fork_thread = p.fork_thread
    elif t is ProcessEventType.EXIT:
        out.exit_code = p.exit_code
        out.exit_status = p.exit_status
        out.exit_signal = p.exit_signal
        out.exit_core_dumped = p.exit_core_dumped
        out.exit_thread_only = p.exit_thread_only
    elif t is ProcessEventType.CREDENTIALS:
        if p.old_credentials is not None:
            out.old_credentials.CopyFrom(creds_proto(p.old_credentials))
        if p.new_credentials is not None:
            out.new_credentials.CopyFrom(creds_proto(p.new_credentials))
        out.credentials_cause = p.credentials_cause
        out.old_groups.extend(p.old_groups)
        out.new_groups.extend(p.new_groups)
        out.groups_truncated = p.groups_truncated
    else:
        out.exec_filename = p.exec_filename
        out.exec_command_line.extend(p.exec_command_line)
        out.exec_command_line_truncated = p.exec_command_line_truncated
        out.exec_errno = p.exec_errno
        out.exec_old_pid = p.exec_old_pid
    return out


# The proto enum's numbers -> the types: a dict lookup where Name() and the Enum call were a
# microsecond of a client's decode.
_TYPE_OF_NUMBER: Final = {pb.ProcessEvent.ProcessEventType.Value(t.value): t for t in ProcessEventType}


def from_proto(p: pb.ProcessEvent) -> ProcessPayload:
    """A received ``ProcessEvent``. Only its type's fields are read (the sensor sets no others):
    each field read from the message costs a client about 0.1 µs, and there are twenty."""
    t = _TYPE_OF_NUMBER[p.type]
    if t is ProcessEventType.FORK:
        return ProcessPayload(t, p.fork_child_pid, p.fork_child_id, p.fork_clone_flags, p.fork_thread)
    if t is ProcessEventType.EXIT:
        return ProcessPayload(
            t, exit_code=p.exit_code, exit_status=p.exit_status, exit_signal=p.exit_signal,
            exit_core_dumped=p.exit_core_dumped, exit_thread_only=p.exit_thread_only,
        )  # fmt: skip
    if t is ProcessEventType.EXEC or t is ProcessEventType.UPDATE:
        return ProcessPayload(
            t, exec_filename=p.exec_filename, exec_command_line=list(p.exec_command_line),
            exec_command_line_truncated=p.exec_command_line_truncated, exec_errno=p.exec_errno,
            exec_old_pid=p.exec_old_pid,
        )  # fmt: skip
    return ProcessPayload(
        t,
        old_credentials=creds_from_proto(p.old_credentials) if p.HasField("old_credentials") else None,
        new_credentials=creds_from_proto(p.new_credentials) if p.HasField("new_credentials") else None,
        credentials_cause=p.credentials_cause,
        old_groups=tuple(p.old_groups),
        new_groups=tuple(p.new_groups),
        groups_truncated=p.groups_truncated,
    )


# --- JSON

_TYPE_NAMES: Final = {t: t.value for t in ProcessEventType}  # .value is interpreted (enum.py)


def to_json(p: ProcessPayload) -> str:
    """The ``ProcessEvent`` as JSON, zero values left out as protobuf's printer does."""
    t = p.type
    if t is ProcessEventType.FORK:
        out = (
            f'{{"type":"FORK","fork_child_pid":{p.fork_child_pid},"fork_child_id":{quoted(p.fork_child_id)}'
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
            out += ',"old_credentials":' + creds_json[p.old_credentials]
        if p.new_credentials is not None:
            out += ',"new_credentials":' + creds_json[p.new_credentials]
        out += ',"credentials_cause":' + quoted(p.credentials_cause)
        if p.old_groups:
            out += ',"old_groups":' + dumps(p.old_groups)
        if p.new_groups:
            out += ',"new_groups":' + dumps(p.new_groups)
        if p.groups_truncated:
            out += ',"groups_truncated":true'
    else:
        out = f'{{"type":"{_TYPE_NAMES[t]}","exec_filename":{string_json[p.exec_filename]}'
        if p.exec_command_line:
            out += ',"exec_command_line":' + strings(p.exec_command_line)
        if p.exec_command_line_truncated:
            out += ',"exec_command_line_truncated":true'
        if p.exec_errno:
            out += f',"exec_errno":{p.exec_errno}'
        if p.exec_old_pid:
            out += f',"exec_old_pid":{p.exec_old_pid}'
    return out + "}"


# --- the compact line

MAX_ARG_CHARS = 200
_CRED_FIELDS = ("uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _command(argv: list[str], fallback: str) -> str:
    if not argv:
        return fallback
    parts = [a if len(a) <= MAX_ARG_CHARS else a[:MAX_ARG_CHARS] + "..." for a in argv]
    return " ".join(shlex.quote(p) for p in parts)


def _groups(groups: tuple[int, ...]) -> str:
    return ",".join(map(str, groups)) or "none"


def _creds_change(p: ProcessPayload, old: Creds, new: Creds) -> str:
    changes = [
        f"{name} {getattr(old, name)}->{getattr(new, name)}"
        for name in _CRED_FIELDS
        if getattr(old, name) != getattr(new, name)
    ]
    if p.old_groups != p.new_groups:
        more = "..." if p.groups_truncated else ""
        changes.append(f"groups {_groups(p.old_groups)}{more}->{_groups(p.new_groups)}{more}")
    return " ".join(changes) or "no uid/gid change"


def describe(event: TelemetryEvent, p: ProcessPayload) -> str:
    """``exec pid=... uid=... /bin/ls: ls -l  cwd=/ parent=1``, and the like."""
    by = who(event)
    program = event.filename or event.comm
    if p.type is ProcessEventType.EXEC and p.exec_errno:
        return f"exec-fail {by} {p.exec_filename} {errno_name(p.exec_errno)}"
    if p.type is ProcessEventType.EXEC:
        truncated = " [truncated]" if p.exec_command_line_truncated else ""
        parent = f"  parent={event.parent_pid}" if event.parent_pid else ""
        if event.creator_pid:
            parent += f" (made by {event.creator_pid})"
        cmd = _command(p.exec_command_line, p.exec_filename)
        return f"exec      {by} {p.exec_filename}: {cmd}{truncated}  cwd={event.cwd}{parent}"
    if p.type is ProcessEventType.FORK:
        what = "thread" if p.fork_thread else "child"
        return f"{'clone' if p.fork_thread else 'fork':<9} {by} {program} -> {what} {p.fork_child_pid}"
    if p.type is ProcessEventType.EXIT:
        kind = "exit-thr " if p.exit_thread_only else "exit     "
        if p.exit_signal:
            how = f"signal={_signal_name(p.exit_signal)}" + (" (core dumped)" if p.exit_core_dumped else "")
        else:
            how = f"status={p.exit_status}"
        return f"{kind} {by} {program} {how}"
    if p.type is ProcessEventType.CREDENTIALS and p.old_credentials and p.new_credentials:
        change = _creds_change(p, p.old_credentials, p.new_credentials)
        return f"creds     {by} {program} {change} ({p.credentials_cause})"
    return f"{p.type.value.lower():<9} {by} {program}"


# --- filter fields

_EXEC_FIELDS = {
    "exec_filename": Field(S, "e.payload.exec_filename"),
    "exec_command_line": Field(S, "' '.join(e.payload.exec_command_line)"),
    "exec_command_line_truncated": Field(B, "e.payload.exec_command_line_truncated"),
    "exec_errno": Field(INT, "e.payload.exec_errno"),
    "exec_old_pid": Field(INT, "e.payload.exec_old_pid"),
}

# Only on process events of one type.
FIELDS_BY_TYPE: dict[ProcessEventType, dict[str, Field]] = {
    ProcessEventType.FORK: {
        "fork_child_pid": Field(INT, "e.payload.fork_child_pid"),
        "fork_child_id": Field(S, "e.payload.fork_child_id"),
        "fork_clone_flags": Field(INT, "e.payload.fork_clone_flags"),
        "fork_thread": Field(B, "e.payload.fork_thread"),
    },
    ProcessEventType.EXEC: _EXEC_FIELDS,
    ProcessEventType.UPDATE: _EXEC_FIELDS,
    ProcessEventType.EXIT: {
        "exit_code": Field(INT, "e.payload.exit_code"),
        "exit_status": Field(INT, "e.payload.exit_status"),
        "exit_signal": Field(INT, "e.payload.exit_signal"),
        "exit_core_dumped": Field(B, "e.payload.exit_core_dumped"),
        "exit_thread_only": Field(B, "e.payload.exit_thread_only"),
    },
    ProcessEventType.CREDENTIALS: {
        "credentials_cause": Field(S, "e.payload.credentials_cause"),
        **creds_fields("old_", "e.payload.old_credentials"),
    },
}


def process_fields(event_type: ProcessEventType | None) -> dict[str, Field]:
    """The fields of process events of one type (``None``: every type, so only the common ones)."""
    if event_type is None:
        return PROCESS_COMMON
    return {**PROCESS_COMMON, **FIELDS_BY_TYPE[event_type]}


def types_having(name: str) -> list[ProcessEventType]:
    """The process event types that have this type-specific field (for error messages)."""
    return [t for t, fields in FIELDS_BY_TYPE.items() if name in fields and t is not ProcessEventType.UPDATE]


# --- subscriptions

_PROCESS_TYPE: Final = pb.ProcessEvent.ProcessEventType


def _type_hint(event_type: ProcessEventType | None) -> Callable[[str], str]:
    # UPDATE events are exec events (they have its fields): named as EXEC, so that `sensor trace
    # --event exec`, which asks for both, gets one message, not the same one twice.
    shown = ProcessEventType.EXEC if event_type is ProcessEventType.UPDATE else event_type

    def hint(name: str) -> str:
        owners = types_having(name)
        if owners:
            where = " or ".join(t.value for t in owners)
            here = "every type" if shown is None else f"{shown.value} events"
            return f": it is only on {where} events, and this filter is for {here}"
        return ""

    return hint


def compile_filters(filters: Sequence[Any], where: str, errors: list[SubscriptionError]) -> KindRules:
    """``ProcessEventFilter``s: each type's expression is checked against that type's fields."""
    rules: Rules = {}
    for i, f in enumerate(filters):
        name = _PROCESS_TYPE.Name(f.type)
        event_type = None if f.type == _PROCESS_TYPE.PROCESS_EVENT_TYPE_UNKNOWN else ProcessEventType(name)
        predicate = compile_rule(
            f.filter_expression, process_fields(event_type), f"{where}[{i}]", errors, _type_hint(event_type)
        )
        for t in ProcessEventType if event_type is None else (event_type,):
            rules.setdefault(t.value, []).append(predicate)
    return KindRules(rules)


_KIND_OF_TYPE: Final = {
    ProcessEventType.FORK: EventKind.FORK,
    ProcessEventType.EXEC: EventKind.EXEC,
    ProcessEventType.UPDATE: EventKind.EXEC,
    ProcessEventType.EXIT: EventKind.EXIT,
    ProcessEventType.CREDENTIALS: EventKind.CREDENTIALS,
}


KIND: Final = PayloadKind(
    payload_type=ProcessPayload,
    proto_field="process",
    types={t.value: kind for t, kind in _KIND_OF_TYPE.items()},
    to_proto=to_proto,
    from_proto=from_proto,
    to_json=to_json,
    describe=describe,
    fields={
        EventKind.FORK: process_fields(ProcessEventType.FORK),
        EventKind.EXEC: process_fields(ProcessEventType.EXEC),
        EventKind.EXIT: process_fields(ProcessEventType.EXIT),
        EventKind.CREDENTIALS: process_fields(ProcessEventType.CREDENTIALS),
    },
    filter_field="process_events",
    compile_filters=compile_filters,
    records=RECORD_KINDS,
    payload_of=payload_of,
    needs_hooks={EventKind.CREDENTIALS: Hook.CREDENTIALS},
)

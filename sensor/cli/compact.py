"""The compact, one-line-per-event form `sensor trace` prints for people."""

from __future__ import annotations

import errno
import shlex
import signal
import time

from sensor.kernel.records import Creds
from sensor.telemetry.events import (
    ContainerPayload,
    LostPayload,
    ProcessEventType,
    ProcessPayload,
    TelemetryEvent,
    TickerPayload,
)

MAX_ARG_CHARS = 200
_CRED_FIELDS = ("uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _errno_name(number: int) -> str:
    return errno.errorcode.get(number, str(number))


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


def _container_label(event: TelemetryEvent) -> str:
    """The container's name, or its short id until the runtime names it."""
    return event.container_name or event.container_id[:12]


def _describe_container(event: TelemetryEvent, c: ContainerPayload) -> str:
    parts = [f"container {c.type:<9} {_container_label(event)}", f"id={event.container_id[:12]}"]
    if c.image_name:
        parts.append(f"image={c.image_name}")
    if c.type == "EXITED":
        parts.append(f"exit={c.exit_code}")
    if c.host_pid and c.type != "EXITED":
        parts.append(f"pid={c.host_pid}")
    if c.runtime:
        parts.append(f"runtime={c.runtime}")
    if c.pod_uid:
        parts.append(f"pod={c.pod_uid}")
    if event.snapshot:
        parts.append("(existing)")
    return " ".join(parts)


class CompactFormatter:
    """Formats events as ``TIME KIND pid=N ... details``, with wall-clock times."""

    def __init__(self) -> None:
        # bpf_ktime_get_ns() is CLOCK_MONOTONIC: shift it to wall time once.
        self._wall_offset_ns = time.time_ns() - time.monotonic_ns()

    def _time(self, monotime_ns: int) -> str:
        wall_ns = monotime_ns + self._wall_offset_ns
        return (
            time.strftime("%H:%M:%S", time.localtime(wall_ns // 1_000_000_000))
            + f".{wall_ns % 1_000_000_000 // 1000:06d}"
        )

    def format(self, event: TelemetryEvent) -> str:
        """One line, no trailing newline."""
        stamp = self._time(event.sensor_monotime_nanos)
        payload = event.payload
        if isinstance(payload, LostPayload):
            where = f"{payload.stage} ({payload.hook})" if payload.hook else payload.stage
            return f"{stamp} lost      {payload.lost} records at {where}"
        if isinstance(payload, ContainerPayload):
            return f"{stamp} {_describe_container(event, payload)}"
        if isinstance(payload, TickerPayload):
            return f"{stamp} ticker    sensor {event.sensor_id[:12]} alive"
        uid = event.credentials.uid if event.credentials is not None else 0
        who = f"pid={event.process_tgid:<7} uid={uid:<5}"
        if event.process_pid != event.process_tgid:
            who += f" tid={event.process_pid}"
        if event.container_id:
            who += f" [{_container_label(event)}]"
        return f"{stamp} {self._describe(event, payload, who)}"

    def _describe(self, event: TelemetryEvent, p: ProcessPayload, who: str) -> str:
        program = event.filename or event.comm
        if p.type is ProcessEventType.EXEC and p.exec_errno:
            return f"exec-fail {who} {p.exec_filename} {_errno_name(p.exec_errno)}"
        if p.type is ProcessEventType.EXEC:
            truncated = " [truncated]" if p.exec_command_line_truncated else ""
            parent = f"  parent={event.parent_pid}" if event.parent_pid else ""
            if event.creator_pid:
                parent += f" (made by {event.creator_pid})"
            cmd = _command(p.exec_command_line, p.exec_filename)
            return f"exec      {who} {p.exec_filename}: {cmd}{truncated}  cwd={event.cwd}{parent}"
        if p.type is ProcessEventType.FORK:
            what = "thread" if p.fork_thread else "child"
            return f"{'clone' if p.fork_thread else 'fork':<9} {who} {program} -> {what} {p.fork_child_pid}"
        if p.type is ProcessEventType.EXIT:
            kind = "exit-thr " if p.exit_thread_only else "exit     "
            if p.exit_signal:
                how = f"signal={_signal_name(p.exit_signal)}" + (" (core dumped)" if p.exit_core_dumped else "")
            else:
                how = f"status={p.exit_status}"
            return f"{kind} {who} {program} {how}"
        if p.type is ProcessEventType.CREDENTIALS and p.old_credentials and p.new_credentials:
            change = _creds_change(p, p.old_credentials, p.new_credentials)
            return f"creds     {who} {program} {change} ({p.credentials_cause})"
        return f"{p.type.value.lower():<9} {who} {program}"

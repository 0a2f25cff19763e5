"""What the running kernel offers, and which backend each hook uses.

Probes ask the kernel itself (tracefs entries, BTF, a test map or program through the bpf()
syscall) rather than trusting the version number.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from sensor.kernel.btf import VMLINUX_BTF, Btf, BtfError
from sensor.kernel.records import Hook
from sensor.kernel.syscalls import BPF_PROG_LOAD, MapSpec, bpf, create_map

TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))

_BPF_MAP_TYPE_RINGBUF = 27
_BPF_PROG_TYPE_RAW_TRACEPOINT = 17
_BPF_FUNC_GET_CURRENT_TASK_BTF = 158


class Backend(str, Enum):
    """How a hook is attached."""

    RAW_TRACEPOINT = "raw_tracepoint"
    TRACEPOINT = "tracepoint"
    KPROBE = "kprobe"
    SYSCALL_TRACEPOINTS = "syscall_tracepoints"
    RING_BUFFER = "ring_buffer"
    PERF_BUFFER = "perf_buffer"
    BTF_LOADS = "btf_loads"
    PROBE_READS = "probe_reads"
    NONE = "none"


class KernelFeatureError(Exception):
    """A feature the sensor cannot run without is missing."""


@dataclass(frozen=True, slots=True)
class HookChoice:
    """The backend picked for one hook, and why."""

    hook: str
    backend: Backend
    reason: str
    required: bool


@dataclass(slots=True)
class KernelFeatures:
    """The kernel's answers to each probe."""

    release: str
    btf: bool
    btf_error: str
    tracefs: Path | None
    tracepoints: dict[str, bool] = field(default_factory=dict)
    kprobes: bool = False
    exit_group_dead_arg: bool = False  # sched_process_exit passes group_dead (6.16+)
    ring_buffer: bool = False
    task_btf: bool = False

    def has_tracepoint(self, name: str) -> bool:
        """Whether ``category:name`` exists in tracefs."""
        return self.tracepoints.get(name, False)


FORK_TRACEPOINT = "task:task_newtask"
EXEC_TRACEPOINT = "sched:sched_process_exec"
EXIT_TRACEPOINT = "sched:sched_process_exit"
CGROUP_TRACEPOINTS = ("cgroup:cgroup_mkdir", "cgroup:cgroup_rmdir", "cgroup:cgroup_attach_task")
EXEC_SYSCALLS = ("execve", "execveat")
CREDS_SYSCALLS = (
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "capset",
)
# The file hooks: one raw tracepoint for every syscall's exit (bpf/file.bpf.c says why).
SYSCALL_EXIT_TRACEPOINT = "raw_syscalls:sys_exit"
# The network hooks: the same, and TCP's state changes (connections' ends, non-blocking connects' outcomes).
SOCK_STATE_TRACEPOINT = "sock:inet_sock_set_state"
NETWORK_HOOKS = (Hook.NET_CONNECT, Hook.NET_ACCEPT, Hook.NET_BIND, Hook.NET_LISTEN, Hook.NET_CLOSE, Hook.NET_DNS)
PROBED_TRACEPOINTS = (
    FORK_TRACEPOINT,
    EXEC_TRACEPOINT,
    EXIT_TRACEPOINT,
    *CGROUP_TRACEPOINTS,
    SYSCALL_EXIT_TRACEPOINT,
    SOCK_STATE_TRACEPOINT,
    *(f"syscalls:sys_{edge}_{name}" for name in EXEC_SYSCALLS + CREDS_SYSCALLS for edge in ("enter", "exit")),
)


def find_tracefs() -> Path | None:
    """The mounted tracefs, if any."""
    # os.path, not Path: it answers False, rather than raising, where a non-root user may not look.
    return next((root for root in TRACEFS_ROOTS if os.path.isdir(root / "events")), None)


def probe_ring_buffer() -> bool:
    """Whether the kernel creates a BPF ring buffer map (5.8+)."""
    try:
        fd = create_map(MapSpec("", _BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0))
    except OSError:
        return False
    os.close(fd)
    return True


def probe_task_btf() -> bool:
    """Whether a raw tracepoint program may call bpf_get_current_task_btf (5.11+)."""
    call = struct.pack("<BBhi", 0x85, 0, 0, _BPF_FUNC_GET_CURRENT_TASK_BTF)
    insns = call + bytes.fromhex("b7000000000000009500000000000000")  # ...; r0 = 0; exit
    insns_buf = ctypes.create_string_buffer(insns, len(insns))
    license = ctypes.create_string_buffer(b"GPL")
    attr = struct.pack(
        "<IIQQ", _BPF_PROG_TYPE_RAW_TRACEPOINT, 3, ctypes.addressof(insns_buf), ctypes.addressof(license)
    ).ljust(128, b"\0")
    try:
        prog_fd = bpf(BPF_PROG_LOAD, attr)
    except OSError:
        return False
    os.close(prog_fd)
    return True


def _tracepoint_has_field(tracefs: Path, tracepoint: str, name: str) -> bool:
    category, event = tracepoint.split(":")
    try:
        format_text = (tracefs / "events" / category / event / "format").read_text()
    except OSError:
        return False
    return f" {name};" in format_text


def probe_kernel(btf: Btf | None = None) -> KernelFeatures:
    """Ask the running kernel what it offers (``btf``: the already loaded BTF, if any)."""
    btf_error = ""
    if btf is None:
        try:
            btf = Btf.load(VMLINUX_BTF)
        except BtfError as error:
            btf_error = str(error)
    tracefs = find_tracefs()
    features = KernelFeatures(release=platform.release(), btf=btf is not None, btf_error=btf_error, tracefs=tracefs)
    for name in PROBED_TRACEPOINTS:
        category, event = name.split(":")
        features.tracepoints[name] = tracefs is not None and os.path.exists(
            tracefs / "events" / category / event / "id"
        )
    features.kprobes = os.path.exists("/sys/bus/event_source/devices/kprobe") or (
        tracefs is not None and os.path.exists(tracefs / "kprobe_events")
    )
    features.exit_group_dead_arg = tracefs is not None and _tracepoint_has_field(tracefs, EXIT_TRACEPOINT, "group_dead")
    features.ring_buffer = probe_ring_buffer()
    features.task_btf = features.btf and probe_task_btf()
    return features


def choose_backends(
    features: KernelFeatures,
    transport: Backend | None = None,
    task_reads: Backend | None = None,
    files: bool = True,
    network: bool = True,
) -> list[HookChoice]:
    """One backend per hook (and for the transport and task reads), with the reason; NONE where nothing fits.

    ``files``, ``network``: attach the file hooks, the network hooks (every system call's exit runs
    each of them: left out when nobody wants their events).
    """
    choices = [
        _raw_tracepoint_choice(features, Hook.FORK.label, FORK_TRACEPOINT),
        _raw_tracepoint_choice(features, Hook.EXEC.label, EXEC_TRACEPOINT),
        _exit_choice(features),
        _syscalls_choice(features, Hook.EXEC_FAILED.label, EXEC_SYSCALLS, required=False),
        _creds_choice(features),
        _cgroups_choice(features),
        *_file_choices(features, files),
        *_network_choices(features, network),
        _transport_choice(features, transport),
        _task_reads_choice(features, task_reads),
    ]
    return choices


def _raw_tracepoint_choice(features: KernelFeatures, hook: str, tracepoint: str) -> HookChoice:
    if not features.has_tracepoint(tracepoint):
        why = "tracefs is not mounted" if features.tracefs is None else f"tracepoint {tracepoint} not found"
        return HookChoice(hook, Backend.NONE, why, required=True)
    return HookChoice(hook, Backend.RAW_TRACEPOINT, f"{tracepoint} (raw: task_struct access)", required=True)


def _exit_choice(features: KernelFeatures) -> HookChoice:
    choice = _raw_tracepoint_choice(features, Hook.EXIT.label, EXIT_TRACEPOINT)
    if choice.backend is Backend.NONE:
        return choice
    how = "group_dead from the tracepoint" if features.exit_group_dead_arg else "a process's end claimed once"
    reason = f"{EXIT_TRACEPOINT} (raw: task_struct access; {how})"
    return HookChoice(Hook.EXIT.label, choice.backend, reason, required=True)


def _syscalls_choice(features: KernelFeatures, hook: str, syscalls: tuple[str, ...], required: bool) -> HookChoice:
    missing = [
        name
        for name in syscalls
        for edge in ("enter", "exit")
        if not features.has_tracepoint(f"syscalls:sys_{edge}_{name}")
    ]
    if missing:
        return HookChoice(
            hook,
            Backend.NONE,
            f"syscall tracepoints missing for {', '.join(sorted(set(missing)))} (CONFIG_FTRACE_SYSCALLS)",
            required,
        )
    return HookChoice(hook, Backend.SYSCALL_TRACEPOINTS, f"sys_enter/sys_exit of {', '.join(syscalls)}", required)


def _creds_choice(features: KernelFeatures) -> HookChoice:
    if features.kprobes:
        reason = "kprobe on commit_creds: every change"
        return HookChoice(Hook.CREDENTIALS.label, Backend.KPROBE, reason, required=False)
    choice = _syscalls_choice(features, Hook.CREDENTIALS.label, CREDS_SYSCALLS, required=False)
    if choice.backend is Backend.NONE:
        return choice
    return HookChoice(
        Hook.CREDENTIALS.label,
        Backend.SYSCALL_TRACEPOINTS,
        "no kprobes in this kernel: set*id/setgroups/capset syscall exits and setuid execs",
        required=False,
    )


def _cgroups_choice(features: KernelFeatures) -> HookChoice:
    missing = [name for name in CGROUP_TRACEPOINTS if not features.has_tracepoint(name)]
    if missing:
        return HookChoice(
            Hook.CGROUPS.label,
            Backend.NONE,
            f"tracepoints missing: {', '.join(missing)}; container lifecycle comes from the runtimes only",
            required=False,
        )
    reason = "cgroup_mkdir, cgroup_rmdir, cgroup_attach_task"
    return HookChoice(Hook.CGROUPS.label, Backend.TRACEPOINT, reason, required=False)


def _file_choices(features: KernelFeatures, wanted: bool) -> list[HookChoice]:
    """Opens, and changes to the tree: both or neither, since one program serves them."""
    hooks = (Hook.FILE_OPEN, Hook.FILE_CHANGE)
    if not wanted:
        reason = "not attached: file events not wanted (sensor run --no-file-events, or trace --event without file)"
        return [HookChoice(hook.label, Backend.NONE, reason, required=False) for hook in hooks]
    choice = _raw_tracepoint_choice(features, Hook.FILE_OPEN.label, SYSCALL_EXIT_TRACEPOINT)
    if choice.backend is Backend.NONE:
        return [HookChoice(hook.label, Backend.NONE, choice.reason, required=False) for hook in hooks]
    reason = f"{SYSCALL_EXIT_TRACEPOINT} (raw: one program for every file syscall, arguments from its saved registers)"
    return [HookChoice(hook.label, Backend.RAW_TRACEPOINT, reason, required=False) for hook in hooks]


def _network_choices(features: KernelFeatures, wanted: bool) -> list[HookChoice]:
    """All the network hooks or none: one program serves the syscalls, and a close needs its connect's owner."""
    if not wanted:
        reason = "not attached: network events not wanted (sensor run --no-network-events, or --event without network)"
        return [HookChoice(hook.label, Backend.NONE, reason, required=False) for hook in NETWORK_HOOKS]
    for tracepoint in (SYSCALL_EXIT_TRACEPOINT, SOCK_STATE_TRACEPOINT):
        choice = _raw_tracepoint_choice(features, Hook.NET_CONNECT.label, tracepoint)
        if choice.backend is Backend.NONE:
            return [HookChoice(hook.label, Backend.NONE, choice.reason, required=False) for hook in NETWORK_HOOKS]
    syscalls = f"{SYSCALL_EXIT_TRACEPOINT} (raw: one program for every network syscall, arguments from saved registers)"
    close = f"{SOCK_STATE_TRACEPOINT} (raw: TCP's move to CLOSE, attributed to the socket's owner)"
    return [
        HookChoice(hook.label, Backend.RAW_TRACEPOINT, close if hook is Hook.NET_CLOSE else syscalls, required=False)
        for hook in NETWORK_HOOKS
    ]


def _transport_choice(features: KernelFeatures, wanted: Backend | None) -> HookChoice:
    if wanted is Backend.PERF_BUFFER:
        return HookChoice("transport", Backend.PERF_BUFFER, "perf buffer, as asked", required=True)
    if features.ring_buffer:
        return HookChoice("transport", Backend.RING_BUFFER, "BPF ring buffer (5.8+)", required=True)
    if wanted is Backend.RING_BUFFER:
        return HookChoice("transport", Backend.NONE, "BPF ring buffer asked for, but unsupported", required=True)
    return HookChoice("transport", Backend.PERF_BUFFER, "no BPF ring buffer in this kernel", required=True)


def _task_reads_choice(features: KernelFeatures, wanted: Backend | None) -> HookChoice:
    if wanted is Backend.PROBE_READS:
        reason = "a bpf_probe_read_kernel call per member, as asked"
        return HookChoice("task_reads", Backend.PROBE_READS, reason, required=False)
    if features.task_btf:
        reason = "bpf_get_current_task_btf (5.11+): a plain load per member"
        return HookChoice("task_reads", Backend.BTF_LOADS, reason, required=False)
    if wanted is Backend.BTF_LOADS:
        reason = "BTF loads asked for, but no bpf_get_current_task_btf"
        return HookChoice("task_reads", Backend.NONE, reason, required=True)
    reason = "no bpf_get_current_task_btf: a bpf_probe_read_kernel call per member"
    return HookChoice("task_reads", Backend.PROBE_READS, reason, required=False)


def check_required(choices: list[HookChoice], features: KernelFeatures) -> None:
    """Raise KernelFeatureError naming each required hook that cannot be attached."""
    problems = []
    if not features.btf:
        problems.append(features.btf_error)
    problems += [f"{c.hook}: {c.reason}" for c in choices if c.required and c.backend is Backend.NONE]
    if features.tracefs is None:
        problems.append("mount it with: mount -t tracefs nodev /sys/kernel/tracing")
    if problems:
        raise KernelFeatureError("cannot attach the process hooks: " + "; ".join(problems))

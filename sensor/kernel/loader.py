"""Load the BPF programs for this kernel, attach them, and read their counters.

The programs are compiled by bcc in a child process and cached (sensor/kernel/compiler.py); this
module creates their maps, loads and attaches them through the bpf() system call, so the daemon
never maps LLVM.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import platform
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from sensor.kernel.bpf_stats import ProgInfoLayout, ProgramRunStats, program_run_stats
from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.cgroupfs import UNIFIED_HIERARCHY_ID, CgroupHierarchy
from sensor.kernel.compiler import DEFAULT_CACHE_DIR, CompileRequest, ProgramSpec, compiled_object, relocate_maps
from sensor.kernel.features import (
    EXEC_TRACEPOINT,
    EXIT_TRACEPOINT,
    FORK_TRACEPOINT,
    SOCK_STATE_TRACEPOINT,
    SYSCALL_EXIT_TRACEPOINT,
    Backend,
    HookChoice,
    KernelFeatureError,
    find_tracefs,
)
from sensor.kernel.offsets import (
    NETWORK_OFFSETS,
    SYSCALL_OFFSETS,
    resolve_group,
    resolve_net_namespace,
    resolve_offsets,
)
from sensor.kernel.records import READ_PREFIX_MAX, Counter, Hook, ReadOpens
from sensor.kernel.ringbuf import PerfBufferReader, RecordReader, RingBufferReader
from sensor.kernel.syscalls import (
    ProgType,
    attach_perf_event,
    cpu_list,
    create_map,
    load_program,
    map_delete,
    map_lookup,
    map_spec,
    map_update,
    open_kprobe_event,
    open_raw_tracepoint,
    open_tracepoint_event,
)

BPF_DIR = Path(__file__).resolve().parents[2] / "bpf"
# Compiled as one unit, in this order: the later files use process.bpf.c's maps and helpers, and
# file.bpf.c and network.bpf.c syscall.bpf.c's. Each file with the hooks any of which needs it
# (none: always compiled).
PROGRAMS: tuple[tuple[str, tuple[Hook, ...]], ...] = (
    ("process.bpf.c", ()),
    ("cgroup.bpf.c", (Hook.CGROUPS,)),
    ("syscall.bpf.c", (Hook.FILE_OPEN, Hook.NET_CONNECT)),
    ("file.bpf.c", (Hook.FILE_OPEN,)),
    ("network.bpf.c", (Hook.NET_CONNECT,)),
)
DEFAULT_BUFFER_BYTES = 16 * 1024 * 1024
MAX_READ_PREFIXES = 1024  # read_prefixes' size in bpf/file.bpf.c
MAX_BUFFER_BYTES = 1 << 31  # a map's size is a 32-bit count: the largest power of two it holds
KPROBE_PMU_TYPE = Path("/sys/bus/event_source/devices/kprobe/type")
POSSIBLE_CPUS = "/sys/devices/system/cpu/possible"
ONLINE_CPUS = "/sys/devices/system/cpu/online"

# Functions attached to something other than their own name (bcc's TRACEPOINT_PROBEs name theirs).
_RAW_TRACEPOINTS = {
    "on_task_newtask": FORK_TRACEPOINT,
    "on_sched_process_exec": EXEC_TRACEPOINT,
    "on_sched_process_exit": EXIT_TRACEPOINT,
}
_CREDS_KPROBE = ("on_commit_creds", "commit_creds")
_SYSCALL_EXIT = SYSCALL_EXIT_TRACEPOINT.split(":")[1]
_FILE_PROGRAMS = {"on_sys_exit": _SYSCALL_EXIT}  # every file syscall
_NETWORK_PROGRAMS = {"on_net_sys_exit": _SYSCALL_EXIT, "on_inet_sock_set_state": SOCK_STATE_TRACEPOINT.split(":")[1]}


@dataclass(frozen=True, slots=True)
class HookCounters:
    """Records one hook sent, lost because the buffer was full, and left out by an in-kernel filter."""

    sent: int
    lost: int
    filtered: int = 0


def _buffer_pages(buffer_bytes: int) -> int:
    pages = max(1, buffer_bytes // mmap.PAGESIZE)
    if pages & (pages - 1):
        raise ValueError(f"buffer size {buffer_bytes} is not a power of two times the page size")
    if buffer_bytes > MAX_BUFFER_BYTES:
        raise ValueError(f"buffer size {buffer_bytes} is over the kernel's largest, {MAX_BUFFER_BYTES}")
    return pages


def compile_request(
    choices: list[HookChoice], btf: Btf, hierarchy: CgroupHierarchy | None, exit_group_dead_arg: bool = True
) -> CompileRequest:
    """The source, with this kernel's offsets and the chosen backends defined, and its attach points.

    The buffer's size is not in it: the loader sets it when it creates the map, so one compiled
    object serves every size. Raises KernelFeatureError when the BTF lacks an offset.
    """
    backends = {c.hook: c.backend for c in choices}
    try:
        defines: dict[str, int] = dict(resolve_offsets(btf))
    except BtfError as error:
        raise KernelFeatureError(str(error)) from None
    if backends["transport"] is Backend.RING_BUFFER:
        defines["USE_RINGBUF"] = 1
    if backends.get(Hook.EXEC_FAILED.label) is Backend.SYSCALL_TRACEPOINTS:
        defines["EXEC_SYSCALLS"] = 1
    attach = {name: (ProgType.RAW_TRACEPOINT, tp.split(":")[1]) for name, tp in _RAW_TRACEPOINTS.items()}
    if backends.get(Hook.CREDENTIALS.label) is Backend.KPROBE:
        defines["CREDS_KPROBE"] = 1
        attach[_CREDS_KPROBE[0]] = (ProgType.KPROBE, _CREDS_KPROBE[1])
    elif backends.get(Hook.CREDENTIALS.label) is Backend.SYSCALL_TRACEPOINTS:
        defines["CREDS_SYSCALLS"] = 1
    if exit_group_dead_arg:
        defines["EXIT_GROUP_DEAD_ARG"] = 1
    chosen = {hook for hook in Hook if backends.get(hook.label, Backend.NONE) is not Backend.NONE}
    try:
        if {Hook.FILE_OPEN, Hook.NET_CONNECT} & chosen:
            defines.update(resolve_group(btf, SYSCALL_OFFSETS))
        if Hook.FILE_OPEN in chosen:
            attach.update({name: (ProgType.RAW_TRACEPOINT, tp) for name, tp in _FILE_PROGRAMS.items()})
        if Hook.NET_CONNECT in chosen:
            defines.update(resolve_group(btf, NETWORK_OFFSETS))
            defines.update(resolve_net_namespace(btf))
            attach.update({name: (ProgType.RAW_TRACEPOINT, tp) for name, tp in _NETWORK_PROGRAMS.items()})
    except BtfError as error:
        raise KernelFeatureError(f"file or network events: {error}") from None
    if backends.get("task_reads") is Backend.BTF_LOADS:
        defines["TASK_BTF"] = 1
    defines["CGROUP_HIERARCHY_ID"] = hierarchy.hierarchy_id if hierarchy else UNIFIED_HIERARCHY_ID
    if hierarchy is not None and hierarchy.is_v1:
        defines["CGROUP_V1_SUBSYS"] = hierarchy.subsys_index
    source = "".join(f"#define {k} {v}\n" for k, v in defines.items())
    for name, needs in PROGRAMS:
        if not needs or chosen & set(needs):
            source += (BPF_DIR / name).read_text()
    return CompileRequest(source, (f"-I{BPF_DIR}", "-Wno-unused-function"), attach)


def _kernel_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel (old kernels check it when loading a kprobe)."""
    found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", platform.release())
    if found is None:
        return 0
    major, minor, patch = (int(part or 0) for part in found.groups())
    return (major << 16) | (minor << 8) | min(patch, 255)


class LoadedProbes:
    """The attached programs, their record reader and counters; ``close()`` detaches everything.

    ``exit_group_dead_arg``: sched_process_exit passes group_dead (KernelFeatures); else the exit
    program finds the process's end itself.
    """

    def __init__(
        self,
        choices: list[HookChoice],
        btf: Btf | None = None,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        ignore_tgid: int | None = None,
        hierarchy: CgroupHierarchy | None = None,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        exit_group_dead_arg: bool = True,
    ) -> None:
        pages = _buffer_pages(buffer_bytes)  # a bad size is refused before anything is compiled
        try:
            btf = btf or Btf.load()
        except BtfError as error:
            raise KernelFeatureError(str(error)) from None
        self._prog_info = ProgInfoLayout.from_btf(btf)
        obj = compiled_object(compile_request(choices, btf, hierarchy, exit_group_dead_arg), cache_dir)
        ring_buffer = {c.hook: c.backend for c in choices}["transport"] is Backend.RING_BUFFER
        self._fds: list[int] = []  # maps, programs, links and perf events: closing them detaches
        self._programs: dict[str, int] = {}
        self.reader: RecordReader
        try:
            records_index = obj.map_index("records")
            map_fds = []
            for index, spec in enumerate(obj.maps):
                if ring_buffer and index == records_index:
                    spec = replace(spec, max_entries=pages * mmap.PAGESIZE)
                map_fds.append(self._keep(create_map(spec)))
            self._counters_fd = map_fds[obj.map_index("counters")]
            self._file_settings_fd = map_fds[obj.map_index("file_settings")] if "file_settings" in obj.map_names else -1
            self._read_prefixes_fd = map_fds[obj.map_index("read_prefixes")] if "read_prefixes" in obj.map_names else -1
            self._read_prefixes: frozenset[bytes] = frozenset()
            tgid = os.getpid() if ignore_tgid is None else ignore_tgid
            map_update(map_fds[obj.map_index("sensor_tgid")], struct.pack("<I", 0), struct.pack("<I", tgid))
            records_fd = self._records_fd = map_fds[records_index]
            # The reader first: a perf buffer's per-CPU events must be in place before any program runs.
            if ring_buffer:
                self.reader = RingBufferReader(records_fd, pages * mmap.PAGESIZE)
            else:
                per_cpu = max(1, pages // (os.cpu_count() or 1))
                self.reader = PerfBufferReader(records_fd, cpu_list(ONLINE_CPUS), 1 << (per_cpu.bit_length() - 1))
            # Verified side by side: the file program alone takes the verifier about a second.
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                fds = list(pool.map(lambda program: self._load(program, map_fds), obj.programs))
            self._programs = {program.name: fd for program, fd in zip(obj.programs, fds)}
            for program in obj.programs:
                self._attach(program, self._programs[program.name])
        except OSError as error:
            self.close()
            raise KernelFeatureError(f"loading the BPF programs: {error.strerror or error}") from None
        except BaseException:
            self.close()
            raise
        self._possible_cpus = len(cpu_list(POSSIBLE_CPUS))

    def _keep(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    def _load(self, program: ProgramSpec, map_fds: list[int]) -> int:
        insns = relocate_maps(program.insns, map_fds.__getitem__, program.name)
        try:
            return self._keep(load_program(program.prog_type, program.name, insns, _kernel_version_code()))
        except OSError as error:
            raise OSError(error.errno, f"{program.name}: {error.strerror}") from None

    def _attach(self, program: ProgramSpec, prog_fd: int) -> None:
        try:
            if program.prog_type is ProgType.RAW_TRACEPOINT:
                self._keep(open_raw_tracepoint(program.attach_to, prog_fd))
                return
            if program.prog_type is ProgType.TRACEPOINT:
                for tracepoint in program.attach_to.split(","):
                    event_fd = self._keep(open_tracepoint_event(_tracepoint_id(tracepoint)))
                    attach_perf_event(event_fd, prog_fd)
                return
            event_fd = self._keep(open_kprobe_event(int(KPROBE_PMU_TYPE.read_text()), program.attach_to))
            attach_perf_event(event_fd, prog_fd)
        except OSError as error:
            raise OSError(error.errno, f"attaching {program.name} to {program.attach_to}: {error.strerror}") from None

    @property
    def buffer_bytes(self) -> int:
        """The ring buffer's size as the kernel holds it; 0 for per-CPU perf buffers."""
        return map_spec(self._records_fd).max_entries if isinstance(self.reader, RingBufferReader) else 0

    def counters(self) -> dict[Hook, HookCounters]:
        """Sent, lost and filtered records per hook, summed over CPUs."""
        out = {}
        for hook in Hook:
            sent, lost, filtered = (self._counter_total(hook * len(Counter) + counter) for counter in Counter)
            out[hook] = HookCounters(sent=sent, lost=lost, filtered=filtered)
        return out

    @property
    def has_file_hooks(self) -> bool:
        """Whether the file programs are loaded."""
        return self._file_settings_fd >= 0

    def set_read_opens(self, prefixes: frozenset[bytes]) -> None:
        """Which read-only opens the kernel sends: those under ``prefixes`` (b"/": all), none when empty.

        A prefix longer than the trie compares is cut, and more prefixes than it holds send every
        read: the kernel may send more than asked, never less, and user space applies each
        subscriber's own prefixes again.
        """
        if not self.has_file_hooks:
            return
        kept = frozenset(prefix[:READ_PREFIX_MAX] for prefix in prefixes)
        if b"/" in kept or len(kept) > MAX_READ_PREFIXES:
            mode = ReadOpens.ALL
        else:
            mode = ReadOpens.BY_PREFIX if kept else ReadOpens.NONE
            for prefix in self._read_prefixes - kept:
                map_delete(self._read_prefixes_fd, _prefix_key(prefix))
            for prefix in kept - self._read_prefixes:
                map_update(self._read_prefixes_fd, _prefix_key(prefix), b"\x01")
            self._read_prefixes = kept
        map_update(self._file_settings_fd, struct.pack("<I", 0), struct.pack("<I", mode))

    def _counter_total(self, slot: int) -> int:
        values = map_lookup(self._counters_fd, struct.pack("<I", slot), 8 * self._possible_cpus)
        return sum(struct.unpack(f"<{self._possible_cpus}Q", values))

    def program_stats(self) -> list[ProgramRunStats]:
        """Each loaded program's run time and count (zeros unless ``kernel.bpf_stats_enabled``)."""
        if self._prog_info is None:
            return []
        return [program_run_stats(name, fd, self._prog_info) for name, fd in self._programs.items()]

    def close(self) -> None:
        """Detach every program and free the maps."""
        with contextlib.suppress(AttributeError):
            self.reader.close()
        for fd in reversed(self._fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


def _prefix_key(prefix: bytes) -> bytes:
    """``struct read_prefix_key`` for a prefix: its length in bits, then its bytes."""
    return struct.pack("<I", len(prefix) * 8) + prefix.ljust(READ_PREFIX_MAX, b"\0")


def _tracepoint_id(tracepoint: str) -> int:
    tracefs = find_tracefs()
    if tracefs is None:
        raise OSError(2, "tracefs is not mounted")
    category, event = tracepoint.split(":")
    return int((tracefs / "events" / category / event / "id").read_text())

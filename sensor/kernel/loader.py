"""Compile the BPF programs with bcc for this kernel, attach them, and read their counters."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensor.kernel.bpf_stats import ProgInfoLayout, ProgramRunStats, program_run_stats
from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.cgroupfs import UNIFIED_HIERARCHY_ID, CgroupHierarchy
from sensor.kernel.features import (
    EXEC_TRACEPOINT,
    EXIT_TRACEPOINT,
    FORK_TRACEPOINT,
    Backend,
    HookChoice,
    KernelFeatureError,
)
from sensor.kernel.offsets import resolve_offsets
from sensor.kernel.records import Hook
from sensor.kernel.ringbuf import PerfBufferReader, RecordReader, RingBufferReader

BPF_DIR = Path(__file__).resolve().parents[2] / "bpf"
# Compiled as one unit, in this order: cgroup.bpf.c uses process.bpf.c's maps and helpers.
PROGRAMS = ("process.bpf.c", "cgroup.bpf.c")
DEFAULT_BUFFER_BYTES = 16 * 1024 * 1024

_RAW_TRACEPOINTS = {
    "fork": (FORK_TRACEPOINT, "on_task_newtask"),
    "exec": (EXEC_TRACEPOINT, "on_sched_process_exec"),
    "exit": (EXIT_TRACEPOINT, "on_sched_process_exit"),
}


@dataclass(frozen=True, slots=True)
class HookCounters:
    """Records one hook sent, and lost because the buffer was full."""

    sent: int
    lost: int


def _import_bcc() -> Any:
    try:
        import bcc
    except ImportError:
        raise KernelFeatureError(
            "the bcc Python module is missing: run scripts/bootstrap (it installs Debian's python3-bpfcc "
            "and links it into the virtualenv)"
        ) from None
    return bcc


def _return_freed_heap() -> None:
    """Give the heap clang and LLVM freed after compiling back to the system (about 25 MiB of RSS).

    glibc keeps freed memory in its arenas; malloc_trim hands it back. Other C libraries lack it.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _buffer_pages(buffer_bytes: int) -> int:
    pages = max(1, buffer_bytes // mmap.PAGESIZE)
    if pages & (pages - 1):
        raise ValueError(f"buffer size {buffer_bytes} is not a power of two times the page size")
    return pages


class LoadedProbes:
    """The attached programs, their record reader and counters; ``close()`` detaches everything."""

    def __init__(
        self,
        choices: list[HookChoice],
        btf: Btf | None = None,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        ignore_tgid: int | None = None,
        hierarchy: CgroupHierarchy | None = None,
    ) -> None:
        bcc = _import_bcc()
        backends = {c.hook: c.backend for c in choices}
        try:
            btf = btf or Btf.load()
            offsets = resolve_offsets(btf)
        except BtfError as error:
            raise KernelFeatureError(str(error)) from None
        self._prog_info = ProgInfoLayout.from_btf(btf)
        pages = _buffer_pages(buffer_bytes)
        defines = dict(offsets)
        defines["SENSOR_TGID"] = os.getpid() if ignore_tgid is None else ignore_tgid
        transport = backends["transport"]
        if transport is Backend.RING_BUFFER:
            defines["USE_RINGBUF"] = 1
            defines["RINGBUF_PAGES"] = pages
        if backends.get("exec_failed") is Backend.SYSCALL_TRACEPOINTS:
            defines["EXEC_SYSCALLS"] = 1
        if backends.get("credentials") is Backend.KPROBE:
            defines["CREDS_KPROBE"] = 1
        elif backends.get("credentials") is Backend.SYSCALL_TRACEPOINTS:
            defines["CREDS_SYSCALLS"] = 1
        defines["CGROUP_HIERARCHY_ID"] = hierarchy.hierarchy_id if hierarchy else UNIFIED_HIERARCHY_ID
        if hierarchy is not None and hierarchy.is_v1:
            defines["CGROUP_V1_SUBSYS"] = hierarchy.subsys_index
        source = "".join(f"#define {k} {v}\n" for k, v in defines.items())
        programs = PROGRAMS if backends.get("cgroups") is Backend.TRACEPOINT else PROGRAMS[:1]
        source += "".join((BPF_DIR / name).read_text() for name in programs)
        self._bpf = bcc.BPF(text=source, cflags=[f"-I{BPF_DIR}", "-Wno-unused-function"])
        _return_freed_heap()
        try:
            for tracepoint, function in _RAW_TRACEPOINTS.values():
                self._bpf.attach_raw_tracepoint(tp=tracepoint.split(":")[1], fn_name=function)
            if backends.get("credentials") is Backend.KPROBE:
                self._bpf.attach_kprobe(event="commit_creds", fn_name="on_commit_creds")
            self.reader: RecordReader
            if transport is Backend.RING_BUFFER:
                self.reader = RingBufferReader(self._bpf["records"].map_fd, pages * mmap.PAGESIZE)
            else:
                per_cpu = max(1, pages // (os.cpu_count() or 1))
                self.reader = PerfBufferReader(self._bpf, "records", 1 << (per_cpu.bit_length() - 1))
        except Exception:
            self._bpf.cleanup()
            raise
        self._counters = self._bpf["counters"]

    def counters(self) -> dict[Hook, HookCounters]:
        """Sent and lost records per hook, summed over CPUs."""
        out = {}
        for hook in Hook:
            sent = self._counters.sum(self._counters.Key(hook * 2)).value
            lost = self._counters.sum(self._counters.Key(hook * 2 + 1)).value
            out[hook] = HookCounters(sent=int(sent), lost=int(lost))
        return out

    def program_stats(self) -> list[ProgramRunStats]:
        """Each loaded program's run time and count (zeros unless ``kernel.bpf_stats_enabled``)."""
        if self._prog_info is None:
            return []
        out = []
        for name, function in self._bpf.funcs.items():
            label = name.decode() if isinstance(name, bytes) else str(name)
            out.append(program_run_stats(label, function.fd, self._prog_info))
        return out

    def close(self) -> None:
        """Detach every program and free the maps."""
        with contextlib.suppress(Exception):
            self.reader.close()
        self._bpf.cleanup()

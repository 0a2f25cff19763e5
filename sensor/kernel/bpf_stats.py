"""Run time of each attached BPF program, from the kernel's own accounting (``kernel.bpf_stats_enabled``).

The kernel counts run time and run count per program only while statistics are on: the sysctl,
or an fd from ``BPF_ENABLE_STATS`` held open (the benchmark's way: they go off again when it is
closed). The figures come from ``BPF_OBJ_GET_INFO_BY_FD``; the offsets of ``run_time_ns`` and
``run_cnt`` in ``struct bpf_prog_info`` are read from the kernel's BTF, like every other offset.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.syscalls import BPF_ENABLE_STATS, BPF_OBJ_GET_INFO_BY_FD, bpf

_BPF_STATS_RUN_TIME = 0
_INFO_BYTES = 512  # more than any kernel's struct bpf_prog_info; the kernel accepts a zeroed tail


@dataclass(frozen=True, slots=True)
class ProgramRunStats:
    """One program's accumulated run time and number of runs (both 0 while statistics are off)."""

    program: str
    run_time_ns: int
    run_count: int


@dataclass(frozen=True, slots=True)
class ProgInfoLayout:
    """Where the run counters sit in ``struct bpf_prog_info`` on this kernel."""

    run_time_ns: int
    run_cnt: int

    @classmethod
    def from_btf(cls, btf: Btf) -> ProgInfoLayout | None:
        """The layout, or None on a kernel whose BTF lacks it (too old to count run time)."""
        try:
            return cls(btf.offset("bpf_prog_info.run_time_ns"), btf.offset("bpf_prog_info.run_cnt"))
        except BtfError:
            return None


def enable_stats() -> int:
    """Turn run-time statistics on for as long as the returned fd stays open. Raises OSError."""
    return bpf(BPF_ENABLE_STATS, struct.pack("<I", _BPF_STATS_RUN_TIME).ljust(8, b"\0"))


def program_run_stats(name: str, prog_fd: int, layout: ProgInfoLayout) -> ProgramRunStats:
    """The kernel's counters for the program behind ``prog_fd``. Raises OSError."""
    info = ctypes.create_string_buffer(_INFO_BYTES)
    bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("<IIQ", prog_fd, _INFO_BYTES, ctypes.addressof(info)))
    run_time_ns = struct.unpack_from("<Q", info, layout.run_time_ns)[0]
    run_count = struct.unpack_from("<Q", info, layout.run_cnt)[0]
    return ProgramRunStats(name, run_time_ns, run_count)

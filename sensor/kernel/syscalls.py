"""The bpf() and perf_event_open() system calls, through ctypes: what loading and attaching need.

Each function packs one ``union bpf_attr`` or ``struct perf_event_attr`` (include/uapi/linux/bpf.h,
perf_event.h) and raises OSError with the kernel's errno. The layouts are the stable uapi ones.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import struct
from dataclasses import dataclass
from enum import IntEnum

_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
_SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(platform.machine(), 298)
_libc = ctypes.CDLL(None, use_errno=True)

BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_ENABLE_STATS = 32

BPF_PSEUDO_MAP_FD = 1
BPF_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW: the two-slot instruction that carries a map fd

_PERF_TYPE_SOFTWARE = 1
_PERF_TYPE_TRACEPOINT = 2
_PERF_COUNT_SW_BPF_OUTPUT = 10
_PERF_SAMPLE_RAW = 1 << 10
_PERF_FLAG_FD_CLOEXEC = 1 << 3
_PERF_EVENT_IOC_ENABLE = 0x2400
_PERF_EVENT_IOC_SET_BPF = 0x40042408
_PERF_ATTR_SIZE = 72  # PERF_ATTR_SIZE_VER1: up to config2, all these events need
_MAP_INFO_BYTES = 80
_VERIFIER_LOG_BYTES = 1 << 20


class ProgType(IntEnum):
    """The program types the sensor loads (enum bpf_prog_type)."""

    KPROBE = 2
    TRACEPOINT = 5
    RAW_TRACEPOINT = 17


@dataclass(frozen=True, slots=True)
class MapSpec:
    """What it takes to create one map again: ``struct bpf_map_info``'s first fields."""

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int


def _checked(result: int) -> int:
    """A system call's result, or OSError with its errno."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def bpf(cmd: int, attr: bytes | ctypes.Array[ctypes.c_char]) -> int:
    """The bpf() system call with ``attr``; its result, or OSError."""
    buf = attr if isinstance(attr, ctypes.Array) else ctypes.create_string_buffer(attr, len(attr))
    return _checked(_libc.syscall(_SYS_BPF, cmd, buf, len(buf)))


def create_map(spec: MapSpec) -> int:
    """A new map like ``spec``; its fd."""
    attr = struct.pack(
        "<IIIIIII16s",
        spec.map_type,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
        0,
        0,
        spec.name.encode()[:15],
    )
    return bpf(BPF_MAP_CREATE, attr.ljust(72, b"\0"))


def map_spec(map_fd: int) -> MapSpec:
    """The spec of the map behind ``map_fd``, from ``BPF_OBJ_GET_INFO_BY_FD``."""
    info = ctypes.create_string_buffer(_MAP_INFO_BYTES)
    bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("<IIQ", map_fd, _MAP_INFO_BYTES, ctypes.addressof(info)))
    map_type, _id, key_size, value_size, max_entries, flags, name = struct.unpack_from("<IIIIII16s", info)
    return MapSpec(name.rstrip(b"\0").decode(), map_type, key_size, value_size, max_entries, flags)


def map_lookup(map_fd: int, key: bytes, value_size: int) -> bytes:
    """The value stored under ``key`` (for per-CPU maps: every CPU's, each padded to 8 bytes)."""
    key_buf = ctypes.create_string_buffer(key, len(key))
    value = ctypes.create_string_buffer(value_size)
    bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("<IIQQQ", map_fd, 0, ctypes.addressof(key_buf), ctypes.addressof(value), 0))
    return value.raw


def map_update(map_fd: int, key: bytes, value: bytes) -> None:
    """Store ``value`` under ``key``."""
    key_buf = ctypes.create_string_buffer(key, len(key))
    value_buf = ctypes.create_string_buffer(value, len(value))
    bpf(
        BPF_MAP_UPDATE_ELEM,
        struct.pack("<IIQQQ", map_fd, 0, ctypes.addressof(key_buf), ctypes.addressof(value_buf), 0),
    )


def map_delete(map_fd: int, key: bytes) -> None:
    """Remove ``key`` (FileNotFoundError when it is not there)."""
    key_buf = ctypes.create_string_buffer(key, len(key))
    bpf(BPF_MAP_DELETE_ELEM, struct.pack("<IIQ", map_fd, 0, ctypes.addressof(key_buf)))


def load_program(prog_type: ProgType, name: str, insns: bytes, kernel_version: int) -> int:
    """Load and verify a program; its fd. A rejected program's OSError carries the verifier's log."""
    code = ctypes.create_string_buffer(insns, len(insns))
    license = ctypes.create_string_buffer(b"GPL")

    def attempt(log_level: int, log: ctypes.Array[ctypes.c_char] | None) -> int:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into(
            "<IIQQIIQII16s",
            attr,
            0,
            prog_type,
            len(insns) // 8,
            ctypes.addressof(code),
            ctypes.addressof(license),
            log_level,
            len(log) if log else 0,
            ctypes.addressof(log) if log else 0,
            kernel_version,
            0,
            name.encode()[:15],
        )
        return bpf(BPF_PROG_LOAD, attr)

    try:
        return attempt(0, None)
    except OSError as error:
        if error.errno not in (13, 22):  # EACCES, EINVAL: the verifier said no; ask it why
            raise
        log = ctypes.create_string_buffer(_VERIFIER_LOG_BYTES)
        try:
            return attempt(1, log)
        except OSError as again:
            tail = log.value.decode(errors="replace").strip().splitlines()[-12:]
            raise OSError(again.errno, f"{again.strerror}; verifier log ends:\n" + "\n".join(tail)) from None


def open_raw_tracepoint(tracepoint: str, prog_fd: int) -> int:
    """Attach a raw tracepoint program; the link's fd (closing it detaches)."""
    name = ctypes.create_string_buffer(tracepoint.encode())
    return bpf(BPF_RAW_TRACEPOINT_OPEN, struct.pack("<QI", ctypes.addressof(name), prog_fd).ljust(16, b"\0"))


def perf_event_open(
    event_type: int, config: int, cpu: int, sample_type: int = 0, wakeup_events: int = 0, config1: int = 0
) -> int:
    """A perf event on ``cpu`` for every process; its fd."""
    attr = struct.pack(
        "<IIQQQQQIIQQ", event_type, _PERF_ATTR_SIZE, config, 1, sample_type, 0, 0, wakeup_events, 0, config1, 0
    )
    buf = ctypes.create_string_buffer(attr, len(attr))
    return _checked(_libc.syscall(_SYS_PERF_EVENT_OPEN, buf, -1, cpu, -1, _PERF_FLAG_FD_CLOEXEC))


def attach_perf_event(event_fd: int, prog_fd: int) -> None:
    """Run ``prog_fd`` whenever the perf event fires, from now on."""
    fcntl.ioctl(event_fd, _PERF_EVENT_IOC_SET_BPF, prog_fd)
    fcntl.ioctl(event_fd, _PERF_EVENT_IOC_ENABLE, 0)


def open_tracepoint_event(tracepoint_id: int) -> int:
    """A perf event on a tracepoint (its id from tracefs), to attach a program to."""
    return perf_event_open(_PERF_TYPE_TRACEPOINT, tracepoint_id, cpu=0)


def open_kprobe_event(pmu_type: int, function: str) -> int:
    """A perf event on a kprobe at ``function``, through the kprobe PMU (the kernel copies the name)."""
    name = ctypes.create_string_buffer(function.encode())
    return perf_event_open(pmu_type, 0, cpu=0, config1=ctypes.addressof(name))


def open_bpf_output_event(cpu: int, wakeup_events: int) -> int:
    """A per-CPU perf event that ``bpf_perf_event_output`` writes samples into."""
    return perf_event_open(
        _PERF_TYPE_SOFTWARE, _PERF_COUNT_SW_BPF_OUTPUT, cpu, sample_type=_PERF_SAMPLE_RAW, wakeup_events=wakeup_events
    )


def cpu_list(path: str) -> list[int]:
    """The CPUs of a sysfs list such as ``/sys/devices/system/cpu/possible`` ("0-3,8")."""
    with open(path) as file:
        text = file.read().strip()
    out: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out

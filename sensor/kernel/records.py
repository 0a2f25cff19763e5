"""Decoder for the records the BPF programs send: the Python mirror of ``bpf/sensor.h``.

Each record struct is described once below as a list of (field, struct format) pairs; the
``struct.Struct`` that decodes it is built from that list, and tests/kernel/test_records.py checks
each field's offset against the C compiler's ``offsetof`` on the header itself.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, Final, NamedTuple, Union

from sensor.memo import BoundedMemo

COMM_LEN = 16
FILENAME_MAX = 4096
ARGS_MAX = 16384
CWD_MAX = 4096
CGROUP_PATH_MAX = 1024
GROUPS_MAX = 32
PATH_MAX = 4096
READ_PREFIX_MAX = 256
NET_DATA_MAX = 512


class RecordType(IntEnum):
    """``enum sensor_record_type``."""

    FORK = 1
    EXEC = 2
    EXEC_FAILED = 3
    EXIT = 4
    CREDS = 5
    CGROUP_MKDIR = 6
    CGROUP_RMDIR = 7
    CGROUP_ATTACH = 8
    FILE = 9
    NET = 10


class Hook(IntEnum):
    """``enum sensor_hook``: the index of a hook's sent/lost counters, and the hooks' one set of names
    (the ready line, doctor, the metrics' labels, lost events and the loss summary)."""

    FORK = 0
    EXEC = 1
    EXEC_FAILED = 2
    EXIT = 3
    CREDENTIALS = 4
    CGROUPS = 5
    FILE_OPEN = 6
    FILE_CHANGE = 7
    NET_CONNECT = 8
    NET_ACCEPT = 9
    NET_BIND = 10
    NET_LISTEN = 11
    NET_CLOSE = 12
    NET_DNS = 13

    @property
    def label(self) -> str:
        """The hook's name where people and tools read it."""
        return self.name.lower()


class Counter(IntEnum):
    """``enum sensor_counter``: each hook's counters, in this order."""

    SENT = 0
    LOST = 1
    FILTERED = 2


class ReadOpens(IntEnum):
    """``enum sensor_read_opens``: which read-only opens the kernel sends."""

    NONE = 0
    BY_PREFIX = 1
    ALL = 2


class FileOp(IntEnum):
    """``enum sensor_file_op``: what a file record reports."""

    OPEN = 1
    UNLINK = 2
    RMDIR = 3
    RENAME = 4
    MKDIR = 5
    LINK = 6
    SYMLINK = 7
    CHMOD = 8
    CHOWN = 9
    TRUNCATE = 10


class FileFlags(IntFlag):
    """``FILE_*`` flags of a file record."""

    PATH_TRUNCATED = 1 << 0
    BASE_TRUNCATED = 1 << 1
    PATH2_TRUNCATED = 1 << 2
    BASE2_TRUNCATED = 1 << 3
    CREATED = 1 << 4


class NetOp(IntEnum):
    """``enum sensor_net_op``: what a network record reports."""

    CONNECT = 1
    CONNECT_RESULT = 2
    ACCEPT = 3
    BIND = 4
    LISTEN = 5
    CLOSE = 6
    DNS_QUERY = 7


class NetFlags(IntFlag):
    """``NET_*`` flags of a network record."""

    DATA_TRUNCATED = 1 << 0
    NO_SOCKET = 1 << 1


class CredsCause(IntEnum):
    """``enum sensor_creds_cause``: what changed a task's credentials."""

    SETUID = 1
    SETGID = 2
    SETREUID = 3
    SETREGID = 4
    SETRESUID = 5
    SETRESGID = 6
    SETFSUID = 7
    SETFSGID = 8
    SETGROUPS = 9
    CAPSET = 10
    EXEC = 11
    COMMIT_CREDS = 12


class ExecFlags(IntFlag):
    """``EXEC_*`` flags of an exec record."""

    FILENAME_TRUNCATED = 1 << 0
    ARGS_TRUNCATED = 1 << 1
    ARGS_UNREADABLE = 1 << 2
    CWD_TRUNCATED = 1 << 3


EXIT_GROUP_DEAD = 1 << 0
# O_WRONLY | O_RDWR | O_CREAT | O_TRUNC (x86-64's values): an open that may change the file, always sent.
FILE_OPEN_CHANGES = 0o1 | 0o2 | 0o100 | 0o1000

# Each constant and enum member above, by the name it has in bpf/sensor.h: tests/kernel/test_records.py
# has the C compiler print every one of these names' value, and finds every enum member of the header here.
C_MIRRORS: dict[str, int] = {
    "SENSOR_COMM_LEN": COMM_LEN,
    "SENSOR_FILENAME_MAX": FILENAME_MAX,
    "SENSOR_ARGS_MAX": ARGS_MAX,
    "SENSOR_CWD_MAX": CWD_MAX,
    "SENSOR_CGROUP_PATH_MAX": CGROUP_PATH_MAX,
    "SENSOR_GROUPS_MAX": GROUPS_MAX,
    "EXIT_GROUP_DEAD": EXIT_GROUP_DEAD,
    "FILE_OPEN_CHANGES": FILE_OPEN_CHANGES,
    "SENSOR_PATH_MAX": PATH_MAX,
    "SENSOR_READ_PREFIX_MAX": READ_PREFIX_MAX,
    "SENSOR_NET_DATA_MAX": NET_DATA_MAX,
    "HOOK_COUNT": len(Hook),
    "COUNTER_SLOTS": len(Counter),
    **{f"RECORD_{member.name}": member.value for member in RecordType},
    **{f"HOOK_{member.name}": member.value for member in Hook},
    **{f"CREDS_{member.name}": member.value for member in CredsCause},
    **{f"EXEC_{member.name}": member.value for member in ExecFlags},
    **{f"COUNTER_{member.name}": member.value for member in Counter},
    **{f"READ_OPENS_{member.name}": member.value for member in ReadOpens},
    **{f"FILE_{member.name}": member.value for member in FileOp},
    **{f"FILE_{member.name}": member.value for member in FileFlags},
    **{f"NET_{member.name}": member.value for member in NetOp},
    **{f"NET_{member.name}": member.value for member in NetFlags},
}

HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("header.type", "H"),
    ("header.cpu", "H"),
    ("header.pid", "I"),
    ("header.ktime_ns", "Q"),
    ("header.tgid", "I"),
    ("header.ppid", "I"),
    ("header.start_ns", "Q"),
    ("header.parent_start_ns", "Q"),
    ("header.cgroup_id", "Q"),
    ("header.creds", "8I"),
    ("header.comm", f"{COMM_LEN}s"),
)
FORK_FIELDS = (
    *HEADER_FIELDS,
    ("child_pid", "I"),
    ("child_tgid", "I"),
    ("child_start_ns", "Q"),
    ("clone_flags", "Q"),
)
EXEC_FIELDS = (
    *HEADER_FIELDS,
    ("old_pid", "I"),
    ("flags", "I"),
    ("filename_len", "I"),
    ("args_len", "I"),
    ("args_size", "I"),
    ("cwd_len", "I"),
    ("ns_tgid", "I"),
    ("_pad", "I"),
)
EXEC_FAILED_FIELDS = (*HEADER_FIELDS, ("error", "i"), ("filename_len", "I"))
EXIT_FIELDS = (*HEADER_FIELDS, ("exit_code", "I"), ("flags", "I"))
CREDS_FIELDS = (
    *HEADER_FIELDS,
    ("old", "8I"),
    ("cause", "I"),
    ("old_groups.ngroups", "I"),
    ("old_groups.gids", f"{GROUPS_MAX}I"),
    ("groups.ngroups", "I"),
    ("groups.gids", f"{GROUPS_MAX}I"),
    ("_pad", "I"),
)
CGROUP_FIELDS = (
    *HEADER_FIELDS,
    ("id", "Q"),
    ("hierarchy_id", "I"),
    ("level", "I"),
    ("target_pid", "I"),
    ("path_len", "I"),
    ("path", f"{CGROUP_PATH_MAX}s"),
)
FILE_FIELDS = (
    *HEADER_FIELDS,
    ("op", "I"),
    ("flags", "I"),
    ("ret", "q"),
    ("dev", "Q"),
    ("ino", "Q"),
    ("length", "q"),
    ("how", "I"),
    ("mode", "I"),
    ("uid", "I"),
    ("gid", "I"),
    ("path_len", "H"),
    ("base_len", "H"),
    ("path2_len", "H"),
    ("base2_len", "H"),
)
NET_FIELDS = (
    *HEADER_FIELDS,
    ("op", "I"),
    ("flags", "I"),
    ("ret", "q"),
    ("duration_ns", "Q"),
    ("netns", "I"),
    ("fd", "i"),
    ("family", "H"),
    ("sock_type", "H"),
    ("protocol", "H"),
    ("local_port", "H"),
    ("remote_port", "H"),
    ("data_len", "H"),
    ("backlog", "I"),
    ("local_addr", "16s"),
    ("remote_addr", "16s"),
)

# C struct name -> its fields; the variable-length ``data`` of exec records follows the fixed part.
LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sensor_fork": FORK_FIELDS,
    "sensor_exec": EXEC_FIELDS,
    "sensor_exec_failed": EXEC_FAILED_FIELDS,
    "sensor_exit": EXIT_FIELDS,
    "sensor_creds_change": CREDS_FIELDS,
    "sensor_cgroup": CGROUP_FIELDS,
    "sensor_file": FILE_FIELDS,
    "sensor_net": NET_FIELDS,
}


def layout_struct(fields: tuple[tuple[str, str], ...]) -> struct.Struct:
    """The little-endian, unpadded ``struct.Struct`` for a field list."""
    return struct.Struct("<" + "".join(fmt for _, fmt in fields))


_FORK: Final = layout_struct(FORK_FIELDS)
_EXEC: Final = layout_struct(EXEC_FIELDS)
_EXEC_FAILED: Final = layout_struct(EXEC_FAILED_FIELDS)
_EXIT: Final = layout_struct(EXIT_FIELDS)
_CREDS: Final = layout_struct(CREDS_FIELDS)
_CGROUP: Final = layout_struct(CGROUP_FIELDS)
_FILE: Final = layout_struct(FILE_FIELDS)
_NET: Final = layout_struct(NET_FIELDS)
_TYPE: Final = struct.Struct("<H")
MEMO_BOUND = 4096  # distinct values remembered per memo


class Creds(NamedTuple):
    """A task's credentials, in struct cred order."""

    uid: int
    gid: int
    suid: int
    sgid: int
    euid: int
    egid: int
    fsuid: int
    fsgid: int


@dataclass(init=False, slots=True)
class Record:
    """The fields every record starts with: the task it is about (for a fork, the parent thread)."""

    cpu: int
    pid: int
    ktime_ns: int
    tgid: int
    ppid: int
    start_ns: int
    parent_start_ns: int
    cgroup_id: int
    creds: Creds
    comm: str

    # Written out, not generated: see sensor/compiled.py.
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
    ) -> None:
        self.cpu = cpu
        self.pid = pid
        self.ktime_ns = ktime_ns
        self.tgid = tgid
        self.ppid = ppid
        self.start_ns = start_ns
        self.parent_start_ns = parent_start_ns
        self.cgroup_id = cgroup_id
        self.creds = creds
        self.comm = comm


@dataclass(init=False, slots=True)
class ForkRecord(Record):
    """A new thread or process (``task_newtask``)."""

    child_pid: int
    child_tgid: int
    child_start_ns: int
    clone_flags: int

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        child_pid: int,
        child_tgid: int,
        child_start_ns: int,
        clone_flags: int,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.child_pid = child_pid
        self.child_tgid = child_tgid
        self.child_start_ns = child_start_ns
        self.clone_flags = clone_flags


@dataclass(init=False, slots=True)
class ExecRecord(Record):
    """A successful exec (``sched_process_exec``)."""

    old_pid: int
    flags: ExecFlags
    filename: str
    argv: list[str]
    args_size: int
    cwd: str
    ns_tgid: int  # the process id in its own pid namespace: 1 for a container's init

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        old_pid: int,
        flags: ExecFlags,
        filename: str,
        argv: list[str],
        args_size: int,
        cwd: str,
        ns_tgid: int,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.old_pid = old_pid
        self.flags = flags
        self.filename = filename
        self.argv = argv
        self.args_size = args_size
        self.cwd = cwd
        self.ns_tgid = ns_tgid


@dataclass(init=False, slots=True)
class ExecFailedRecord(Record):
    """An execve/execveat that returned an error."""

    error: int
    filename: str

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        error: int,
        filename: str,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.error = error
        self.filename = filename


@dataclass(init=False, slots=True)
class ExitRecord(Record):
    """A thread exit (``sched_process_exit``); ``group_dead`` when it was the process's last."""

    exit_code: int
    group_dead: bool

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        exit_code: int,
        group_dead: bool,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.exit_code = exit_code
        self.group_dead = group_dead


@dataclass(init=False, slots=True)
class CredsRecord(Record):
    """A credential change: ``creds`` and ``groups`` are the new ones.

    Groups are the supplementary groups, at most GROUPS_MAX of each; ``groups_truncated`` when
    either list had more.
    """

    old: Creds
    cause: CredsCause
    old_groups: tuple[int, ...]
    groups: tuple[int, ...]
    groups_truncated: bool

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        old: Creds,
        cause: CredsCause,
        old_groups: tuple[int, ...] = (),
        groups: tuple[int, ...] = (),
        groups_truncated: bool = False,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.old = old
        self.cause = cause
        self.old_groups = old_groups
        self.groups = groups
        self.groups_truncated = groups_truncated


class CgroupOp(IntEnum):
    """What happened to a cgroup."""

    MKDIR = RecordType.CGROUP_MKDIR
    RMDIR = RecordType.CGROUP_RMDIR
    ATTACH = RecordType.CGROUP_ATTACH


@dataclass(init=False, slots=True)
class CgroupRecord(Record):
    """A cgroup made or removed, or a task moved into one (``target_pid``), in the watched hierarchy."""

    op: CgroupOp
    id: int
    level: int
    target_pid: int
    path: str

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        op: CgroupOp,
        id: int,
        level: int,
        target_pid: int,
        path: str,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.op = op
        self.id = id
        self.level = level
        self.target_pid = target_pid
        self.path = path


@dataclass(init=False, slots=True)
class FileRecord(Record):
    """A file syscall at its exit. ``path`` and ``path2`` are as the process gave them; ``directory``
    and ``directory2`` what a relative one is relative to (empty for an absolute one), or for an
    operation on an fd, the fd's own path. ``dev`` is in user space's encoding (``os.stat``'s)."""

    op: FileOp
    flags: int  # FileFlags, as a plain int: tested per event
    ret: int
    dev: int
    ino: int
    length: int
    how: int
    mode: int
    uid: int
    gid: int
    path: str
    directory: str
    path2: str
    directory2: str

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        op: FileOp,
        flags: int,
        ret: int,
        dev: int,
        ino: int,
        length: int,
        how: int,
        mode: int,
        uid: int,
        gid: int,
        path: str,
        directory: str,
        path2: str,
        directory2: str,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.op = op
        self.flags = flags
        self.ret = ret
        self.dev = dev
        self.ino = ino
        self.length = length
        self.how = how
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.path = path
        self.directory = directory
        self.path2 = path2
        self.directory2 = directory2


@dataclass(init=False, slots=True)
class NetRecord(Record):
    """A network syscall at its exit, or a TCP connection's outcome or end (then the header is its
    owner's, from its connect or accept). Addresses as the kernel keeps them (network order; IPv4 in
    the first 4 bytes), ports in host order. ``data``: a unix socket's path, or a DNS query's bytes."""

    op: NetOp
    flags: int  # NetFlags, as a plain int: tested per event
    ret: int
    duration_ns: int
    netns: int
    fd: int
    family: int
    sock_type: int
    protocol: int
    local_port: int
    remote_port: int
    backlog: int
    local_addr: bytes
    remote_addr: bytes
    data: bytes

    # Written out, as Record's is (mypyc cannot mix a generated __init__ over a written one).
    def __init__(
        self,
        cpu: int,
        pid: int,
        ktime_ns: int,
        tgid: int,
        ppid: int,
        start_ns: int,
        parent_start_ns: int,
        cgroup_id: int,
        creds: Creds,
        comm: str,
        op: NetOp,
        flags: int,
        ret: int,
        duration_ns: int,
        netns: int,
        fd: int,
        family: int,
        sock_type: int,
        protocol: int,
        local_port: int,
        remote_port: int,
        backlog: int,
        local_addr: bytes,
        remote_addr: bytes,
        data: bytes,
    ) -> None:
        Record.__init__(self, cpu, pid, ktime_ns, tgid, ppid, start_ns, parent_start_ns, cgroup_id, creds, comm)
        self.op = op
        self.flags = flags
        self.ret = ret
        self.duration_ns = duration_ns
        self.netns = netns
        self.fd = fd
        self.family = family
        self.sock_type = sock_type
        self.protocol = protocol
        self.local_port = local_port
        self.remote_port = remote_port
        self.backlog = backlog
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.data = data


# Network records sent from a TCP state change, wherever the kernel was: their header is the socket's
# owner as it was at its connect or accept, not a fresh look at a running task.
REMEMBERED_HEADER_OPS: Final = frozenset({NetOp.CLOSE, NetOp.CONNECT_RESULT})


AnyRecord = Union[
    ForkRecord, ExecRecord, ExecFailedRecord, ExitRecord, CredsRecord, CgroupRecord, FileRecord, NetRecord
]


class DecodeError(ValueError):
    """A record too short for its type, or of an unknown type."""


def text(raw: bytes) -> str:
    """Kernel bytes as text: UTF-8, where a byte that is not UTF-8 appears as ``\\xNN`` and a
    backslash as ``\\\\``, so that :func:`text_bytes` gives the very bytes back."""
    if b"\\" in raw:
        raw = raw.replace(b"\\", b"\\\\")  # 0x5C is never part of a multi-byte UTF-8 character
    return raw.decode("utf-8", "backslashreplace")


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def text_bytes(rendered: str) -> bytes:
    """The bytes :func:`text` rendered: ``\\\\`` is a backslash, ``\\xNN`` the byte NN, the rest UTF-8.

    Raises ValueError for a backslash that starts neither (not a rendering of the sensor's).
    """
    out = bytearray()
    at = 0
    while (escape := rendered.find("\\", at)) >= 0:
        out += rendered[at:escape].encode()
        follows = rendered[escape + 1 : escape + 4]
        if follows[:1] == "\\":
            out += b"\\"
            at = escape + 2
        elif len(follows) == 3 and follows[0] == "x" and set(follows[1:]) <= _HEX_DIGITS:
            out.append(int(follows[1:], 16))
            at = escape + 4
        else:
            raise ValueError(f"a backslash at {escape} starts neither \\\\ nor \\xNN")
    return bytes(out + rendered[at:].encode())


def _c_string(raw: bytes) -> str:
    return text(raw.split(b"\0", 1)[0])


def split_args(raw: bytes, truncated: bool) -> list[str]:
    """NUL-separated arguments; an argument cut by truncation is kept as far as it goes."""
    parts = raw.split(b"\0")
    if parts and parts[-1] == b"" and not (truncated and len(parts) == 1):
        parts.pop()
    return [text(p) for p in parts]


def join_cwd(raw: bytes, truncated: bool) -> str:
    """The cwd from its components, sent leaf first; a path cut at the depth bound starts with ``...``."""
    parts = [text(p) for p in raw.split(b"\0") if p]
    parts.reverse()
    path = "/" + "/".join(parts)
    return "..." + path if truncated else path


# Decoded once per distinct value: a host runs the same few programs, names and credential sets.
_c_strings: Final = BoundedMemo(_c_string, MEMO_BOUND)
_creds_sets: Final[BoundedMemo[tuple[int, ...], Creds]] = BoundedMemo(lambda ids: Creds(*ids), MEMO_BOUND)
_exec_flags: Final = BoundedMemo(ExecFlags, MEMO_BOUND)
_cwds: Final[BoundedMemo[tuple[bytes, bool], str]] = BoundedMemo(lambda key: join_cwd(*key), MEMO_BOUND)
# One list per distinct command line, shared by every process that ran it: never mutate an argv.
_argvs: Final[BoundedMemo[tuple[bytes, bool], list[str]]] = BoundedMemo(lambda key: split_args(*key), MEMO_BOUND)
_ARGS_TRUNCATED: Final = int(ExecFlags.ARGS_TRUNCATED)
_CWD_TRUNCATED: Final = int(ExecFlags.CWD_TRUNCATED)


_Head = tuple[int, int, int, int, int, int, int, int, Creds, str]


def _head(v: tuple[Any, ...]) -> _Head:
    """The Record fields (after the type) from an unpacked record: 8 integers, creds, comm."""
    return (v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]])


# Fork, exec and exit (nearly every record) spell the header out rather than ``*_head(v)``: a
# star call cannot be compiled to a direct call.


def _decode_exec(buf: bytes) -> ExecRecord:
    v = _EXEC.unpack_from(buf)
    old_pid, flags, filename_len, args_len, args_size, cwd_len, ns_tgid = v[18:25]
    data = buf[_EXEC.size :]
    filename = _c_strings[data[:filename_len]]
    args = data[filename_len : filename_len + args_len]
    cwd = data[filename_len + args_len : filename_len + args_len + cwd_len]
    argv = _argvs[args, bool(flags & _ARGS_TRUNCATED)]
    return ExecRecord(
        v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]],
        old_pid, _exec_flags[flags], filename, argv, args_size, _cwds[cwd, bool(flags & _CWD_TRUNCATED)], ns_tgid,
    )  # fmt: skip


def _decode_fork(buf: bytes) -> ForkRecord:
    v = _FORK.unpack_from(buf)
    return ForkRecord(
        v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]],
        v[18], v[19], v[20], v[21],
    )  # fmt: skip


def _decode_exec_failed(buf: bytes) -> ExecFailedRecord:
    v = _EXEC_FAILED.unpack_from(buf)
    filename = _c_strings[buf[_EXEC_FAILED.size : _EXEC_FAILED.size + v[19]]]
    return ExecFailedRecord(*_head(v), v[18], filename)


def _decode_exit(buf: bytes) -> ExitRecord:
    v = _EXIT.unpack_from(buf)
    return ExitRecord(
        v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]],
        v[18], bool(v[19] & EXIT_GROUP_DEAD),
    )  # fmt: skip


def _decode_creds(buf: bytes) -> CredsRecord:
    v = _CREDS.unpack_from(buf)
    old_count = v[27]
    new_at = 28 + GROUPS_MAX
    new_count = v[new_at]
    return CredsRecord(
        *_head(v),
        _creds_sets[v[18:26]],
        CredsCause(v[26]),
        old_groups=v[28 : 28 + min(old_count, GROUPS_MAX)],
        groups=v[new_at + 1 : new_at + 1 + min(new_count, GROUPS_MAX)],
        groups_truncated=max(old_count, new_count) > GROUPS_MAX,
    )


def _decode_cgroup(buf: bytes) -> CgroupRecord:
    v = _CGROUP.unpack_from(buf)
    return CgroupRecord(*_head(v), CgroupOp(v[0]), v[18], v[20], v[21], _c_string(v[23]))


_FILE_OPS: Final = {op.value: op for op in FileOp}
_BASE_TRUNCATED: Final = int(FileFlags.BASE_TRUNCATED)
_BASE2_TRUNCATED: Final = int(FileFlags.BASE2_TRUNCATED)


def _kernel_dev(dev: int) -> int:
    """The kernel's dev_t (major << 20 | minor) in user space's encoding, as os.stat gives it."""
    major, minor = dev >> 20, dev & 0xFFFFF
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32)


def _directory(raw: bytes, truncated: bool) -> str:
    return _cwds[raw, truncated] if raw else ""


def _decode_file(buf: bytes) -> FileRecord:
    v = _FILE.unpack_from(buf)
    flags = v[19]
    path_len, base_len, path2_len, base2_len = v[28:32]
    data = buf[_FILE.size :]
    base_at = path_len
    path2_at = base_at + base_len
    base2_at = path2_at + path2_len
    return FileRecord(
        v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]],
        _FILE_OPS[v[18]], flags, v[20], _kernel_dev(v[21]), v[22], v[23], v[24], v[25], v[26], v[27],
        _c_strings[data[:path_len]],
        _directory(data[base_at:path2_at], bool(flags & _BASE_TRUNCATED)),
        _c_strings[data[path2_at:base2_at]],
        _directory(data[base2_at : base2_at + base2_len], bool(flags & _BASE2_TRUNCATED)),
    )  # fmt: skip


_NET_OPS: Final = {op.value: op for op in NetOp}


def _decode_net(buf: bytes) -> NetRecord:
    v = _NET.unpack_from(buf)
    data_len = min(v[29], NET_DATA_MAX)
    return NetRecord(
        v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], _creds_sets[v[9:17]], _c_strings[v[17]],
        _NET_OPS[v[18]], v[19], v[20], v[21], v[22], v[23], v[24], v[25], v[26], v[27], v[28], v[30],
        v[31], v[32], buf[_NET.size : _NET.size + data_len],
    )  # fmt: skip


_DECODERS: Final[dict[int, tuple[int, Callable[[bytes], AnyRecord]]]] = {
    RecordType.FORK: (_FORK.size, _decode_fork),
    RecordType.EXEC: (_EXEC.size, _decode_exec),
    RecordType.EXEC_FAILED: (_EXEC_FAILED.size, _decode_exec_failed),
    RecordType.EXIT: (_EXIT.size, _decode_exit),
    RecordType.CREDS: (_CREDS.size, _decode_creds),
    RecordType.CGROUP_MKDIR: (_CGROUP.size, _decode_cgroup),
    RecordType.CGROUP_RMDIR: (_CGROUP.size, _decode_cgroup),
    RecordType.CGROUP_ATTACH: (_CGROUP.size, _decode_cgroup),
    RecordType.FILE: (_FILE.size, _decode_file),
    RecordType.NET: (_NET.size, _decode_net),
}


def decode(buf: bytes) -> AnyRecord:
    """One raw record, as sent by the kernel, to its typed form."""
    if len(buf) < _TYPE.size:
        raise DecodeError(f"record of {len(buf)} bytes has no type")
    (record_type,) = _TYPE.unpack_from(buf)
    try:
        size, decoder = _DECODERS[record_type]
    except KeyError:
        raise DecodeError(f"unknown record type {record_type}") from None
    if len(buf) < size:
        raise DecodeError(f"{RecordType(record_type).name} record of {len(buf)} bytes, expected >= {size}")
    return decoder(buf)

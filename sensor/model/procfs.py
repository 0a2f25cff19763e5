"""Reading processes from /proc: the start-up scan, and a process first seen mid-life."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sensor.kernel.records import Creds, split_args, text

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_NS_PER_TICK = 1_000_000_000 // CLOCK_TICKS


def read_boot_id(proc: Path = Path("/proc")) -> str:
    """This boot's id; with pid and start time it makes process ids unique across reboots."""
    return (proc / "sys/kernel/random/boot_id").read_text().strip()


def start_ticks(start_ns: int) -> int:
    """A task's start_boottime in ns as /proc/<pid>/stat's starttime (clock ticks since boot)."""
    return start_ns // _NS_PER_TICK


def make_process_id(boot_id: str, tgid: int, ticks: int) -> str:
    """``<boot_id>-<tgid>-<start_time_ticks>``, the same from the kernel hooks and from /proc."""
    return f"{boot_id}-{tgid}-{ticks}"


@dataclass(slots=True)
class ProcSnapshot:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    start_ticks: int
    comm: str
    filename: str
    argv: list[str]
    cwd: str
    creds: Creds
    threads: list[int] = field(default_factory=list)


def read_stat(proc_dir: Path) -> tuple[str, int, int]:
    """(comm, ppid, starttime ticks) from /proc/<pid>/stat."""
    raw = (proc_dir / "stat").read_bytes()
    # comm may hold spaces and parentheses: it runs to the last ')'.
    open_paren, close_paren = raw.index(b"("), raw.rindex(b")")
    fields = raw[close_paren + 2 :].split()
    return text(raw[open_paren + 1 : close_paren]), int(fields[1]), int(fields[19])


def read_parent(pid: int, proc: Path = Path("/proc")) -> tuple[int, int] | None:
    """(start time ticks, ppid) of a live process, or None when it is gone."""
    try:
        _comm, ppid, ticks = read_stat(proc / str(pid))
    except (OSError, ValueError, IndexError):
        return None
    return ticks, ppid


def _read_creds(proc_dir: Path) -> Creds:
    uid = gid = [0, 0, 0, 0]
    for line in (proc_dir / "status").read_text(errors="replace").splitlines():
        if line.startswith("Uid:"):
            uid = [int(v) for v in line.split()[1:5]]
        elif line.startswith("Gid:"):
            gid = [int(v) for v in line.split()[1:5]]
    # status lists real, effective, saved, filesystem.
    return Creds(uid=uid[0], gid=gid[0], suid=uid[2], sgid=gid[2], euid=uid[1], egid=gid[1], fsuid=uid[3], fsgid=gid[3])


def _readlink(path: Path) -> str:
    try:
        return text(os.readlink(path).encode("utf-8", "surrogateescape"))
    except OSError:
        return ""


def read_process(pid: int, proc: Path = Path("/proc")) -> ProcSnapshot | None:
    """A process from /proc, or None when it is gone (or was never there)."""
    proc_dir = proc / str(pid)
    try:
        comm, ppid, ticks = read_stat(proc_dir)
        creds = _read_creds(proc_dir)
        argv = split_args((proc_dir / "cmdline").read_bytes(), truncated=False)
        threads = sorted(int(t) for t in os.listdir(proc_dir / "task"))
    except (OSError, ValueError, IndexError):
        return None
    return ProcSnapshot(
        pid=pid,
        ppid=ppid,
        start_ticks=ticks,
        comm=comm,
        filename=_readlink(proc_dir / "exe").removesuffix(" (deleted)"),
        argv=argv,
        cwd=_readlink(proc_dir / "cwd"),
        creds=creds,
        threads=threads,
    )


def scan_processes(proc: Path = Path("/proc")) -> list[ProcSnapshot]:
    """Every process on the host (those that exit mid-scan are skipped)."""
    pids = sorted(int(name) for name in os.listdir(proc) if name.isdigit())
    return [snap for snap in (read_process(pid, proc) for pid in pids) if snap is not None]

"""Whether this process may load and attach the BPF programs, asked before anything else is tried.

Without it the first failure is whatever the probing meets first (tracefs unreadable, a refused
bpf() call), which names the wrong cause.
"""

from __future__ import annotations

import os
from pathlib import Path

CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39


def effective_capabilities(status: Path = Path("/proc/self/status")) -> int:
    """This process's effective capability set (``CapEff``)."""
    for line in status.read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def allows_bpf(capabilities: int) -> bool:
    """CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON (5.8+): enough to load tracing programs."""
    sys_admin, bpf, perfmon = (bool(capabilities & (1 << cap)) for cap in (CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON))
    return sys_admin or (bpf and perfmon)


def check_privileges() -> None:
    """Raise PermissionError naming what this process lacks: root (it reads every process's /proc), BPF capabilities."""
    lacking = []
    if os.geteuid() != 0:
        lacking.append(f"not root (uid {os.geteuid()})")
    if not allows_bpf(effective_capabilities()):
        lacking.append("no CAP_SYS_ADMIN (or CAP_BPF with CAP_PERFMON)")
    if lacking:
        raise PermissionError("cannot load the BPF programs: " + ", ".join(lacking))

"""Loading the BPF programs needs root and CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sensor.kernel.privileges import CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, allows_bpf, effective_capabilities
from tests.live_sensor import ROOT, SENSOR


@pytest.mark.parametrize(
    ("capabilities", "allowed"),
    [
        (0, False),
        (1 << CAP_SYS_ADMIN, True),
        (1 << CAP_BPF, False),
        (1 << CAP_PERFMON, False),
        ((1 << CAP_BPF) | (1 << CAP_PERFMON), True),
        (0x1FFFFFFFFFF, True),
    ],
)
def test_bpf_needs_sys_admin_or_bpf_with_perfmon(capabilities: int, allowed: bool) -> None:
    assert allows_bpf(capabilities) is allowed


def test_effective_capabilities_come_from_cap_eff(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tsensor\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n")
    assert effective_capabilities(status) == 0x1FFFFFFFFFF


def trace_as(*setpriv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", *setpriv, *SENSOR, "trace", "--count", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_user_is_told_to_run_as_root_not_to_mount_tracefs() -> None:
    result = trace_as("--reuid=65534", "--regid=65534", "--clear-groups")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: cannot load the BPF programs: not root (uid 65534), no CAP_SYS_ADMIN (or CAP_BPF with "
        "CAP_PERFMON): run sensor trace as root"
    )
    assert "tracefs" not in result.stderr


def test_root_without_capabilities_is_told_which_ones_to_grant() -> None:
    result = trace_as("--inh-caps=-all", "--bounding-set=-all")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: cannot load the BPF programs: no CAP_SYS_ADMIN (or CAP_BPF with CAP_PERFMON): grant them "
        "(in a container: run it --privileged)"
    )

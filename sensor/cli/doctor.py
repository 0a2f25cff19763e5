"""`sensor doctor`: what this host offers, the backend each hook will use, and what to fix."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from sensor import HOT_PATH
from sensor.cli.table import table_text
from sensor.kernel.btf import Btf, BtfError
from sensor.kernel.cgroupfs import CgroupLayoutError, detect_hierarchy
from sensor.kernel.compiler import DEFAULT_CACHE_DIR, cache_path
from sensor.kernel.features import (
    Backend,
    HookChoice,
    KernelFeatureError,
    KernelFeatures,
    choose_backends,
    probe_kernel,
)
from sensor.kernel.loader import compile_request
from sensor.kernel.privileges import allows_bpf, effective_capabilities
from sensor.model.runtime.docker import DEFAULT_DOCKER_SOCKETS, DockerClient
from sensor.model.runtime.metadata import RuntimeUnavailable

LOCKDOWN = Path("/sys/kernel/security/lockdown")
BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: what was looked at, what was found, and what to do when it is a problem."""

    name: str
    found: str
    ok: bool = True
    advice: str = ""
    fatal: bool = False  # the sensor cannot start


def permission_checks() -> list[Check]:
    """Root, the capabilities BPF needs, and kernel lockdown."""
    caps = effective_capabilities()
    has_bpf = allows_bpf(caps)
    checks = [
        Check(
            "running as root",
            "yes" if os.geteuid() == 0 else f"no (uid {os.geteuid()})",
            os.geteuid() == 0,
            "run as root (sudo sensor ...): the sensor reads /proc of every process and loads BPF programs",
            fatal=True,
        ),
        Check(
            "capabilities",
            f"CapEff {caps:#x}: " + ("BPF allowed" if has_bpf else "neither CAP_SYS_ADMIN nor CAP_BPF+CAP_PERFMON"),
            has_bpf,
            "in a container, run privileged or add CAP_SYS_ADMIN (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)",
            fatal=True,
        ),
    ]
    try:
        lockdown = LOCKDOWN.read_text().strip()
    except OSError:
        return [*checks, Check("kernel lockdown", "not built in")]
    mode = lockdown[lockdown.find("[") + 1 : lockdown.find("]")] if "[" in lockdown else lockdown
    ok = mode != "confidentiality"
    advice = "lockdown=confidentiality forbids BPF reads of kernel memory: boot with lockdown=integrity or none"
    return [*checks, Check("kernel lockdown", mode, ok, advice, fatal=True)]


def compiled_programs(
    features: KernelFeatures, choices: list[HookChoice], cache_dir: Path = DEFAULT_CACHE_DIR
) -> Path | None:
    """The cached object the next start would load, or None when it has to compile first."""
    try:
        request = compile_request(choices, Btf.load(), detect_hierarchy(), features.exit_group_dead_arg)
    except (BtfError, KernelFeatureError, CgroupLayoutError, KeyError):
        return None
    path = cache_path(request, cache_dir)
    return path if path.exists() else None


def kernel_checks(features: KernelFeatures, compiled: Path | None = None) -> list[Check]:
    """The kernel features the probes rely on; ``compiled``: the cached programs, if any."""
    headers = Path(f"/lib/modules/{platform.release()}/build/include")
    stats_on = _bpf_stats_on()
    return [
        Check("kernel", features.release),
        Check(
            "BTF",
            "yes (/sys/kernel/btf/vmlinux)" if features.btf else f"no ({features.btf_error})",
            features.btf,
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's since 2020)",
            fatal=True,
        ),
        Check(
            "tracefs",
            f"yes ({features.tracefs})" if features.tracefs else "not mounted" if os.geteuid() == 0 else "not visible",
            features.tracefs is not None,
            "mount -t tracefs nodev /sys/kernel/tracing (scripts/bootstrap does it)",
            fatal=True,
        ),
        Check(
            "BPF ring buffer",
            "yes" if features.ring_buffer else "no (the perf buffer will be used)",
            features.ring_buffer,
            "kernel 5.8+ has it; the perf buffer works, with per-CPU buffers and more wake-ups",
        ),
        Check(
            "kprobes",
            "yes" if features.kprobes else "no (CONFIG_KPROBES off)",
            features.kprobes,
            "credentials come from syscall exits instead of commit_creds (kernel-internal changes are not seen)",
        ),
        Check(
            "compiled programs",
            f"cached ({compiled})" if compiled else f"not yet: the first start compiles them into {DEFAULT_CACHE_DIR}",
        ),
        Check(
            "headers for bcc",
            f"yes ({headers})" if headers.exists() else "no",
            headers.exists() or compiled is not None,
            "run scripts/bootstrap: it installs the distribution's headers and links them for bcc",
            fatal=compiled is None,  # needed only to compile
        ),
        Check(
            "hot path",
            HOT_PATH.reason,
            HOT_PATH.compiled,
            "run scripts/compile.py (scripts/bootstrap does): compiled, each event costs about a third of the CPU",
        ),
        Check(
            "BPF run-time stats",
            "on" if stats_on else "off",
            stats_on,
            "sysctl kernel.bpf_stats_enabled=1 to see BPF time per program in the metrics (costs ~20 ns a run)",
        ),
    ]


def _bpf_stats_on() -> bool:
    try:
        return BPF_STATS.read_text().strip() != "0"
    except OSError:
        return False


def host_checks(docker_sockets: Sequence[str] = DEFAULT_DOCKER_SOCKETS) -> list[Check]:
    """The cgroup layout, and the container runtimes' sockets."""
    try:
        hierarchy = detect_hierarchy()
        where = f"{hierarchy.mount}" + (f", controller {hierarchy.controller}" if hierarchy.controller else "")
        checks = [Check("cgroups", f"{hierarchy.mode.value} (watching {where})")]
    except CgroupLayoutError as error:
        checks = [Check("cgroups", "none mounted", False, str(error), fatal=True)]
    for socket in docker_sockets:
        runtime = "podman" if "podman" in socket else "docker"
        if not os.path.exists(socket):
            checks.append(Check(f"{runtime} socket", f"{socket}: absent (no {runtime} here)"))
            continue
        try:
            DockerClient(socket, runtime).ping()
            checks.append(Check(f"{runtime} socket", f"{socket}: answers"))
        except RuntimeUnavailable as error:
            checks.append(
                Check(
                    f"{runtime} socket",
                    f"{socket}: {error}",
                    False,
                    f"start {runtime} (or point --docker-socket elsewhere): until it answers, its containers "
                    "get ids without names or images",
                )
            )
    return checks


@click.command()
@click.option(
    "--docker-socket",
    "docker_sockets",
    multiple=True,
    metavar="PATH",
    help=f"Runtime API socket to check (repeatable; default: {', '.join(DEFAULT_DOCKER_SOCKETS)}).",
)
def doctor(docker_sockets: tuple[str, ...]) -> None:
    """Check this host: permissions, kernel features, cgroups, runtimes, and each hook's backend.

    Prints what it found, then one line of advice for each problem. Exits 1 when the
    sensor could not start here (no root, no BTF, no tracefs, exec/fork/exit hooks
    missing), 0 otherwise, degraded or not.
    """
    features = probe_kernel()
    choices = choose_backends(features)
    checks = [
        *permission_checks(),
        *kernel_checks(features, compiled_programs(features, choices)),
        *host_checks(docker_sockets or DEFAULT_DOCKER_SOCKETS),
    ]
    click.echo(table_text([("check", "found"), *((c.name, c.found) for c in checks)]))
    click.echo()
    click.echo(table_text([("hook", "backend", "why"), *hook_rows(choices)]))
    click.echo()
    for check in checks:
        if not check.ok and check.advice:
            click.echo(f"{'error' if check.fatal else 'note'}: {check.name}: {check.advice}")
    for choice in choices:
        if choice.backend is Backend.NONE:
            click.echo(f"{'error' if choice.required else 'degraded'}: no {choice.hook} events ({choice.reason})")
    problems = [c.name for c in checks if c.fatal and not c.ok]
    problems += [c.hook for c in choices if c.required and c.backend is Backend.NONE]
    if problems:
        raise click.ClickException(f"the sensor cannot start here: fix {', '.join(problems)} (see above)")
    click.echo("ok: the sensor can attach every required hook")


def hook_rows(choices: list[HookChoice]) -> list[tuple[str, str, str]]:
    """(hook, backend, why) rows for the second table."""
    return [(c.hook, c.backend.value, c.reason) for c in choices]

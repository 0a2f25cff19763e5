"""`sensor doctor`: what this kernel offers, the backend each hook will use, and what to fix."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

import click

from sensor.kernel.features import Backend, HookChoice, KernelFeatures, choose_backends, probe_kernel


def _yes_no(ok: bool, detail: str = "") -> str:
    word = "yes" if ok else "no"
    return f"{word} ({detail})" if detail else word


def feature_rows(features: KernelFeatures) -> list[tuple[str, str]]:
    """(feature, finding) pairs for the first table."""
    headers = Path(f"/lib/modules/{platform.release()}/build/include")
    return [
        ("kernel", features.release),
        ("running as root", _yes_no(os.geteuid() == 0, "" if os.geteuid() == 0 else "the sensor needs root")),
        ("BTF", _yes_no(features.btf, features.btf_error or "/sys/kernel/btf/vmlinux")),
        (
            "tracefs",
            _yes_no(
                features.tracefs is not None,
                str(features.tracefs or "mount -t tracefs nodev /sys/kernel/tracing"),
            ),
        ),
        (
            "BPF ring buffer",
            _yes_no(features.ring_buffer, "" if features.ring_buffer else "perf buffer will be used"),
        ),
        ("kprobes", _yes_no(features.kprobes, "" if features.kprobes else "CONFIG_KPROBES off")),
        ("fentry", _yes_no(features.fentry, features.fentry_error)),
        (
            "headers for bcc",
            _yes_no(headers.exists(), str(headers) if headers.exists() else "run scripts/bootstrap"),
        ),
    ]


def hook_rows(choices: list[HookChoice]) -> list[tuple[str, str, str]]:
    """(hook, backend, why) rows for the second table."""
    return [(c.hook, c.backend.value, c.reason) for c in choices]


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


@click.command()
def doctor() -> None:
    """Check this host: kernel features, and the backend chosen for each hook.

    Exits non-zero when exec, fork or exit cannot be attached (the sensor would not
    start), and says what to fix.
    """
    features = probe_kernel()
    choices = choose_backends(features)
    click.echo(_table(feature_rows(features), ("feature", "found")))
    click.echo()
    click.echo(_table(hook_rows(choices), ("hook", "backend", "why")))
    missing = [c for c in choices if c.required and c.backend is Backend.NONE]
    degraded = [c for c in choices if not c.required and c.backend is Backend.NONE]
    click.echo()
    for c in degraded:
        click.echo(f"degraded: no {c.hook} events ({c.reason})")
    if missing or not features.btf:
        problems = [f"{c.hook}: {c.reason}" for c in missing] + ([features.btf_error] if not features.btf else [])
        raise click.ClickException("the sensor cannot start: " + "; ".join(problems))
    click.echo("ok: the sensor can attach every required hook")

"""The shapes cgroup files come in, v1 and v2 alike: one number, "KEY VALUE" lines, per-device lines."""

from __future__ import annotations

from pathlib import Path

# v1 writes "unlimited" as the largest page-aligned counter (9223372036854771712); anything this
# big is no limit at all.
UNLIMITED_AT = 1 << 62


def read_number(path: Path) -> int | None:
    """The single number in a file; None for "max" or a v1 "unlimited". Raises OSError, ValueError."""
    value = path.read_text().strip()
    if value == "max":
        return None
    number = int(value)
    return None if number >= UNLIMITED_AT or number < 0 else number


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file ("KEY VALUE" per line) as a dict. Raises OSError."""
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def split_device(text: str) -> tuple[int, int] | None:
    """(major, minor) from "MAJOR:MINOR"; None for anything else (v1's "Total" line)."""
    major, sep, minor = text.partition(":")
    if not sep or not major.isdigit() or not minor.isdigit():
        return None
    return int(major), int(minor)


def device_name(major: int, minor: int, sys: Path = Path("/sys")) -> str:
    """The kernel's name of a block device (vda, nvme0n1), or "MAJOR:MINOR" when /sys does not say."""
    try:
        uevent = (sys / "dev" / "block" / f"{major}:{minor}" / "uevent").read_text()
    except OSError:
        return f"{major}:{minor}"
    for line in uevent.splitlines():
        if line.startswith("DEVNAME="):
            return line[len("DEVNAME=") :]
    return f"{major}:{minor}"

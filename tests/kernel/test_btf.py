"""The BTF reader agrees with bpftool on this kernel's struct layouts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from sensor.kernel.btf import VMLINUX_BTF, Btf, BtfError
from sensor.kernel.offsets import KERNEL_OFFSETS, resolve_offsets

_TYPE_LINE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
_MEMBER_LINE = re.compile(r"^\s+'([^']*)' type_id=(\d+) bits_offset=(\d+)")
_REF = re.compile(r"type_id=(\d+)")


def bpftool_offsets(paths: list[str]) -> dict[str, int]:
    """Byte offsets from `bpftool btf dump ... format raw`, resolved independently of sensor.kernel.btf."""
    dump = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(VMLINUX_BTF), "format", "raw"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kinds: dict[int, tuple[str, str, str]] = {}
    members: dict[int, list[tuple[str, int, int]]] = {}
    current = 0
    for line in dump.splitlines():
        if m := _TYPE_LINE.match(line):
            current = int(m.group(1))
            kinds[current] = (m.group(2), m.group(3), m.group(4))
            members[current] = []
        elif m := _MEMBER_LINE.match(line):
            members[current].append((m.group(1), int(m.group(2)), int(m.group(3))))
    structs = {name: i for i, (kind, name, _) in kinds.items() if kind in ("STRUCT", "UNION") and members[i]}

    def resolve(type_id: int) -> int:
        while kinds[type_id][0] in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
            ref = _REF.search(kinds[type_id][2])
            assert ref is not None
            type_id = int(ref.group(1))
        return type_id

    def find(type_id: int, name: str) -> tuple[int, int] | None:
        for member, member_type, bits in members[type_id]:
            if member == name:
                return member_type, bits
            if member == "(anon)":
                inner = find(resolve(member_type), name)
                if inner is not None:
                    return inner[0], bits + inner[1]
        return None

    out = {}
    for path in paths:
        struct_name, *names = path.split(".")
        type_id, bits = structs[struct_name], 0
        for name in names:
            found = find(resolve(type_id), name)
            assert found is not None, path
            type_id, member_bits = found
            bits += member_bits
        out[path] = bits // 8
    return out


def test_every_offset_the_programs_use_matches_bpftool() -> None:
    btf = Btf.load()
    paths = [p for candidates in KERNEL_OFFSETS.values() for p in candidates if _exists(btf, p)]
    paths += ["cred.euid", "cred.fsgid", "cred.uid.val", "task_struct.comm"]
    assert {p: btf.offset(p) for p in paths} == bpftool_offsets(paths)


def _exists(btf: Btf, path: str) -> bool:
    try:
        btf.offset(path)
    except BtfError:
        return False
    return True


def test_members_inside_anonymous_structs_are_found() -> None:
    btf = Btf.load()
    # On 6.x kernels mm_struct's fields sit inside an anonymous struct.
    assert btf.offset("mm_struct.arg_end") == btf.offset("mm_struct.arg_start") + 8


def test_sizes_come_from_the_member_type() -> None:
    btf = Btf.load()
    assert btf.member("task_struct.comm").size == 16
    assert btf.member("task_struct.real_cred").size == 8
    assert btf.member("cred.euid").size == 4
    assert btf.size("upid") == 16  # int nr, then a pointer: padded to 8-byte alignment


def test_resolve_offsets_defines_every_constant() -> None:
    offsets = resolve_offsets(Btf.load())
    assert set(offsets) == {*KERNEL_OFFSETS, "SIZE_UPID"}
    assert offsets["OFF_CRED_UID"] == Btf.load().offset("cred.uid")


def test_a_missing_btf_file_says_which_kernel_option_is_needed(tmp_path: Path) -> None:
    with pytest.raises(BtfError, match="CONFIG_DEBUG_INFO_BTF"):
        Btf.load(tmp_path / "vmlinux")


def test_a_file_that_is_not_btf_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "vmlinux"
    bogus.write_bytes(b"\x7fELF" + bytes(64))
    with pytest.raises(BtfError, match="bad BTF magic"):
        Btf.load(bogus)


def test_unknown_structs_and_members_are_named_in_the_error() -> None:
    btf = Btf.load()
    with pytest.raises(BtfError, match="struct no_such_struct not found"):
        btf.offset("no_such_struct.x")
    with pytest.raises(BtfError, match="has no member 'no_such_member'"):
        btf.offset("task_struct.no_such_member")

"""The Python decoder mirrors bpf/sensor.h exactly, and decodes records faithfully."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor.kernel.records import (
    C_MIRRORS,
    GROUPS_MAX,
    LAYOUTS,
    Creds,
    CredsCause,
    CredsRecord,
    DecodeError,
    ExecFlags,
    ExecRecord,
    ExitRecord,
    ForkRecord,
    decode,
    join_cwd,
    layout_struct,
    split_args,
    text,
    text_bytes,
)

BPF_DIR = Path(__file__).resolve().parents[2] / "bpf"


def c_offsets(tmp_path: Path) -> dict[str, int]:
    """offsetof() of every field, and the size of each fixed part, from the C compiler."""
    lines = []
    for struct_name, fields in LAYOUTS.items():
        for name, _ in fields:
            lines.append(f'printf("{struct_name}.{name} %zu\\n", offsetof(struct {struct_name}, {name}));')
        # The fixed part: up to the variable-length data where there is some.
        has_data = struct_name in ("sensor_exec", "sensor_exec_failed", "sensor_file", "sensor_net")
        size = f"offsetof(struct {struct_name}, data)" if has_data else f"sizeof(struct {struct_name})"
        lines.append(f'printf("{struct_name}.SIZE %zu\\n", {size});')
    source = tmp_path / "layout.c"
    source.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n#include <linux/types.h>\n#include "sensor.h"\n'
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0; }\n"
    )
    binary = tmp_path / "layout"
    subprocess.run(["gcc", f"-I{BPF_DIR}", "-o", str(binary), str(source)], check=True)
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in (line.split() for line in out.splitlines())}


def c_values(tmp_path: Path, names: list[str]) -> dict[str, int]:
    """The value of each constant or enum member of sensor.h, from the C compiler."""
    source = tmp_path / "values.c"
    source.write_text(
        '#include <stdio.h>\n#include <linux/types.h>\n#include "sensor.h"\nint main(void) {\n'
        + "".join(f'printf("{name} %lld\\n", (long long)({name}));\n' for name in names)
        + "return 0; }\n"
    )
    binary = tmp_path / "values"
    subprocess.run(["gcc", f"-I{BPF_DIR}", "-o", str(binary), str(source)], check=True)
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in (line.split() for line in out.splitlines())}


def test_every_constant_and_enum_member_matches_the_c_header(tmp_path: Path) -> None:
    assert c_values(tmp_path, list(C_MIRRORS)) == C_MIRRORS


def test_every_enum_member_of_the_c_header_has_a_python_mirror() -> None:
    header = (BPF_DIR / "sensor.h").read_text()
    members = [
        name
        for body in re.findall(r"enum \w+ \{(.*?)\};", header, re.DOTALL)
        for name in re.findall(r"^\s*([A-Z_]+)\s*=", body, re.MULTILINE)
    ]
    assert len(members) > 20
    assert [name for name in members if name not in C_MIRRORS] == []


def python_offsets() -> dict[str, int]:
    out = {}
    for struct_name, fields in LAYOUTS.items():
        offset = 0
        for name, fmt in fields:
            out[f"{struct_name}.{name}"] = offset
            offset += layout_struct(((name, fmt),)).size
        out[f"{struct_name}.SIZE"] = layout_struct(fields).size
    return out


def test_every_field_offset_matches_the_c_header(tmp_path: Path) -> None:
    assert python_offsets() == c_offsets(tmp_path)


HEADER = dict(cpu=1, pid=101, ktime_ns=5_000, tgid=100, ppid=1, start_ns=7_000_000_000, parent_start_ns=10, cgroup_id=3)
ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)


def encode(
    record_type: int, fields: tuple[tuple[str, str], ...], values: dict[str, object], data: bytes = b""
) -> bytes:
    flat: list[object] = [record_type]
    for name, fmt in fields[1:]:
        value = values[name.removeprefix("header.")]
        flat.extend(cast("tuple[int, ...]", value) if fmt[0].isdigit() and fmt[-1] == "I" else [value])
    return layout_struct(fields).pack(*flat) + data


def test_decode_fork() -> None:
    raw = encode(
        1,
        LAYOUTS["sensor_fork"],
        {
            **HEADER,
            "creds": ROOT,
            "comm": b"bash",
            "child_pid": 200,
            "child_tgid": 200,
            "child_start_ns": 9,
            "clone_flags": 17,
        },
    )
    assert decode(raw) == ForkRecord(1, 101, 5_000, 100, 1, 7_000_000_000, 10, 3, ROOT, "bash", 200, 200, 9, 17)


def test_decode_exec_splits_filename_args_and_cwd_and_keeps_the_namespace_pid() -> None:
    data = b"/bin/ls\0ls\0-l\0\xff\0" + b"b\0a\0"
    fields = {
        **HEADER,
        "creds": ROOT,
        "comm": b"ls",
        "old_pid": 101,
        "flags": 0,
        "filename_len": 8,
        "args_len": 8,
        "args_size": 8,
        "cwd_len": 4,
        "ns_tgid": 1,
        "_pad": 0,
    }
    record = decode(encode(2, LAYOUTS["sensor_exec"], fields, data))
    assert isinstance(record, ExecRecord)
    assert (record.filename, record.argv, record.cwd) == ("/bin/ls", ["ls", "-l", "\\xff"], "/a/b")
    assert record.ns_tgid == 1
    assert record.flags == ExecFlags(0)


def test_decode_exit_and_creds() -> None:
    exit_raw = encode(4, LAYOUTS["sensor_exit"], {**HEADER, "creds": ROOT, "comm": b"sh", "exit_code": 768, "flags": 1})
    assert decode(exit_raw) == ExitRecord(1, 101, 5_000, 100, 1, 7_000_000_000, 10, 3, ROOT, "sh", 768, True)
    new = Creds(1000, 0, 1000, 0, 1000, 0, 1000, 0)
    creds_raw = encode(
        5,
        LAYOUTS["sensor_creds_change"],
        {
            **HEADER,
            "creds": new,
            "comm": b"su",
            "old": ROOT,
            "cause": 9,
            "old_groups.ngroups": 1,
            "old_groups.gids": (27,) + (0,) * (GROUPS_MAX - 1),
            "groups.ngroups": 3,
            "groups.gids": (27, 100, 1000) + (0,) * (GROUPS_MAX - 3),
            "_pad": 0,
        },
    )
    assert decode(creds_raw) == CredsRecord(
        1, 101, 5_000, 100, 1, 7_000_000_000, 10, 3, new, "su", ROOT, CredsCause.SETGROUPS, (27,), (27, 100, 1000)
    )


def test_groups_past_the_bound_are_flagged() -> None:
    many = tuple(range(100, 100 + GROUPS_MAX))
    fields = {
        **HEADER,
        "creds": ROOT,
        "comm": b"id",
        "old": ROOT,
        "cause": 9,
        "old_groups.ngroups": 0,
        "old_groups.gids": (0,) * GROUPS_MAX,
        "groups.ngroups": GROUPS_MAX + 8,
        "groups.gids": many,
        "_pad": 0,
    }
    record = decode(encode(5, LAYOUTS["sensor_creds_change"], fields))
    assert isinstance(record, CredsRecord)
    assert (record.old_groups, record.groups, record.groups_truncated) == ((), many, True)


def test_truncated_args_keep_the_partial_last_argument() -> None:
    assert split_args(b"echo\0abc", truncated=True) == ["echo", "abc"]
    assert split_args(b"echo\0abc\0", truncated=False) == ["echo", "abc"]
    assert split_args(b"", truncated=False) == []


def test_cwd_components_arrive_leaf_first() -> None:
    assert join_cwd(b"c\0b\0a\0", truncated=False) == "/a/b/c"
    assert join_cwd(b"", truncated=False) == "/"
    assert join_cwd(b"c\0b\0", truncated=True) == ".../b/c"


def test_short_and_unknown_records_are_rejected_by_name() -> None:
    with pytest.raises(DecodeError, match="unknown record type 99"):
        decode(b"\x63\x00" + bytes(200))
    with pytest.raises(DecodeError, match="EXIT record of 10 bytes"):
        decode(b"\x04\x00" + bytes(8))


def test_a_literal_backslash_x_and_a_byte_that_is_not_utf8_render_apart() -> None:
    assert text(b"\\xff") == "\\\\xff"
    assert text(b"\xff") == "\\xff"
    assert text("café".encode()) == "café"


@given(st.binary(max_size=300))
def test_any_bytes_rendered_and_parsed_back_are_the_same_bytes(raw: bytes) -> None:
    assert text_bytes(text(raw)) == raw


def test_a_lone_backslash_is_not_a_rendering() -> None:
    with pytest.raises(ValueError, match="a backslash at 1"):
        text_bytes("a\\q")

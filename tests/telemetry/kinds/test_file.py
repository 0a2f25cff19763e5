"""The file kind: a record becomes its payload, paths are joined as the kernel walked them, and a
person reads a line at a glance."""

from __future__ import annotations

import os

import pytest

from sensor.kernel.records import Creds, FileFlags, FileOp, FileRecord
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.file import (
    FileEventType,
    FilePayload,
    absolute,
    describe,
    open_flags_text,
    payload_of,
    read_only_open,
)

ROOT = Creds(0, 0, 0, 0, 0, 0, 0, 0)


def record(op: FileOp, ret: int = 0, **fields: object) -> FileRecord:
    values: dict[str, object] = {
        "flags": 0, "dev": 0, "ino": 0, "length": 0, "how": 0, "mode": 0, "uid": 0, "gid": 0,
        "path": "", "directory": "", "path2": "", "directory2": "",
    }  # fmt: skip
    values.update(fields)
    return FileRecord(0, 7, 1, 7, 1, 5, 4, 0, ROOT, "sh", op, ret=ret, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "directory", "expected"),
    [
        ("notes.txt", "/home/u", "/home/u/notes.txt"),
        ("../etc/./passwd", "/home/u", "/home/etc/passwd"),
        ("x", "/", "/x"),
        ("/etc//shadow", "/ignored", "/etc/shadow"),
        ("/etc/shadow", "", "/etc/shadow"),
        ("", "/var/log/held.log", "/var/log/held.log"),  # an fd's operation: the fd's own path
        ("rel", "", "rel"),  # a dirfd the kernel could not resolve
        ("a", ".../deep/dir", ".../deep/dir/a"),  # a directory cut at the walk's bound keeps its mark
    ],
)
def test_a_path_is_joined_to_its_directory_as_written(path: str, directory: str, expected: str) -> None:
    assert absolute(path, directory) == expected


def test_a_successful_open_keeps_its_fd_inode_and_whether_it_created() -> None:
    opened = record(
        FileOp.OPEN, 3, how=os.O_WRONLY | os.O_CREAT, mode=0o600, path="f", directory="/tmp",
        flags=int(FileFlags.CREATED), dev=2049, ino=77,
    )  # fmt: skip
    assert payload_of(opened) == FilePayload(
        FileEventType.OPEN, filename="/tmp/f", open_flags=os.O_WRONLY | os.O_CREAT, open_mode=0o600, path="f",
        fd=3, created=True, device=2049, inode=77,
    )  # fmt: skip


def test_a_failed_open_has_its_errno_and_no_fd() -> None:
    failed = record(FileOp.OPEN, -13, how=os.O_WRONLY, path="/etc/shadow", dev=1, ino=2)
    assert payload_of(failed) == FilePayload(
        FileEventType.OPEN, filename="/etc/shadow", open_flags=os.O_WRONLY, path="/etc/shadow", errno=13
    )


def test_a_symlink_s_target_is_kept_as_given_and_its_link_is_joined() -> None:
    link = record(FileOp.SYMLINK, path="../target", path2="ln", directory2="/srv")
    assert payload_of(link) == FilePayload(
        FileEventType.SYMLINK, filename="../target", path="../target", new_filename="/srv/ln", new_path="ln"
    )


def test_chown_s_unchanged_id_is_minus_one() -> None:
    chown = record(FileOp.CHOWN, path="/f", uid=0xFFFFFFFF, gid=50)
    assert (payload_of(chown).uid, payload_of(chown).gid) == (-1, 50)


def test_a_truncated_path_or_directory_is_flagged() -> None:
    cut = record(FileOp.UNLINK, path="x", directory="/a", flags=int(FileFlags.BASE_TRUNCATED))
    assert payload_of(cut).path_truncated


@pytest.mark.parametrize(
    ("flags", "text"),
    [
        (os.O_RDONLY, "O_RDONLY"),
        (os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC"),
        (os.O_RDWR | os.O_CLOEXEC | os.O_APPEND, "O_RDWR|O_APPEND|O_CLOEXEC"),
        (os.O_WRONLY | os.O_SYNC, "O_WRONLY|O_SYNC"),  # not O_SYNC|O_DSYNC: O_SYNC holds O_DSYNC's bit
        (os.O_RDONLY | 0x40000000, "O_RDONLY|0x40000000"),
    ],
)
def test_open_flags_read_as_their_names(flags: int, text: str) -> None:
    assert open_flags_text(flags) == text


def test_only_an_open_that_neither_writes_creates_nor_truncates_is_read_only() -> None:
    assert read_only_open(FilePayload(FileEventType.OPEN, open_flags=os.O_RDONLY | os.O_CLOEXEC))
    assert not read_only_open(FilePayload(FileEventType.OPEN, open_flags=os.O_RDONLY | os.O_TRUNC))
    assert not read_only_open(FilePayload(FileEventType.UNLINK))


def line(payload: FilePayload) -> str:
    return describe(TelemetryEvent("s", 1, 0, payload, process_tgid=42, process_pid=42, credentials=ROOT), payload)


def test_compact_lines_read_at_a_glance() -> None:
    assert (
        line(FilePayload(FileEventType.OPEN, filename="/etc/shadow", open_flags=os.O_WRONLY | os.O_TRUNC, fd=3))
        == "open      pid=42      uid=0     /etc/shadow (O_WRONLY|O_TRUNC) -> fd 3"
    )
    assert (
        line(FilePayload(FileEventType.OPEN, filename="/x", open_flags=os.O_WRONLY | os.O_CREAT, created=True, fd=4))
        == "open      pid=42      uid=0     /x (O_WRONLY|O_CREAT) created -> fd 4"
    )
    assert line(FilePayload(FileEventType.OPEN, filename="/root/x", errno=13)) == (
        "open      pid=42      uid=0     /root/x (O_RDONLY) -> EACCES"
    )
    assert line(FilePayload(FileEventType.RENAME, filename="/a", new_filename="/b")) == (
        "rename    pid=42      uid=0     /a -> /b"
    )
    assert line(FilePayload(FileEventType.CHMOD, filename="/a", mode=0o4755)) == (
        "chmod     pid=42      uid=0     /a mode=4755"
    )
    assert line(FilePayload(FileEventType.CHOWN, filename="/a", uid=-1, gid=5, errno=1)) == (
        "chown     pid=42      uid=0     /a uid=-1 gid=5 -> EPERM"
    )

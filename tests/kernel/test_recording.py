"""Recordings: raw records behind a u32 length after a magic line, read back exactly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sensor.kernel.recording import MAGIC, RecordingError, RecordingReader, ReplayReader, read_recording


class ListReader:
    def __init__(self, batches: list[list[bytes]]) -> None:
        self.batches = batches
        self.busy_poll_ms: list[int] = []

    @property
    def lost(self) -> int:
        return 7

    def fill(self) -> tuple[int, int]:
        return (1, 2)

    def read(self, timeout_ms: int, busy_poll_ms: int = 1) -> list[bytes]:
        self.busy_poll_ms.append(busy_poll_ms)
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        pass


def test_a_recording_reads_back_every_record_in_order(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    with path.open("wb") as out:
        reader = RecordingReader(ListReader([[b"\x01\x00abc", b""], [], [b"\x02" * 300]]), out)
        assert [reader.read(0) for _ in range(4)] == [[b"\x01\x00abc", b""], [], [b"\x02" * 300], []]
        assert reader.lost == 7 and reader.fill() == (1, 2)
    assert path.read_bytes().startswith(MAGIC)
    assert read_recording(path) == [b"\x01\x00abc", b"", b"\x02" * 300]


def test_replay_hands_out_records_in_batches_then_nothing() -> None:
    replay = ReplayReader([bytes([i]) for i in range(5)], batch=2)
    assert [replay.read(50) for _ in range(4)] == [[b"\x00", b"\x01"], [b"\x02", b"\x03"], [b"\x04"], []]
    assert replay.done


def test_a_file_that_is_not_a_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('{"id": 1}\n')
    with pytest.raises(RecordingError) as error:
        read_recording(path)
    assert str(error.value) == f"{path} is not a sensor recording (made by `sensor trace --record`)"


@pytest.mark.parametrize(
    ("tail", "message"),
    [(b"\x05\x00", "is cut short at byte 18"), (b"\x05\x00\x00\x00ab", "is cut short at byte 22: a record of 5 bytes")],
)
def test_a_cut_recording_says_where(tmp_path: Path, tail: bytes, message: str) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(MAGIC + tail)
    with pytest.raises(RecordingError) as error:
        read_recording(path)
    assert str(error.value) == f"{path} {message}"


def test_a_recording_of_an_older_record_layout_says_to_record_again(tmp_path: Path) -> None:
    path = tmp_path / "old.bin"
    path.write_bytes(b"sensor-records-v1\n\x05\x00\x00\x00abcde")
    with pytest.raises(RecordingError) as error:
        read_recording(path)
    assert str(error.value) == (
        f"{path} holds records of layout v1, this sensor reads sensor-records-v3:"
        " record it again with this version's `sensor trace --record`"
    )


def test_recording_passes_the_busy_interval_on_to_the_reader_it_records() -> None:
    inner = ListReader([[b"a"], [b"b"]])
    recording = RecordingReader(inner, io.BytesIO())
    assert recording.read(0, 4) == [b"a"]
    assert recording.read(0) == [b"b"]
    assert inner.busy_poll_ms == [4, 1]


def test_recording_writes_nothing_but_the_magic_when_no_record_came() -> None:
    out = io.BytesIO()
    RecordingReader(ListReader([]), out).read(0)
    assert out.getvalue() == MAGIC

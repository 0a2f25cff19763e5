"""The builder's pure parts: how task->exit_code splits into status, signal and core dump."""

from __future__ import annotations

import pytest

from sensor.telemetry.kinds.process import decode_exit_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, (0, 0, False)), (0x300, (3, 0, False)), (9, (0, 9, False)), (0x86, (0, 6, True))],
)
def test_exit_code_decoding(raw: int, expected: tuple[int, int, bool]) -> None:
    assert decode_exit_code(raw) == expected

"""sensor trace's printer: lines cut at --count, and the losses that `lost` events report counted,
whether it gets events or a remote sensor's JSON lines."""

from __future__ import annotations

import pytest

from sensor.cli.trace import Printer
from sensor.telemetry.json_lines import json_line
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.wire import event_frames
from sensor.telemetry.wire_json import response_json_lines
from tests.telemetry.samples import PAYLOADS, event

EVENTS = [event(PAYLOADS[0]), event(LostPayload(12, "subscriber")), event(PAYLOADS[3]), event(LostPayload(5, "kernel"))]


def test_lines_from_the_wire_print_as_the_events_would(capsys: pytest.CaptureFixture[str]) -> None:
    lines, _ = response_json_lines(b"".join(event_frames(EVENTS)))
    printer = Printer("json", None)
    printer.emit_lines(lines)
    assert capsys.readouterr().out == "".join(json_line(e) + "\n" for e in EVENTS)
    assert (printer.printed, printer.lost_reported) == (4, 17)


def test_count_cuts_a_batch_and_counts_only_the_losses_printed(capsys: pytest.CaptureFixture[str]) -> None:
    lines, _ = response_json_lines(b"".join(event_frames(EVENTS)))
    printer = Printer("json", 3)
    printer.emit_lines(lines)
    assert capsys.readouterr().out == "".join(json_line(e) + "\n" for e in EVENTS[:3])
    assert (printer.printed, printer.lost_reported, printer.done) == (3, 12, True)


def test_events_print_and_count_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    printer = Printer("json", 3)
    printer.emit(EVENTS)
    assert capsys.readouterr().out == "".join(json_line(e) + "\n" for e in EVENTS[:3])
    assert (printer.printed, printer.lost_reported, printer.done) == (3, 12, True)

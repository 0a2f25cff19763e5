"""`sensor trace --record FILE`, then the recording replayed through the pipeline without the kernel."""

from __future__ import annotations

from pathlib import Path

from sensor.kernel.recording import ReplayReader, read_recording
from sensor.telemetry.capture import Capture, CaptureConfig
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload
from tests.live_sensor import record_trace


def test_a_recorded_trace_replays_into_the_same_events(tmp_path: Path) -> None:
    recording = tmp_path / "records.bin"
    out = record_trace(recording, ["/bin/echo", "replay-mark", "two words"])
    printed = [line for line in out.splitlines() if "replay-mark" in line and '"type":"EXEC"' in line]
    assert len(printed) == 1
    records = read_recording(recording)
    assert len(records) >= 3
    capture = Capture(CaptureConfig(sensor_id="replay"), replay=ReplayReader(records, batch=2))
    capture.start()
    events = []
    while True:
        batch = capture.poll(0)
        if not batch and capture.loss().records_read == len(records):
            break
        events.extend(batch)
    assert capture.loss().decode_errors == 0
    capture.close()
    execs = [
        e
        for e in events
        if isinstance(e.payload, ProcessPayload)
        and e.payload.type is ProcessEventType.EXEC
        and "replay-mark" in e.payload.exec_command_line
    ]
    assert [(e.payload.exec_filename, e.payload.exec_command_line) for e in execs] == [  # type: ignore[union-attr]
        ("/bin/echo", ["/bin/echo", "replay-mark", "two words"])
    ]

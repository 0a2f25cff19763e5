"""`sensor trace --record FILE`, then the recording replayed through the pipeline without the kernel."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sensor.kernel.recording import ReplayReader, read_recording
from sensor.telemetry.capture import Capture, CaptureConfig
from sensor.telemetry.events import ProcessEventType, ProcessPayload
from tests.live_sensor import ROOT, SENSOR, env_without_sensor


def test_a_recorded_trace_replays_into_the_same_events(tmp_path: Path) -> None:
    recording = tmp_path / "records.bin"
    proc = subprocess.Popen(
        [*SENSOR, "trace", "--record", str(recording), "--format", "json", "--duration", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert "ready" in proc.stderr.readline()
    time.sleep(0.2)
    subprocess.run(["/bin/echo", "replay-mark", "two words"], env=env_without_sensor(), check=True)
    out, _ = proc.communicate(timeout=60)
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

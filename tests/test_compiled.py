"""The hot path compiled by mypyc: used when current, never when stale, and the same output either way."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import sensor
import sensor.kernel.records
from sensor.compiled import COMPILED_DIR, MANIFEST, install, sources_hash
from tests.live_sensor import ROOT, SENSOR, record_trace

# Replays a recording through the pipeline and prints, per event, its JSON line and its protobuf frame.
REPLAY = """
import sys
from pathlib import Path
import sensor
from sensor.kernel.recording import ReplayReader, read_recording
from sensor.telemetry.capture import Capture, CaptureConfig
from sensor.telemetry.json_lines import json_line
from sensor.telemetry.wire import event_frame

print(sensor.HOT_PATH.reason)
records = read_recording(Path(sys.argv[1]))
capture = Capture(CaptureConfig(sensor_id="same"), replay=ReplayReader(records, batch=7))
capture.start()
while capture.loss().records_read < len(records):
    for event in capture.poll(0):
        print(json_line(event))
        print(event_frame(event).hex())
"""


def test_this_checkout_runs_the_compiled_hot_path() -> None:
    assert sensor.HOT_PATH.compiled, sensor.HOT_PATH.reason
    assert sensor.kernel.records.__file__ is not None
    assert Path(sensor.kernel.records.__file__).is_relative_to(COMPILED_DIR)
    assert sensor.kernel.records.__file__.endswith(".so")


def test_no_build_means_interpreted_and_says_where_it_looked(tmp_path: Path) -> None:
    status = install(tmp_path)
    assert not status.compiled
    assert status.reason == f"interpreted: not compiled (no usable {tmp_path / MANIFEST}; run scripts/compile.py)"


def test_a_build_from_other_sources_is_not_used(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"sources": "0" * 64, "modules": {"sensor.memo": "memo.so"}}))
    status = install(tmp_path)
    assert status.compiled is False
    assert status.reason == "interpreted: the sources changed since they were compiled (run scripts/compile.py)"


def test_a_build_with_a_file_gone_is_not_used(tmp_path: Path) -> None:
    manifest = {"sources": sources_hash(["sensor.memo"]), "modules": {"sensor.memo": "sensor/memo.so"}}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    status = install(tmp_path)
    assert status.compiled is False
    assert status.reason == f"interpreted: compiled files missing: {tmp_path / 'sensor/memo.so'}"


def test_sensor_interpreted_forces_the_py_files_and_doctor_says_so() -> None:
    env = {**os.environ, "SENSOR_INTERPRETED": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import sensor.kernel.records as r; print(r.__file__)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(ROOT / "sensor/kernel/records.py")
    doctor = subprocess.run([*SENSOR, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    rows = {line.split("  ")[0]: line for line in doctor.stdout.splitlines()}
    assert rows["hot path"].endswith("interpreted: SENSOR_INTERPRETED is set")
    assert "note: hot path: run scripts/compile.py" in doctor.stdout


def test_compiled_and_interpreted_make_the_same_events_from_the_same_records(tmp_path: Path) -> None:
    recording = tmp_path / "records.bin"
    workload = "for i in 1 2 3; do /bin/echo same-$i 'two words' >/dev/null; done; (sleep 0.1 &); /bin/false"
    record_trace(recording, ["/bin/sh", "-c", workload])

    def replay(**env: str) -> list[str]:
        run = subprocess.run(
            [sys.executable, "-c", REPLAY, str(recording)],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.splitlines()

    compiled = replay()
    interpreted = replay(SENSOR_INTERPRETED="1")
    assert compiled[0].startswith("compiled with mypyc")
    assert interpreted[0] == "interpreted: SENSOR_INTERPRETED is set"
    assert sum('"same-3"' in line and '"type":"EXEC"' in line for line in compiled) == 1
    assert len(compiled) > 20
    assert compiled[1:] == interpreted[1:]


def test_only_compiled_modules_declare_final_constants_that_mypyc_could_inline_stale() -> None:
    modules = json.loads((COMPILED_DIR / MANIFEST).read_text())["modules"]
    compiled = {ROOT.joinpath(*name.split(".")).with_suffix(".py") for name in modules if name.startswith("sensor.")}
    assert len(compiled) >= 10
    interpreted = [path for path in (ROOT / "sensor").rglob("*.py") if path not in compiled and "_pb2" not in path.name]
    declares_final = re.compile(r":\s*Final\b")
    assert [str(p.relative_to(ROOT)) for p in interpreted if declares_final.search(p.read_text())] == []


# Run interpreted, where an __init__ takes any object: each parameter gets a distinct sentinel.
WRITTEN_INITS = """
import dataclasses, inspect
from sensor.kernel import records
from sensor.model import process_cache
from sensor.telemetry import events

classes = [
    records.Record, records.ForkRecord, records.ExecRecord, records.ExecFailedRecord, records.ExitRecord,
    records.CredsRecord, records.CgroupRecord, process_cache.ProcessRef, process_cache.ProcessInfo,
    events.ProcessPayload, events.TelemetryEvent,
]
for cls in classes:
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls).parameters) == names, (cls, names)
    sentinels = [object() for _ in names]
    made = cls(*sentinels)
    assert [getattr(made, name) for name in names] == sentinels, cls
    print(cls.__name__, len(names))
"""


def test_written_out_inits_take_every_field_in_order_and_set_each() -> None:
    run = subprocess.run(
        [sys.executable, "-c", WRITTEN_INITS],
        cwd=ROOT,
        env={**os.environ, "SENSOR_INTERPRETED": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "Record 10",
        "ForkRecord 14",
        "ExecRecord 17",
        "ExecFailedRecord 12",
        "ExitRecord 12",
        "CredsRecord 15",
        "CgroupRecord 15",
        "ProcessRef 6",
        "ProcessInfo 22",
        "ProcessPayload 21",
        "TelemetryEvent 28",
    ]


def test_an_unreadable_manifest_means_not_compiled(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"sources": "abc"}')
    status = install(tmp_path)
    assert (status.compiled, status.reason) == (
        False,
        f"interpreted: not compiled (no usable {tmp_path / MANIFEST}; run scripts/compile.py)",
    )

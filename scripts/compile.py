#!/usr/bin/env python3
"""Compile the hot path with mypyc into build/compiled/ (see sensor/compiled.py); a no-op when current.

Usage: .venv/bin/python scripts/compile.py [--force]

The modules below are the ones every kernel record and every event pass through. They stay plain
typed Python (the interpreted path is the same code, run by CPython); compiled, an event costs
about a third of the CPU it costs interpreted (scripts/bench reports both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sensor.compiled import COMPILED_DIR, MANIFEST, read_build, sources_hash  # noqa: E402

HOT_PATH = [
    "sensor/memo.py",
    "sensor/kernel/ringbuf.py",  # draining the ring buffer
    "sensor/kernel/recording.py",  # the replay the benchmark drives
    "sensor/kernel/records.py",  # decode
    "sensor/model/process_cache.py",  # the process model
    "sensor/model/procfs.py",  # process ids, and a process first seen mid-life
    "sensor/model/container_cache.py",
    "sensor/model/language.py",
    "sensor/telemetry/events.py",
    "sensor/telemetry/kinds/kind.py",
    "sensor/telemetry/kinds/process.py",  # each kind: record -> payload, its JSON, its fields
    "sensor/telemetry/kinds/file.py",
    "sensor/telemetry/kinds/network.py",
    "sensor/telemetry/kinds/container.py",
    "sensor/telemetry/kinds/lost.py",
    "sensor/telemetry/kinds/ticker.py",
    "sensor/telemetry/kinds/registry.py",
    "sensor/telemetry/json_text.py",
    "sensor/telemetry/builder.py",  # record + model -> event
    "sensor/telemetry/capture.py",  # the loop over records
    "sensor/telemetry/metadata_hold.py",  # events waiting for their container's name
    "sensor/telemetry/container_watch.py",  # the container of each record
    "sensor/telemetry/expression.py",  # filters
    "sensor/telemetry/subscription.py",
    "sensor/telemetry/hub.py",  # fan-out to subscribers
    "sensor/telemetry/wire.py",
    "sensor/telemetry/wire_read.py",  # protobuf frames
    "sensor/telemetry/wire_json.py",  # frames to JSON lines (sensor trace --connect)
    "sensor/telemetry/json_lines.py",  # sensor trace's output
]

SETUP = """
from mypyc.build import mypycify
from setuptools import setup
import sys
setup(name="sensor-hot-path", ext_modules=mypycify(sys.argv[1:], opt_level="3"),
      script_args=["build_ext", "--build-lib", "{lib}", "--build-temp", "{temp}"])
"""


def module_name(path: str) -> str:
    """sensor/kernel/records.py -> sensor.kernel.records"""
    return path.removesuffix(".py").replace("/", ".")


def compile_hot_path(out: Path, want: str) -> None:
    """Build the extensions into ``out`` with a manifest naming each module's file; ``want``: their sources' hash."""
    with tempfile.TemporaryDirectory(prefix="sensor-compile-") as tmp:
        lib = Path(tmp) / "lib"
        setup = SETUP.format(lib=lib, temp=Path(tmp) / "temp")
        # mypyc writes its generated C under ./build of the working directory: keep it in tmp too.
        work = Path(tmp) / "work"
        work.mkdir()
        (work / "sensor").symlink_to(ROOT / "sensor")
        (work / "pyproject.toml").symlink_to(ROOT / "pyproject.toml")  # mypy's settings
        result = subprocess.run(
            [sys.executable, "-c", setup, *HOT_PATH],
            cwd=work,
            capture_output=True,
            text=True,
            env={**os.environ, "MYPY_FORCE_COLOR": "0"},
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
            raise SystemExit("compile: mypyc failed (above); the sensor still runs, interpreted")
        modules = {}
        for file in lib.rglob("*.so"):
            relative = file.relative_to(lib)
            name = ".".join((*relative.parent.parts, relative.name.split(".", 1)[0]))
            modules[name] = str(relative)
        if sources_hash(map(module_name, HOT_PATH)) != want:
            raise SystemExit("compile: the sources changed while compiling; run again")
        (lib / MANIFEST).write_text(json.dumps({"sources": want, "modules": modules}, indent=1) + "\n")
        staging = out.with_name(out.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(lib, staging)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)


def main() -> None:
    force = "--force" in sys.argv[1:]
    want = sources_hash(map(module_name, HOT_PATH))
    build = read_build(COMPILED_DIR)
    # What sensor/compiled.py would refuse (other sources, a file gone) is built again.
    current = build is not None and build.sources == want and not build.missing
    if current and not force:
        return
    print(f"compile: compiling the hot path with mypyc into {COMPILED_DIR} (about a minute)", file=sys.stderr)
    compile_hot_path(COMPILED_DIR, want)


if __name__ == "__main__":
    main()

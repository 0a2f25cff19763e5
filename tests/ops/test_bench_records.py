"""scripts/bench_pipeline.py: the memory benchmark's synthetic records are what the BPF programs send."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from sensor.kernel.records import Creds, ExecRecord, ExitRecord, ForkRecord, decode
from tests.live_sensor import ROOT

ROOT_CREDS = Creds(0, 0, 0, 0, 0, 0, 0, 0)


def bench_pipeline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "scripts/bench_pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_fork_exec_exit_decode_with_the_current_record_layouts() -> None:
    fork, exec_, exit_ = bench_pipeline().synthetic(500, 7, 1, True, 1000)
    assert decode(fork) == ForkRecord(0, 1, 1000, 1, 1, 1_000_000, 0, 1, ROOT_CREDS, "worker", 500, 500, 7, 0x11)
    record = decode(exec_)
    assert isinstance(record, ExecRecord)
    assert (record.tgid, record.ktime_ns, record.filename, record.argv, record.cwd, record.ns_tgid) == (
        500,
        2000,
        "/usr/bin/worker",
        ["/usr/bin/worker", "--job", "500"],
        "/tmp",
        500,
    )
    assert decode(exit_) == ExitRecord(0, 500, 3000, 500, 1, 7, 1_000_000, 1, ROOT_CREDS, "worker", 0, True)

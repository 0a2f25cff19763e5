"""The loader on the live kernel: one compiled object for every buffer size, and the exit hook's two ways."""

from __future__ import annotations

import logging
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor.kernel.btf import Btf
from sensor.kernel.cgroupfs import detect_hierarchy
from sensor.kernel.features import HookChoice, choose_backends, probe_kernel
from sensor.kernel.loader import LoadedProbes
from sensor.kernel.records import ExitRecord, decode

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def choices() -> list[HookChoice]:
    return choose_backends(probe_kernel(Btf.load()))


def test_one_compile_serves_every_buffer_size(
    choices: list[HookChoice], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sizes = []
    with caplog.at_level(logging.INFO, logger="sensor"):
        for size in (4 * MIB, 16 * MIB, 64 * MIB):
            probes = LoadedProbes(choices, buffer_bytes=size, hierarchy=detect_hierarchy(), cache_dir=tmp_path)
            try:
                sizes.append(probes.buffer_bytes)
            finally:
                probes.close()
    assert sizes == [4 * MIB, 16 * MIB, 64 * MIB]  # as the kernel holds the map
    assert [r.message for r in caplog.records if "compiling" in r.message] == [
        f"compiling the BPF programs for this kernel (once: later starts load them from {tmp_path})"
    ]
    assert len(list(tmp_path.glob("bpf-*.json"))) == 1


@pytest.fixture
def probes_without_group_dead(choices: list[HookChoice], tmp_path: Path) -> Iterator[LoadedProbes]:
    """The programs as a kernel before 6.16 gets them: sched_process_exit without group_dead."""
    probes = LoadedProbes(choices, hierarchy=detect_hierarchy(), cache_dir=tmp_path, exit_group_dead_arg=False)
    yield probes
    probes.close()


def test_without_the_tracepoint_s_group_dead_a_process_still_ends_once(
    probes_without_group_dead: LoadedProbes, threads_exit_binary: Path
) -> None:
    runs = 200  # with signal->live alone, about 2 in 100 such processes ended two or three times
    for _ in range(runs):
        subprocess.run([str(threads_exit_binary), "6", "7"], check=False)
    time.sleep(0.1)
    exits = [
        record
        for record in map(decode, probes_without_group_dead.reader.read(100))
        if isinstance(record, ExitRecord) and record.comm == "threads_exit"
    ]
    threads = Counter((r.tgid, r.start_ns) for r in exits)
    ends = Counter((r.tgid, r.start_ns) for r in exits if r.group_dead)
    assert len(threads) == runs and set(threads.values()) == {7}
    assert ends == Counter(dict.fromkeys(threads, 1))
    assert {r.exit_code for r in exits if r.group_dead} == {7 << 8}

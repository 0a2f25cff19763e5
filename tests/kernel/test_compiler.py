"""The BPF programs are compiled once, in a child process, and loaded from the cache after that."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest

from sensor.kernel.btf import Btf
from sensor.kernel.cgroupfs import detect_hierarchy
from sensor.kernel.compiler import BpfObject, CompileRequest, ProgramSpec, compiled_object, maps_as_indexes
from sensor.kernel.features import KernelFeatureError, choose_backends, probe_kernel
from sensor.kernel.loader import compile_request
from sensor.kernel.syscalls import MapSpec, ProgType


def ld_map(fd: int) -> bytes:
    """`r1 = map[fd]`: the two-slot instruction bcc emits for a map reference."""
    return struct.pack("<BBhi", 0x18, 0x11, 0, fd) + bytes(8)


EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)


@pytest.fixture(scope="module")
def request_for_this_kernel() -> CompileRequest:
    btf = Btf.load()
    features = probe_kernel(btf)
    return compile_request(choose_backends(features, None), btf, detect_hierarchy(), features.exit_group_dead_arg)


@pytest.fixture(scope="module")
def compiled_cache(tmp_path_factory: pytest.TempPathFactory, request_for_this_kernel: CompileRequest) -> Path:
    cache = tmp_path_factory.mktemp("bpf-cache")
    compiled_object(request_for_this_kernel, cache)
    return cache


def test_map_references_become_indexes_in_the_order_of_first_use() -> None:
    fds: list[int] = []
    out = maps_as_indexes(ld_map(9) + ld_map(11) + ld_map(9) + EXIT, fds, "prog")
    assert fds == [9, 11]
    assert out == ld_map(0) + ld_map(1) + ld_map(0) + EXIT


def test_a_call_to_a_bpf_function_is_refused_by_program_name() -> None:
    call = struct.pack("<BBhi", 0x85, 0x10, 0, 4)
    with pytest.raises(KernelFeatureError, match="on_exec: calls a BPF function"):
        maps_as_indexes(call + EXIT, [], "on_exec")


def test_an_object_reads_back_from_its_cache_file_unchanged() -> None:
    obj = BpfObject(
        (MapSpec("records", 27, 0, 0, 1 << 24, 0), MapSpec("counters", 6, 4, 8, 12, 0)),
        (ProgramSpec("on_task_newtask", ProgType.RAW_TRACEPOINT, "task_newtask", ld_map(1) + EXIT),),
    )
    assert BpfObject.from_json(obj.to_json()) == obj
    assert obj.map_index("counters") == 1


def test_a_file_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="not a compiled BPF object"):
        BpfObject.from_json(b'{"maps": []}')
    with pytest.raises(ValueError, match="object format 0, expected 1"):
        BpfObject.from_json(b'{"format": 0}')


def test_the_first_start_compiles_in_a_child_and_caches_the_object(
    compiled_cache: Path, request_for_this_kernel: CompileRequest
) -> None:
    (cached,) = compiled_cache.glob("bpf-*.json")
    assert cached.name == f"bpf-{request_for_this_kernel.key()}.json"
    obj = BpfObject.from_json(cached.read_bytes())
    programs = {p.name: (p.prog_type, p.attach_to) for p in obj.programs}
    assert programs["on_sched_process_exec"] == (ProgType.RAW_TRACEPOINT, "sched_process_exec")
    assert programs["tracepoint__cgroup__cgroup_mkdir"] == (ProgType.TRACEPOINT, "cgroup:cgroup_mkdir")
    assert {"records", "counters", "sensor_tgid"} <= {m.name for m in obj.maps}
    assert "bcc" not in sys.modules  # LLVM stayed in the child


def test_a_later_start_loads_the_cached_object_without_compiling(
    compiled_cache: Path, request_for_this_kernel: CompileRequest
) -> None:
    (cached,) = compiled_cache.glob("bpf-*.json")
    written = cached.stat().st_mtime_ns
    obj = compiled_object(request_for_this_kernel, compiled_cache)
    assert obj == BpfObject.from_json(cached.read_bytes())
    assert cached.stat().st_mtime_ns == written


def test_a_damaged_cache_file_is_compiled_again_with_a_warning(
    compiled_cache: Path,
    request_for_this_kernel: CompileRequest,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(compiled_cache, cache)
    (cached,) = cache.glob("bpf-*.json")
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 2])
    obj = compiled_object(request_for_this_kernel, cache)
    assert "unusable" in caplog.text and "compiling again" in caplog.text
    assert obj == BpfObject.from_json(good)
    assert cached.read_bytes() == good


def test_a_compile_error_is_reported_with_the_compiler_message(tmp_path: Path) -> None:
    broken = CompileRequest("int on_task_newtask(void *ctx) { return undefined_name; }\n", (), {})
    with pytest.raises(KernelFeatureError, match=r"(?s)compiling the BPF programs failed.*undefined_name"):
        compiled_object(broken, tmp_path)
    assert list(tmp_path.iterdir()) == []

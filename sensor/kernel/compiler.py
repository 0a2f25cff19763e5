"""Compile the BPF C sources with bcc, in a child process, into an object loaded without LLVM.

bcc compiles with an in-process clang and LLVM: about 2 s, and some 100 MiB of libraries and heap
that a daemon would keep for its whole life. So compiling happens in a short-lived child
(``python -m sensor.kernel.compiler``), once per source and kernel: its result, each program's
instructions (map references turned into indexes) and each map's spec, is cached on disk, and
later starts load it straight through the bpf() system call (sensor/kernel/loader.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import os
import platform
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sensor.kernel.features import KernelFeatureError
from sensor.kernel.syscalls import BPF_LD_IMM64, BPF_PSEUDO_MAP_FD, MapSpec, ProgType, map_spec

OBJECT_FORMAT = 1
DEFAULT_CACHE_DIR = Path("/var/cache/sensor")
# Older kernels' and sources' objects beyond these are removed. Each choice of hooks is an object
# of its own (a trace with or without file or network events, a transport, a way of reading the
# task): 8 made the suite's own variants evict each other.
CACHE_ENTRIES_KEPT = 16
COMPILE_TIMEOUT_S = 300
_TRACEPOINT_PREFIX = "tracepoint__"  # bcc's name for a TRACEPOINT_PROBE(category, event)
_BPF_CALL = 0x85
_INSN = struct.Struct("<BBhi")
log = logging.getLogger("sensor")


@dataclass(frozen=True, slots=True)
class ProgramSpec:
    """One program: its type, where it attaches, and its instructions."""

    name: str
    prog_type: ProgType
    # A raw tracepoint "task_newtask", tracepoints "category:event[,category:event...]", or a kernel function.
    attach_to: str
    insns: bytes  # each map reference's immediate is an index into BpfObject.maps


@dataclass(frozen=True, slots=True)
class BpfObject:
    """Everything the loader needs: the maps to create and the programs that use them."""

    maps: tuple[MapSpec, ...]
    programs: tuple[ProgramSpec, ...]

    def to_json(self) -> bytes:
        """The cache file's contents."""
        return json.dumps(
            {
                "format": OBJECT_FORMAT,
                "maps": [dataclasses.asdict(spec) for spec in self.maps],
                "programs": [
                    {
                        "name": p.name,
                        "type": p.prog_type.name,
                        "attach_to": p.attach_to,
                        "insns": base64.b64encode(p.insns).decode(),
                    }
                    for p in self.programs
                ],
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BpfObject:
        """Parse a cache file; ValueError if it is not one of this format."""
        try:
            doc = json.loads(data)
            if doc["format"] != OBJECT_FORMAT:
                raise ValueError(f"object format {doc['format']}, expected {OBJECT_FORMAT}")
            return cls(
                tuple(MapSpec(**spec) for spec in doc["maps"]),
                tuple(
                    ProgramSpec(p["name"], ProgType[p["type"]], p["attach_to"], base64.b64decode(p["insns"]))
                    for p in doc["programs"]
                ),
            )
        except (KeyError, TypeError, json.JSONDecodeError, binascii.Error) as error:
            raise ValueError(f"not a compiled BPF object: {error!r}") from None

    @property
    def map_names(self) -> set[str]:
        """The names of the maps."""
        return {spec.name for spec in self.maps}

    def map_index(self, name: str) -> int:
        """Which map is ``name``; KeyError if none."""
        for index, spec in enumerate(self.maps):
            if spec.name == name:
                return index
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class CompileRequest:
    """What to compile: the C source, clang flags, and where each non-tracepoint function attaches."""

    source: str
    cflags: tuple[str, ...]
    attach: dict[str, tuple[ProgType, str]]  # function -> (type, target)

    def key(self) -> str:
        """The cache key: the source, the headers it includes, the attach table and the kernel.

        The headers count by content and not by path, so that every checkout shares one object.
        """
        digest = hashlib.sha256(self.source.encode())
        for flag in self.cflags:
            if flag.startswith("-I"):
                for header in sorted(Path(flag[2:]).glob("*.h")):
                    digest.update(header.read_bytes())
            else:
                digest.update(flag.encode())
        digest.update(
            json.dumps(sorted((name, kind.name, target) for name, (kind, target) in self.attach.items())).encode()
        )
        digest.update(platform.release().encode() + platform.version().encode())
        return digest.hexdigest()[:32]

    def to_json(self) -> bytes:
        """The request as the child reads it on stdin."""
        attach = {name: [kind.name, target] for name, (kind, target) in sorted(self.attach.items())}
        return json.dumps({"source": self.source, "cflags": list(self.cflags), "attach": attach}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CompileRequest:
        """The request the parent wrote."""
        doc = json.loads(data)
        attach = {name: (ProgType[kind], target) for name, (kind, target) in doc["attach"].items()}
        return cls(doc["source"], tuple(doc["cflags"]), attach)


def cache_path(request: CompileRequest, cache_dir: Path) -> Path:
    """Where the object for ``request`` is (or will be) cached."""
    return cache_dir / f"bpf-{request.key()}.json"


def compiled_object(request: CompileRequest, cache_dir: Path) -> BpfObject:
    """The object for ``request``: from the cache, else compiled in a child and cached.

    Raises KernelFeatureError when the child cannot compile (bcc missing, a compile error). A cache
    that cannot be read or written is logged, and the object used all the same.
    """
    path = cache_path(request, cache_dir)
    try:
        return BpfObject.from_json(path.read_bytes())
    except FileNotFoundError:
        log.info("compiling the BPF programs for this kernel (once: later starts load them from %s)", cache_dir)
    except (OSError, ValueError) as error:
        log.warning("BPF object cache %s unusable (%s); compiling again", path, error)
    obj = _compile_in_child(request)
    try:
        _store(path, obj.to_json())
    except OSError as error:
        log.warning(
            "cannot cache the compiled BPF programs in %s (%s); the next start compiles again", cache_dir, error
        )
    return obj


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".bpf-", delete=False) as file:
        file.write(data)
    os.replace(file.name, path)
    older = sorted(path.parent.glob("bpf-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in older[CACHE_ENTRIES_KEPT:]:
        stale.unlink(missing_ok=True)


def _compile_in_child(request: CompileRequest) -> BpfObject:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sensor.kernel.compiler"],
            input=request.to_json(),
            capture_output=True,
            timeout=COMPILE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise KernelFeatureError(f"compiling the BPF programs took over {COMPILE_TIMEOUT_S} s") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").strip().splitlines()[-15:])
        raise KernelFeatureError(f"compiling the BPF programs failed:\n{tail}")
    return BpfObject.from_json(done.stdout)


def compile_with_bcc(request: CompileRequest) -> BpfObject:
    """Compile with bcc in this process (the child's job) and turn its loaded maps into specs."""
    try:
        import bcc
    except ImportError:
        raise KernelFeatureError(
            "the bcc Python module is missing: run scripts/bootstrap (it installs Debian's python3-bpfcc "
            "and links it into the virtualenv)"
        ) from None
    bpf = bcc.BPF(text=request.source, cflags=list(request.cflags))
    fds: list[int] = []  # map fds in the order the programs first use them; index = position
    programs = []
    for i in range(bcc.lib.bpf_num_functions(bpf.module)):
        name = bcc.lib.bpf_function_name(bpf.module, i).decode()
        if name.startswith(_TRACEPOINT_PREFIX):
            prog_type, target = ProgType.TRACEPOINT, name[len(_TRACEPOINT_PREFIX) :].replace("__", ":")
        elif name in request.attach:
            prog_type, target = request.attach[name]
        else:
            continue
        programs.append(ProgramSpec(name, prog_type, target, maps_as_indexes(bpf.dump_func(name), fds, name)))
    return BpfObject(tuple(map_spec(fd) for fd in fds), tuple(programs))


def maps_as_indexes(insns: bytes, fds: list[int], name: str) -> bytes:
    """``insns`` with each map fd replaced by its index in ``fds`` (appended to on first use)."""

    def index_of(fd: int) -> int:
        if fd not in fds:
            fds.append(fd)
        return fds.index(fd)

    return relocate_maps(insns, index_of, name)


def relocate_maps(insns: bytes, new_reference: Callable[[int], int], name: str) -> bytes:
    """``insns`` with each map reference ``r`` replaced by ``new_reference(r)`` (fd <-> index).

    Raises KernelFeatureError on a BPF-to-BPF call, which would need function info this object lacks.
    """
    out = bytearray(insns)
    for at in range(0, len(out), 8):
        code, regs, _offset, imm = _INSN.unpack_from(out, at)
        if code == _BPF_CALL and regs >> 4 == 1:
            raise KernelFeatureError(f"{name}: calls a BPF function; every helper must be inlined")
        if code == BPF_LD_IMM64 and regs >> 4 == BPF_PSEUDO_MAP_FD:
            struct.pack_into("<i", out, at + 4, new_reference(imm))
    return bytes(out)


def main() -> None:
    """The child: a request on stdin, the object on stdout; anything bcc prints goes to stderr."""
    request = CompileRequest.from_json(sys.stdin.buffer.read())
    result = os.dup(1)
    os.dup2(2, 1)
    try:
        obj = compile_with_bcc(request)
    except Exception as error:  # clang has printed its diagnostics; bcc's exception adds only this line
        print(error, file=sys.stderr)
        sys.exit(1)
    with os.fdopen(result, "wb") as out:
        out.write(obj.to_json())


if __name__ == "__main__":
    main()

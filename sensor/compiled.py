"""The hot path compiled by mypyc (``scripts/compile.py``), used only when built from the sources as they are.

The modules every event passes through (decode, caches, build, filter, encode) are plain typed
Python; mypyc compiles them into C extensions under ``build/compiled/`` in the checkout, beside a
manifest holding a hash of the package's sources. :func:`install` puts them ahead of the ``.py``
files only when that hash matches the sources now, so an edited checkout never runs stale compiled
code: it runs interpreted, and says why, until ``scripts/compile.py`` runs again.

``SENSOR_INTERPRETED=1`` forces the interpreted path (the benchmark measures both).

The dataclasses made per record or per event (the records, ProcessInfo,
ProcessRef, the event and its process payload) write their ``__init__`` out, marked "Written out,
not generated": mypyc compiles a written ``__init__``, while the one ``@dataclass`` generates
stays interpreted (48 ns against 680 ns for five fields, on this VM). Their fields and parameters
must stay in step: tests/test_compiled.py builds each one field by field and compares.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
COMPILED_DIR = PACKAGE_DIR.parent / "build" / "compiled"
MANIFEST = "manifest.json"
FORCE_INTERPRETED = "SENSOR_INTERPRETED"


@dataclass(frozen=True, slots=True)
class HotPath:
    """Whether the hot path runs compiled, and if not, why."""

    compiled: bool
    reason: str


def sources_hash(modules: Iterable[str], package_dir: Path = PACKAGE_DIR) -> str:
    """A hash of the named modules' sources (``sensor.x.y``) and of this interpreter's ABI.

    Only the compiled modules count: a compiled module reaches every other module through ordinary
    Python attributes. mypyc would inline another module's ``Final`` constants, so only compiled
    modules declare any (tests/test_compiled.py checks).
    """
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in sorted(modules):
        path = package_dir.parent.joinpath(*name.split(".")).with_suffix(".py")
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


class _CompiledFinder:
    """Finds the compiled modules (and mypyc's shared library) in the build directory."""

    def __init__(self, files: dict[str, Path]) -> None:
        self._files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        file = self._files.get(fullname)
        return None if file is None else importlib.util.spec_from_file_location(fullname, file)


@dataclass(frozen=True, slots=True)
class Build:
    """What a build's manifest records: the hash of the sources it was compiled from, and each module's file."""

    sources: str
    files: dict[str, Path]

    @property
    def missing(self) -> list[str]:
        """Its files that are not there (any one makes the build unusable)."""
        return [str(file) for file in self.files.values() if not file.is_file()]


def read_build(compiled_dir: Path = COMPILED_DIR) -> Build | None:
    """The build in ``compiled_dir`` as its manifest describes it; None without a usable manifest."""
    try:
        manifest = json.loads((compiled_dir / MANIFEST).read_text())
        modules: dict[str, str] = manifest["modules"]
        sources = manifest["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Build(sources, {name: compiled_dir / file for name, file in modules.items()})


def _check(compiled_dir: Path) -> tuple[HotPath, dict[str, Path]]:
    if os.environ.get(FORCE_INTERPRETED, "") not in ("", "0"):
        return HotPath(False, f"interpreted: {FORCE_INTERPRETED} is set"), {}
    build = read_build(compiled_dir)
    if build is None:
        return HotPath(
            False, f"interpreted: not compiled (no usable {compiled_dir / MANIFEST}; run scripts/compile.py)"
        ), {}
    if build.sources != sources_hash(name for name in build.files if name.startswith("sensor.")):
        return HotPath(False, "interpreted: the sources changed since they were compiled (run scripts/compile.py)"), {}
    missing = build.missing
    if missing:
        return HotPath(False, f"interpreted: compiled files missing: {', '.join(missing)}"), {}
    compiled = sorted(name for name in build.files if name.startswith("sensor."))
    return HotPath(True, f"compiled with mypyc: {len(compiled)} modules"), build.files


def install(compiled_dir: Path = COMPILED_DIR) -> HotPath:
    """Import the compiled hot path from now on when it is current; say which path runs."""
    status, files = _check(compiled_dir)
    if status.compiled:
        sys.meta_path.insert(0, _CompiledFinder(files))
    return status

"""The language a process runs in, as the workload-meta language detector decides it.

From the command first (the executable's normalised name, and java running JRuby), and for
compiled binaries from the ELF's Go build-info section. Answers are cached per binary, so an
exec storm of one program costs one dictionary lookup per exec.
"""

from __future__ import annotations

import re
import struct
from enum import Enum
from typing import Final

_CACHE_MAX = 16384
_GO_BUILDINFO = b".go.buildinfo"
_ELF_MAGIC = b"\x7fELF"
_SECTION_HEADER_LIMIT = 4096  # a binary with more sections than this is not worth the read


class Language(str, Enum):
    """Languages the detector knows; UNKNOWN when none matched."""

    UNKNOWN = ""
    PYTHON = "python"
    JAVA = "java"
    NODE = "node"
    RUBY = "ruby"
    DOTNET = "dotnet"
    GO = "go"
    PHP = "php"


# Compiled code reads an Enum's ``.value`` through the interpreter (a property in enum.py): the
# per-exec path takes the names from here instead.
LANGUAGE_NAMES: Final = {language: language.value for language in Language}


_EDGE = re.compile(r"^[^0-9a-z]+|[^0-9a-z]+$")
_RULES: tuple[tuple[re.Pattern[str], Language], ...] = (
    (re.compile(r"^(?:py|python[0-9.]*)$"), Language.PYTHON),
    (re.compile(r"^java(?!c$)[0-9a-z._-]*$"), Language.JAVA),
    (re.compile(r"^(?:node|nodejs|npm)$"), Language.NODE),
    (re.compile(r"^dotnet$"), Language.DOTNET),
    (re.compile(r"^(?:ruby|rubyw|ruby[0-9]+\.[0-9]+)$"), Language.RUBY),
    (re.compile(r"^php(?:[0-9.]*|-fpm[0-9.]*)$"), Language.PHP),
)


def normalise_name(executable: str) -> str:
    """``"/usr/bin/Python3.11"`` -> ``python3.11``; ``-bash`` -> ``bash``; ``(python)`` -> ``python``."""
    name = executable.strip().strip("'\"").rsplit("/", 1)[-1].lower()
    return _EDGE.sub("", name)


def language_of_command(argv0: str, filename: str) -> Language:
    """The language the executable's name says (argv[0] first, then the file exec'd), or UNKNOWN."""
    for name in (normalise_name(argv0), normalise_name(filename)):
        for pattern, language in _RULES:
            if pattern.match(name):
                return language
    return Language.UNKNOWN


def is_go_binary(path: str) -> bool | None:
    """Whether the file is an ELF with Go's build-info section (every Go binary since 1.13 has one).

    None when the file cannot be read (the process is gone): nothing is known, and nothing cached.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if len(header) < 64 or header[:4] != _ELF_MAGIC or header[4] != 2:  # 64-bit ELF only
                return False
            endian = "<" if header[5] == 1 else ">"
            (shoff,) = struct.unpack_from(endian + "Q", header, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", header, 0x3A)
            if not 0 < shnum <= _SECTION_HEADER_LIMIT or shentsize < 64 or shstrndx >= shnum:
                return False
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            names_offset, names_size = struct.unpack_from(endian + "QQ", table, shstrndx * shentsize + 0x18)
            f.seek(names_offset)
            names = f.read(min(names_size, 1 << 20))
    except OSError:
        return None
    except struct.error:
        return False
    for i in range(shnum):
        (name_at,) = struct.unpack_from(endian + "I", table, i * shentsize)
        if names[name_at : name_at + len(_GO_BUILDINFO) + 1] == _GO_BUILDINFO + b"\0":
            return True
    return False


class LanguageDetector:
    """Language per exec, cached per binary: (cgroup, path as exec'd, argv[0]) names one in practice."""

    def __init__(self, read_binaries: bool = True) -> None:
        self._cache: dict[tuple[int, str, str], Language] = {}
        self._read_binaries = read_binaries  # False on replay: the recorded processes are gone

    def detect(self, pid: int, cgroup_id: int, filename: str, argv: list[str]) -> Language:
        """The language of a process that just exec'd ``filename`` with ``argv``."""
        argv0 = argv[0] if argv else ""
        key = (cgroup_id, filename, argv0)
        language = self._cache.get(key)
        if language is None:
            language = language_of_command(argv0, filename)
            if language is Language.UNKNOWN and self._read_binaries:
                # The binary itself, through /proc: a container's file is read in its own mount namespace.
                go = is_go_binary(f"/proc/{pid}/exe")
                if go is None:
                    go = is_go_binary(f"/proc/{pid}/root{filename}")
                if go is None:
                    return Language.UNKNOWN
                language = Language.GO if go else Language.UNKNOWN
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = language
        if language is Language.JAVA and "org.jruby.Main" in argv:
            return Language.RUBY
        return language

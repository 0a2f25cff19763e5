"""Reader for the running kernel's BTF: struct member offsets, without kernel headers.

The BPF programs never read a kernel struct through a header layout; the sensor resolves every
offset it needs here (``task_struct.real_cred``, ``mm_struct.arg_start``, ...) and passes them to
the programs as compile-time constants. The format is documented in the kernel's
``Documentation/bpf/btf.rst``; only what offset resolution needs is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
_MEMBER = struct.Struct("<III")


class BtfError(Exception):
    """BTF is missing, malformed, or lacks a type or member the sensor needs."""


class BtfKind(IntEnum):
    """BTF type kinds (``BTF_KIND_*``)."""

    UNKNOWN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Bytes of kind-specific data after the 12-byte common header: (fixed, per vlen entry).
_TRAILER: dict[int, tuple[int, int]] = {
    BtfKind.INT: (4, 0),
    BtfKind.ARRAY: (12, 0),
    BtfKind.STRUCT: (0, 12),
    BtfKind.UNION: (0, 12),
    BtfKind.ENUM: (0, 8),
    BtfKind.FUNC_PROTO: (0, 8),
    BtfKind.VAR: (4, 0),
    BtfKind.DATASEC: (0, 12),
    BtfKind.DECL_TAG: (4, 0),
    BtfKind.ENUM64: (0, 12),
}
_MODIFIERS = frozenset({BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG})


@dataclass(frozen=True, slots=True)
class Member:
    """One resolved struct member: byte offset from the start of the outermost struct, and size."""

    path: str
    offset: int
    size: int


class Btf:
    """Parsed BTF type table with lookups by name; build it with :meth:`load`."""

    def __init__(self, data: bytes) -> None:
        if len(data) < _HEADER.size:
            raise BtfError("BTF blob is shorter than its header")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise BtfError(f"bad BTF magic 0x{magic:04x} (expected 0x{_MAGIC:04x})")
        self._data = data
        self._types_start = hdr_len + type_off
        self._strings_start = hdr_len + str_off
        self._strings_end = self._strings_start + str_len
        # _offsets[type_id] = byte position of that type's header; id 0 is "void".
        self._offsets: list[int] = [0]
        self._names: dict[str, list[int]] = {}
        self._index(self._types_start, self._types_start + type_len)

    @classmethod
    def load(cls, path: Path = VMLINUX_BTF) -> Btf:
        """Read and index a BTF file, by default the running kernel's."""
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            raise BtfError(
                f"{path} not found: this kernel was built without BTF (CONFIG_DEBUG_INFO_BTF=y is needed; "
                "distribution kernels since Debian 11, Ubuntu 20.10 and RHEL 8.2 have it)"
            ) from None
        except PermissionError:
            raise BtfError(f"cannot read {path}: run the sensor as root") from None

    def _index(self, pos: int, end: int) -> None:
        data = self._data
        unpack = _TYPE.unpack_from
        trailer = _TRAILER
        offsets = self._offsets
        names = self._names
        named_kinds = (BtfKind.STRUCT, BtfKind.UNION, BtfKind.TYPEDEF, BtfKind.FUNC, BtfKind.ENUM)
        while pos < end:
            name_off, info, _ = unpack(data, pos)
            kind = (info >> 24) & 0x1F
            offsets.append(pos)
            if name_off and kind in named_kinds:
                names.setdefault(self._string(name_off), []).append(len(offsets) - 1)
            fixed, per_entry = trailer.get(kind, (0, 0))
            pos += 12 + fixed + per_entry * (info & 0xFFFF)

    def _string(self, offset: int) -> str:
        start = self._strings_start + offset
        stop = self._data.index(b"\0", start, self._strings_end)
        return self._data[start:stop].decode()

    def _header(self, type_id: int) -> tuple[str, BtfKind, int, int, int]:
        """(name, kind, vlen, size_or_type, kind_flag) of one type."""
        pos = self._offsets[type_id]
        name_off, info, size_or_type = _TYPE.unpack_from(self._data, pos)
        name = self._string(name_off) if name_off else ""
        return name, BtfKind((info >> 24) & 0x1F), info & 0xFFFF, size_or_type, info >> 31

    def type_id(self, name: str, kind: BtfKind) -> int | None:
        """The id of the named type of that kind, if any."""
        return next((i for i in self._names.get(name, []) if self._header(i)[1] == kind), None)

    def _struct_id(self, name: str) -> int:
        for type_id in self._names.get(name, []):
            _, kind, vlen, _, _ = self._header(type_id)
            if kind in (BtfKind.STRUCT, BtfKind.UNION) and vlen > 0:
                return type_id
        raise BtfError(f"struct {name} not found in the kernel's BTF")

    def _resolve(self, type_id: int) -> int:
        """Skip typedefs and qualifiers."""
        while True:
            _, kind, _, ref, _ = self._header(type_id)
            if kind not in _MODIFIERS:
                return type_id
            type_id = ref

    def _size(self, type_id: int) -> int:
        type_id = self._resolve(type_id)
        _, kind, _, size, _ = self._header(type_id)
        if kind == BtfKind.PTR:
            return 8
        if kind == BtfKind.ARRAY:
            elem, _, count = struct.unpack_from("<III", self._data, self._offsets[type_id] + 12)
            return self._size(elem) * int(count)
        return size

    def _members(self, type_id: int) -> list[tuple[str, int, int]]:
        """(name, type id, bit offset) of each direct member of a struct or union."""
        _, _, vlen, _, kind_flag = self._header(type_id)
        pos = self._offsets[type_id] + 12
        out = []
        for i in range(vlen):
            name_off, member_type, offset = _MEMBER.unpack_from(self._data, pos + 12 * i)
            bits = offset & 0xFFFFFF if kind_flag else offset
            out.append((self._string(name_off) if name_off else "", member_type, bits))
        return out

    def _find_member(self, type_id: int, name: str) -> tuple[int, int] | None:
        """(type id, bit offset) of a member, looking into anonymous structs and unions."""
        for member_name, member_type, bits in self._members(type_id):
            if member_name == name:
                return member_type, bits
            if not member_name:
                inner = self._resolve(member_type)
                if self._header(inner)[1] in (BtfKind.STRUCT, BtfKind.UNION):
                    found = self._find_member(inner, name)
                    if found is not None:
                        return found[0], bits + found[1]
        return None

    def member(self, path: str) -> Member:
        """Resolve ``struct.member[.member...]`` to a byte offset, e.g. ``cred.euid.val``.

        Each step after the first must name a member of an embedded struct (not a pointer).
        """
        struct_name, *names = path.split(".")
        if not names:
            raise BtfError(f"{path!r} names no member (expected struct.member)")
        type_id = self._struct_id(struct_name)
        total_bits = 0
        where = f"struct {struct_name}"
        for name in names:
            type_id = self._resolve(type_id)
            if self._header(type_id)[1] not in (BtfKind.STRUCT, BtfKind.UNION):
                raise BtfError(f"{path}: {where} is not a struct, cannot look up {name!r}")
            found = self._find_member(type_id, name)
            if found is None:
                raise BtfError(f"{path}: {where} has no member {name!r} in this kernel's BTF")
            type_id, bits = found
            total_bits += bits
            where = f"{where}.{name}"
        if total_bits % 8:
            raise BtfError(f"{path} is a bitfield; the sensor reads whole bytes only")
        return Member(path=path, offset=total_bits // 8, size=self._size(type_id))

    def offset(self, path: str) -> int:
        """Byte offset of ``struct.member[.member...]``."""
        return self.member(path).offset

    def size(self, struct_name: str) -> int:
        """Byte size of a struct (or union), for stepping through an array of them."""
        return self._size(self._struct_id(struct_name))

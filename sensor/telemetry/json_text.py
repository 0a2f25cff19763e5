"""Pieces of protobuf's JSON mapping that the JSON writers share (sensor.telemetry.json_lines and the kinds)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Any, Final

from sensor.kernel.records import Creds
from sensor.memo import BoundedMemo

MAX_FRAGMENTS = 8192  # distinct values of each shared part whose JSON is kept


def creds_dict(creds: Creds) -> dict[str, int]:
    """``Credentials`` with every field, zeros included."""
    return {
        "uid": creds.uid,
        "gid": creds.gid,
        "euid": creds.euid,
        "egid": creds.egid,
        "suid": creds.suid,
        "sgid": creds.sgid,
        "fsuid": creds.fsuid,
        "fsgid": creds.fsgid,
    }


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 kept as it is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def strings(values: list[str]) -> str:
    """A JSON array of strings."""
    return "[" + ",".join(map(encode_basestring, values)) + "]"


def quoted(text: str) -> str:
    """A JSON string."""
    return encode_basestring(text)


creds_json: Final[BoundedMemo[Creds, str]] = BoundedMemo(lambda creds: dumps(creds_dict(creds)), MAX_FRAGMENTS)
string_json: Final[BoundedMemo[str, str]] = BoundedMemo(encode_basestring, MAX_FRAGMENTS)

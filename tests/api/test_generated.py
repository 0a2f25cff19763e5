"""sensor/api/ is exactly what protoc makes of protos/ (run scripts/protos after editing a .proto)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    protos = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "protos").rglob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iprotos",
            "--python_out=.",
            "--pyi_out=.",
            "--grpc_python_out=.",
            *protos,
        ],
        cwd=tmp_path,
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "sensor").rglob("*_pb2*.py*"))
    assert generated, "protoc generated nothing"
    for path in generated:
        assert (ROOT / path).read_text() == (tmp_path / path).read_text(), f"{path} is stale: run scripts/protos"

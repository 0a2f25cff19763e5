"""OCI state directories: a runc-style state.json and its bundle's annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sensor.model.runtime.metadata import ContainerState
from sensor.model.runtime.oci import OciStateSource, StateRoot

ID = "ab" * 32


def write_state(base: Path, root: str, bundle: Path, pid: int, annotations: dict[str, str]) -> None:
    state_dir = base / root.lstrip("/") / ID
    state_dir.mkdir(parents=True)
    state = {"id": ID, "init_process_pid": pid, "init_process_start": 0, "config": {"labels": [f"bundle={bundle}"]}}
    (state_dir / "state.json").write_text(json.dumps(state))
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps({"annotations": annotations}))


def test_cri_annotations_give_name_image_and_pod(tmp_path: Path) -> None:
    annotations = {
        "io.kubernetes.cri.container-name": "web",
        "io.kubernetes.cri.image-name": "nginx:1.25",
        "io.kubernetes.cri.sandbox-name": "web-1",
        "io.kubernetes.cri.sandbox-namespace": "shop",
    }
    write_state(tmp_path, "/run/containerd/runc/k8s.io", tmp_path / "bundle", os.getpid(), annotations)
    source = OciStateSource((StateRoot("/run/containerd/runc/*", "containerd"),), base=tmp_path)
    metadata = source.find(ID)
    assert metadata is not None
    assert (metadata.name, metadata.image_name, metadata.pod_name, metadata.pod_namespace) == (
        "web",
        "nginx:1.25",
        "web-1",
        "shop",
    )
    assert (metadata.runtime, metadata.init_pid, metadata.state) == ("containerd", os.getpid(), ContainerState.RUNNING)


def test_plain_runc_is_named_by_its_id_and_a_dead_init_means_exited(tmp_path: Path) -> None:
    write_state(tmp_path, "/run/runc", tmp_path / "bundle", 2**22 + 17, {})
    metadata = OciStateSource((StateRoot("/run/runc", "runc"),), base=tmp_path).find(ID)
    assert metadata is not None
    assert (metadata.name, metadata.runtime, metadata.state) == (ID, "runc", ContainerState.EXITED)


def test_an_unknown_id_is_none(tmp_path: Path) -> None:
    assert OciStateSource((StateRoot("/run/runc", "runc"),), base=tmp_path).find(ID) is None

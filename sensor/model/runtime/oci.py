"""OCI runtime state directories: ``<root>/<id>/state.json`` and the bundle's ``config.json``.

runc writes a state directory per container (crun and containerd's shims the same layout); the
bundle's config.json holds the annotations orchestrators set (CRI's container and image names,
the pod). No daemon is asked, so this works for containers that runc runs by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensor.model.procfs import read_stat
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState


@dataclass(frozen=True, slots=True)
class StateRoot:
    """A directory whose children are per-container state directories (a glob for namespaced roots)."""

    pattern: str
    runtime: str


DEFAULT_STATE_ROOTS = (
    StateRoot("/run/runc", "runc"),
    StateRoot("/run/crun", "crun"),
    StateRoot("/run/docker/runtime-runc/*", "docker"),
    StateRoot("/run/containerd/runc/*", "containerd"),
)

# Annotation keys, first present wins: CRI (containerd), CRI-O, then OCI image annotations.
_NAME_KEYS = ("io.kubernetes.cri.container-name", "io.kubernetes.container.name")
_IMAGE_KEYS = ("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName", "org.opencontainers.image.ref.name")
_IMAGE_ID_KEYS = ("io.kubernetes.cri-o.ImageRef", "io.kubernetes.cri.image-id")
_POD_NAME_KEYS = ("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name")
_POD_NAMESPACE_KEYS = ("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace")


def _first(annotations: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((annotations[k] for k in keys if annotations.get(k)), "")


def _pid_alive(pid: int, start_ticks: int) -> bool:
    """Whether ``pid`` is still the process that started at ``start_ticks`` (guards against reuse)."""
    try:
        _comm, _ppid, ticks = read_stat(Path(f"/proc/{pid}"))
    except (OSError, ValueError, IndexError):
        return False
    return start_ticks == 0 or ticks == start_ticks


class OciStateSource:
    """Looks a container id up in the OCI runtimes' state directories."""

    def __init__(self, roots: tuple[StateRoot, ...] = DEFAULT_STATE_ROOTS, base: Path = Path("/")) -> None:
        self._roots = roots
        self._base = base

    def find(self, container_id: str) -> ContainerMetadata | None:
        """The container's metadata, or None when no state directory has this id."""
        for root in self._roots:
            for directory in sorted(self._base.glob(root.pattern.lstrip("/"))):
                state_file = directory / container_id / "state.json"
                try:
                    state = json.loads(state_file.read_text())
                except (OSError, ValueError):
                    continue
                return metadata_from_state(container_id, state, root.runtime)
        return None


def _bundle_annotations(state: dict[str, Any]) -> dict[str, str]:
    labels = (state.get("config") or {}).get("labels") or []
    bundle = next((label.split("=", 1)[1] for label in labels if label.startswith("bundle=")), "")
    if not bundle:
        return {}
    try:
        config = json.loads((Path(bundle) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(config.get("annotations") or {})


def metadata_from_state(container_id: str, state: dict[str, Any], runtime: str) -> ContainerMetadata:
    """ContainerMetadata from a runc-style state.json (and its bundle's annotations)."""
    annotations = _bundle_annotations(state)
    pid = int(state.get("init_process_pid") or 0)
    alive = pid > 0 and _pid_alive(pid, int(state.get("init_process_start") or 0))
    return ContainerMetadata(
        name=_first(annotations, _NAME_KEYS) or state.get("id") or container_id,
        image_id=_first(annotations, _IMAGE_ID_KEYS),
        image_name=_first(annotations, _IMAGE_KEYS),
        labels=annotations,
        runtime=runtime,
        init_pid=pid,
        state=ContainerState.RUNNING if alive else ContainerState.EXITED,
        pod_name=_first(annotations, _POD_NAME_KEYS),
        pod_namespace=_first(annotations, _POD_NAMESPACE_KEYS),
    )

"""What a runtime says about a container, and the lifecycle changes it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ContainerState(str, Enum):
    """A container's lifecycle; each transition is reported once, in this order (EXITED may go back to RUNNING)."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    DESTROYED = "DESTROYED"


@dataclass(frozen=True, slots=True)
class ContainerMetadata:
    """A container as its runtime describes it."""

    name: str = ""
    image_id: str = ""
    image_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime: str = ""  # docker, podman, runc, containerd, cri-o
    init_pid: int = 0
    state: ContainerState | None = None
    exit_code: int | None = None
    pod_name: str = ""
    pod_namespace: str = ""


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """A lifecycle change a runtime reported (Docker's events stream)."""

    container_id: str
    state: ContainerState | None  # None: something else changed (rename, update): look the container up again
    exit_code: int | None = None
    runtime: str = ""


class RuntimeUnavailable(Exception):
    """The runtime could not be asked (socket missing, refused, or it died mid-answer)."""

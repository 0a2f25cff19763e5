"""Container id and Kubernetes pod UID from a cgroup path, for every layout runtimes create.

Pure string work, no I/O: the cgroup path arrives with kernel records and from /proc, and one path
is parsed once per cgroup, not per event. The whole path is walked and the deepest container wins,
so a container nested inside another (Docker in Docker, kind nodes) is named by its own id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX64 = r"[0-9a-f]{64}"
# One path component, leaf-anchored patterns. Hex ids match only when delimited by the component's
# edges or by the runtime's own prefix and suffix, never inside a longer hex run.
_COMPONENT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("docker", re.compile(rf"^docker-({_HEX64})\.scope$")),
    ("containerd", re.compile(rf"^cri-containerd-({_HEX64})\.scope$")),
    ("cri-o", re.compile(rf"^crio-({_HEX64})\.scope$")),
    ("podman", re.compile(rf"^libpod-({_HEX64})(?:\.scope)?$")),
    ("ecs", re.compile(r"^([0-9a-f]{32}-[0-9]+)$")),
    ("garden", re.compile(r"^([0-9a-f]{8}(?:-[0-9a-f]{4}){4})$")),
    ("", re.compile(rf"^({_HEX64})$")),
)
# Runtime helpers that live beside containers in a container-shaped cgroup, never containers themselves.
_NOT_CONTAINERS = re.compile(r"^(?:crio-conmon-|libpod-conmon-)|\.mount$")
# Under the cgroupfs driver a 64-hex leaf's runtime is named by its parent directory.
_PARENT_RUNTIME = {"docker": "docker", "libpod_parent": "podman"}

# Pod directories: cgroupfs "pod<uid-with-dashes>", systemd "kubepods-<qos>-pod<uid_with_underscores>.slice",
# Guaranteed pods without a QoS segment, static pods whose UID is 32 hex digits without dashes.
_POD = re.compile(
    r"^(?:pod|(?:[a-z]+-)?kubepods(?:-(?:burstable|besteffort|guaranteed))?-pod)"
    r"([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?$"
)


@dataclass(frozen=True, slots=True)
class CgroupContainer:
    """What a cgroup path says about the container its processes run in."""

    container_id: str
    runtime: str  # the runtime the layout names ("docker", "cri-o", ...), "" when only an id is visible
    pod_uid: str = ""  # Kubernetes pod UID, with dashes, when the path is under kubepods


def parse_cgroup_path(path: str) -> CgroupContainer | None:
    """The container a cgroup path belongs to, or None for a host cgroup.

    >>> parse_cgroup_path("/system.slice/docker-" + "ab" * 32 + ".scope").runtime
    'docker'
    """
    components = [c for c in path.split("/") if c]
    found: CgroupContainer | None = None
    pod_uid = ""
    parent = ""
    for component in components:
        pod = _POD.match(component)
        if pod is not None:
            pod_uid = pod.group(1).replace("_", "-")
        elif not _NOT_CONTAINERS.search(component):
            container = _match_component(component, parent, pod_uid)
            if container is not None:
                found = container
        parent = component
    return found


def _match_component(component: str, parent: str, pod_uid: str) -> CgroupContainer | None:
    for runtime, pattern in _COMPONENT_PATTERNS:
        match = pattern.match(component)
        if match is None:
            continue
        if not runtime:
            runtime = _PARENT_RUNTIME.get(parent, "")
        return CgroupContainer(match.group(1), runtime, pod_uid)
    return None

"""parse_cgroup_path: one row per layout that runtimes and orchestrators create."""

from __future__ import annotations

import pytest

from sensor.model.cgroup_path import CgroupContainer, parse_cgroup_path

ID = "3f4e2c1a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
ID2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
POD = "5e0b6a64-4f1b-4b0c-9d3e-2a1f0c9b8e7d"
POD_ = POD.replace("-", "_")
STATIC_POD = "6b2a0e8f9c1d4e3f5a6b7c8d9e0f1a2b"

LAYOUTS: list[tuple[str, str, CgroupContainer | None]] = [
    ("docker, cgroupfs driver", f"/docker/{ID}", CgroupContainer(ID, "docker")),
    ("docker, systemd driver", f"/system.slice/docker-{ID}.scope", CgroupContainer(ID, "docker")),
    ("containerd, plain 64-hex leaf", f"/default/{ID}", CgroupContainer(ID, "")),
    ("runc with its own cgroup", f"/runc-test/{ID}", CgroupContainer(ID, "")),
    ("cri-o", f"/machine.slice/crio-{ID}.scope", CgroupContainer(ID, "cri-o")),
    ("cri-o conmon is not a container", f"/machine.slice/crio-conmon-{ID}.scope", None),
    ("podman, cgroupfs driver", f"/libpod_parent/libpod-{ID}", CgroupContainer(ID, "podman")),
    ("podman, systemd driver", f"/machine.slice/libpod-{ID}.scope", CgroupContainer(ID, "podman")),
    ("podman conmon is not a container", f"/machine.slice/libpod-conmon-{ID}.scope", None),
    (
        "kubernetes cgroupfs, burstable",
        f"/kubepods/burstable/pod{POD}/{ID}",
        CgroupContainer(ID, "", POD),
    ),
    (
        "kubernetes cgroupfs, besteffort",
        f"/kubepods/besteffort/pod{POD}/{ID}",
        CgroupContainer(ID, "", POD),
    ),
    (
        "kubernetes cgroupfs, guaranteed (no QoS segment)",
        f"/kubepods/pod{POD}/{ID}",
        CgroupContainer(ID, "", POD),
    ),
    (
        "kubernetes systemd, containerd, burstable",
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD_}.slice/cri-containerd-{ID}.scope",
        CgroupContainer(ID, "containerd", POD),
    ),
    (
        "kubernetes systemd, cri-o, besteffort",
        f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_}.slice/crio-{ID}.scope",
        CgroupContainer(ID, "cri-o", POD),
    ),
    (
        "kubernetes systemd, docker, guaranteed (no QoS segment)",
        f"/kubepods.slice/kubepods-pod{POD_}.slice/docker-{ID}.scope",
        CgroupContainer(ID, "docker", POD),
    ),
    (
        "kubernetes static pod (32 hex, no dashes)",
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{STATIC_POD}.slice/cri-containerd-{ID}.scope",
        CgroupContainer(ID, "containerd", STATIC_POD),
    ),
    (
        "kubernetes static pod, cgroupfs",
        f"/kubepods/burstable/pod{STATIC_POD}/{ID}",
        CgroupContainer(ID, "", STATIC_POD),
    ),
    (
        "kubelet in a kind node (nested kubepods)",
        f"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
        f"kubelet-kubepods-besteffort-pod{POD_}.slice/cri-containerd-{ID}.scope",
        CgroupContainer(ID, "containerd", POD),
    ),
    ("pod cgroup itself holds no container", f"/kubepods/burstable/pod{POD}", None),
    ("garden", "/garden/c7a6e3f1-9b2d-4e8a-7f3c-1d5b", CgroupContainer("c7a6e3f1-9b2d-4e8a-7f3c-1d5b", "garden")),
    (
        "ecs",
        "/ecs/8a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d/8a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d-1234567890",
        CgroupContainer("8a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d-1234567890", "ecs"),
    ),
    ("nested: docker in docker, the inner one wins", f"/docker/{ID}/docker/{ID2}", CgroupContainer(ID2, "docker")),
    ("a process in a sub-cgroup of a container", f"/docker/{ID}/init.scope", CgroupContainer(ID, "docker")),
    ("systemd mount unit is rejected", f"/system.slice/run-containerd-{ID}-rootfs.mount", None),
    ("systemd mount unit named by a bare id", f"/system.slice/{ID}.mount", None),
    ("host root", "/", None),
    ("host service", "/system.slice/ssh.service", None),
    ("user session", "/user.slice/user-0.slice/session-3.scope", None),
    ("63 hex digits are not an id", f"/docker/{ID[:63]}", None),
    ("65 hex digits are not an id", f"/docker/{ID}a", None),
    ("upper-case hex is not an id", f"/docker/{ID.upper()}", None),
    ("a UUID is not a garden id", f"/system.slice/{POD}", None),
]


@pytest.mark.parametrize(("path", "expected"), [row[1:] for row in LAYOUTS], ids=[row[0] for row in LAYOUTS])
def test_parse_cgroup_path_finds_the_container_of_each_layout(path: str, expected: CgroupContainer | None) -> None:
    assert parse_cgroup_path(path) == expected

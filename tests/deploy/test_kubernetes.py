"""The DaemonSet says only what `sensor run` understands, and gives the pod what the sensor needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from sensor.cli.run import run

MANIFEST = Path(__file__).resolve().parents[2] / "deploy/kubernetes/sensor-daemonset.yaml"


def documents() -> dict[str, Any]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}


def run_variables() -> set[str]:
    return {p.envvar for p in run.params if isinstance(p, click.Option) and isinstance(p.envvar, str)}


def test_every_variable_it_sets_is_a_flag_of_sensor_run() -> None:
    docs = documents()
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    names = set(docs["ConfigMap"]["data"]) | {e["name"] for e in container["env"]}
    assert names <= run_variables(), names - run_variables()
    assert {"SENSOR_EXPORT_NATS", "SENSOR_NODE_NAME"} <= names


def test_each_node_names_itself_from_the_pod_spec() -> None:
    (container,) = documents()["DaemonSet"]["spec"]["template"]["spec"]["containers"]
    (node,) = [e for e in container["env"] if e["name"] == "SENSOR_NODE_NAME"]
    assert node["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_the_pod_sees_the_host_and_has_what_bpf_needs() -> None:
    pod = documents()["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["hostPID"] is True
    assert container["securityContext"]["privileged"] is True
    assert container["args"][0] == "run"
    run.make_context("run", container["args"][1:])  # click accepts them
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/run/containerd"} <= mounted
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    for mount in container["volumeMounts"]:
        if mount["name"] in host_paths:
            assert host_paths[mount["name"]] == mount["mountPath"], mount  # the same path as on the host

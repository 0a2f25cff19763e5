"""The DaemonSet says only what `sensor run` understands, and gives the pod what the sensor needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from sensor.cli.fleet_jobs import worker
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


WORKERS = MANIFEST.with_name("sensor-fleet-workers.yaml")


def test_the_workers_run_sensor_fleet_worker_unprivileged_each_named_after_its_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(WORKERS.read_text())}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["/usr/local/bin/sensor"]
    args = [a.replace("$(POD_NAME)", "sensor-fleet-worker-7d9f-x2k4q") for a in container["args"]]
    assert args[:2] == ["fleet", "worker"]
    monkeypatch.setenv("SENSOR_NATS", "nats://nats.nats.svc:4222")  # as the pod gets it from the ConfigMap
    context = worker.make_context("worker", args[2:])
    assert (context.params["name"], context.params["replicas"]) == ("sensor-fleet-worker-7d9f-x2k4q", 3)
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    nats_flag = next(p for p in worker.params if p.name == "nats_urls")
    assert env[str(nats_flag.envvar)]["configMapKeyRef"]["key"] in documents()["ConfigMap"]["data"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]

"""Backend choice per hook, from what the kernel offers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sensor.kernel.features import (
    PROBED_TRACEPOINTS,
    Backend,
    KernelFeatureError,
    KernelFeatures,
    check_required,
    choose_backends,
    probe_kernel,
)

NETWORK_HOOK_LABELS = ("net_connect", "net_accept", "net_bind", "net_listen", "net_close", "net_dns")


def features(**overrides: object) -> KernelFeatures:
    base = KernelFeatures(release="6.1", btf=True, btf_error="", tracefs=Path("/sys/kernel/tracing"))
    base.tracepoints = dict.fromkeys(PROBED_TRACEPOINTS, True)
    base.ring_buffer = True
    base.task_btf = True
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def backends(
    f: KernelFeatures, transport: Backend | None = None, task_reads: Backend | None = None
) -> dict[str, Backend]:
    return {c.hook: c.backend for c in choose_backends(f, transport, task_reads)}


def test_a_full_kernel_gets_raw_tracepoints_kprobe_creds_and_the_ring_buffer() -> None:
    assert backends(features(kprobes=True)) == {
        "fork": Backend.RAW_TRACEPOINT,
        "exec": Backend.RAW_TRACEPOINT,
        "exit": Backend.RAW_TRACEPOINT,
        "exec_failed": Backend.SYSCALL_TRACEPOINTS,
        "credentials": Backend.KPROBE,
        "cgroups": Backend.TRACEPOINT,
        "file_open": Backend.RAW_TRACEPOINT,
        "file_change": Backend.RAW_TRACEPOINT,
        **dict.fromkeys(NETWORK_HOOK_LABELS, Backend.RAW_TRACEPOINT),
        "transport": Backend.RING_BUFFER,
        "task_reads": Backend.BTF_LOADS,
    }


def test_file_hooks_are_left_out_when_no_file_events_are_wanted() -> None:
    choices = {c.hook: c for c in choose_backends(features(), files=False)}
    assert (choices["file_open"].backend, choices["file_change"].backend) == (Backend.NONE, Backend.NONE)
    assert choices["file_open"].reason == (
        "not attached: file events not wanted (sensor run --no-file-events, or trace --event without file)"
    )


def test_without_the_raw_syscall_exit_tracepoint_both_file_hooks_are_out_saying_why() -> None:
    f = features()
    f.tracepoints["raw_syscalls:sys_exit"] = False
    choices = {c.hook: c for c in choose_backends(f)}
    assert choices["file_open"].backend is Backend.NONE and choices["file_change"].backend is Backend.NONE
    assert choices["file_open"].reason == "tracepoint raw_syscalls:sys_exit not found"


def test_network_hooks_are_left_out_when_no_network_events_are_wanted() -> None:
    choices = {c.hook: c.backend for c in choose_backends(features(), network=False)}
    assert [choices[label] for label in NETWORK_HOOK_LABELS] == [Backend.NONE] * 6


def test_without_inet_sock_set_state_every_network_hook_is_out_saying_why() -> None:
    f = features()
    f.tracepoints["sock:inet_sock_set_state"] = False
    choices = {c.hook: c for c in choose_backends(f)}
    assert {choices[label].reason for label in NETWORK_HOOK_LABELS} == {"tracepoint sock:inet_sock_set_state not found"}
    assert {choices[label].backend for label in NETWORK_HOOK_LABELS} == {Backend.NONE}
    assert choices["file_open"].backend is Backend.RAW_TRACEPOINT


def test_without_kprobes_credentials_fall_back_to_syscall_exits() -> None:
    assert backends(features(kprobes=False))["credentials"] is Backend.SYSCALL_TRACEPOINTS


def test_without_a_ring_buffer_the_perf_buffer_is_used() -> None:
    assert backends(features(ring_buffer=False))["transport"] is Backend.PERF_BUFFER
    assert backends(features(), Backend.PERF_BUFFER)["transport"] is Backend.PERF_BUFFER


def test_without_bpf_get_current_task_btf_tasks_are_read_with_probe_reads() -> None:
    assert backends(features(task_btf=False))["task_reads"] is Backend.PROBE_READS
    assert backends(features(), task_reads=Backend.PROBE_READS)["task_reads"] is Backend.PROBE_READS


def test_btf_loads_asked_for_on_a_kernel_without_them_is_a_clear_start_up_error() -> None:
    f = features(task_btf=False)
    with pytest.raises(KernelFeatureError, match="task_reads: BTF loads asked for, but no bpf_get_current_task_btf"):
        check_required(choose_backends(f, task_reads=Backend.BTF_LOADS), f)


def test_a_missing_exec_tracepoint_is_a_clear_start_up_error() -> None:
    f = features()
    f.tracepoints["sched:sched_process_exec"] = False
    with pytest.raises(KernelFeatureError, match="exec: tracepoint sched:sched_process_exec not found"):
        check_required(choose_backends(f), f)


def test_missing_syscall_tracepoints_degrade_credentials_without_stopping_the_sensor() -> None:
    f = features(kprobes=False)
    f.tracepoints = {k: not k.startswith("syscalls:") for k in f.tracepoints}
    choices = {c.hook: c for c in choose_backends(f)}
    assert choices["credentials"].backend is Backend.NONE
    assert "CONFIG_FTRACE_SYSCALLS" in choices["credentials"].reason
    check_required(list(choices.values()), f)  # no exception: a degradation


def test_missing_cgroup_tracepoints_degrade_container_lifecycle_to_the_runtimes() -> None:
    f = features()
    f.tracepoints["cgroup:cgroup_attach_task"] = False
    choices = {c.hook: c for c in choose_backends(f)}
    assert choices["cgroups"].backend is Backend.NONE
    assert "cgroup:cgroup_attach_task" in choices["cgroups"].reason
    check_required(list(choices.values()), f)  # no exception: a degradation


def test_this_kernel_is_probed_truthfully() -> None:
    f = probe_kernel()
    assert f.btf == Path("/sys/kernel/btf/vmlinux").exists()
    assert f.kprobes == Path("/sys/bus/event_source/devices/kprobe").exists()
    assert f.has_tracepoint("sched:sched_process_exec")


@pytest.mark.skipif(
    not Path("/sys/bus/event_source/devices/kprobe").exists(),
    reason="kprobes are not in this kernel (CONFIG_KPROBES); runs in the vagrant VM's stock kernel",
)
def test_commit_creds_kprobe_reports_a_setuid() -> None:
    from tests.live_sensor import LiveSensor, process

    sensor = LiveSensor("--event", "credentials")
    try:
        tag = uuid.uuid4().hex
        subprocess.run([sys.executable, "-c", "import os; os.setuid(1000)", tag], check=True)
        (event,) = sensor.wait_for(
            lambda e: tag in e.get("command_line", []) and process(e).get("type") == "CREDENTIALS"
        )
    finally:
        sensor.stop()
    assert process(event)["credentials_cause"] == "commit_creds"
    assert process(event)["new_credentials"]["uid"] == 1000

"""Real processes on the live kernel produce exactly the expected events."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from sensor.kernel.records import text_bytes
from tests.live_sensor import Event, SensorView, first_exec_id, is_exec_of, of_process, process


def marker() -> str:
    return f"sensor-test-{uuid.uuid4().hex[:12]}"


def run(argv: list[str | bytes], cwd: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, check=False)


def test_every_event_names_this_host_as_its_node_by_default(live_sensor: SensorView) -> None:
    tag = marker()
    run(["/bin/echo", tag])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert event["node_name"] == socket.gethostname()


def test_exec_reports_all_of_40_arguments_in_order(live_sensor: SensorView) -> None:
    tag = marker()
    args = [tag] + [f"arg{i}" for i in range(39)]
    run(["/bin/echo", *args])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert process(event)["exec_filename"] == "/bin/echo"
    assert process(event)["exec_command_line"] == ["/bin/echo", *args]
    assert event["command_line"] == ["/bin/echo", *args]
    assert "exec_command_line_truncated" not in process(event)


def test_exec_keeps_a_non_utf8_argument_visible_as_escapes(live_sensor: SensorView) -> None:
    tag = marker()
    run([b"/bin/echo", tag.encode(), b"caf\xe9-\xff\xfe", "naïve".encode()])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert process(event)["exec_command_line"] == ["/bin/echo", tag, "caf\\xe9-\\xff\\xfe", "naïve"]


def test_exec_carries_a_10000_character_argument_whole(live_sensor: SensorView) -> None:
    tag = marker()
    long_arg = "x" * 9_000 + "END"
    run(["/bin/echo", tag, long_arg])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert process(event)["exec_command_line"] == ["/bin/echo", tag, long_arg]


def test_exec_beyond_the_argument_bound_is_cut_cleanly_and_flagged(live_sensor: SensorView) -> None:
    tag = marker()
    huge = "".join(f"{i:07d}," for i in range(12_500))  # 100 000 characters (one argument may hold 128 KiB)
    run(["/bin/echo", tag, huge, "after"])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    argv = process(event)["exec_command_line"]
    assert process(event)["exec_command_line_truncated"] is True
    assert argv[:2] == ["/bin/echo", tag]
    assert len(argv) == 3
    assert huge.startswith(argv[2])  # a prefix, never garbled
    assert len("\0".join(argv)) == 16383  # SENSOR_ARGS_MAX - 1 bytes kept; the last argument has no NUL


def test_exec_reports_the_cwd_of_a_process_that_lives_under_a_millisecond(
    live_sensor: SensorView, tmp_path: Path
) -> None:
    tag = marker()
    workdir = tmp_path / "deep" / "work dir"
    workdir.mkdir(parents=True)
    run(["/bin/true", tag], cwd=str(workdir))
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert event["cwd"] == str(workdir.resolve())


def test_exit_reports_status_3_as_code_768(live_sensor: SensorView) -> None:
    tag = marker()
    subprocess.run(["/bin/sh", "-c", "exit 3", tag], check=False)
    process_id = first_exec_id(live_sensor, tag)
    (event,) = live_sensor.wait_for(lambda e: of_process(e, process_id, "EXIT"))
    payload = process(event)
    assert (payload["exit_code"], payload["exit_status"], payload["exit_signal"], payload["exit_core_dumped"]) == (
        768,
        3,
        0,
        False,
    )
    assert event["filename"] == "/bin/sh"


def test_exit_reports_sigkill(live_sensor: SensorView) -> None:
    tag = marker()
    proc = subprocess.Popen(["/bin/sh", "-c", "read line", tag], stdin=subprocess.PIPE)
    live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    process_id = first_exec_id(live_sensor, tag)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (event,) = live_sensor.wait_for(lambda e: of_process(e, process_id, "EXIT"))
    payload = process(event)
    assert (payload["exit_code"], payload["exit_status"], payload["exit_signal"]) == (9, 0, 9)
    assert event["command_line"] == ["/bin/sh", "-c", "read line", tag]


def test_setresuid_and_setresgid_give_credentials_events_and_the_exec_after_runs_as_the_new_user(
    live_sensor: SensorView,
) -> None:
    tag = marker()
    code = (
        "import os, sys; os.setresgid(2000, 2001, 2002); os.setresuid(1000, 1001, 1002); "
        f"os.execv('/bin/true', ['/bin/true', '{tag}'])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, tag])
    proc.wait()
    assert proc.returncode == 0
    process_id = first_exec_id(live_sensor, tag)
    changes = live_sensor.wait_for(lambda e: of_process(e, process_id, "CREDENTIALS"), count=3)
    gid_change, uid_change, exec_change = sorted(changes, key=lambda e: int(e["sensor_sequence_number"]))
    root = {"uid": 0, "gid": 0, "euid": 0, "egid": 0, "suid": 0, "sgid": 0, "fsuid": 0, "fsgid": 0}
    after_gid = {**root, "gid": 2000, "egid": 2001, "sgid": 2002, "fsgid": 2001}
    after_uid = {**after_gid, "uid": 1000, "euid": 1001, "suid": 1002, "fsuid": 1001}
    assert process(gid_change)["credentials_cause"] == "setresgid"
    assert process(gid_change)["old_credentials"] == root
    assert process(gid_change)["new_credentials"] == after_gid
    assert process(uid_change)["credentials_cause"] == "setresuid"
    assert process(uid_change)["old_credentials"] == after_gid
    assert process(uid_change)["new_credentials"] == after_uid
    assert uid_change["credentials"] == after_uid
    # exec sets the saved and filesystem ids to the effective ones (execve(2)): a change too.
    after_exec = {**after_uid, "suid": 1001, "sgid": 2001}
    assert process(exec_change)["credentials_cause"] == "exec"
    assert process(exec_change)["old_credentials"] == after_uid
    assert process(exec_change)["new_credentials"] == after_exec
    (exec_event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag) and e["filename"] == "/bin/true")
    assert exec_event["process_id"] == uid_change["process_id"]
    assert exec_event["credentials"] == after_exec


def test_setuid_exec_gives_a_credentials_event(live_sensor: SensorView) -> None:
    tag = marker()
    # Under /tmp itself: pytest's tmp_path is 0700, which user 1000 could not enter.
    shared = Path(tempfile.mkdtemp(prefix="sensor-setuid-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        binary = shared / "true-setuid"
        binary.write_bytes(Path("/bin/true").read_bytes())
        os.chown(binary, 1234, 1234)
        binary.chmod(0o4755)
        code = f"import os; os.setresuid(1000, 1000, 1000); os.execv('{binary}', ['{binary}', '{tag}'])"
        proc = subprocess.Popen([sys.executable, "-c", code])
        proc.wait()
        (exec_event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
        assert exec_event["credentials"]["euid"] == 1234
        changes = live_sensor.wait_for(
            lambda e: (
                of_process(e, exec_event["process_id"], "CREDENTIALS") and process(e)["credentials_cause"] == "exec"
            )
        )
        assert process(changes[0])["old_credentials"]["euid"] == 1000
        assert process(changes[0])["new_credentials"]["euid"] == 1234
    finally:
        shutil.rmtree(shared)


def test_failed_exec_reports_the_path_and_errno(live_sensor: SensorView, tmp_path: Path) -> None:
    missing = tmp_path / f"{marker()}-missing"
    not_executable = tmp_path / f"{marker()}-noexec"
    not_executable.write_text("#!/bin/sh\n")
    not_executable.chmod(0o644)
    paths = (str(missing), str(not_executable))
    code = f"import contextlib, os\nfor p in {paths!r}:\n    with contextlib.suppress(OSError): os.execv(p, [p])"
    tag = marker()
    subprocess.run([sys.executable, "-c", code, tag], check=False)
    process_id = first_exec_id(live_sensor, tag)
    failures = live_sensor.wait_for(
        lambda e: of_process(e, process_id, "EXEC") and bool(process(e).get("exec_errno")), 2
    )
    assert [(process(e)["exec_filename"], process(e)["exec_errno"]) for e in failures] == [
        (str(missing), 2),  # ENOENT
        (str(not_executable), 13),  # EACCES
    ]


def test_a_thread_is_a_fork_with_clone_thread_and_exits_alone(live_sensor: SensorView) -> None:
    tag = marker()
    # join() returns before the kernel is done with the thread: wait until it is gone from /proc, so
    # that the thread's exit comes first (else the kernel may count it as the process's last).
    code = (
        "import os, threading, time; t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "while len(os.listdir('/proc/self/task')) > 1: time.sleep(0.001)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, tag])
    proc.wait()
    process_id = first_exec_id(live_sensor, tag)
    (clone,) = live_sensor.wait_for(
        lambda e: of_process(e, process_id, "FORK") and process(e).get("fork_thread", False)
    )
    thread_id = process(clone)["fork_child_pid"]
    assert thread_id != proc.pid
    assert int(process(clone)["fork_clone_flags"]) & 0x10000  # CLONE_THREAD
    assert process(clone)["fork_child_id"] == clone["process_id"]  # a thread belongs to its process
    (thread_exit,) = live_sensor.wait_for(lambda e: of_process(e, process_id, "EXIT") and e["process_pid"] == thread_id)
    assert process(thread_exit)["exit_thread_only"] is True
    (process_exit,) = live_sensor.wait_for(lambda e: of_process(e, process_id, "EXIT") and e["process_pid"] == proc.pid)
    assert "exit_thread_only" not in process(process_exit)


def test_fork_child_gets_its_own_process_id_and_its_parent_as_ancestor(live_sensor: SensorView) -> None:
    tag = marker()
    proc = subprocess.Popen(["/bin/sh", "-c", f"/bin/true {tag}; exit 0", tag])
    proc.wait()
    shell_id = first_exec_id(live_sensor, tag)
    (fork,) = live_sensor.wait_for(lambda e: of_process(e, shell_id, "FORK"))
    (child_exec,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag) and e["process_id"] != shell_id)
    assert child_exec["process_id"] == process(fork)["fork_child_id"]
    assert child_exec["parent_process_id"] == fork["process_id"]
    assert child_exec["parent_pid"] == proc.pid
    assert child_exec["ancestors"][0]["pid"] == proc.pid
    assert child_exec["ancestors"][0]["filename"] == "/bin/sh"
    assert child_exec["ancestors"][1]["pid"] == os.getpid()


def test_process_id_matches_proc_start_time(live_sensor: SensorView) -> None:
    tag = marker()
    proc = subprocess.Popen(["/bin/sh", "-c", "read line", tag], stdin=subprocess.PIPE)
    try:
        (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        start_ticks = stat[stat.rindex(")") + 2 :].split()[19]
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        assert event["process_id"] == f"{boot_id}-{proc.pid}-{start_ticks}"
    finally:
        proc.kill()
        proc.wait()


def test_the_sensor_does_not_report_itself(live_sensor: SensorView) -> None:
    tag = marker()
    run(["/bin/true", tag])
    live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert not [e for e in live_sensor.events if e.get("process_tgid") == live_sensor.sensor.proc.pid]


def test_events_carry_the_kernel_comm_of_the_program_cut_to_15_characters(
    live_sensor: SensorView, tmp_path: Path
) -> None:
    tag = marker()
    program = tmp_path / "a-program-named-at-length"
    shutil.copy("/bin/true", program)
    proc = subprocess.Popen([str(program), tag])
    proc.wait()
    (exec_event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    (exit_event,) = live_sensor.wait_for(lambda e: of_process(e, exec_event["process_id"], "EXIT"))
    assert (exec_event["comm"], exit_event["comm"]) == ("a-program-named", "a-program-named")


def kernel_losses(events: list[Event], hook: str) -> int:
    """Records of ``hook`` the kernel could not buffer, as the sensor reported them."""
    return sum(int(e["lost"]["lost"]) for e in events if e.get("lost", {}).get("hook") == hook)


def test_threads_ending_together_end_their_process_exactly_once(
    live_sensor: SensorView, threads_exit_binary: Path
) -> None:
    tag = marker()
    runs = 200
    for _ in range(runs):
        subprocess.run([str(threads_exit_binary), "6", "7", tag], check=False)
    run(["/bin/true", tag, "done"])
    live_sensor.wait_for(lambda e: is_exec_of(e, "done") and tag in e["command_line"])  # every exit is in by now
    ids = {e["process_id"] for e in live_sensor.events if is_exec_of(e, tag) and e["filename"] != "/bin/true"}
    exits = [e for e in live_sensor.events if e.get("process_id") in ids and process(e).get("type") == "EXIT"]
    ends = Counter(e["process_id"] for e in exits if not process(e).get("exit_thread_only"))
    lost = kernel_losses(live_sensor.events, "exit")
    assert len(ids) == runs
    assert max(ends.values()) == 1  # never two ends for one process
    assert (len(ends), len(exits)) == (runs, runs * 7) or lost > 0, f"{len(ends)} ends, {len(exits)} exits, none lost"
    assert len(exits) + lost >= runs * 7  # what is missing was counted as lost
    assert {(process(e)["exit_status"], process(e)["exit_signal"]) for e in exits} == {(7, 0)}


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


DOUBLE_FORK = """
import os, sys, time
tag = sys.argv[1]
if os.fork() == 0:  # the middle process: orphaned when its parent leaves, and silent after
    if os.fork() == 0:  # the grandchild: execs once the middle one has been reparented
        time.sleep(0.5)
        os.execv("/bin/sleep", ["/bin/sleep", "3", tag + "-grandchild"])
    time.sleep(4)
    os._exit(0)
os._exit(0)
"""


def test_a_double_fork_follows_the_kernel_s_parent_and_names_the_creator(live_sensor: SensorView) -> None:
    tag = marker()
    subprocess.run([sys.executable, "-c", DOUBLE_FORK, tag], check=True)
    starter = first_exec_id(live_sensor, tag)
    (grandchild,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag + "-grandchild"))
    middle_pid = _ppid(grandchild["process_tgid"])  # what the kernel says now, while both still run
    reaper = _ppid(middle_pid)
    assert grandchild["parent_pid"] == middle_pid
    assert [a["pid"] for a in grandchild["ancestors"][:2]] == [middle_pid, reaper]
    assert "creator_pid" not in grandchild  # its own parent never left
    (middle_exit,) = live_sensor.wait_for(
        lambda e: e.get("process_tgid") == middle_pid and process(e).get("type") == "EXIT", timeout=20
    )
    assert middle_exit["process_id"] == grandchild["parent_process_id"]
    assert middle_exit["parent_pid"] == reaper
    assert middle_exit["creator_process_id"] == starter
    assert middle_exit["creator_pid"] == int(starter.split("-")[-2])


def test_an_argument_holding_a_backslash_x_reads_apart_from_a_byte(live_sensor: SensorView) -> None:
    tag = marker()
    run([b"/bin/echo", tag.encode(), b"\\xff", b"\xff", b"a\\b"])
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    argv = process(event)["exec_command_line"]
    assert argv[2:] == ["\\\\xff", "\\xff", "a\\\\b"]
    assert [text_bytes(arg) for arg in argv[2:]] == [b"\\xff", b"\xff", b"a\\b"]


def test_setgroups_reports_the_supplementary_groups_before_and_after(live_sensor: SensorView) -> None:
    tag = marker()
    code = "import json, os; print(json.dumps(os.getgroups())); os.setgroups([27, 100, 4000000000])"
    done = subprocess.run([sys.executable, "-c", code, tag], capture_output=True, text=True, check=True)
    before = sorted(json.loads(done.stdout))
    process_id = first_exec_id(live_sensor, tag)
    (change,) = live_sensor.wait_for(
        lambda e: of_process(e, process_id, "CREDENTIALS") and process(e)["credentials_cause"] == "setgroups"
    )
    assert sorted(process(change).get("old_groups", [])) == before
    assert process(change)["new_groups"] == [27, 100, 4000000000]
    assert process(change)["old_credentials"] == process(change)["new_credentials"]


def test_a_cwd_deeper_than_32_directories_is_cut_and_flagged(live_sensor: SensorView, tmp_path: Path) -> None:
    tag = marker()
    deep = tmp_path.joinpath(*(f"d{i}" for i in range(40)))
    deep.mkdir(parents=True)
    run(["/bin/true", tag], cwd=str(deep))
    (event,) = live_sensor.wait_for(lambda e: is_exec_of(e, tag))
    assert event["cwd"] == "..." + "/" + "/".join(deep.resolve().parts[-32:])
    assert event["cwd_truncated"] is True

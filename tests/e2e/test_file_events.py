"""File events on the live kernel: each test runs a small Python workload that makes the syscalls,
reports what it saw (fds, os.stat) on stdout, and matches the sensor's events to that process.

The expected values come from the workload's own view of the kernel (the fd it got back, os.stat's
st_dev and st_ino, the errno Python raised), not from the sensor's code.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensor.kernel.records import text_bytes
from tests.live_sensor import Event, LiveSensor, SensorView, env_without_sensor, first_exec_id

CREATE = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC  # os.open adds O_CLOEXEC
READS_PREFIX = f"{tempfile.gettempdir()}/sensor-test-reads/"  # the sensor also sends read-only opens here


@pytest.fixture(scope="module")
def file_sensor() -> Iterator[LiveSensor]:
    """`sensor trace --event exec,file --reads READS_PREFIX` for this module's tests."""
    sensor = LiveSensor("--event", "exec,file", "--reads", READS_PREFIX)
    yield sensor
    sensor.stop()


@pytest.fixture
def live_sensor(file_sensor: LiveSensor) -> SensorView:
    """The module's sensor, showing a test only the events that arrived after it began."""
    return file_sensor.since_now()


def file(event: Event) -> dict[str, Any]:
    """The ``file`` payload of an event ({} for other payloads)."""
    payload: dict[str, Any] = event.get("file", {})
    return payload


def run_workload(sensor: SensorView, code: str, cwd: Path, count: int, under: str | Path) -> tuple[list[Event], Any]:
    """Run ``code`` in a fresh Python (its argv carries a marker); the first ``count`` file events it
    caused under ``under`` (either of its paths), and what it printed (JSON)."""
    mark = f"m{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, mark],
        cwd=cwd,
        env=env_without_sensor(),
        capture_output=True,
        text=True,
        check=True,
    )
    process_id = first_exec_id(sensor, mark)
    prefix = str(under)

    def wanted(e: Event) -> bool:
        paths = (str(file(e).get("filename", "")), str(file(e).get("new_filename", "")))
        return e.get("process_id") == process_id and any(path.startswith(prefix) for path in paths)

    return sensor.wait_for(wanted, count), json.loads(done.stdout or "null")


def test_a_relative_open_in_a_known_cwd_has_the_absolute_path_the_fd_and_the_inode(
    live_sensor: SensorView, tmp_path: Path
) -> None:
    code = """
import json, os
fd = os.open("notes.txt", os.O_WRONLY | os.O_CREAT, 0o640)
st = os.fstat(fd)
print(json.dumps({"fd": fd, "dev": st.st_dev, "ino": st.st_ino}))
"""
    (event,), seen = run_workload(live_sensor, code, tmp_path, 1, tmp_path)
    assert file(event) == {
        "type": "OPEN",
        "filename": str(tmp_path / "notes.txt"),
        "path": "notes.txt",
        "open_flags": CREATE,
        "open_mode": 0o640,
        "fd": seen["fd"],
        "created": True,
        "device": str(seen["dev"]),
        "inode": str(seen["ino"]),
    }
    assert event["cwd"] == str(tmp_path)


def test_an_openat_through_a_dirfd_is_relative_to_that_directory_not_the_cwd(
    live_sensor: SensorView, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    code = f"""
import os
dirfd = os.open({str(tmp_path / "data")!r}, os.O_RDONLY | os.O_DIRECTORY)
os.close(os.open("../data/./out.log", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=dirfd))
"""
    (event,), _ = run_workload(live_sensor, code, Path("/"), 1, tmp_path)
    assert file(event)["filename"] == str(tmp_path / "data" / "out.log")
    assert file(event)["path"] == "../data/./out.log"


def test_o_creat_says_created_on_a_new_file_and_not_on_an_existing_one(live_sensor: SensorView, tmp_path: Path) -> None:
    code = """
import os
for _ in range(2):
    os.close(os.open("twice", os.O_WRONLY | os.O_CREAT, 0o644))
"""
    first, second = run_workload(live_sensor, code, tmp_path, 2, tmp_path)[0]
    assert (file(first)["created"], file(second).get("created", False)) == (True, False)
    assert file(first)["inode"] == file(second)["inode"]


def test_failed_opens_carry_enoent_and_eacces(live_sensor: SensorView, tmp_path: Path) -> None:
    root_only = tmp_path / "root-only"
    root_only.write_text("")
    root_only.chmod(0o644)
    tmp_path.chmod(0o755)
    code = f"""
import json, os
errors = []
for path, uid in (({str(tmp_path / "missing" / "x")!r}, 0), ({str(root_only)!r}, 65534)):
    os.setuid(uid)
    try:
        os.open(path, os.O_WRONLY)
    except OSError as error:
        errors.append(error.errno)
print(json.dumps(errors))
"""
    (missing, denied), seen = run_workload(live_sensor, code, tmp_path, 2, tmp_path)
    assert [file(missing)["errno"], file(denied)["errno"]] == seen == [errno.ENOENT, errno.EACCES]
    assert file(denied) == {
        "type": "OPEN",
        "filename": str(root_only),
        "path": str(root_only),
        "open_flags": os.O_WRONLY | os.O_CLOEXEC,
        "errno": errno.EACCES,
    }
    assert denied["credentials"]["uid"] == 65534
    assert "fd" not in file(missing) and "inode" not in file(missing)


def test_changes_to_the_tree_each_give_their_event(live_sensor: SensorView, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    code = """
import os
os.mkdir("b", 0o750)
os.close(os.open("a/f", os.O_WRONLY | os.O_CREAT, 0o600))
os.rename("a/f", "b/g")
os.chmod("b/g", 0o604)
os.chown("b/g", 1234, -1)
os.symlink("g", "b/s")
os.link("b/g", "b/h")
os.truncate("b/h", 3)
os.unlink("b/s")
os.unlink("b/g")
os.unlink("b/h")
os.rmdir("b")
"""
    events, _ = run_workload(live_sensor, code, tmp_path, 12, tmp_path)
    at = str(tmp_path)
    payloads = [{k: v for k, v in file(e).items() if k not in ("inode", "device", "fd")} for e in events]
    assert payloads == [
        {"type": "MKDIR", "filename": f"{at}/b", "path": "b", "mode": 0o750},
        {
            "type": "OPEN",
            "filename": f"{at}/a/f",
            "path": "a/f",
            "open_flags": CREATE,
            "open_mode": 0o600,
            "created": True,
        },
        {"type": "RENAME", "filename": f"{at}/a/f", "path": "a/f", "new_filename": f"{at}/b/g", "new_path": "b/g"},
        {"type": "CHMOD", "filename": f"{at}/b/g", "path": "b/g", "mode": 0o604},
        {"type": "CHOWN", "filename": f"{at}/b/g", "path": "b/g", "uid": "1234", "gid": "-1"},
        {"type": "SYMLINK", "filename": "g", "path": "g", "new_filename": f"{at}/b/s", "new_path": "b/s"},
        {"type": "LINK", "filename": f"{at}/b/g", "path": "b/g", "new_filename": f"{at}/b/h", "new_path": "b/h"},
        {"type": "TRUNCATE", "filename": f"{at}/b/h", "path": "b/h", "length": "3"},
        {"type": "UNLINK", "filename": f"{at}/b/s", "path": "b/s"},
        {"type": "UNLINK", "filename": f"{at}/b/g", "path": "b/g"},
        {"type": "UNLINK", "filename": f"{at}/b/h", "path": "b/h"},
        {"type": "RMDIR", "filename": f"{at}/b", "path": "b"},
    ]


def test_a_change_through_an_fd_names_the_fd_s_file(live_sensor: SensorView, tmp_path: Path) -> None:
    code = """
import os
fd = os.open("held", os.O_WRONLY | os.O_CREAT, 0o600)
os.fchmod(fd, 0o640)
os.ftruncate(fd, 7)
"""
    _, chmod, truncate = run_workload(live_sensor, code, tmp_path, 3, tmp_path)[0]
    assert file(chmod) == {"type": "CHMOD", "filename": str(tmp_path / "held"), "mode": 0o640}
    assert file(truncate) == {"type": "TRUNCATE", "filename": str(tmp_path / "held"), "length": "7"}


def test_a_path_of_4000_bytes_arrives_whole(live_sensor: SensorView, tmp_path: Path) -> None:
    deep = tmp_path / "/".join(["d" * 200] * ((4000 - len(str(tmp_path))) // 201))
    deep.mkdir(parents=True)
    target = str(deep / ("f" * (4000 - len(str(deep)) - 1)))
    assert len(target) == 4000
    code = f"import os; os.close(os.open({target!r}, os.O_WRONLY | os.O_CREAT, 0o600))"
    (event,), _ = run_workload(live_sensor, code, tmp_path, 1, tmp_path)
    assert file(event)["filename"] == target
    assert "path_truncated" not in file(event)


def test_a_path_with_non_utf8_bytes_reads_back_to_the_same_bytes(live_sensor: SensorView, tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff\\x41.txt"
    code = f"import os; os.close(os.open({raw!r}, os.O_WRONLY | os.O_CREAT, 0o600))"
    (event,), _ = run_workload(live_sensor, code, tmp_path, 1, tmp_path)
    assert file(event)["filename"] == str(tmp_path) + "/caf\\xe9-\\xff\\\\x41.txt"
    assert text_bytes(file(event)["filename"]) == raw


def test_a_read_only_open_is_sent_only_under_a_prefix_someone_asked_for(
    live_sensor: SensorView, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    asked = Path(READS_PREFIX) / uuid.uuid4().hex
    asked.mkdir(parents=True)
    request.addfinalizer(lambda: shutil.rmtree(asked, ignore_errors=True))
    (asked / "wanted").write_text("x")
    (tmp_path / "unwanted").write_text("x")
    code = f"""
import os
os.close(os.open({str(tmp_path / "unwanted")!r}, os.O_RDONLY))
os.close(os.open({str(asked / "wanted")!r}, os.O_RDONLY))
os.close(os.open({str(tmp_path / "after")!r}, os.O_WRONLY | os.O_CREAT, 0o600))
"""
    mark = f"m{uuid.uuid4().hex[:12]}"
    subprocess.run([sys.executable, "-S", "-c", code, mark], env=env_without_sensor(), check=True)
    process_id = first_exec_id(live_sensor, mark)
    of_it = [e for e in live_sensor.wait_for(lambda e: e.get("process_id") == process_id and "file" in e, 2)]
    live_sensor.wait_for(lambda e: file(e).get("filename") == str(tmp_path / "after"))  # every earlier one is in
    names = [file(e)["filename"] for e in live_sensor.events if e.get("process_id") == process_id and "file" in e]
    assert str(asked / "wanted") in names
    assert str(tmp_path / "unwanted") not in names
    assert file(of_it[0])["open_flags"] == os.O_RDONLY | os.O_CLOEXEC


def test_read_only_opens_left_out_are_counted_in_the_summary_apart_from_loss(tmp_path: Path) -> None:
    target = tmp_path / "read-me"
    target.write_text("x")
    trace = subprocess.Popen(
        [sys.executable, "-m", "sensor", "trace", "--event", "file", "--duration", "3"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert trace.stderr is not None
    assert "ready" in trace.stderr.readline()
    code = f"import os\nfor _ in range(500): os.close(os.open({str(target)!r}, os.O_RDONLY))"
    subprocess.run([sys.executable, "-S", "-c", code], env=env_without_sensor(), check=True)
    summary = trace.communicate(timeout=60)[1]
    filtered = re.search(
        r"left out by the kernel's filters: file_open (\d+) \(read-only opens not asked for\)", summary
    )
    assert filtered is not None, summary
    assert int(filtered.group(1)) >= 500
    assert re.search(r"file_open 0/\d+, file_change 0/\d+", summary), summary

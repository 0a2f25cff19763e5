"""`sensor run`'s export flags: a wrong one is refused at once, saying which and why, before any probe loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sensor.cli.main import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export-filter", "uid == 0"], "--export-filter needs --export-file or --export-nats"),
        (["--export-event", "exec"], "--export-event needs --export-file or --export-nats"),
        (["--export-nats", "http://n1:4222"], "is not a NATS server URL"),
        (["--export-nats", "nats://n1:4222", "--heartbeat", "10s", "--heartbeat-expiry", "5s"], "must be longer than"),
        (["--export-nats", "n1:4222", "--nats-token", "t", "--nats-creds", "c"], "not several"),
        (["--export-file", "{tmp}/e.jsonl", "--export-file-max-size", "0"], "a size must be more than 0"),
        (["--export-file", "{tmp}/e.jsonl", "--export-event", "nothing"], "nothing"),
        (["--export-file", "{tmp}/e.jsonl", "--export-filter", "no_such_field == 1"], "--export-filter: column 1"),
        (
            ["--export-file", "{tmp}/e.jsonl", "--export-filter", 'dns_query == "x" AND exec_filename == "y"'],
            "--export-filter: no event kind has every field it names",
        ),
        (["--export-file", "{tmp}"], "is a directory"),
    ],
)
def test_a_bad_export_flag_is_refused_before_anything_starts(args: list[str], message: str, tmp_path: Path) -> None:
    socket = f"unix://{tmp_path}/s.sock"
    result = CliRunner().invoke(cli, ["run", "--listen", socket, *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "s.sock").exists()

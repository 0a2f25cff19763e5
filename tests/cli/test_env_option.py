"""Every flag a unit file may want is also read from SENSOR_<FLAG>, and --help says so."""

from __future__ import annotations

import click
from click.testing import CliRunner

from sensor.cli.env_option import env_option
from sensor.cli.main import cli


@click.command()
@env_option("--queue-events", type=int, default=16)
def _echo_queue_events(queue_events: int) -> None:
    click.echo(queue_events)


def test_the_variable_is_named_after_the_flag_and_the_flag_wins_over_it() -> None:
    runner = CliRunner()
    assert runner.invoke(_echo_queue_events, [], env={"SENSOR_QUEUE_EVENTS": "64"}).output == "64\n"
    assert runner.invoke(_echo_queue_events, ["--queue-events", "32"], env={"SENSOR_QUEUE_EVENTS": "64"}).output == (
        "32\n"
    )


def test_help_names_the_variable() -> None:
    text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())  # unwrapped
    assert "env var: SENSOR_BUFFER_SIZE;" in text
    assert "env var: SENSOR_METRICS_LISTEN]" in text
    assert "env var: SENSOR_LOG_FORMAT;" in text


def test_a_bad_value_from_the_variable_gets_the_flags_own_message() -> None:
    result = CliRunner().invoke(cli, ["trace"], env={"SENSOR_BUFFER_SIZE": "3M"})
    assert result.exit_code == 2
    assert "Error: Invalid value for --buffer-size: '3M' must be a power of two" in result.output

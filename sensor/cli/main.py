"""The `sensor` command."""

from __future__ import annotations

import click

from sensor import __version__
from sensor.cli.doctor import doctor
from sensor.cli.fleet import fleet
from sensor.cli.run import run
from sensor.cli.status import status
from sensor.cli.top import top
from sensor.cli.trace import trace
from sensor.cli.workload_list import workload_list


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sensor")
def cli() -> None:
    """Linux process telemetry from the kernel's own hooks.

    Every fork, exec (and failed exec), exit and credential change on the host,
    with the full context of the process: command line, cwd, parent, ancestors.
    Needs root.

    \b
    Start here:
      sensor doctor         what this kernel offers and which hook uses what
      sensor trace          watch events live in this terminal
      sensor run            the daemon: gRPC TelemetryService on /run/sensor/sensor.sock
      sensor status         what the daemon has seen and lost, and who is subscribed
      sensor workload-list  the processes and containers the sensor sees
      sensor top            containers' CPU, memory, tasks, network and IO, live
      sensor fleet          every node's sensor and the fleet's jobs, through NATS JetStream
    """


@cli.command()
def version() -> None:
    """Print the sensor's version."""
    click.echo(__version__)


cli.add_command(trace)
cli.add_command(run)
cli.add_command(workload_list)
cli.add_command(top)
cli.add_command(doctor)
cli.add_command(status)
cli.add_command(fleet)


def main() -> None:
    """Console-script entry point."""
    cli()

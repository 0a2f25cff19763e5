"""`sensor workload-list`: the live model, processes and containers, as a table or JSON."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import click
import grpc
from google.protobuf import json_format

from sensor.api.v1 import service_pb2 as api
from sensor.cli.logs import log_format_option, setup_logging
from sensor.cli.options import capture_config, capture_options, connect_options, connection, start_or_exit
from sensor.cli.remote import list_workloads as remote_workloads
from sensor.cli.remote import rpc_failure
from sensor.server.workloads import list_workloads
from sensor.telemetry.capture import Capture, CaptureConfig

METADATA_WAIT_S = 2.0
POLL_MS = 50
COMMAND_WIDTH = 80


def _local_workloads(config: CaptureConfig) -> api.ListWorkloadsResponse:
    capture = Capture(config)
    start_or_exit(capture.start, "workload-list")
    try:
        # Give the runtimes a moment to name the containers found by the scan.
        deadline = time.monotonic() + METADATA_WAIT_S
        while time.monotonic() < deadline and any(c.resolving for c in capture.containers.containers()):
            capture.poll(POLL_MS, kinds=())
        return list_workloads(capture)
    finally:
        capture.close()


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows
    ).rstrip()


def containers_table(response: api.ListWorkloadsResponse) -> str:
    """One line per container."""
    rows = [["CONTAINER", "NAME", "STATE", "RUNTIME", "PROCS", "POD", "IMAGE"]]
    for c in sorted(response.containers, key=lambda c: (c.name or "~", c.container_id)):
        pod = f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else (c.pod_uid or "-")
        state = c.state + (f"({c.exit_code})" if c.state == "EXITED" else "")
        rows.append([c.container_id[:12], c.name or "?", state, c.runtime, str(c.processes), pod, c.image_name or "?"])
    return _table(rows) if len(rows) > 1 else "(no containers)"


def processes_table(response: api.ListWorkloadsResponse) -> str:
    """One line per process, in pid order."""
    rows = [["PID", "PPID", "UID", "CONTAINER", "LANG", "COMMAND"]]
    for p in sorted(response.processes, key=lambda p: p.pid):
        command = shlex.join(p.command_line) if p.command_line else f"[{p.comm}]"
        if len(command) > COMMAND_WIDTH:
            command = command[: COMMAND_WIDTH - 3] + "..."
        rows.append(
            [str(p.pid), str(p.ppid), str(p.credentials.uid), p.container_id[:12] or "-", p.language or "-", command]
        )
    return _table(rows)


@click.command("workload-list")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: for people; json: the ListWorkloadsResponse (protobuf JSON, proto field names).",
)
@click.option(
    "--only",
    type=click.Choice(["containers", "processes"]),
    help="Print only one of the two tables.",
)
@connect_options
@capture_options
@log_format_option
def workload_list(**flags: Any) -> None:
    """Print the containers and processes on this host, as the sensor's model has them.

    Without --connect, scans this host here (probes attached for a moment, container runtimes
    asked for names); with --connect, asks the daemon for its live model.

    \b
    Examples:
      sensor workload-list
      sensor workload-list --only containers
      sensor workload-list --connect unix:///run/sensor/sensor.sock --format json
    """
    setup_logging(flags["log_format"])
    if flags["connect"]:
        remote = connection(flags)
        try:
            response = remote_workloads(remote)
        except grpc.RpcError as error:
            raise click.ClickException(rpc_failure(error, remote)) from None
    else:
        config = capture_config(flags["docker_sockets"], flags["cgroup_v1"], flags["transport"], flags["buffer_size"])
        response = _local_workloads(config)
    if flags["only"] == "containers":
        del response.processes[:]
    elif flags["only"] == "processes":
        del response.containers[:]
    if flags["output_format"] == "json":
        document = json_format.MessageToDict(response, preserving_proto_field_name=True)
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    parts = []
    if flags["only"] != "processes":
        parts.append(containers_table(response))
    if flags["only"] != "containers":
        parts.append(processes_table(response))
    click.echo("\n\n".join(parts))

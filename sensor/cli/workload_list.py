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
from sensor.cli.options import (
    capture_config,
    capture_options,
    check_flags_fit_side,
    connect_options,
    connection,
    output_format_option,
    start_or_exit,
)
from sensor.cli.remote import list_workloads as remote_workloads
from sensor.cli.remote import rpc_failure
from sensor.cli.stats_view import cpu_cell, io_cell, memory_cell, network_cell, pids_cell
from sensor.cli.table import table_text
from sensor.server.container_stats import FRESH_MS, attach_stats, host_stats_cache, read_stats, stats_targets
from sensor.server.workloads import list_workloads
from sensor.telemetry.capture import Capture, CaptureConfig

METADATA_WAIT_S = 2.0
POLL_MS = 50
COMMAND_WIDTH = 80


def _local_workloads(config: CaptureConfig, include_stats: bool) -> api.ListWorkloadsResponse:
    capture = Capture(config)
    start_or_exit(capture.start, "workload-list")
    try:
        # Give the runtimes a moment to name the containers found by the scan.
        deadline = time.monotonic() + METADATA_WAIT_S
        while time.monotonic() < deadline and any(c.resolving for c in capture.containers.containers()):
            capture.poll(POLL_MS, kinds=())
        response = list_workloads(capture)
        if include_stats:
            attach_stats(response, read_stats(host_stats_cache(), stats_targets(capture), FRESH_MS))
        return response
    finally:
        capture.close()


def _stats_cells(container: api.Container) -> list[str]:
    if not container.HasField("stats"):
        return ["-"] * len(STATS_COLUMNS)
    stats = container.stats
    return [cpu_cell(stats), memory_cell(stats), pids_cell(stats), network_cell(stats), io_cell(stats)]


STATS_COLUMNS = ["CPU", "MEM", "PIDS", "NET RX/TX", "IO R/W"]


def containers_table(response: api.ListWorkloadsResponse, with_stats: bool = False) -> str:
    """One line per container; with stats, its CPU time, working set, tasks, traffic and block IO so far."""
    rows = [["CONTAINER", "NAME", "STATE", "RUNTIME", "PROCS", *(STATS_COLUMNS if with_stats else []), "POD", "IMAGE"]]
    notes = []
    for c in sorted(response.containers, key=lambda c: (c.name or "~", c.container_id)):
        pod = f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else (c.pod_uid or "-")
        state = c.state + (f"({c.exit_code})" if c.state == "EXITED" else "")
        stats = _stats_cells(c) if with_stats else []
        rows.append(
            [c.container_id[:12], c.name or "?", state, c.runtime, str(c.processes), *stats, pod, c.image_name or "?"]
        )
        notes += [f"! {c.name or c.container_id[:12]}: {error}" for error in c.stats.errors]
    if len(rows) == 1:
        return "(no containers)"
    return "\n".join([table_text(rows), *notes])


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
    return table_text(rows)


@click.command("workload-list")
@output_format_option({"table": "for people", "json": "the ListWorkloadsResponse (protobuf JSON, proto field names)"})
@click.option(
    "--only",
    type=click.Choice(["containers", "processes"]),
    help="Print only one of the two tables.",
)
@click.option(
    "--stats",
    is_flag=True,
    help="Add each running container's resource use: CPU time, memory working set (/limit), tasks (/limit), "
    "network bytes received/sent (loopback left out) and block IO read/written, all since it started.",
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
      sensor workload-list --only containers --stats
      sensor workload-list --connect unix:///run/sensor/sensor.sock --format json
    """
    setup_logging(flags["log_format"])
    check_flags_fit_side(flags)
    if flags["connect"]:
        remote = connection(flags)
        try:
            response = remote_workloads(remote, include_stats=flags["stats"])
        except grpc.RpcError as error:
            raise click.ClickException(rpc_failure(error, remote)) from None
    else:
        config = capture_config(flags)
        response = _local_workloads(config, flags["stats"])
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
        parts.append(containers_table(response, flags["stats"]))
    if flags["only"] != "containers":
        parts.append(processes_table(response))
    click.echo("\n\n".join(parts))

"""`sensor status`: what a running `sensor run` has seen and lost, and who is subscribed (GetInfo)."""

from __future__ import annotations

import json
from typing import Any

import click
import grpc
from google.protobuf import json_format

from sensor.api.v1 import service_pb2 as api
from sensor.cli.logs import log_format_option, setup_logging
from sensor.cli.options import connection, daemon_options, output_format_option
from sensor.cli.remote import rpc_failure, sensor_info
from sensor.cli.table import table_lines


def uptime_text(nanos: int) -> str:
    """``3d 4h 05m 06s``, leaving out the leading units that are zero."""
    seconds = nanos // 1_000_000_000
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m {seconds:02d}s"
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def status_text(info: api.GetInfoResponse) -> str:
    """GetInfo for people: who, how it hooks in, what it has read, published and lost, who listens."""
    c = info.counters
    lines = [
        f"sensor {info.sensor_id} on {info.node_name or '?'}: version {info.version}, kernel {info.kernel}, "
        f"up {uptime_text(info.uptime_nanos)}",
        "hooks: " + ", ".join(f"{h.hook}={h.backend}" for h in info.hooks) + f"; cgroup {info.cgroup_mode}",
        *(f"  {h.hook}: {h.reason}" for h in info.hooks if h.backend == "none" and h.reason),
        f"records read {c.records_read}, events published {c.events_published}",
        f"lost: kernel {c.lost_kernel}, reader {c.lost_reader}, undecodable {c.undecodable}, "
        f"subscribers {c.lost_subscribers}",
        f"model: {c.processes_cached} processes, {c.containers_cached} containers",
        f"subscriptions: {c.subscriptions_active} streaming, {c.subscriptions_total} opened since start, "
        f"{c.subscriptions_refused} refused (--max-subscribers)",
    ]
    if info.exports:
        rows = [["EXPORT", "SENT", "LOST", "RATE-LIMITED", "PENDING", "DESTINATION", "ERROR"]]
        for e in info.exports:
            rows.append([e.name, str(e.sent), str(e.lost), str(e.rate_limited), str(e.pending), e.destination, e.error])
        lines += ["", *table_lines(rows, right=range(1, 5))]
    if info.subscriptions:
        rows = [["ID", "SENT", "LOST", "THROTTLED", "QUEUED", "PEER"]]
        for s in info.subscriptions:
            rows.append([str(s.id), str(s.sent), str(s.lost), str(s.throttled), str(s.queued), s.peer])
        lines += ["", *table_lines(rows, right=range(5))]
    return "\n".join(lines)


@click.command()
@output_format_option({"text": "for people", "json": "the GetInfoResponse (protobuf JSON, proto field names)"})
@daemon_options
@log_format_option
def status(**flags: Any) -> None:
    """Ask a running `sensor run` what it has seen and lost.

    Prints its id, version, kernel and uptime; the backend of each hook; the records it has read
    and the events it has published; what was lost at each stage (in the kernel, at the reader,
    undecodable, dropped from subscribers that did not keep up); the size of its process and
    container model; and each open subscription with what it was sent, lost, throttled and has
    queued. Exit status 1 when the sensor cannot be reached.

    \b
    Examples:
      sensor status
      sensor status --connect unix:///tmp/sensor.sock --format json
      sensor status --connect tcp://node1:7443 --tls-ca ca.pem
    """
    setup_logging(flags["log_format"])
    remote = connection(flags)
    try:
        info = sensor_info(remote)
    except grpc.RpcError as error:
        raise click.ClickException(rpc_failure(error, remote)) from None
    if flags["output_format"] == "json":
        document = json_format.MessageToDict(info, preserving_proto_field_name=True)
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(status_text(info))

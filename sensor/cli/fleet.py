"""`sensor fleet`: every node's sensor, read from the fleet's NATS JetStream (no sensor needed here)."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

import click
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from sensor.cli.fleet_connect import age_text, echo_json_lines, nats_flag, read_engine, with_engine
from sensor.cli.fleet_jobs import job, jobs, worker, workers
from sensor.cli.logs import log, log_format_option, setup_logging
from sensor.cli.options import (
    build_subscription,
    compile_or_refuse,
    event_choice,
    output_format_option,
    parse_duration_ns,
)
from sensor.cli.table import table_text
from sensor.cli.trace import Deadline, Printer, StopRequest
from sensor.fleet.engine import EVENTS_STREAM, LANGUAGES_BUCKET, NODES_BUCKET, engine_error
from sensor.fleet.events import FleetQuery, fleet_events, subscribe
from sensor.fleet.languages import WorkloadRecord, fleet_languages
from sensor.fleet.nodes import Node, NodeState, fleet_nodes
from sensor.telemetry.kinds.kind import EventKind


@click.group()
def fleet() -> None:
    """The fleet: every node's sensor, as it reports to NATS JetStream (`sensor run --export-nats`),
    and the fleet's own jobs, run by `sensor fleet worker`s.

    \b
    Examples:
      sensor fleet nodes --nats nats://nats.example:4222
      sensor fleet trace --nats nats://nats.example:4222 --node 'web-*' --event exec
      SENSOR_NATS=nats://nats.example:4222 sensor fleet trace --since 10m --filter 'uid == 0'
      sensor fleet worker --nats nats://nats.example:4222 --name worker-1
      sensor fleet job add languages --kind languages --nats nats://nats.example:4222
      sensor fleet languages --nats nats://nats.example:4222
    """


for _command in (worker, job, jobs, workers):
    fleet.add_command(_command)


def _node_row(node: Node, now: float) -> list[str]:
    beat = node.heartbeat
    return [
        beat.node_name,
        node.state.value,
        age_text(beat.at - beat.started_at) if node.state is NodeState.UP else "-",
        age_text(now - beat.at) + " ago",
        f"{beat.events_per_s:.0f}",
        str(beat.lost),
        str(beat.processes),
        beat.version,
        beat.kernel,
    ]


@fleet.command()
@nats_flag
@output_format_option({"table": "one row per node", "json": "one heartbeat per line, with the node's state"})
def nodes(output_format: str, **flags: Any) -> None:
    """Every node whose sensor exported in the last day: up (its heartbeat is fresh), stopped (it said so),
    or gone (its heartbeat expired)."""

    missing = f"no bucket {NODES_BUCKET}: no sensor has exported to this NATS yet (sensor run --export-nats)"
    found = read_engine(flags, fleet_nodes, missing)
    now = time.time()
    if output_format == "json":
        echo_json_lines({"state": node.state.value, **asdict(node.heartbeat)} for node in found)
        return
    header = ["NODE", "STATE", "UP", "HEARTBEAT", "EVENTS/S", "LOST", "PROCESSES", "VERSION", "KERNEL"]
    click.echo(table_text([header, *(_node_row(n, now) for n in found)], right={4, 5, 6}))


def parse_since(value: str) -> datetime:
    """``--since``: a duration ago (5m, 1h) or a time (2026-12-07T09:00:00, UTC unless it says)."""
    try:
        ago_ns = parse_duration_ns(value, "--since")
    except click.BadParameter:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is neither a duration (5m, 2h) nor a time (2026-12-07T09:00:00)", param_hint="--since"
            ) from None
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - timedelta(microseconds=ago_ns // 1000)


@fleet.command(name="trace")
@output_format_option({"compact": "one readable line per event, its node first", "json": "one TelemetryEvent per line"})
@click.option("--event", "events", multiple=True, metavar="KIND[,KIND]", help="As `sensor trace --event`.")
@click.option("--filter", "expression", default="", metavar="EXPR", help="As `sensor trace --filter`.")
@click.option("--container", "containers", multiple=True, metavar="GLOB", help="As `sensor trace --container`.")
@click.option("--image", "images", multiple=True, metavar="GLOB", help="As `sensor trace --image`.")
@click.option("--node", "node_glob", default="*", show_default=True, metavar="GLOB", help="Only these nodes.")
@click.option("--since", metavar="DURATION|TIME", help="Start this long ago (5m) or at this time; default: now.")
@click.option("--stream", default=EVENTS_STREAM, show_default=True, help="The stream the sensors export to.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after SECONDS.", metavar="SECONDS")
@click.option("--count", type=click.IntRange(min=1), help="Stop after printing N events.", metavar="N")
@nats_flag
@log_format_option
def fleet_trace(**flags: Any) -> None:
    """Print the fleet's events, live or from a time, as `sensor trace` prints one host's.

    Prints 'ready' on stderr once subscribed. Kinds and a plain node name narrow the subject the
    engine delivers; node globs and --filter are applied here, as the daemon applies them.
    """
    choice = event_choice(flags["events"], flags["expression"])
    subscription = build_subscription(
        choice.kinds, flags["expression"], flags["containers"], flags["images"], 0, 0, False, types=choice.types
    )
    rules = compile_or_refuse(subscription)
    since = parse_since(flags["since"]) if flags["since"] else None
    kinds = frozenset(k.value for k in (*choice.kinds, EventKind.LOST))
    query = FleetQuery(kinds, flags["node_glob"], since, flags["stream"])
    setup_logging(flags["log_format"])
    printer = Printer(flags["output_format"], flags["count"], with_node=True)
    deadline = Deadline(flags["duration"])
    stop = StopRequest()

    async def follow(js: JetStreamContext) -> None:
        try:
            subscription = await subscribe(js, query)
            log.info("ready (subscribed to %s on stream %s)", query.subject(), query.stream)
            deadline.start()
            async for batch in fleet_events(subscription, query, rules):
                printer.emit(batch)
                if stop.requested or printer.done or deadline.passed():
                    break
        except nats.js.errors.NotFoundError:
            raise click.ClickException(f"no stream {query.stream} on this NATS (sensor run --export-nats)") from None
        except nats.errors.Error as error:
            raise click.ClickException(f"NATS: {engine_error(error)}") from None

    with_engine(flags, follow)
    log.info("%d events printed", printer.printed, extra={"fields": {"event": "summary", "printed": printer.printed}})


def _language_rows(record: WorkloadRecord, now: float) -> list[list[str]]:
    workload = record.workload
    rows = []
    for container, languages in sorted(record.containers.items()):
        nodes = sorted({node for reporters in languages.values() for node in reporters})
        rows.append(
            [
                workload.namespace or "-",
                f"{workload.kind}/{workload.name or workload.key[:12]}",
                workload.owner or "-",
                container or "-",
                ",".join(sorted(languages)),
                ",".join(nodes),
                age_text(now - record.last_report(container)),
            ]
        )
    return rows


@fleet.command()
@nats_flag
@output_format_option({"table": "one row per container", "json": "one workload per line"})
def languages(output_format: str, **flags: Any) -> None:
    """The languages running in each workload (a pod, or a container outside Kubernetes), by container,
    with the nodes that reported them and the age of the last report, as the fleet's languages job keeps them
    (sensor fleet job add NAME --kind languages)."""

    missing = f"no bucket {LANGUAGES_BUCKET}: no languages job has run (sensor fleet job add NAME --kind languages)"
    records = read_engine(flags, fleet_languages, missing)
    if output_format == "json":
        echo_json_lines(asdict(record) for record in records)
        return
    now = time.time()
    header = ["NAMESPACE", "WORKLOAD", "OWNER", "CONTAINER", "LANGUAGES", "NODES", "AGE"]
    click.echo(table_text([header, *(row for r in records for row in _language_rows(r, now))]))

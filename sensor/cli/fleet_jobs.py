"""`sensor fleet worker`, `sensor fleet job add|remove`, `sensor fleet jobs`, `sensor fleet workers`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import nats.js.errors
from nats.js import JetStreamContext

from sensor.cli.fleet_connect import age_text, echo_json_lines, nats_flag, read_engine, with_engine
from sensor.cli.logs import log_format_option, setup_logging
from sensor.cli.options import (
    build_subscription,
    compile_or_refuse,
    event_choice,
    output_format_option,
    parse_bytes,
    parse_duration_ns,
)
from sensor.cli.table import table_text
from sensor.fleet.engine import EVENTS_STREAM, ensure_bucket
from sensor.fleet.jobs.archive import subscription_text
from sensor.fleet.jobs.overview import JobView, WorkerState, WorkerView, fleet_jobs, fleet_workers
from sensor.fleet.jobs.records import (
    JOBS_BUCKET,
    PROGRESS_BUCKET,
    WORKERS_BUCKET,
    ArchiveParams,
    JobDefinition,
    JobKind,
    LanguagesParams,
    check_job_name,
)
from sensor.fleet.jobs.worker import (
    DEFAULT_EXPIRY_S,
    DEFAULT_HEARTBEAT_S,
    DEFAULT_LEASE_S,
    DEFAULT_POLL_S,
    Worker,
    WorkerConfig,
    WorkerNameTaken,
)
from sensor.telemetry.kinds.kind import EventKind

_REPLICAS = click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Replicas of the buckets when this makes them (3 on a three-server cluster).",
)


def _seconds(value: str, flag: str) -> float:
    return parse_duration_ns(value, flag) / 1e9


@click.command()
@nats_flag
@click.option("--name", default=socket.gethostname(), show_default=True, help="This worker's name in the fleet.")
@click.option(
    "--heartbeat", default=f"{DEFAULT_HEARTBEAT_S:g}s", show_default=True, metavar="DURATION", help="How often."
)
@click.option(
    "--expiry",
    default=f"{DEFAULT_EXPIRY_S:g}s",
    show_default=True,
    metavar="DURATION",
    help="Silent this long, this worker is taken for dead and its jobs go to others.",
)
@click.option(
    "--lease",
    default=f"{DEFAULT_LEASE_S:g}s",
    show_default=True,
    metavar="DURATION",
    help="The dispatcher's lease (the lease bucket's TTL, when this worker makes it): a dispatcher that dies "
    "is replaced within it.",
)
@_REPLICAS
@log_format_option
def worker(**flags: Any) -> None:
    """Run the fleet's jobs (sensor fleet job add) until SIGTERM or Ctrl-C.

    Any number of workers, on any machines that reach NATS: each heartbeats into the bucket
    sensor_workers; the one holding the dispatcher's lease spreads the jobs over the live ones (the
    fewest first) and takes back the jobs of a worker silent past its --expiry. A job that moves goes
    on from its last acknowledged progress.

    \b
    Example:
      sensor fleet worker --nats nats://nats.example:4222 --name worker-1
    """
    heartbeat_s = _seconds(flags["heartbeat"], "--heartbeat")
    expiry_s = _seconds(flags["expiry"], "--expiry")
    lease_s = _seconds(flags["lease"], "--lease")
    if expiry_s <= heartbeat_s:
        raise click.BadParameter(
            f"{flags['expiry']} must be longer than --heartbeat {flags['heartbeat']}, or this worker would be "
            "taken for dead between two heartbeats",
            param_hint="--expiry",
        )
    if lease_s <= 2 * DEFAULT_POLL_S:
        renewal = f"it is renewed every {DEFAULT_POLL_S:g}s"
        raise click.BadParameter(f"must be longer than {2 * DEFAULT_POLL_S:g}s ({renewal})", param_hint="--lease")
    try:
        name = check_job_name(flags["name"])
    except ValueError as error:
        raise click.BadParameter(str(error).replace("a job", "a worker"), param_hint="--name") from None
    config = WorkerConfig(name, heartbeat_s, expiry_s, lease_s, replicas=flags["replicas"])
    setup_logging(flags["log_format"])

    async def work(js: JetStreamContext) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Worker(config, js).run(stop)
        except WorkerNameTaken as error:
            raise click.ClickException(str(error)) from None

    with_engine(flags, work, name=f"sensor fleet worker {name}", retries=-1)


@click.group()
def job() -> None:
    """Define the fleet's jobs (kept in the bucket sensor_jobs); `sensor fleet worker`s run them.

    \b
    Examples:
      sensor fleet job add root-execs --kind archive --dir /srv/archive --event exec --filter 'uid == 0'
      sensor fleet job add languages --kind languages --ttl 30m
      sensor fleet job remove root-execs
    """


def _archive_params(flags: dict[str, Any]) -> dict[str, Any]:
    if not flags["directory"]:
        raise click.UsageError("an archive job needs --dir")
    choice = event_choice(flags["events"], flags["expression"])
    subscription = build_subscription(
        choice.kinds, flags["expression"], flags["containers"], flags["images"], 0, 0, False, types=choice.types
    )
    compile_or_refuse(subscription)
    asked = [f"--event {e}" for e in flags["events"]] + [f"--node {flags['node_glob']}"] * (flags["node_glob"] != "*")
    asked += [f"--filter {flags['expression']!r}"] * bool(flags["expression"])
    asked += [f"--container {c}" for c in flags["containers"]] + [f"--image {i}" for i in flags["images"]]
    params = ArchiveParams(
        directory=str(Path(flags["directory"]).resolve()),
        kinds=sorted({k.value for k in (*choice.kinds, EventKind.LOST)}),
        subscription=subscription_text(subscription),
        node_glob=flags["node_glob"],
        max_bytes=parse_bytes(flags["max_size"], "--max-size"),
        stream=flags["stream"],
        asked=" ".join(asked),
    )
    return asdict(params)


def _languages_params(flags: dict[str, Any]) -> dict[str, Any]:
    archive_only = ("directory", "events", "expression", "containers", "images")
    if any(flags[name] for name in archive_only) or flags["node_glob"] != "*":
        raise click.UsageError("--dir, --event, --filter, --container, --image and --node are for archive jobs")
    return asdict(LanguagesParams(ttl_s=_seconds(flags["ttl"], "--ttl")))


@job.command(name="add")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in JobKind]), required=True, help="What the job does.")
@click.option("--dir", "directory", metavar="DIR", help="archive: where its files go (the same path on every worker).")
@click.option("--event", "events", multiple=True, metavar="KIND[,KIND]", help="archive: as `sensor trace --event`.")
@click.option("--filter", "expression", default="", metavar="EXPR", help="archive: as `sensor trace --filter`.")
@click.option("--container", "containers", multiple=True, metavar="GLOB", help="archive: as `sensor trace`'s.")
@click.option("--image", "images", multiple=True, metavar="GLOB", help="archive: as `sensor trace`'s.")
@click.option("--node", "node_glob", default="*", show_default=True, metavar="GLOB", help="archive: only these nodes.")
@click.option("--max-size", default="100M", show_default=True, metavar="SIZE", help="archive: rotate at SIZE.")
@click.option("--stream", default=EVENTS_STREAM, show_default=True, help="archive: the stream the sensors export to.")
@click.option(
    "--ttl",
    default="30m",
    show_default=True,
    metavar="DURATION",
    help="languages: forget a language nobody reported for this long.",
)
@_REPLICAS
@nats_flag
def job_add(name: str, kind: str, **flags: Any) -> None:
    """Define job NAME. An archive writes the matching events from now on into DIR/NAME.jsonl (rotated into
    NAME-<time>.jsonl.gz, every file kept), each event once; the languages job merges the nodes' language
    reports into the bucket sensor_languages (`sensor fleet languages`)."""
    try:
        check_job_name(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    params = _archive_params(flags) if kind == JobKind.ARCHIVE.value else _languages_params(flags)
    definition = JobDefinition(name, kind, time.time(), params)

    async def add(js: JetStreamContext) -> None:
        jobs = await ensure_bucket(js, JOBS_BUCKET, replicas=flags["replicas"])
        try:
            await jobs.create(name, definition.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            raise click.ClickException(f"job {name} exists (sensor fleet job remove {name} first)") from None

    with_engine(flags, add)
    click.echo(f"job {name} added ({kind}); a worker runs it within a dispatch (sensor fleet jobs)")


@job.command(name="remove")
@click.argument("name")
@nats_flag
def job_remove(name: str, **flags: Any) -> None:
    """Remove job NAME: its worker stops it within a dispatch; its progress is forgotten (its files stay)."""

    async def remove(js: JetStreamContext) -> None:
        try:
            jobs = await js.key_value(JOBS_BUCKET)
            await jobs.get(name)
        except (nats.js.errors.BucketNotFoundError, nats.js.errors.KeyNotFoundError):
            raise click.ClickException(f"no job {name}") from None
        await jobs.delete(name)
        with contextlib.suppress(nats.js.errors.BucketNotFoundError):
            await (await js.key_value(PROGRESS_BUCKET)).delete(name)

    with_engine(flags, remove)
    click.echo(f"job {name} removed")


def _job_row(view: JobView, now: float) -> list[str]:
    definition = view.definition
    if definition.kind == JobKind.ARCHIVE.value:
        params = definition.archive()
        what = f"{params.directory} {params.asked}".strip()
    else:
        what = f"ttl {age_text(definition.languages().ttl_s)}"
    status = view.status
    return [
        definition.name,
        definition.kind,
        view.assignment.worker if view.assignment else "-",
        age_text(now - view.assignment.since) if view.assignment else "-",
        str(status.done if status else view.progress.done),
        str(status.backlog) if status else "-",
        age_text(now - view.heartbeat_at) + " ago" if view.heartbeat_at else "-",
        status.error if status and status.error else ("running" if status else "waiting"),
        what,
    ]


@click.command()
@nats_flag
@output_format_option({"table": "one row per job", "json": "one job per line"})
def jobs(output_format: str, **flags: Any) -> None:
    """The fleet's jobs: who runs each, since when, what it did (events archived, reports merged), its
    backlog (messages of its subject still to read) and its worker's last heartbeat."""

    views = read_engine(flags, fleet_jobs, f"no bucket {JOBS_BUCKET}: no job was ever added (sensor fleet job add)")
    if output_format == "json":
        echo_json_lines(asdict(view) for view in views)
        return
    now = time.time()
    header = ["JOB", "KIND", "WORKER", "SINCE", "DONE", "BACKLOG", "HEARTBEAT", "STATE", "WHAT"]
    click.echo(table_text([header, *(_job_row(v, now) for v in views)], right={4, 5}))


def _worker_row(view: WorkerView, now: float) -> list[str]:
    beat = view.heartbeat
    return [
        beat.name,
        view.state.value,
        beat.host,
        str(beat.pid),
        age_text(beat.at - beat.started_at) if view.state is WorkerState.UP else "-",
        age_text(now - beat.at) + " ago",
        ",".join(sorted(beat.jobs)) if view.state is WorkerState.UP and beat.jobs else "-",  # a gone one's are moving
        "yes" if beat.dispatcher and view.state is WorkerState.UP else "",
    ]


@click.command()
@nats_flag
@output_format_option({"table": "one row per worker", "json": "one heartbeat per line, with the worker's state"})
def workers(output_format: str, **flags: Any) -> None:
    """The fleet's workers seen in the last day: up, stopped (it said so) or gone (silent past its expiry),
    with their jobs and which one dispatches."""

    missing = f"no bucket {WORKERS_BUCKET}: no worker has run on this NATS yet (sensor fleet worker)"
    views = read_engine(flags, fleet_workers, missing)
    if output_format == "json":
        echo_json_lines({"state": view.state.value, **asdict(view.heartbeat)} for view in views)
        return
    now = time.time()
    header = ["WORKER", "STATE", "HOST", "PID", "UP", "HEARTBEAT", "JOBS", "DISPATCHER"]
    click.echo(table_text([header, *(_worker_row(v, now) for v in views)], right={3}))

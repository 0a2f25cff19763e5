"""`sensor run`'s export flags (--export-file, --export-nats, ...), and the NATS connection flags it
shares with `sensor fleet`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sensor.cli.env_option import env_option
from sensor.cli.options import (
    build_subscription,
    compile_or_refuse,
    event_choice,
    parse_bytes,
    parse_duration_ns,
)
from sensor.export.jetstream import DEFAULT_BUFFER_EVENTS, JetStreamConfig
from sensor.export.json_file import DEFAULT_BACKUPS, ExportFileError, FileExportConfig
from sensor.export.language_reports import (
    DEFAULT_BUFFER_S,
    DEFAULT_PARK_S,
    DEFAULT_REFRESH_S,
    LanguageReportConfig,
)
from sensor.export.plan import ExportPlan
from sensor.fleet.engine import DEFAULT_EXPIRY_S, DEFAULT_HEARTBEAT_S, EVENTS_STREAM, EngineAddress
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.subscription import CompiledSubscription

F = TypeVar("F", bound=Callable[..., Any])
EXPORT_BATCH_NS = 50_000_000  # an export takes its events in batches this old at most: few wake-ups, no hurry


def _apply(function: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):
        function = option(function)
    return function


def nats_options(function: F) -> F:
    """How to reach and authenticate to NATS: --nats-tls-ca, --nats-tls-cert, --nats-tls-key, --nats-creds,
    --nats-token, --nats-nkey (also SENSOR_* variables)."""
    return _apply(
        function,
        (
            env_option("--nats-tls-ca", metavar="FILE", help="CA that signed the NATS servers' certificates (PEM)."),
            env_option("--nats-tls-cert", metavar="FILE", help="Client certificate for NATS (PEM)."),
            env_option("--nats-tls-key", metavar="FILE", help="Client certificate's key (PEM)."),
            env_option("--nats-creds", metavar="FILE", help="NATS credentials file (JWT and nkey seed)."),
            env_option("--nats-token", metavar="TOKEN", help="NATS authentication token."),
            env_option("--nats-nkey", metavar="FILE", help="File holding a NATS nkey seed."),
        ),
    )


def engine_address(urls: str, flags: dict[str, Any], flag: str) -> EngineAddress:
    """The servers ``urls`` names, with the --nats-* authentication flags."""
    try:
        return EngineAddress.parse(
            urls,
            tls_ca=flags["nats_tls_ca"],
            tls_cert=flags["nats_tls_cert"],
            tls_key=flags["nats_tls_key"],
            creds_file=flags["nats_creds"],
            token=flags["nats_token"],
            nkey_seed_file=flags["nats_nkey"],
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=flag) from None


def export_options(function: F) -> F:
    """Every --export-* flag, the heartbeat's, and the NATS connection flags."""
    return nats_options(
        _apply(
            function,
            (
                env_option(
                    "--export-file",
                    metavar="PATH",
                    help="Also write every event, as JSON lines (as `sensor trace --format json`), to PATH: created "
                    "mode 0600, rotated by size (and by interval), old files gzipped, reopened on SIGHUP.",
                ),
                env_option(
                    "--export-file-max-size", default="10M", show_default=True, metavar="SIZE", help="Rotate at SIZE."
                ),
                env_option(
                    "--export-file-backups",
                    type=click.IntRange(min=0),
                    default=DEFAULT_BACKUPS,
                    show_default=True,
                    help="Rotated files kept (NAME-<time>.EXT.gz beside the file); older ones are deleted.",
                ),
                env_option("--export-file-rotate-every", metavar="DURATION", help="Also rotate this often (1h, 30m)."),
                env_option("--export-file-no-compress", is_flag=True, help="Keep rotated files as they are."),
                env_option(
                    "--export-nats",
                    metavar="URL[,URL...]",
                    help="Also publish every event to a NATS JetStream stream (subject sensor.events.NODE.KIND, "
                    "payload the protobuf TelemetryEvent, its id as the message id), and keep this node's "
                    "heartbeat in the bucket sensor_nodes. Buffers while no server answers.",
                ),
                env_option(
                    "--export-nats-stream",
                    default=EVENTS_STREAM,
                    show_default=True,
                    metavar="NAME",
                    help="The stream; created when absent with the limits below.",
                ),
                env_option(
                    "--export-nats-replicas",
                    type=click.IntRange(1, 5),
                    default=1,
                    show_default=True,
                    help="Replicas of a stream and buckets the sensor creates (3 on a three-server cluster).",
                ),
                env_option(
                    "--export-nats-max-age", default="24h", show_default=True, metavar="DURATION", help="Stream limit."
                ),
                env_option(
                    "--export-nats-max-size", default="1G", show_default=True, metavar="SIZE", help="Stream limit."
                ),
                env_option(
                    "--export-buffer",
                    type=click.IntRange(min=1),
                    default=DEFAULT_BUFFER_EVENTS,
                    show_default=True,
                    metavar="EVENTS",
                    help="Events held while no NATS server acknowledges; beyond that they are lost, counted.",
                ),
                env_option(
                    "--heartbeat",
                    default=f"{DEFAULT_HEARTBEAT_S:g}s",
                    show_default=True,
                    metavar="DURATION",
                    help="How often this node refreshes its key in sensor_nodes.",
                ),
                env_option(
                    "--heartbeat-expiry",
                    default=f"{DEFAULT_EXPIRY_S:g}s",
                    show_default=True,
                    metavar="DURATION",
                    help="A node silent this long leaves sensor_nodes (the bucket's TTL, when the sensor creates it).",
                ),
                env_option(
                    "--export-languages/--no-export-languages",
                    default=True,
                    show_default=True,
                    help="With --export-nats, also report which languages run in which pod's (or container's) "
                    "processes to sensor.languages.NODE, for the fleet's languages job.",
                ),
                env_option(
                    "--languages-buffer",
                    default=f"{DEFAULT_BUFFER_S:g}s",
                    show_default=True,
                    metavar="DURATION",
                    help="Workloads whose languages changed are reported this long after, together.",
                ),
                env_option(
                    "--languages-refresh",
                    default=f"{DEFAULT_REFRESH_S / 60:g}m",
                    show_default=True,
                    metavar="DURATION",
                    help="Every workload is reported again this often (the retry of a report not stored).",
                ),
                env_option(
                    "--languages-park",
                    default=f"{DEFAULT_PARK_S / 60:g}m",
                    show_default=True,
                    metavar="DURATION",
                    help="A process whose container is not described yet waits this long to be reported.",
                ),
                env_option(
                    "--export-event",
                    "export_events",
                    multiple=True,
                    metavar="KIND[,KIND]",
                    help="Export only these kinds (as `sensor trace --event`). Default: all.",
                ),
                env_option(
                    "--export-filter",
                    default="",
                    metavar="EXPR",
                    help="Export only events for which EXPR holds (as `sensor trace --filter`).",
                ),
                env_option(
                    "--export-rate-limit",
                    type=click.IntRange(min=0),
                    default=0,
                    metavar="EVENTS",
                    help="At most EVENTS a second per export (the rest counted as rate-limited). 0: no limit.",
                ),
            ),
        )
    )


def export_plan(flags: dict[str, Any], node_name: str) -> ExportPlan:
    """The exports the flags describe, checked (a path that cannot be written is refused here)."""
    file = _file_config(flags)
    nats = _nats_config(flags, node_name)
    if file is None and nats is None:
        for flag, name in (("export_events", "--export-event"), ("export_filter", "--export-filter")):
            if flags[flag]:
                raise click.UsageError(f"{name} needs --export-file or --export-nats")
        return ExportPlan()
    languages = _language_config(flags) if nats is not None and flags["export_languages"] else None
    return ExportPlan(
        _export_rules(flags),
        file,
        nats,
        flags["export_rate_limit"],
        languages,
        _language_rules() if languages is not None else None,
    )


def _language_config(flags: dict[str, Any]) -> LanguageReportConfig:
    periods = {
        name: parse_duration_ns(flags[name.replace("-", "_")], f"--{name}") / 1e9
        for name in ("languages-buffer", "languages-refresh", "languages-park")
    }
    if periods["languages-refresh"] < periods["languages-buffer"]:
        raise click.BadParameter("must not be shorter than --languages-buffer", param_hint="--languages-refresh")
    return LanguageReportConfig(periods["languages-buffer"], periods["languages-refresh"], periods["languages-park"])


def _language_rules() -> CompiledSubscription:
    subscription = build_subscription([EventKind.EXEC, EventKind.CONTAINER], "", (), (), 0, 0, False, EXPORT_BATCH_NS)
    return compile_or_refuse(subscription, "--export-languages")


def _file_config(flags: dict[str, Any]) -> FileExportConfig | None:
    if not flags["export_file"]:
        return None
    every = flags["export_file_rotate_every"]
    config = FileExportConfig(
        Path(flags["export_file"]),
        max_bytes=parse_bytes(flags["export_file_max_size"], "--export-file-max-size"),
        rotate_interval_s=parse_duration_ns(every, "--export-file-rotate-every") / 1e9 if every else 0.0,
        backups=flags["export_file_backups"],
        compress=not flags["export_file_no_compress"],
    )
    try:
        config.check()
    except ExportFileError as error:
        raise click.BadParameter(str(error), param_hint="--export-file") from None
    return config


def _nats_config(flags: dict[str, Any], node_name: str) -> JetStreamConfig | None:
    if not flags["export_nats"]:
        return None
    heartbeat_s = parse_duration_ns(flags["heartbeat"], "--heartbeat") / 1e9
    expiry_s = parse_duration_ns(flags["heartbeat_expiry"], "--heartbeat-expiry") / 1e9
    if expiry_s <= heartbeat_s:
        raise click.BadParameter(
            f"{flags['heartbeat_expiry']} must be longer than --heartbeat {flags['heartbeat']}, or every node would "
            "flicker out between two heartbeats",
            param_hint="--heartbeat-expiry",
        )
    return JetStreamConfig(
        engine_address(flags["export_nats"], flags, "--export-nats"),
        node_name,
        stream=flags["export_nats_stream"],
        replicas=flags["export_nats_replicas"],
        max_age_s=parse_duration_ns(flags["export_nats_max_age"], "--export-nats-max-age") / 1e9,
        max_bytes=parse_bytes(flags["export_nats_max_size"], "--export-nats-max-size"),
        buffer_events=flags["export_buffer"],
        heartbeat_s=heartbeat_s,
        expiry_s=expiry_s,
    )


def _export_rules(flags: dict[str, Any]) -> CompiledSubscription:
    expression = flags["export_filter"]
    choice = event_choice(flags["export_events"], expression, "--export-filter")
    subscription = build_subscription(
        choice.kinds, expression, (), (), 0, 0, False, EXPORT_BATCH_NS, types=choice.types
    )
    return compile_or_refuse(subscription, "--export-filter")

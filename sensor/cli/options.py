"""Flags shared by the commands: how to capture (trace, run, workload-list), what to subscribe to (trace)."""

from __future__ import annotations

import mmap
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from sensor.api.v1 import subscription_pb2 as sub
from sensor.cli.env_option import env_option
from sensor.cli.remote import Connection
from sensor.kernel.cgroupfs import CgroupLayoutError
from sensor.kernel.compiler import DEFAULT_CACHE_DIR
from sensor.kernel.features import Backend, KernelFeatureError
from sensor.kernel.loader import MAX_BUFFER_BYTES
from sensor.model.runtime.docker import DEFAULT_DOCKER_SOCKETS
from sensor.server.address import DEFAULT_SOCKET, AddressError, parse_address
from sensor.telemetry.capture import Capture, CaptureConfig
from sensor.telemetry.expression import FilterError, field_names
from sensor.telemetry.filter_rules import SubscriptionError
from sensor.telemetry.kinds import process
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.registry import PAYLOAD_KINDS, SELECTABLE_KINDS, kinds_having, types_of
from sensor.telemetry.subscription import (
    MAX_BATCH_DELAY_NS,
    CompiledSubscription,
    InvalidSubscription,
    compile_subscription,
)

F = TypeVar("F", bound=Callable[..., Any])
TRANSPORTS = {"auto": None, "ringbuf": Backend.RING_BUFFER, "perf": Backend.PERF_BUFFER}
DEFAULT_TRANSPORT = "auto"
TASK_READS = {"auto": None, "btf": Backend.BTF_LOADS, "probe-read": Backend.PROBE_READS}
DEFAULT_TASK_READS = "auto"
DEFAULT_BUFFER_SIZE = "16M"
TLS_FLAGS = ("tls_ca", "tls_cert", "tls_key", "tls_server_name")  # only mean something with --connect
PROCESS_KINDS = tuple(process.KIND.event_kinds)
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|s|m|h)?\s*$")
_NS_PER_UNIT = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


@dataclass(frozen=True, slots=True)
class EventChoice:
    """What --event chose: the kinds, and for a kind given as KIND:TYPE, only those types (proto enum names)."""

    kinds: list[EventKind]
    types: dict[EventKind, frozenset[str]] = field(default_factory=dict)


def parse_events(values: tuple[str, ...], default: tuple[EventKind, ...] = SELECTABLE_KINDS) -> EventChoice:
    """``--event exec,exit --event network:connect,network:dns_query`` -> the kinds in a stable order
    (``default`` when none is given), and the sub-kinds asked for. A kind given whole takes every type."""
    valid = ", ".join(k.value for k in SELECTABLE_KINDS)
    chosen: set[EventKind] = set()
    whole: set[EventKind] = set()
    types: dict[EventKind, set[str]] = {}
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            kind_name, _, type_name = name.partition(":")
            kind = next((k for k in SELECTABLE_KINDS if k.value == kind_name), None)
            if kind is None:
                raise click.BadParameter(f"unknown event kind {name!r} (choose from {valid})", param_hint="--event")
            chosen.add(kind)
            if not type_name:
                whole.add(kind)
                continue
            known = types_of(kind)
            if type_name.upper() not in known:
                listed = ", ".join(f"{kind.value}:{t.lower()}" for t in known)
                raise click.BadParameter(
                    f"unknown {kind.value} event {name!r} (choose from {listed})", param_hint="--event"
                )
            types.setdefault(kind, set()).add(type_name.upper())
    if not values:
        return EventChoice(list(default))
    return EventChoice(
        [k for k in SELECTABLE_KINDS if k in chosen],
        {kind: frozenset(names) for kind, names in types.items() if kind not in whole},
    )


def kinds_for_filter(expression: str, filter_flag: str = "--filter") -> list[EventKind]:
    """The kinds a --filter given without --event selects: those that have every field it names.

    Raises click.UsageError when no kind has them all, saying which kinds have each field. An
    unknown field or a syntax error is left to the subscription's own check, which explains it.
    """
    try:
        names = field_names(expression)
    except FilterError:
        return list(PROCESS_KINDS)
    owners = {name: kinds_having([name]) for name in names}
    if not all(owners.values()):
        return list(PROCESS_KINDS)
    chosen = kinds_having(names)
    if not chosen:
        listed = "; ".join(f"{name} is on {_kind_list(kinds)}" for name, kinds in owners.items())
        raise click.UsageError(f"{filter_flag}: no event kind has every field it names ({listed})")
    return chosen


def _kind_list(kinds: list[EventKind]) -> str:
    names = [kind.value for kind in kinds]
    if len(names) == len(SELECTABLE_KINDS):
        return "every kind"
    return (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]) + " events"


def parse_bytes(value: str, flag: str) -> int:
    """``16M``, ``512K``, ``1G``, ``10MiB`` or a byte count."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    try:
        size = int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size (examples: 16M, 512K, 1G)", param_hint=flag) from None
    if size <= 0:
        raise click.BadParameter(f"{value!r}: a size must be more than 0", param_hint=flag)
    return size


def parse_size(value: str) -> int:
    """``--buffer-size``: a power of two of at least a page, at most what the kernel takes."""
    size = parse_bytes(value, "--buffer-size")
    if size < mmap.PAGESIZE or size & (size - 1):
        raise click.BadParameter(
            f"{value!r} must be a power of two of at least {mmap.PAGESIZE} bytes (examples: 16M, 64M)",
            param_hint="--buffer-size",
        )
    if size > MAX_BUFFER_BYTES:
        raise click.BadParameter(
            f"{value!r} is over the largest buffer the kernel takes, 2G", param_hint="--buffer-size"
        )
    return size


def parse_duration_ns(value: str, flag: str) -> int:
    """``500ms``, ``2s``, ``1m`` or plain seconds -> nanoseconds."""
    match = _DURATION.match(value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration (examples: 500ms, 2s, 1m)", param_hint=flag)
    return int(float(match.group(1)) * _NS_PER_UNIT[match.group(2) or "s"])


def parse_batch_ns(value: str) -> int:
    """``--batch``: a duration of at most one second (the API's bound on a batch delay)."""
    delay_ns = parse_duration_ns(value, "--batch")
    if delay_ns > MAX_BATCH_DELAY_NS:
        raise click.BadParameter(f"{value!r} is over the longest batch delay, 1s", param_hint="--batch")
    return delay_ns


def capture_options(function: F) -> F:
    """--docker-socket, --node-name, --cgroup-v1, --transport, --task-reads, --buffer-size, --bpf-cache
    (also SENSOR_* variables)."""
    for option in reversed(
        (
            env_option(
                "--docker-socket",
                "docker_sockets",
                multiple=True,
                metavar="PATH",
                help="Docker-API sockets asked for container names and images (repeatable). "
                f"Default: {', '.join(DEFAULT_DOCKER_SOCKETS)}.",
            ),
            env_option(
                "--node-name",
                metavar="NAME",
                default=socket.gethostname,
                show_default="this host's name",
                help="The node's name, on every event and in the fleet's views (in Kubernetes: the pod's "
                "spec.nodeName).",
            ),
            env_option(
                "--cgroup-v1",
                is_flag=True,
                help="On a hybrid host, follow containers through a v1 controller's hierarchy, not the unified one.",
            ),
            env_option(
                "--transport",
                type=click.Choice(list(TRANSPORTS)),
                default=DEFAULT_TRANSPORT,
                show_default=True,
                help="Kernel-to-user buffer: BPF ring buffer (5.8+), or per-CPU perf buffers.",
            ),
            env_option(
                "--task-reads",
                type=click.Choice(list(TASK_READS)),
                default=DEFAULT_TASK_READS,
                show_default=True,
                help="How the probes read the current task's kernel structs: plain loads through "
                "bpf_get_current_task_btf (5.11+, the cheapest), or a bpf_probe_read_kernel call per member "
                "(any kernel). auto picks the first the kernel offers.",
            ),
            env_option(
                "--buffer-size",
                default=DEFAULT_BUFFER_SIZE,
                show_default=True,
                help="Kernel buffer size (a power of two; set at load, no compile); per CPU-set total for perf. "
                "Past a quarter full, a watchdog moves records into memory (up to 256 MiB) until the output "
                "catches up.",
            ),
            env_option(
                "--bpf-cache",
                default=str(DEFAULT_CACHE_DIR),
                show_default=True,
                metavar="DIR",
                help="Where the BPF programs compiled for this kernel are kept: the first start compiles "
                "them (a few seconds, in a child process), later starts load them from here.",
            ),
        )
    ):
        function = option(function)
    return function


def output_format_option(formats: dict[str, str]) -> Callable[[F], F]:
    """``--format``: one of ``formats`` (each name with what it prints); the first is the default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(formats)),
        default=next(iter(formats)),
        show_default=True,
        help="; ".join(f"{name}: {what}" for name, what in formats.items()) + ".",
    )


def connect_options(function: F) -> F:
    """--connect and the client's TLS flags, for a command that can also work here on its own."""
    connect = click.option(
        "--connect",
        metavar="ADDR",
        help="Talk to a running `sensor run` instead of loading probes here: "
        "unix:///run/sensor/sensor.sock or tcp://HOST:PORT.",
    )
    return connect(_with_tls_options(function))


def daemon_options(function: F) -> F:
    """--connect (the daemon's own socket by default) and the client's TLS flags, for a command that
    only asks a running `sensor run`."""
    connect = click.option(
        "--connect",
        metavar="ADDR",
        default=f"unix://{DEFAULT_SOCKET}",
        show_default=True,
        help="The running `sensor run` to ask: unix:///PATH or tcp://HOST:PORT.",
    )
    return connect(_with_tls_options(function))


def _with_tls_options(function: F) -> F:
    for option in reversed(
        (
            click.option(
                "--tls-ca", metavar="FILE", help="With --connect tcp://: the CA that signed the sensor's certificate."
            ),
            click.option(
                "--tls-cert", metavar="FILE", help="With --connect tcp://: this client's certificate (mutual TLS)."
            ),
            click.option(
                "--tls-key", metavar="FILE", help="With --connect tcp://: this client's private key (mutual TLS)."
            ),
            click.option(
                "--tls-server-name", metavar="NAME", help="With --connect tcp://: the name the certificate must carry."
            ),
        )
    ):
        function = option(function)
    return function


def connection(flags: dict[str, Any]) -> Connection:
    """The Connection the --connect and --tls-* flags describe, refused at once when they cannot work."""
    try:
        address = parse_address(flags["connect"])
    except AddressError as error:
        raise click.BadParameter(str(error), param_hint="--connect") from None
    remote = Connection(address, flags["tls_ca"], flags["tls_cert"], flags["tls_key"], flags["tls_server_name"])
    try:
        remote.channel().close()  # reads the TLS files and checks the flags, as each later channel will
    except AddressError as error:
        raise click.UsageError(str(error)) from None
    return remote


def local_only_flags(flags: dict[str, Any]) -> list[str]:
    """The capture flags given other than their defaults: they mean nothing to a command with --connect."""
    given = [name for name in ("docker_sockets", "cgroup_v1") if flags[name]]
    given += [
        name
        for name, default in (
            ("transport", DEFAULT_TRANSPORT),
            ("task_reads", DEFAULT_TASK_READS),
            ("buffer_size", DEFAULT_BUFFER_SIZE),
            ("bpf_cache", str(DEFAULT_CACHE_DIR)),
        )
        if flags[name] != default
    ]
    return as_flags(given)


def check_flags_fit_side(
    flags: dict[str, Any], local_only: tuple[str, ...] = (), remote_only: tuple[str, ...] = ()
) -> None:
    """Refuse flags that mean nothing where the command runs, rather than ignore them.

    With --connect the capture flags (and ``local_only``) do nothing: the daemon loaded the probes.
    Without it, the TLS flags (and ``remote_only``) do nothing: there is no connection.
    """
    if flags["connect"]:
        local = local_only_flags(flags) + as_flags([name for name in local_only if flags[name]])
        if local:
            flags_given = ", ".join(local)
            raise click.UsageError(f"{flags_given} set how probes are loaded here; with --connect the daemon decides")
        return
    remote = as_flags([name for name in (*remote_only, *TLS_FLAGS) if flags[name]])
    if remote:
        raise click.UsageError(f"{', '.join(remote)}: only with --connect")


def as_flags(names: list[str]) -> list[str]:
    """click parameter names as the user typed them: ``tls_ca`` -> ``--tls-ca``."""
    return [f"--{name.replace('_', '-')}" for name in names]


def describe_backends(capture: Capture) -> str:
    """``hook=backend, ...`` for the ready line."""
    return ", ".join(f"{c.hook}={c.backend.value}" for c in capture.choices)


def start_or_exit(start: Callable[[], None], command: str) -> None:
    """Run ``start`` (attach the probes, scan, listen), or exit with what is wrong and what to do."""
    try:
        start()
    except (KernelFeatureError, CgroupLayoutError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    except PermissionError as error:
        if os.geteuid() != 0:
            raise click.ClickException(f"{error}: run sensor {command} as root") from None
        raise click.ClickException(f"{error}: grant them (in a container: run it --privileged)") from None


def capture_config(flags: dict[str, Any]) -> CaptureConfig:
    """The CaptureConfig the capture flags (``capture_options``) describe."""
    return CaptureConfig(
        transport=TRANSPORTS[flags["transport"]],
        task_reads=TASK_READS[flags["task_reads"]],
        buffer_bytes=parse_size(flags["buffer_size"]),
        docker_sockets=flags["docker_sockets"] or DEFAULT_DOCKER_SOCKETS,
        cgroup_v1=flags["cgroup_v1"],
        node_name=flags["node_name"],
        bpf_cache_dir=Path(flags["bpf_cache"]),
    )


def build_subscription(
    kinds: list[EventKind],
    expression: str,
    containers: tuple[str, ...],
    images: tuple[str, ...],
    throttle_ns: int,
    limit: int,
    include_existing: bool,
    batch_ns: int = 0,
    read_prefixes: tuple[str, ...] = (),
    types: Mapping[EventKind, frozenset[str]] | None = None,
) -> sub.Subscription:
    """The Subscription `sensor trace`'s flags ask for: ``expression`` applies to every chosen kind;
    ``read_prefixes`` to the kinds whose filters take them (file events); ``types``: only these
    types of a kind (--event network:connect).

    A payload of one kind gets one filter for every type, or one per type asked for; one of several
    kinds (process events), a filter per type of each chosen kind.
    """
    types = types or {}
    subscription = sub.Subscription(include_existing=include_existing)
    event_filter = subscription.event_filter
    for kind in PAYLOAD_KINDS:
        chosen = [
            name
            for name, event_kind in kind.types.items()
            if event_kind in kinds and (event_kind not in types or name in types[event_kind])
        ]
        if not kind.filter_field or not chosen:
            continue
        filters = getattr(event_filter, kind.filter_field)
        every_type = len(kind.event_kinds) == 1 and kind.event_kinds[0] not in types
        for name in [None] if every_type else chosen:
            # A filter message takes its type's enum name; none: every type.
            added = filters.add(filter_expression=expression, **({"type": name} if name else {}))
            if "read_prefixes" in added.DESCRIPTOR.fields_by_name:
                added.read_prefixes.extend(read_prefixes)
    wanted = subscription.container_filter
    wanted.ids.extend(containers)
    wanted.names.extend(containers)
    wanted.image_ids.extend(images)
    wanted.image_names.extend(images)
    subscription.modifier.throttle.interval = throttle_ns
    subscription.modifier.limit.limit = limit
    subscription.modifier.batch.max_delay = batch_ns
    return subscription


def explain_rejection(errors: list[SubscriptionError], filter_flag: str = "--filter") -> str:
    """A rejected subscription in the flags' terms (``filter_flag``: the flag that gave the expression):
    each distinct problem once."""
    messages = dict.fromkeys(
        f"{filter_flag}: {e.message}" if e.field.endswith("filter_expression") else f"{e.field}: {e.message}"
        for e in errors
    )
    return "; ".join(messages)


def event_choice(events: tuple[str, ...], expression: str, filter_flag: str = "--filter") -> EventChoice:
    """What ``--event`` chose; with an expression (given by ``filter_flag``) and no ``--event``, the kinds
    that have every field it names."""
    if expression and not events:
        return EventChoice(kinds_for_filter(expression, filter_flag))
    return parse_events(events)


def compile_or_refuse(subscription: sub.Subscription, filter_flag: str = "--filter") -> CompiledSubscription:
    """The subscription the flags built, compiled; a click.UsageError saying what is wrong with it."""
    try:
        return compile_subscription(subscription)
    except InvalidSubscription as invalid:
        raise click.UsageError(explain_rejection(invalid.errors, filter_flag)) from None

"""What every `sensor fleet` command shares: the --nats flags, a connection for one piece of work, ages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import click
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from sensor.cli.export_options import engine_address, nats_options
from sensor.cli.status import uptime_text
from sensor.fleet.engine import engine_error

T = TypeVar("T")


def nats_flag(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--nats`` (or SENSOR_NATS), required, with the --nats-* authentication flags."""
    return click.option(
        "--nats",
        "nats_urls",
        envvar="SENSOR_NATS",
        show_envvar=True,
        required=True,
        metavar="URL[,URL...]",
        help="The fleet's NATS servers (those the sensors export to).",
    )(nats_options(function))


def with_engine(
    flags: dict[str, Any],
    work: Callable[[JetStreamContext], Awaitable[T]],
    name: str = "sensor fleet",
    retries: int = 2,
) -> T:
    """Connect, run ``work`` on JetStream, disconnect; a server that cannot be reached at first is a clear
    error. Once connected, a lost connection is tried ``retries`` times (-1: forever)."""
    address = engine_address(flags["nats_urls"], flags, "--nats")

    async def main() -> T:
        try:
            nc = await address.connect(name, max_reconnect_attempts=retries)
        except Exception as error:  # nats raises OSError, its own errors and timeouts
            raise click.ClickException(
                f"cannot reach NATS at {', '.join(address.servers)}: {engine_error(error)}"
            ) from None
        try:
            return await work(nc.jetstream())
        except (nats.errors.Error, asyncio.TimeoutError) as error:
            raise click.ClickException(f"NATS: {engine_error(error)}") from None
        finally:
            await nc.close()

    return asyncio.run(main())


def age_text(seconds: float) -> str:
    """``seconds`` as `sensor status` says an uptime (3m12s)."""
    return uptime_text(int(max(seconds, 0) * 1e9))


def read_engine(flags: dict[str, Any], read: Callable[[JetStreamContext], Awaitable[T]], missing: str) -> T:
    """``read`` on the engine (see :func:`with_engine`); a bucket it needs that does not exist yet is the
    error ``missing``."""

    async def guarded(js: JetStreamContext) -> T:
        try:
            return await read(js)
        except nats.js.errors.BucketNotFoundError:
            raise click.ClickException(missing) from None

    return with_engine(flags, guarded)


def echo_json_lines(objects: Iterable[dict[str, Any]]) -> None:
    """One compact JSON object a line."""
    for value in objects:
        click.echo(json.dumps(value, separators=(",", ":")))

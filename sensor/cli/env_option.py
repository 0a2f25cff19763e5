"""Flags a daemon's unit file can set too: each option is also read from ``SENSOR_<FLAG>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def env_option(flag: str, *names: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option(flag, ...)``, also read from its variable, which --help shows.

    ``--buffer-size`` reads ``SENSOR_BUFFER_SIZE``: the name always follows the flag's.
    """
    variable = "SENSOR_" + flag.removeprefix("--").replace("-", "_").upper()
    return click.option(flag, *names, envvar=variable, show_envvar=True, **attrs)

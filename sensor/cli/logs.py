"""What the sensor says on stderr: plain lines for a person, or one JSON object a line for a log pipeline.

Status lines (ready, stopping, summaries) and warnings all go through the ``sensor`` logger, so
``--log-format json`` turns every one of them into JSON; structured fields ride along in
``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

import click

from sensor.cli.env_option import env_option

log = logging.getLogger("sensor")
F = TypeVar("F", bound=Callable[..., Any])


class LogFormat(str, Enum):
    """``--log-format`` values."""

    TEXT = "text"
    JSON = "json"


class TextFormatter(logging.Formatter):
    """``sensor: message`` for status lines, ``sensor: warning: message`` for the rest."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno == logging.INFO:
            return f"sensor: {message}"
        return f"sensor: {record.levelname.lower()}: {message}"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "message", ...fields}``, one object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(log_format: str) -> None:
    """Send the ``sensor`` logger's status lines and warnings to stderr in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == LogFormat.JSON.value else TextFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def log_format_option(command: F) -> F:
    """The ``--log-format`` flag."""
    return env_option(
        "--log-format",
        type=click.Choice([f.value for f in LogFormat]),
        default=LogFormat.TEXT.value,
        show_default=True,
        help="stderr as plain lines, or one JSON object per line (time, level, message, fields).",
    )(command)

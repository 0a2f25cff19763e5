"""--metrics-listen values: [HOST:]PORT, loopback unless a host is named."""

from __future__ import annotations

import pytest

from sensor.server.metrics import MetricsAddressError, parse_metrics_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("metrics.local:80", ("metrics.local", 80)),
    ],
)
def test_metrics_address_parses(text: str, expected: tuple[str, int]) -> None:
    assert parse_metrics_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http", "'http': expected [HOST:]PORT, e.g. 9464 or 0.0.0.0:9464"),
        ("localhost:", "'localhost:': expected [HOST:]PORT, e.g. 9464 or 0.0.0.0:9464"),
        ("0", "'0': port 0 is not between 1 and 65535"),
        ("host:70000", "'host:70000': port 70000 is not between 1 and 65535"),
    ],
)
def test_bad_metrics_address_says_why(text: str, message: str) -> None:
    with pytest.raises(MetricsAddressError) as error:
        parse_metrics_address(text)
    assert str(error.value) == message

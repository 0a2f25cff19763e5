"""Names in the engine, server addresses, the heartbeat's form, and the subject a fleet query reads."""

from __future__ import annotations

import pytest

from sensor.fleet.engine import EngineAddress, NodeHeartbeat, events_subject, subject_token
from sensor.fleet.events import FleetQuery


def test_a_node_name_becomes_one_subject_token() -> None:
    assert subject_token("web-1.prod.example") == "web-1_prod_example"
    assert subject_token("a b*>c") == "a_b__c"
    assert events_subject("web-1.prod", "exec") == "sensor.events.web-1_prod.exec"


def test_server_urls_are_parsed_and_a_bare_address_is_taken_as_nats() -> None:
    address = EngineAddress.parse("127.0.0.1:4222, tls://n2.example:4222")
    assert address.servers == ("nats://127.0.0.1:4222", "tls://n2.example:4222")


@pytest.mark.parametrize(
    ("urls", "auth", "message"),
    [
        ("", {}, "no NATS server named"),
        ("http://x:1", {}, "is not a NATS server URL"),
        ("nats://x:1", {"token": "t", "creds_file": "c"}, "one of a credentials file, a token or an nkey"),
        ("nats://x:1", {"tls_cert": "c.pem"}, "certificate and its key go together"),
    ],
)
def test_bad_server_flags_are_refused_saying_why(urls: str, auth: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineAddress.parse(urls, **auth)


def test_a_heartbeat_reads_back_and_ignores_fields_it_does_not_know() -> None:
    beat = NodeHeartbeat("n1", "s1", "0.1.0", "6.18", 100.0, 130.0, {"exec": "raw_tracepoint"}, 70, 2, 5000, 3)
    assert NodeHeartbeat.decode(beat.encode()) == beat
    assert NodeHeartbeat.decode(beat.encode()[:-1] + b',"from_the_future":1}') == beat
    with pytest.raises(ValueError, match="not a node heartbeat"):
        NodeHeartbeat.decode(b"[1]")


@pytest.mark.parametrize(
    ("kinds", "glob", "subject"),
    [
        ({"exec"}, "web-1.prod", "sensor.events.web-1_prod.exec"),
        ({"exec", "exit"}, "web-1", "sensor.events.web-1.*"),
        ({"exec"}, "web-*", "sensor.events.*.exec"),
        ({"exec", "lost"}, "*", "sensor.events.*.*"),
    ],
)
def test_a_query_reads_the_narrowest_subject_that_holds_its_events(kinds: set[str], glob: str, subject: str) -> None:
    assert FleetQuery(frozenset(kinds), glob).subject() == subject

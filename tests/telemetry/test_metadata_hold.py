"""MetadataHold: a container's events wait for its name, in order, for a bounded time (pure logic)."""

from __future__ import annotations

from sensor.model.container_cache import ContainerInfo
from sensor.model.runtime.metadata import ContainerMetadata, ContainerState
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.metadata_hold import MetadataHold

MS = 1_000_000


def event(n: int) -> TelemetryEvent:
    return TelemetryEvent("s", n, n, LostPayload(0, "test"))


def container(container_id: str) -> ContainerInfo:
    return ContainerInfo(container_id, "docker", "", f"/docker/{container_id}", ContainerState.CREATED)


def test_events_of_a_container_being_looked_up_wait_then_go_out_named_in_order() -> None:
    hold = MetadataHold(wait_ns=250 * MS)
    web = container("ab" * 32)
    assert hold.release([(event(1), web), (event(2), None)], now=0) == [event(2)]
    assert hold.release([(event(3), web)], now=10 * MS) == []
    web.metadata = ContainerMetadata(name="web", image_id="sha256:1", image_name="nginx")
    web.resolving = False
    out = hold.release([], now=20 * MS)
    assert [(e.sensor_sequence_number, e.container_name) for e in out] == [(1, "web"), (3, "web")]
    assert (hold.container_events, hold.without_metadata, len(hold), hold.containers_waiting) == (2, 0, 0, 0)


def test_an_event_goes_out_unnamed_once_its_wait_runs_out_and_the_container_leaves_the_count() -> None:
    hold = MetadataHold(wait_ns=250 * MS)
    for n in range(100):
        slow = container(f"{n:064x}")
        hold.release([(event(n), slow)], now=n * MS)
    assert hold.containers_waiting == 100
    out = hold.release([], now=400 * MS)
    assert len(out) == 100 and all(e.container_name == "" for e in out)
    assert (hold.container_events, hold.without_metadata, len(hold), hold.containers_waiting) == (100, 100, 0, 0)

"""Events from a container whose runtime metadata is still being looked up wait, in order, so that
they go out with the container's name and image; none waits longer than ``wait_ns``."""

from __future__ import annotations

from collections import deque

from sensor.model.container_cache import ContainerInfo
from sensor.telemetry.builder import add_container_context
from sensor.telemetry.events import TelemetryEvent

Pending = tuple[TelemetryEvent, ContainerInfo | None]


class MetadataHold:
    """The waiting events, oldest first, and how many each container has waiting (no entry at zero)."""

    def __init__(self, wait_ns: int) -> None:
        self.wait_ns = wait_ns
        self._held: deque[tuple[int, TelemetryEvent, ContainerInfo]] = deque()
        self._per_container: dict[str, int] = {}
        self.container_events = 0  # events that went out from inside a container
        self.without_metadata = 0  # ... of which without its name and image

    def __len__(self) -> int:
        return len(self._held)

    @property
    def containers_waiting(self) -> int:
        """How many containers have events waiting."""
        return len(self._per_container)

    def release(self, pending: list[Pending], now: int | None) -> list[TelemetryEvent]:
        """Held events whose metadata arrived or whose wait ran out, then the new ones that need not wait.

        An event of a container that still has events waiting waits behind them, so that a
        container's events keep their order. ``now`` None (at shutdown): everything goes out as it is.
        """
        ready: list[TelemetryEvent] = []
        held = self._held
        per_container = self._per_container
        while held and (now is None or not held[0][2].resolving or held[0][0] <= now):
            _, waiting, owner = held.popleft()
            left = per_container[owner.container_id] - 1
            if left:
                per_container[owner.container_id] = left
            else:
                del per_container[owner.container_id]
            ready.append(self._finish(waiting, owner))
        deadline = (now or 0) + self.wait_ns
        for event, container in pending:
            if container is None:
                ready.append(event)
            elif now is not None and (container.resolving or container.container_id in per_container):
                held.append((deadline, event, container))
                per_container[container.container_id] = per_container.get(container.container_id, 0) + 1
            else:
                ready.append(self._finish(event, container))
        return ready

    def _finish(self, event: TelemetryEvent, container: ContainerInfo) -> TelemetryEvent:
        self.container_events += 1
        if not add_container_context(event, container):
            self.without_metadata += 1
            container.emitted_without_metadata = True
        return event

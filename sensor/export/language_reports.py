"""The node's language reports: which languages run in which workload's containers, sent to the fleet.

As the seed's language client does: workloads whose languages changed go out after a short
buffer period (so that one report says most of a starting pod's processes), and every workload
again on a long refresh period, which is also the retry of a report that was not stored. A
process seen before its container is described (the runtime had not answered yet) is parked and
reported once the container is, or forgotten after the parking period. A destroyed container
leaves its workload; a workload with no container left is reported removed.

The batch is fed by an export of exec and container events (snapshot included, so workloads
that ran before the sensor are reported too).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sensor.export.exporter import ExportStats
from sensor.fleet.engine import languages_subject
from sensor.fleet.languages import LanguageReport, Workload, WorkloadLanguages, owner_of
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload

DEFAULT_BUFFER_S = 10.0
DEFAULT_REFRESH_S = 20 * 60.0
DEFAULT_PARK_S = 5 * 60.0
REPORT_WORKLOADS = 200  # per message: a node with thousands of pods sends several, each well under 1 MB
log = logging.getLogger("sensor")

Publish = Callable[[str, bytes], "Future[None]"]


@dataclass(frozen=True, slots=True)
class LanguageReportConfig:
    """The periods: fresh changes after ``buffer_s``, everything every ``refresh_s``, parked for ``park_s``."""

    buffer_s: float = DEFAULT_BUFFER_S
    refresh_s: float = DEFAULT_REFRESH_S
    park_s: float = DEFAULT_PARK_S


@dataclass(slots=True)
class _Parked:
    languages: set[str]
    since: float


@dataclass(slots=True)
class LanguageBatch:
    """What the node knows and has yet to say (pure state; ``now`` is monotonic seconds)."""

    park_s: float = DEFAULT_PARK_S
    described: dict[str, tuple[Workload, str]] = field(default_factory=dict)  # container id -> workload, name
    workloads: dict[str, WorkloadLanguages] = field(default_factory=dict)  # by workload key
    fresh: set[str] = field(default_factory=set)  # workload keys changed since the last send
    removed: set[str] = field(default_factory=set)  # workload keys gone since the last send
    parked: dict[str, _Parked] = field(default_factory=dict)  # container id -> languages not yet placed

    def container_described(self, container_id: str, workload: Workload, name: str) -> None:
        """A container's runtime metadata arrived: its parked processes are placed now."""
        self.described[container_id] = (workload, name)
        known = self.workloads.get(workload.key)
        if known is not None and known.workload != workload:
            known.workload = workload
            self.fresh.add(workload.key)
        parked = self.parked.pop(container_id, None)
        if parked is not None:
            for language in sorted(parked.languages):
                self._add(workload, name, language)

    def container_destroyed(self, container_id: str) -> None:
        """The container is gone: it leaves its workload, and a workload left empty is removed."""
        self.parked.pop(container_id, None)
        place = self.described.pop(container_id, None)
        if place is None:
            return
        workload, name = place
        if any(w.key == workload.key for w, _ in self.described.values()):
            languages = self.workloads.get(workload.key)
            if languages is not None and languages.containers.pop(name, None) is not None:
                self.fresh.add(workload.key)
            return
        if self.workloads.pop(workload.key, None) is not None:
            self.fresh.discard(workload.key)
            self.removed.add(workload.key)

    def process(self, container_id: str, language: str, now: float) -> None:
        """A process of ``language`` runs in the container."""
        place = self.described.get(container_id)
        if place is None:
            parked = self.parked.setdefault(container_id, _Parked(set(), now))
            parked.languages.add(language)
            return
        self._add(place[0], place[1], language)

    def _add(self, workload: Workload, container: str, language: str) -> None:
        languages = self.workloads.setdefault(workload.key, WorkloadLanguages(workload))
        names = languages.containers.setdefault(container, [])
        if language not in names:
            names.append(language)
            names.sort()
            self.fresh.add(workload.key)
            self.removed.discard(workload.key)

    def forget_parked(self, now: float) -> int:
        """Drop processes parked longer than ``park_s`` (their container was never described); how many."""
        stale = [cid for cid, parked in self.parked.items() if now - parked.since >= self.park_s]
        for container_id in stale:
            del self.parked[container_id]
        return len(stale)

    def take(self, everything: bool) -> tuple[list[WorkloadLanguages], list[str]]:
        """What to send now (the fresh workloads, or all of them) and the removed keys; both then cleared."""
        keys = self.workloads.keys() if everything else self.fresh
        sent = [self.workloads[k] for k in sorted(keys) if k in self.workloads]
        removed = sorted(self.removed)
        self.fresh.clear()
        self.removed.clear()
        return sent, removed

    def again(self, keys: list[str], removed: list[str]) -> None:
        """A send that failed: its workloads and removals go in the next one."""
        self.fresh.update(k for k in keys if k in self.workloads)
        self.removed.update(k for k in removed if k not in self.workloads)


def described_workload(event: TelemetryEvent, container: ContainerPayload) -> Workload:
    """The workload a described container belongs to: its pod, or itself."""
    owner = owner_of(container.labels)
    if event.pod_uid or container.pod_uid:
        uid = container.pod_uid or event.pod_uid
        return Workload(uid, "pod", container.pod_name, container.pod_namespace, owner)
    return Workload(event.container_id, "container", container.name, "", owner)


class LanguageReportSink:
    """The batch fed from an export's events, sent through ``publish`` (a JetStream publish that
    answers with a future) on its periods."""

    name = "languages"

    def __init__(
        self,
        config: LanguageReportConfig,
        node_name: str,
        publish: Publish,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.destination = languages_subject(node_name)
        self._node = node_name
        self._publish = publish
        self._clock = clock
        self.batch = LanguageBatch(config.park_s)
        now = clock()
        self._next_fresh = now + config.buffer_s
        self._next_refresh = now + config.refresh_s
        self._in_flight: list[tuple[Future[None], list[str], list[str]]] = []
        self._sent = 0
        self.error = ""

    def write(self, events: list[TelemetryEvent]) -> None:
        """Take exec and container events into the batch."""
        batch = self.batch
        now = self._clock()
        for event in events:
            payload = event.payload
            if type(payload) is ProcessPayload:
                if payload.type is ProcessEventType.EXEC and event.language and event.container_id:
                    batch.process(event.container_id, event.language, now)
            elif type(payload) is ContainerPayload:
                if payload.type == "DESTROYED":
                    batch.container_destroyed(event.container_id)
                elif not payload.metadata_missing:
                    batch.container_described(event.container_id, described_workload(event, payload), payload.name)

    def tick(self) -> None:
        """Send what is due; look at the sends under way."""
        self._collect()
        now = self._clock()
        if now >= self._next_refresh:
            self._send(everything=True)
            self._next_refresh = now + self.config.refresh_s
            self._next_fresh = now + self.config.buffer_s
        elif now >= self._next_fresh:
            if self.batch.fresh or self.batch.removed:
                self._send(everything=False)
            self._next_fresh = now + self.config.buffer_s
        self.batch.forget_parked(now)

    def _send(self, everything: bool) -> None:
        workloads, removed = self.batch.take(everything)
        if not workloads and not removed:
            return
        for start in range(0, max(len(workloads), 1), REPORT_WORKLOADS):
            part = workloads[start : start + REPORT_WORKLOADS]
            gone = removed if start == 0 else []
            report = LanguageReport(self._node, time.time(), part, gone)
            future = self._publish(self.destination, report.encode())
            self._in_flight.append((future, [w.workload.key for w in part], gone))

    def _collect(self) -> None:
        """Count the sends that ended; a failed one goes again with the next fresh send."""
        still = []
        for future, keys, removed in self._in_flight:
            if not future.done():
                still.append((future, keys, removed))
                continue
            error = future.exception()
            if error is None:
                self._sent += 1
                if self.error:
                    log.info("language reports: sent again")
                    self.error = ""
                continue
            if not self.error:
                log.warning("language reports: not stored (%s); sending again", error or type(error).__name__)
            self.error = f"not stored: {error or type(error).__name__}"
            self.batch.again(keys, removed)
        self._in_flight = still

    def close(self, timeout: float) -> None:
        """Send what changed since the last send, and wait up to ``timeout`` for the sends under way."""
        if self.batch.fresh or self.batch.removed:
            self._send(everything=False)
        deadline = time.monotonic() + timeout
        for future, _keys, _removed in self._in_flight:
            with contextlib.suppress(Exception):  # a failure is said below; stopping goes on
                future.result(max(deadline - time.monotonic(), 0))
        self._collect()

    def fill(self, stats: ExportStats) -> None:
        """Reports sent and processes parked (``pending``); a report not stored goes again, so it is no loss."""
        stats.sent += self._sent
        stats.pending += sum(len(p.languages) for p in self.batch.parked.values())
        stats.error = self.error

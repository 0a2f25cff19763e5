"""TelemetryService: GetEvents (filtered subscriptions), ListWorkloads, GetInfo, GetContainerStats.

GetEvents streams pre-encoded responses: every event is serialized once (sensor.telemetry.wire)
and each subscriber's response is its events' frames joined, so ten subscribers cost ten joins,
not ten encodings. The method is therefore registered with an identity serializer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from sensor.api.v1 import service_pb2 as api
from sensor.export.exporter import ExportStats
from sensor.model.stats.cache import StatsCache
from sensor.server.container_stats import (
    AmbiguousContainer,
    ContainerNotFound,
    attach_stats,
    read_stats,
    stats_targets,
)
from sensor.server.pipeline import PipelineStopped, PipelineThread
from sensor.server.workloads import list_workloads, sensor_info
from sensor.telemetry.hub import MAX_BATCH_EVENTS, Subscriber, SubscribersFull, queued_events
from sensor.telemetry.subscription import CompiledSubscription, InvalidSubscription, compile_subscription
from sensor.telemetry.wire import event_frame, event_frames

SERVICE_NAME = "sensor.v1.TelemetryService"
MAX_RESPONSE_BYTES = 1 << 20  # well under gRPC's default 4 MiB receive limit, whatever the events' size
IDLE_WAIT_S = 0.25
# A subscriber that asked for no batch delay is paced: its events are taken as a batch of PACE_NS
# (Subscriber.pace), so that the pipeline reads the kernel's buffer every PACE_NS rather than every
# millisecond and each read's events go out at once in one response. Each response costs the daemon
# and the client a few hundred microseconds of gRPC whatever it holds, and each read a wake-up of
# the pipeline; under a storm, reads every millisecond made a thousand small responses a second.
# Past PACE_RATE events a second the pace stretches with the square of the rate (smoothed over
# responses: Pacer), up to MAX_PACE_NS, so that under a storm the responses come about as often as a
# batched subscriber's, each carrying more: latency grows with the rate, the cost per event does not.
PACE_NS = 2_000_000
MAX_PACE_NS = 20_000_000
PACE_RATE = 2_000  # events a second
RATE_SMOOTHING = 0.2  # the weight of a response's own rate in the smoothed one
CLIENT_GONE = "the client went away"
Code = api.Status.Code


def stretched_pace(rate: float) -> int:
    """The pace for ``rate`` events a second: PACE_NS up to PACE_RATE, above it longer with the
    square of the rate, at most MAX_PACE_NS."""
    if rate <= PACE_RATE:
        return PACE_NS
    return min(MAX_PACE_NS, int(PACE_NS * (rate / PACE_RATE) ** 2))


@dataclass(slots=True)
class Pacer:
    """An unbatched subscriber's pace, from its rate smoothed over its responses: a burst that one
    response happens to gather (the events of a few execs within a millisecond) must not stretch
    the pace on its own."""

    rate: float = 0.0  # events a second

    def after(self, events: int, since_last_ns: int) -> int:
        """The pace after a response of ``events`` gathered over ``since_last_ns``."""
        self.rate += (events * 1e9 / max(since_last_ns, 1) - self.rate) * RATE_SMOOTHING
        return stretched_pace(self.rate)


def _statuses(*statuses: api.Status) -> bytes:
    return bytes(api.GetEventsResponse(statuses=statuses).SerializeToString())


def _responses(frames: list[bytes]) -> Iterator[bytes]:
    """The frames as responses of at most MAX_RESPONSE_BYTES (or one event, if that alone is bigger)."""
    if sum(map(len, frames)) <= MAX_RESPONSE_BYTES:  # nearly always: one response, no loop in Python
        if frames:
            yield b"".join(frames)
        return
    start = 0
    size = 0
    for i, frame in enumerate(frames):
        if size and size + len(frame) > MAX_RESPONSE_BYTES:
            yield b"".join(frames[start:i])
            start, size = i, 0
        size += len(frame)
    if start < len(frames):
        yield b"".join(frames[start:])


class TelemetryService:
    """The service's methods, over the pipeline thread that owns the model."""

    def __init__(
        self,
        pipeline: PipelineThread,
        started_ns: int,
        stats: StatsCache,
        exports: Callable[[], list[ExportStats]] = list,
    ) -> None:
        self._pipeline = pipeline
        self._exports = exports
        self._stats = stats
        self._capture = pipeline.capture
        self._hub = pipeline.hub
        self._started_ns = started_ns

    def get_events(self, request: api.GetEventsRequest, context: grpc.ServicerContext) -> Iterator[bytes]:
        """Statuses first; then the subscription's events until it ends (limit, shutdown, or the client leaves).

        Refused with RESOURCE_EXHAUSTED while the hub has its most subscribers: counted by the hub,
        not by gRPC's RPC cap, so that streams never take the threads kept for unary calls.
        """
        try:
            rules = compile_subscription(request.subscription)
        except InvalidSubscription as invalid:
            yield _statuses(
                *(api.Status(code=Code.INVALID_ARGUMENT, message=e.message, field=e.field) for e in invalid.errors)
            )
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details(str(invalid))
            return
        missing = self._capture.missing_kinds(rules.kinds)
        if missing:
            yield _statuses(*(api.Status(code=Code.INVALID_ARGUMENT, message=m, field="event_filter") for m in missing))
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details("this sensor cannot send " + "; ".join(missing))
            return
        snapshot = self._capture.snapshot if rules.include_existing else None
        try:
            subscriber = self._pipeline.call(lambda: self._hub.subscribe(rules, context.peer(), snapshot))
        except PipelineStopped as stopped:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(stopped))
        except SubscribersFull as full:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{full} (sensor run --max-subscribers)")
        context.add_callback(lambda: subscriber.close(CLIENT_GONE))
        try:
            yield _statuses(api.Status(code=Code.OK))
            yield from self._stream(subscriber, rules)
        finally:
            self._hub.unsubscribe(subscriber)
        if subscriber.limit_reached:
            message = f"limit of {rules.limit} events reached"
            yield _statuses(api.Status(code=Code.LIMIT_REACHED, message=message, field="modifier.limit.limit"))
            context.set_details(message)
        elif subscriber.closed_reason and subscriber.closed_reason != CLIENT_GONE:
            context.abort(grpc.StatusCode.UNAVAILABLE, subscriber.closed_reason)

    def _stream(self, subscriber: Subscriber, rules: CompiledSubscription) -> Iterator[bytes]:
        interval = rules.ticker_interval_ns
        next_tick = time.monotonic_ns() + interval if interval else 0
        lost_event = self._capture.lost_event
        pacer = Pacer() if not rules.batch_delay_ns else None
        if pacer is not None:
            subscriber.pace(PACE_NS)
        last_sent_ns = time.monotonic_ns()
        while not subscriber.finished:
            wait = IDLE_WAIT_S
            if interval:
                wait = min(wait, max(0.0, (next_tick - time.monotonic_ns()) / 1e9))
            # A batch never holds a tick back: it goes with the tick.
            items = subscriber.take(MAX_BATCH_EVENTS, wait, flush_at_ns=next_tick)
            frames = event_frames(queued_events(items, lost_event, "subscriber"))
            now = time.monotonic_ns()
            if interval and now >= next_tick:
                frames.append(event_frame(self._capture.ticker_event()))
                # From this tick, not the last deadline: after a late tick (a stalled host) the next
                # one must not catch up early; ticks are never closer than the interval.
                next_tick = now + interval
            if frames:
                if pacer is not None:
                    subscriber.pace(pacer.after(len(items), now - last_sent_ns))
                last_sent_ns = now
            yield from _responses(frames)

    def list_workloads(self, request: api.ListWorkloadsRequest, context: grpc.ServicerContext) -> Any:
        """The processes and containers the sensor knows now; with include_stats, each running one's stats."""
        if not request.include_stats:
            return self._on_pipeline(lambda: list_workloads(self._capture), context)
        response, targets = self._on_pipeline(
            lambda: (list_workloads(self._capture), stats_targets(self._capture)), context
        )
        attach_stats(response, read_stats(self._stats, targets, request.stats_max_age_ms))
        return response

    def get_container_stats(self, request: api.GetContainerStatsRequest, context: grpc.ServicerContext) -> Any:
        """Stats of the running containers asked for (all when none are named)."""
        try:
            targets = self._on_pipeline(lambda: stats_targets(self._capture, request.containers), context)
        except ContainerNotFound as missing:
            context.abort(grpc.StatusCode.NOT_FOUND, str(missing))
        except AmbiguousContainer as ambiguous:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(ambiguous))
        return api.GetContainerStatsResponse(stats=read_stats(self._stats, targets, request.max_age_ms))

    def get_info(self, _request: api.GetInfoRequest, context: grpc.ServicerContext) -> Any:
        """The sensor's identity, hooks and counters."""
        exports = self._exports()
        return self._on_pipeline(lambda: sensor_info(self._capture, self._hub, self._started_ns, exports), context)

    def _on_pipeline(self, function: Callable[[], Any], context: grpc.ServicerContext) -> Any:
        try:
            return self._pipeline.call(function)
        except PipelineStopped as stopped:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(stopped))

    def handler(self) -> grpc.GenericRpcHandler:
        """The gRPC handler for the service's methods."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "GetEvents": grpc.unary_stream_rpc_method_handler(
                    self.get_events,
                    request_deserializer=api.GetEventsRequest.FromString,
                    response_serializer=bytes,  # already encoded
                ),
                "ListWorkloads": grpc.unary_unary_rpc_method_handler(
                    self.list_workloads,
                    request_deserializer=api.ListWorkloadsRequest.FromString,
                    response_serializer=api.ListWorkloadsResponse.SerializeToString,
                ),
                "GetInfo": grpc.unary_unary_rpc_method_handler(
                    self.get_info,
                    request_deserializer=api.GetInfoRequest.FromString,
                    response_serializer=api.GetInfoResponse.SerializeToString,
                ),
                "GetContainerStats": grpc.unary_unary_rpc_method_handler(
                    self.get_container_stats,
                    request_deserializer=api.GetContainerStatsRequest.FromString,
                    response_serializer=api.GetContainerStatsResponse.SerializeToString,
                ),
            },
        )

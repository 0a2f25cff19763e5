"""Talking to a running `sensor run`: a subscription that can survive restarts, and one-shot calls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sized
from dataclasses import dataclass
from typing import TypeVar

import grpc

from sensor.api.v1 import service_pb2 as api
from sensor.api.v1 import service_pb2_grpc
from sensor.api.v1 import subscription_pb2 as sub
from sensor.server.address import Address, open_channel
from sensor.telemetry.filter_rules import SubscriptionError

RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0
UNARY_TIMEOUT_S = 15.0
GET_EVENTS = "/sensor.v1.TelemetryService/GetEvents"  # the method, called for raw response bytes
log = logging.getLogger("sensor")
Batch = TypeVar("Batch", bound=Sized)
# How a client reads a response: its events (as it wants them), and the rest (the statuses) as bytes.
ResponseReader = Callable[[bytes], tuple[Batch, bytes]]


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the sensor is, and the TLS material to reach it over TCP."""

    address: Address
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_server_name: str | None = None

    def channel(self) -> grpc.Channel:
        """A new channel to the sensor."""
        return open_channel(self.address, self.tls_ca, self.tls_cert, self.tls_key, self.tls_server_name)


class SubscriptionRejected(Exception):
    """The sensor refused the subscription; ``errors`` says why, part by part."""

    def __init__(self, errors: list[SubscriptionError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class StreamEnded(Exception):
    """The stream ended for a reason the sensor gave (its limit, or it shut down)."""

    def __init__(self, message: str, reconnectable: bool) -> None:
        super().__init__(message)
        self.reconnectable = reconnectable


class SubscriptionRefused(StreamEnded):
    """The sensor would not take one more subscriber (RESOURCE_EXHAUSTED: its --max-subscribers).

    Worth trying again: a slot frees when another subscriber leaves.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, reconnectable=True)


def _rpc_message(error: grpc.RpcError) -> str:
    call = error if isinstance(error, grpc.Call) else None
    details = call.details() if call is not None else ""
    code = call.code().name if call is not None else "UNKNOWN"
    return f"{code}: {details}" if details else code


def stream_events(
    connection: Connection,
    subscription: sub.Subscription,
    on_ready: Callable[[], None],
    read: ResponseReader[Batch],
) -> Generator[Batch, None, None]:
    """Subscribe once and yield each response's events, as ``read`` gives them, until the stream ends.

    Raises SubscriptionRejected for an invalid subscription, SubscriptionRefused when the sensor has
    no room for it, StreamEnded for any other end with what the sensor said (or what went wrong
    with the connection).
    """
    ended = ""
    accepted = False
    with connection.channel() as channel:
        # Responses as bytes: ``read`` takes the events (sensor.telemetry.wire_read into events at a
        # third of protobuf's cost, or wire_json straight into JSON lines); protobuf reads the rest.
        get_events: grpc.UnaryStreamMultiCallable[api.GetEventsRequest, bytes] = channel.unary_stream(
            GET_EVENTS, request_serializer=api.GetEventsRequest.SerializeToString, response_deserializer=None
        )
        call = get_events(api.GetEventsRequest(subscription=subscription))
        try:
            for raw in call:
                events, rest = read(raw)
                if rest:
                    statuses = api.GetEventsResponse.FromString(rest).statuses
                    if statuses:
                        ended = _check_statuses(list(statuses), on_ready) or ended
                        accepted = True
                if events:
                    yield events
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
            if code is grpc.StatusCode.RESOURCE_EXHAUSTED and not accepted:
                raise SubscriptionRefused(_rpc_message(error)) from None
            raise StreamEnded(_rpc_message(error), code is grpc.StatusCode.UNAVAILABLE) from None
        raise StreamEnded(ended or call.details() or "the sensor ended the stream", reconnectable=False)


def _check_statuses(statuses: list[api.Status], on_ready: Callable[[], None]) -> str:
    """Raise for a rejection; return why the stream is ending, if a status says so; else it is accepted."""
    rejected = [SubscriptionError(s.field, s.message) for s in statuses if s.code == api.Status.Code.INVALID_ARGUMENT]
    if rejected:
        raise SubscriptionRejected(rejected)
    ending = [s.message for s in statuses if s.code == api.Status.Code.LIMIT_REACHED]
    if ending:
        return ending[0]
    on_ready()
    return ""


def stream_with_reconnect(
    connection: Connection,
    subscription: sub.Subscription,
    on_ready: Callable[[], None],
    reconnect: bool,
    should_stop: Callable[[], bool],
    read: ResponseReader[Batch],
) -> Generator[Batch, None, None]:
    """:func:`stream_events`, subscribing again (with backoff) when asked, after the sensor goes away or
    while it refuses for want of a free subscriber slot."""
    delay = RECONNECT_FIRST_S
    while True:
        try:
            for batch in stream_events(connection, subscription, on_ready, read):
                delay = RECONNECT_FIRST_S  # it worked: the next outage starts the backoff afresh
                yield batch
            return
        except StreamEnded as ended:
            if not (reconnect and ended.reconnectable) or should_stop():
                raise
            if isinstance(ended, SubscriptionRefused):
                what = "the sensor at %s refused the subscription (%s); trying again in %.1fs"
            else:
                what = "lost the stream from %s (%s); events until it is back are not seen; reconnecting in %.1fs"
            log.warning(what, connection.address, ended, delay)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not should_stop():
            time.sleep(0.1)
        if should_stop():
            return
        delay = min(delay * 2, RECONNECT_MAX_S)


def list_workloads(connection: Connection, include_stats: bool = False) -> api.ListWorkloadsResponse:
    """The sensor's live model, with the running containers' stats when asked. Raises grpc.RpcError."""
    with connection.channel() as channel:
        response: api.ListWorkloadsResponse = service_pb2_grpc.TelemetryServiceStub(channel).ListWorkloads(
            api.ListWorkloadsRequest(include_stats=include_stats), timeout=UNARY_TIMEOUT_S
        )
        return response


def sensor_info(connection: Connection) -> api.GetInfoResponse:
    """The sensor's identity, hooks, counters and subscriptions. Raises grpc.RpcError."""
    with connection.channel() as channel:
        response: api.GetInfoResponse = service_pb2_grpc.TelemetryServiceStub(channel).GetInfo(
            api.GetInfoRequest(), timeout=UNARY_TIMEOUT_S
        )
        return response


def container_stats(connection: Connection, containers: list[str], max_age_ms: int) -> list[api.ContainerStats]:
    """Running containers' stats (all when none are named). Raises grpc.RpcError."""
    with connection.channel() as channel:
        response: api.GetContainerStatsResponse = service_pb2_grpc.TelemetryServiceStub(channel).GetContainerStats(
            api.GetContainerStatsRequest(containers=containers, max_age_ms=max_age_ms), timeout=UNARY_TIMEOUT_S
        )
        return list(response.stats)


def rpc_failure(error: grpc.RpcError, connection: Connection) -> str:
    """A failed call, said plainly."""
    return f"cannot talk to the sensor at {connection.address}: {_rpc_message(error)}"

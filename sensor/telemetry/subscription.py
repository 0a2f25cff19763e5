"""A client's Subscription (protobuf), checked and compiled once into rules that test each event cheaply."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sensor.api.v1 import subscription_pb2, telemetry_pb2
from sensor.telemetry.container_filter import CompiledContainerFilter, ContainerFilter
from sensor.telemetry.event_fields import CONTAINER, Field, process_fields, types_having
from sensor.telemetry.events import ContainerPayload, LostPayload, ProcessEventType, ProcessPayload, TelemetryEvent
from sensor.telemetry.expression import EventPredicate, FilterError, compile_expression

MIN_TICKER_INTERVAL_NS = 100_000_000
MAX_BATCH_DELAY_NS = 1_000_000_000
_PROCESS_TYPE = telemetry_pb2.ProcessEvent.ProcessEventType
_CONTAINER_TYPE = telemetry_pb2.ContainerEvent.ContainerEventType


@dataclass(frozen=True, slots=True)
class SubscriptionError:
    """One part of a subscription the sensor cannot use."""

    field: str  # e.g. event_filter.process_events[0].filter_expression
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidSubscription(ValueError):
    """A subscription with one or more unusable parts (all of them listed)."""

    def __init__(self, errors: list[SubscriptionError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


# Each kind's rules: type -> predicates, where None passes every event of the type.
Rules = dict[str, list[EventPredicate | None]]


@dataclass(slots=True)
class CompiledSubscription:
    """What a subscriber gets: :meth:`wants` decides per event; throttle and limit are applied by the hub."""

    process_rules: Rules
    container_rules: Rules
    containers: CompiledContainerFilter
    ticker_interval_ns: int = 0
    throttle_ns: int = 0
    limit: int = 0
    batch_delay_ns: int = 0
    include_existing: bool = False
    _next_allowed_ns: int = field(default=0, repr=False)

    def wants(self, event: TelemetryEvent) -> bool:
        """Whether the event passes the event and container filters (lost-record events always do)."""
        payload = event.payload
        if type(payload) is ProcessPayload:
            rules = self.process_rules.get(payload.type)  # a str Enum: its member is its name's key
        elif type(payload) is ContainerPayload:
            rules = self.container_rules.get(payload.type)
        else:
            return type(payload) is LostPayload
        if not rules or not self.containers.matches(event):
            return False
        return any(rule is None or rule(event) for rule in rules)

    def throttled(self, event: TelemetryEvent) -> bool:
        """Whether the throttle holds this event back (at most one per interval; updates the window)."""
        if not self.throttle_ns or type(event.payload) is LostPayload:
            return False
        now = event.sensor_monotime_nanos
        if now < self._next_allowed_ns:
            return True
        self._next_allowed_ns = now + self.throttle_ns
        return False


def _type_hint(event_type: ProcessEventType | None) -> Callable[[str], str]:
    def hint(name: str) -> str:
        owners = types_having(name)
        if owners:
            where = " or ".join(t.value for t in owners)
            here = "every type" if event_type is None else f"{event_type.value} events"
            return f": it is only on {where} events, and this filter is for {here}"
        return ""

    return hint


def _process_rules(filters: list[subscription_pb2.ProcessEventFilter], errors: list[SubscriptionError]) -> Rules:
    rules: Rules = {}
    for i, f in enumerate(filters):
        name = _PROCESS_TYPE.Name(f.type)
        event_type = None if f.type == _PROCESS_TYPE.PROCESS_EVENT_TYPE_UNKNOWN else ProcessEventType(name)
        fields = process_fields(event_type)
        hint = _type_hint(event_type)
        predicate = _compile(f.filter_expression, fields, f"event_filter.process_events[{i}]", errors, hint)
        for t in ProcessEventType if event_type is None else (event_type,):
            rules.setdefault(t.value, []).append(predicate)
    return rules


def _container_rules(filters: list[subscription_pb2.ContainerEventFilter], errors: list[SubscriptionError]) -> Rules:
    rules: Rules = {}
    every_type = [n for n in _CONTAINER_TYPE.keys() if n != "CONTAINER_EVENT_TYPE_UNKNOWN"]  # noqa: SIM118  # an enum wrapper, not a dict
    for i, f in enumerate(filters):
        predicate = _compile(f.filter_expression, CONTAINER, f"event_filter.container_events[{i}]", errors, None)
        name = _CONTAINER_TYPE.Name(f.type)
        for t in every_type if name == "CONTAINER_EVENT_TYPE_UNKNOWN" else [name]:
            rules.setdefault(t, []).append(predicate)
    return rules


def _compile(
    text: str,
    fields: Mapping[str, Field],
    where: str,
    errors: list[SubscriptionError],
    hint: Callable[[str], str] | None,
) -> EventPredicate | None:
    if not text.strip():
        return None
    try:
        return compile_expression(text, fields, hint)
    except FilterError as error:
        errors.append(SubscriptionError(f"{where}.filter_expression", str(error)))
        return None


def compile_subscription(subscription: subscription_pb2.Subscription) -> CompiledSubscription:
    """Check every part and compile it. Raises InvalidSubscription listing every problem."""
    errors: list[SubscriptionError] = []
    event_filter = subscription.event_filter
    process_rules = _process_rules(list(event_filter.process_events), errors)
    container_rules = _container_rules(list(event_filter.container_events), errors)
    ticker = 0
    for i, t in enumerate(event_filter.ticker_events):
        if t.interval < MIN_TICKER_INTERVAL_NS:
            errors.append(
                SubscriptionError(
                    f"event_filter.ticker_events[{i}].interval",
                    f"{t.interval} ns is below the minimum of {MIN_TICKER_INTERVAL_NS} ns (100 ms)",
                )
            )
        else:
            ticker = t.interval if not ticker else min(ticker, t.interval)
    if not (event_filter.process_events or event_filter.container_events or event_filter.ticker_events):
        errors.append(
            SubscriptionError(
                "event_filter", "asks for no events: add process_events, container_events or ticker_events"
            )
        )
    modifier = subscription.modifier
    if modifier.throttle.interval < 0:
        errors.append(SubscriptionError("modifier.throttle.interval", "must not be negative"))
    if modifier.limit.limit < 0:
        errors.append(SubscriptionError("modifier.limit.limit", "must not be negative"))
    if not 0 <= modifier.batch.max_delay <= MAX_BATCH_DELAY_NS:
        errors.append(
            SubscriptionError("modifier.batch.max_delay", f"must be from 0 to {MAX_BATCH_DELAY_NS} (one second)")
        )
    if errors:
        raise InvalidSubscription(errors)
    wanted = subscription.container_filter
    containers = ContainerFilter(
        tuple(wanted.ids), tuple(wanted.names), tuple(wanted.image_ids), tuple(wanted.image_names)
    ).compile()
    return CompiledSubscription(
        process_rules,
        container_rules,
        containers,
        ticker_interval_ns=ticker,
        throttle_ns=modifier.throttle.interval,
        limit=modifier.limit.limit,
        batch_delay_ns=modifier.batch.max_delay,
        include_existing=subscription.include_existing,
    )

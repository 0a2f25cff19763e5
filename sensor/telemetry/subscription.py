"""A client's Subscription (protobuf), checked and compiled once into rules that test each event cheaply.

Each kind compiles its own filters (its PayloadKind's compile_filters); this puts them together with
the container filter, the ticker and the modifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensor.api.v1 import subscription_pb2
from sensor.telemetry.container_filter import CompiledContainerFilter, ContainerFilter
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.filter_rules import Rules, SubscriptionError
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.registry import PAYLOAD_KINDS

MIN_TICKER_INTERVAL_NS = 100_000_000
MAX_BATCH_DELAY_NS = 1_000_000_000
# The kinds a subscription's EventFilter lists filters of, by its field.
_FILTERED_KINDS = {kind.filter_field: kind for kind in PAYLOAD_KINDS if kind.compile_filters is not None}


class InvalidSubscription(ValueError):
    """A subscription with one or more unusable parts (all of them listed)."""

    def __init__(self, errors: list[SubscriptionError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(slots=True)
class CompiledSubscription:
    """What a subscriber gets: :meth:`wants` decides per event; throttle and limit are applied by the hub.

    ``rules`` has an entry for every registered payload class, empty for those not asked for.
    ``read_prefixes``: the read-only opens it asked for, for the kernel's filter (sensor.kernel.loader).
    """

    rules: dict[type, Rules]
    containers: CompiledContainerFilter
    filter_key: bytes  # equal for subscriptions that want the same events: Hub.publish filters once for them
    read_prefixes: frozenset[bytes] = frozenset()
    kinds: frozenset[EventKind] = frozenset()  # the kinds it asks for
    ticker_interval_ns: int = 0
    throttle_ns: int = 0
    limit: int = 0
    batch_delay_ns: int = 0
    include_existing: bool = False
    _next_allowed_ns: int = field(default=0, repr=False)

    def wants(self, event: TelemetryEvent) -> bool:
        """Whether the event passes the event and container filters (lost-record events always do).

        Raises KeyError for a payload no kind registered.
        """
        payload = event.payload
        if type(payload) is LostPayload:
            return True
        rules = self.rules[type(payload)].get(payload.type)  # a str Enum: its member is its name's key
        if not rules or not self.containers.matches(event):
            return False
        return any(rule is None or rule(event) for rule in rules)

    def wanted(self, events: list[TelemetryEvent]) -> list[TelemetryEvent]:
        """The events it wants, in order."""
        wants = self.wants
        return [event for event in events if wants(event)]

    def throttled(self, event: TelemetryEvent) -> bool:
        """Whether the throttle holds this event back (at most one per interval; updates the window)."""
        if not self.throttle_ns or type(event.payload) is LostPayload:
            return False
        now = event.sensor_monotime_nanos
        if now < self._next_allowed_ns:
            return True
        self._next_allowed_ns = now + self.throttle_ns
        return False


def compile_subscription(subscription: subscription_pb2.Subscription) -> CompiledSubscription:
    """Check every part and compile it. Raises InvalidSubscription listing every problem."""
    errors: list[SubscriptionError] = []
    event_filter = subscription.event_filter
    rules: dict[type, Rules] = {kind.payload_type: {} for kind in PAYLOAD_KINDS}
    read_prefixes: frozenset[bytes] = frozenset()
    for filter_field, kind in _FILTERED_KINDS.items():
        assert kind.compile_filters is not None
        filters = list(getattr(event_filter, filter_field))
        compiled = kind.compile_filters(filters, f"event_filter.{filter_field}", errors)
        rules[kind.payload_type] = compiled.rules
        read_prefixes |= compiled.read_prefixes
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
    if not (event_filter.ticker_events or any(getattr(event_filter, name) for name in _FILTERED_KINDS)):
        lists = [*_FILTERED_KINDS, "ticker_events"]
        errors.append(
            SubscriptionError("event_filter", f"asks for no events: add {', '.join(lists[:-1])} or {lists[-1]}")
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
    asked = frozenset(
        kind.types[name] for kind in PAYLOAD_KINDS for name in rules[kind.payload_type] if name in kind.types
    )
    return CompiledSubscription(
        rules,
        containers,
        _filter_key(subscription),
        read_prefixes=read_prefixes,
        kinds=asked,
        ticker_interval_ns=ticker,
        throttle_ns=modifier.throttle.interval,
        limit=modifier.limit.limit,
        batch_delay_ns=modifier.batch.max_delay,
        include_existing=subscription.include_existing,
    )


def _filter_key(subscription: subscription_pb2.Subscription) -> bytes:
    """The parts that decide :meth:`CompiledSubscription.wants`, as bytes."""
    event_filter = subscription.event_filter.SerializeToString(deterministic=True)
    return _length_prefixed(event_filter) + subscription.container_filter.SerializeToString(deterministic=True)


def _length_prefixed(data: bytes) -> bytes:
    """``data`` after its length, so that two parts joined cannot be read as two other parts."""
    return str(len(data)).encode() + b":" + data

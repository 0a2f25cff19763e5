"""A client's Subscription (protobuf), checked and compiled once into rules that test each event cheaply."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sensor.api.v1 import subscription_pb2, telemetry_pb2
from sensor.kernel.records import text_bytes
from sensor.telemetry.container_filter import CompiledContainerFilter, ContainerFilter
from sensor.telemetry.event_fields import Field
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.expression import EventPredicate, FilterError, compile_expression
from sensor.telemetry.kinds import container, file
from sensor.telemetry.kinds.kind import EventKind
from sensor.telemetry.kinds.lost import LostPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload, process_fields, types_having
from sensor.telemetry.kinds.registry import PAYLOAD_KINDS

MIN_TICKER_INTERVAL_NS = 100_000_000
MAX_BATCH_DELAY_NS = 1_000_000_000
_PROCESS_TYPE = telemetry_pb2.ProcessEvent.ProcessEventType
_CONTAINER_TYPE = telemetry_pb2.ContainerEvent.ContainerEventType
_FILE_TYPE = telemetry_pb2.FileEvent.FileEventType


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
    """What a subscriber gets: :meth:`wants` decides per event; throttle and limit are applied by the hub.

    ``rules`` has an entry for every registered payload class, empty for those not asked for.
    ``read_prefixes``: the read-only opens it asked for, for the kernel's filter (sensor.kernel.loader).
    """

    rules: dict[type, Rules]
    containers: CompiledContainerFilter
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
    # UPDATE events are exec events (they have its fields): named as EXEC, so that `sensor trace
    # --event exec`, which asks for both, gets one message, not the same one twice.
    shown = ProcessEventType.EXEC if event_type is ProcessEventType.UPDATE else event_type

    def hint(name: str) -> str:
        owners = types_having(name)
        if owners:
            where = " or ".join(t.value for t in owners)
            here = "every type" if shown is None else f"{shown.value} events"
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
    for i, f in enumerate(filters):
        predicate = _compile(f.filter_expression, container.FIELDS, f"event_filter.container_events[{i}]", errors, None)
        name = _CONTAINER_TYPE.Name(f.type)
        for t in list(container.KIND.types) if name == "CONTAINER_EVENT_TYPE_UNKNOWN" else [name]:
            rules.setdefault(t, []).append(predicate)
    return rules


def _file_rules(
    filters: list[subscription_pb2.FileEventFilter], errors: list[SubscriptionError]
) -> tuple[Rules, frozenset[bytes]]:
    """The file rules, and the read prefixes of the filters that take opens.

    An OPEN rule passes a read-only open only under its own filter's prefixes: the kernel sends
    the union of every subscriber's, and more where it cannot tell (relative paths).
    """
    rules: Rules = {}
    read_prefixes: set[bytes] = set()
    for i, f in enumerate(filters):
        where = f"event_filter.file_events[{i}]"
        predicate = _compile(f.filter_expression, file.FIELDS, where, errors, None)
        prefixes = tuple(f.read_prefixes)
        for j, prefix in enumerate(prefixes):
            if not prefix.startswith("/"):
                errors.append(SubscriptionError(f"{where}.read_prefixes[{j}]", f"{prefix!r} does not start with '/'"))
        name = _FILE_TYPE.Name(f.type)
        for t in list(file.KIND.types) if name == "FILE_EVENT_TYPE_UNKNOWN" else [name]:
            if t == file.FileEventType.OPEN.value:
                read_prefixes.update(text_bytes(prefix) for prefix in prefixes if prefix.startswith("/"))
                rules.setdefault(t, []).append(_opens_rule(predicate, prefixes))
            else:
                rules.setdefault(t, []).append(predicate)
    return rules, frozenset(read_prefixes)


def _opens_rule(predicate: EventPredicate | None, read_prefixes: tuple[str, ...]) -> EventPredicate:
    """``predicate`` for opens that change the file, or read-only ones under ``read_prefixes``."""

    def passes(event: TelemetryEvent) -> bool:
        payload = event.payload
        assert isinstance(payload, file.FilePayload)
        if file.read_only_open(payload) and not (read_prefixes and payload.filename.startswith(read_prefixes)):
            return False
        return predicate is None or predicate(event)

    return passes


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
    rules: dict[type, Rules] = {kind.payload_type: {} for kind in PAYLOAD_KINDS}
    rules[ProcessPayload] = _process_rules(list(event_filter.process_events), errors)
    rules[container.ContainerPayload] = _container_rules(list(event_filter.container_events), errors)
    rules[file.FilePayload], read_prefixes = _file_rules(list(event_filter.file_events), errors)
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
    if not (
        event_filter.process_events
        or event_filter.container_events
        or event_filter.file_events
        or event_filter.ticker_events
    ):
        errors.append(
            SubscriptionError(
                "event_filter",
                "asks for no events: add process_events, file_events, container_events or ticker_events",
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
    asked = frozenset(
        kind.types[name] for kind in PAYLOAD_KINDS for name in rules[kind.payload_type] if name in kind.types
    )
    return CompiledSubscription(
        rules,
        containers,
        read_prefixes=read_prefixes,
        kinds=asked,
        ticker_interval_ns=ticker,
        throttle_ns=modifier.throttle.interval,
        limit=modifier.limit.limit,
        batch_delay_ns=modifier.batch.max_delay,
        include_existing=subscription.include_existing,
    )

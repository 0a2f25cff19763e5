"""How a kind's filters in a Subscription become rules: the parts every kind's ``compile_filters`` shares.

A kind's filter messages (``ProcessEventFilter``, ``FileEventFilter``, ...) each name a type of the
kind (0: every type) and an expression; each kind's module compiles its own (sensor.telemetry.kinds),
and sensor.telemetry.subscription puts the kinds' rules together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sensor.telemetry.event_fields import Field
from sensor.telemetry.expression import EventPredicate, FilterError, compile_expression

# type -> predicates, where None passes every event of the type.
Rules = dict[str, list[EventPredicate | None]]


@dataclass(frozen=True, slots=True)
class SubscriptionError:
    """One part of a subscription the sensor cannot use."""

    field: str  # e.g. event_filter.process_events[0].filter_expression
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class KindRules:
    """One kind's compiled filters: its rules, and what the kernel must be told (read prefixes)."""

    rules: Rules
    read_prefixes: frozenset[bytes] = frozenset()


def compile_rule(
    text: str,
    fields: Mapping[str, Field],
    where: str,
    errors: list[SubscriptionError],
    hint: Callable[[str], str] | None = None,
) -> EventPredicate | None:
    """The predicate of one filter's expression (None: no expression); a bad one goes to ``errors``."""
    if not text.strip():
        return None
    try:
        return compile_expression(text, fields, hint)
    except FilterError as error:
        errors.append(SubscriptionError(f"{where}.filter_expression", str(error)))
        return None


def filter_types(event_type: int, all_types: Iterable[str], type_name: Callable[[int], str]) -> list[str]:
    """The types a filter's ``type`` names: every one for 0 (the proto enum's UNKNOWN)."""
    return list(all_types) if event_type == 0 else [type_name(event_type)]


def typed_rules(
    filters: Sequence[Any],
    where: str,
    errors: list[SubscriptionError],
    all_types: Iterable[str],
    type_name: Callable[[int], str],
    fields: Mapping[str, Field],
) -> KindRules:
    """The rules of filters that are a type and an expression over ``fields`` (container, network)."""
    rules: Rules = {}
    for i, f in enumerate(filters):
        predicate = compile_rule(f.filter_expression, fields, f"{where}[{i}]", errors)
        for t in filter_types(f.type, all_types, type_name):
            rules.setdefault(t, []).append(predicate)
    return KindRules(rules)

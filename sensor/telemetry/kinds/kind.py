"""PayloadKind: the one description of a kind of event that every stage of the pipeline reads."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from sensor.kernel.records import Hook
from sensor.telemetry.event_fields import Field
from sensor.telemetry.filter_rules import KindRules, SubscriptionError

if TYPE_CHECKING:
    from sensor.telemetry.events import TelemetryEvent


class EventKind(str, Enum):
    """What `sensor trace --event` selects."""

    FORK = "fork"
    EXEC = "exec"
    EXIT = "exit"
    CREDENTIALS = "credentials"
    FILE = "file"
    NETWORK = "network"
    CONTAINER = "container"
    LOST = "lost"
    TICKER = "ticker"


@dataclass(frozen=True, slots=True)
class PayloadKind:
    """Everything particular to the events of one payload class (one member of the ``event`` oneof).

    Most payloads are one event kind; ProcessPayload is four (fork, exec, exit, credentials), told
    apart by its type. ``types`` maps each value of the payload's ``type`` (the proto enum's names,
    without its UNKNOWN; "" for payloads without types) to the event kind it belongs to.
    """

    payload_type: type
    proto_field: str  # TelemetryEvent's oneof member, and the JSON key
    types: Mapping[str, EventKind]
    to_proto: Callable[[Any], Any]  # payload -> its generated protobuf message
    from_proto: Callable[[Any], Any]  # the message -> payload
    to_json: Callable[[Any], str]  # payload -> its JSON object (protobuf's JSON mapping)
    describe: Callable[[TelemetryEvent, Any], str]  # the compact line, after its time
    fields: Mapping[EventKind, Mapping[str, Field]]  # what a filter expression may name, per kind
    # Subscriptions: EventFilter's list of this kind's filters ("": none), and how they compile
    # (the filters, where they are for errors, the errors so far).
    filter_field: str = ""
    compile_filters: Callable[[Sequence[Any], str, list[SubscriptionError]], KindRules] | None = None
    # The kernel records that become these events (record class -> event kind), and how: (record,
    # boot id) -> payload. Records of other kinds (cgroups) reach events some other way.
    records: Mapping[type, EventKind] = field(default_factory=dict)
    payload_of: Callable[[Any, str], Any] | None = None
    # The hook whose absence leaves an event kind with no events at all (not attached, or missing
    # from the kernel): a subscription to it is refused saying why.
    needs_hooks: Mapping[EventKind, Hook] = field(default_factory=dict)

    @property
    def event_kinds(self) -> list[EventKind]:
        """The event kinds of this payload, in ``types`` order."""
        return list(dict.fromkeys(self.types.values()))


def errno_name(number: int) -> str:
    """``ENOENT`` for 2."""
    return errno.errorcode.get(number, str(number))


def container_label(event: TelemetryEvent) -> str:
    """The container's name, or its short id until the runtime names it."""
    return event.container_name or event.container_id[:12]


def who(event: TelemetryEvent) -> str:
    """``pid=N uid=N [tid=N] [container]``: the process an event is about, for compact lines."""
    uid = event.credentials.uid if event.credentials is not None else 0
    out = f"pid={event.process_tgid:<7} uid={uid:<5}"
    if event.process_pid != event.process_tgid:
        out += f" tid={event.process_pid}"
    if event.container_id:
        out += f" [{container_label(event)}]"
    return out

"""The fleet's events, read back from the stream: kinds and nodes chosen by subject where the subject
can say it, the rest (node globs, several kinds, filter expressions) applied here as the daemon applies them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from sensor.fleet.engine import EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, subject_token
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.subscription import CompiledSubscription
from sensor.telemetry.wire_read import decode_event

BATCH_MESSAGES = 512
IDLE_WAIT_S = 0.25
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class FleetQuery:
    """Which events to read: of which kinds (their names), from which nodes (a glob), since when (None: live)."""

    kinds: frozenset[str]
    node_glob: str = "*"
    since: datetime | None = None
    stream: str = EVENTS_STREAM

    def subject(self) -> str:
        """The narrowest subject that holds every event the query wants."""
        glob = self.node_glob
        node = subject_token(glob) if not (_GLOB_CHARS & set(glob)) else "*"
        kind = next(iter(self.kinds)) if len(self.kinds) == 1 else "*"
        return f"{EVENTS_SUBJECT_PREFIX}.{node}.{kind}"


async def subscribe(js: JetStreamContext, query: FleetQuery) -> JetStreamContext.PushSubscription:
    """An ordered consumer of the query's subject, from its start time (or from now).

    Raises nats.js.errors.NotFoundError when the stream does not exist.
    """
    policy = DeliverPolicy.NEW if query.since is None else DeliverPolicy.BY_START_TIME
    return await js.subscribe(
        query.subject(),
        stream=query.stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=policy, opt_start_time=query.since),
    )


async def next_batch(subscription: JetStreamContext.PushSubscription, most: int, wait_s: float) -> list[Msg]:
    """Up to ``most`` messages: waits up to ``wait_s`` for the first, then takes what is already here.

    The rest are taken from the subscription's queue directly: nats-py's next_msg makes two tasks
    and a uuid for each message (a third of an archive job's CPU per event); the flow control it
    then owes the server is answered by taking one more with next_msg, as next_msg would.
    """
    try:
        batch = [await subscription.next_msg(timeout=wait_s)]
    except nats.errors.TimeoutError:
        return []
    inner = subscription._sub
    queue = inner._pending_queue
    while len(batch) < most - 1 and queue.qsize() > 1:
        message = queue.get_nowait()
        queue.task_done()
        inner._pending_size -= len(message.data)
        batch.append(message)
    if len(batch) < most and subscription.pending_msgs:
        batch.append(await subscription.next_msg(timeout=wait_s))
    return batch


def wanted(message: Msg, query: FleetQuery, rules: CompiledSubscription) -> TelemetryEvent | None:
    """The message's event, if the query and the rules want it."""
    if message.subject.rpartition(".")[2] not in query.kinds:
        return None
    event = decode_event(message.data)
    if query.node_glob != "*" and not fnmatch.fnmatchcase(event.node_name, query.node_glob):
        return None
    return event if rules.wants(event) else None


async def fleet_events(
    subscription: JetStreamContext.PushSubscription, query: FleetQuery, rules: CompiledSubscription
) -> AsyncIterator[list[TelemetryEvent]]:
    """Batches of the events ``query`` and ``rules`` want, in the stream's order, until the caller stops.

    An empty batch now and then while the stream is quiet, so the caller can look at its clock.
    """
    while True:
        messages = await next_batch(subscription, BATCH_MESSAGES, IDLE_WAIT_S)
        yield [event for event in (wanted(m, query, rules) for m in messages) if event is not None]

"""The fleet's nodes as their heartbeats say: live ones from ``sensor_nodes``, gone ones from ``sensor_nodes_seen``."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nats.js import JetStreamContext

from sensor.fleet.engine import NODES_BUCKET, SEEN_BUCKET, NodeHeartbeat, read_records


class NodeState(enum.Enum):
    """Whether a node's sensor is there."""

    UP = "up"  # its key in sensor_nodes is fresh
    STOPPED = "stopped"  # it said so when it stopped
    GONE = "gone"  # it stopped refreshing its key, which expired


@dataclass(frozen=True, slots=True)
class Node:
    """One node: its state and its last heartbeat."""

    state: NodeState
    heartbeat: NodeHeartbeat


async def fleet_nodes(js: JetStreamContext) -> list[Node]:
    """Every node seen in the last day, by name. Raises BucketNotFoundError when no sensor ever exported."""
    live = await read_records(js, NODES_BUCKET, NodeHeartbeat)
    seen = await read_records(js, SEEN_BUCKET, NodeHeartbeat)
    nodes = [Node(NodeState.UP, beat) for beat in live.values()]
    for key, beat in seen.items():
        if key not in live:
            nodes.append(Node(NodeState.STOPPED if beat.stopped else NodeState.GONE, beat))
    return sorted(nodes, key=lambda n: n.heartbeat.node_name)

"""The live model and the sensor's own state as API messages (ListWorkloads, GetInfo).

Both read the caches, so on the daemon they run on the pipeline thread (PipelineThread.call).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict

from sensor import __version__
from sensor.api.v1 import service_pb2 as api
from sensor.export.exporter import ExportStats
from sensor.fleet.engine import NodeHeartbeat
from sensor.telemetry.capture import Capture
from sensor.telemetry.hub import Hub
from sensor.telemetry.kinds.process import creds_proto


def list_workloads(capture: Capture) -> api.ListWorkloadsResponse:
    """Every live process and every container the sensor knows."""
    response = api.ListWorkloadsResponse()
    live_per_cgroup: Counter[int] = Counter()
    for info in capture.cache.processes():
        if not info.alive:
            continue
        container = capture.containers.container_of(info.cgroup_id)
        live_per_cgroup[info.cgroup_id] += 1
        response.processes.append(
            api.Process(
                process_id=info.process_id,
                pid=info.pid,
                ppid=info.ppid,
                parent_process_id=info.parent_process_id,
                comm=info.comm,
                filename=info.filename,
                command_line=info.argv,
                cwd=info.cwd,
                credentials=creds_proto(info.creds),
                container_id=container.container_id if container is not None else "",
                language=info.language,
                threads=max(1, len(info.threads)),
            )
        )
    for container in capture.containers.containers():
        metadata = container.metadata
        response.containers.append(
            api.Container(
                container_id=container.container_id,
                name=container.name,
                image_id=metadata.image_id if metadata else "",
                image_name=metadata.image_name if metadata else "",
                state=container.state.value,
                runtime=container.runtime,
                init_pid=container.init_pid,
                exit_code=container.exit_code or 0,
                cgroup_path=container.cgroup_path,
                pod_uid=container.pod_uid,
                pod_name=metadata.pod_name if metadata else "",
                pod_namespace=metadata.pod_namespace if metadata else "",
                labels=metadata.labels if metadata else {},
                processes=sum(live_per_cgroup[c] for c in container.cgroup_ids),
                metadata_missing=metadata is None,
            )
        )
    return response


def node_heartbeat(capture: Capture, hub: Hub, started_at: float, exports: list[ExportStats]) -> NodeHeartbeat:
    """What this node says of itself to the fleet (``started_at``: wall-clock seconds)."""
    loss = capture.loss()
    lost = loss.kernel_lost + loss.reader_lost + hub.lost_total() + sum(e.lost for e in exports)
    return NodeHeartbeat(
        node_name=capture.node_name,
        sensor_id=capture.sensor_id,
        version=__version__,
        kernel=os.uname().release,
        started_at=started_at,
        at=time.time(),
        hooks={c.hook: c.backend.value for c in capture.choices},
        processes=len(capture.cache),
        containers=len(capture.containers),
        events=hub.published,
        lost=lost,
    )


def sensor_info(capture: Capture, hub: Hub, started_ns: int, exports: list[ExportStats]) -> api.GetInfoResponse:
    """Who the sensor is, the backend of each hook, its exports, and its counters."""
    loss = capture.loss()
    subscribers = hub.subscribers()
    return api.GetInfoResponse(
        sensor_id=capture.sensor_id,
        node_name=capture.node_name,
        version=__version__,
        kernel=os.uname().release,
        transport=next((c.backend.value for c in capture.choices if c.hook == "transport"), ""),
        cgroup_mode=capture.hierarchy.mode.value,
        hooks=[api.HookBackend(hook=c.hook, backend=c.backend.value, reason=c.reason) for c in capture.choices],
        counters=api.Counters(
            records_read=loss.records_read,
            events_published=hub.published,
            lost_kernel=loss.kernel_lost,
            lost_reader=loss.reader_lost,
            undecodable=loss.decode_errors,
            lost_subscribers=hub.lost_total(),
            subscriptions_active=len(subscribers),
            subscriptions_total=hub.subscriptions_total,
            subscriptions_refused=hub.subscriptions_refused,
            processes_cached=len(capture.cache),
            containers_cached=len(capture.containers),
        ),
        subscriptions=[
            api.SubscriptionInfo(
                id=s.id, peer=s.peer, sent=s.queued_total, lost=s.lost, throttled=s.throttled, queued=s.queued
            )
            for s in subscribers
        ],
        uptime_nanos=time.monotonic_ns() - started_ns,
        exports=[api.ExportInfo(**asdict(e)) for e in exports],  # the same fields, by the same names
    )

from sensor.api.v1 import subscription_pb2 as _subscription_pb2
from sensor.api.v1 import telemetry_pb2 as _telemetry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetEventsRequest(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message", "field")
    class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[Status.Code]
        INVALID_ARGUMENT: _ClassVar[Status.Code]
        LIMIT_REACHED: _ClassVar[Status.Code]
    OK: Status.Code
    INVALID_ARGUMENT: Status.Code
    LIMIT_REACHED: Status.Code
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: Status.Code
    message: str
    field: str
    def __init__(self, code: _Optional[_Union[Status.Code, str]] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class GetEventsResponse(_message.Message):
    __slots__ = ("events", "statuses")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_telemetry_pb2.TelemetryEvent]
    statuses: _containers.RepeatedCompositeFieldContainer[Status]
    def __init__(self, events: _Optional[_Iterable[_Union[_telemetry_pb2.TelemetryEvent, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[Status, _Mapping]]] = ...) -> None: ...

class ListWorkloadsRequest(_message.Message):
    __slots__ = ("include_stats", "stats_max_age_ms")
    INCLUDE_STATS_FIELD_NUMBER: _ClassVar[int]
    STATS_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    include_stats: bool
    stats_max_age_ms: int
    def __init__(self, include_stats: _Optional[bool] = ..., stats_max_age_ms: _Optional[int] = ...) -> None: ...

class Process(_message.Message):
    __slots__ = ("process_id", "pid", "ppid", "parent_process_id", "comm", "filename", "command_line", "cwd", "credentials", "container_id", "language", "threads")
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PPID_FIELD_NUMBER: _ClassVar[int]
    PARENT_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    pid: int
    ppid: int
    parent_process_id: str
    comm: str
    filename: str
    command_line: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    credentials: _telemetry_pb2.Credentials
    container_id: str
    language: str
    threads: int
    def __init__(self, process_id: _Optional[str] = ..., pid: _Optional[int] = ..., ppid: _Optional[int] = ..., parent_process_id: _Optional[str] = ..., comm: _Optional[str] = ..., filename: _Optional[str] = ..., command_line: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ..., credentials: _Optional[_Union[_telemetry_pb2.Credentials, _Mapping]] = ..., container_id: _Optional[str] = ..., language: _Optional[str] = ..., threads: _Optional[int] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("container_id", "name", "image_id", "image_name", "state", "runtime", "init_pid", "exit_code", "cgroup_path", "pod_uid", "pod_name", "pod_namespace", "labels", "processes", "metadata_missing", "stats")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    INIT_PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CGROUP_PATH_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    POD_NAME_FIELD_NUMBER: _ClassVar[int]
    POD_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    METADATA_MISSING_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    name: str
    image_id: str
    image_name: str
    state: str
    runtime: str
    init_pid: int
    exit_code: int
    cgroup_path: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    labels: _containers.ScalarMap[str, str]
    processes: int
    metadata_missing: bool
    stats: ContainerStats
    def __init__(self, container_id: _Optional[str] = ..., name: _Optional[str] = ..., image_id: _Optional[str] = ..., image_name: _Optional[str] = ..., state: _Optional[str] = ..., runtime: _Optional[str] = ..., init_pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., cgroup_path: _Optional[str] = ..., pod_uid: _Optional[str] = ..., pod_name: _Optional[str] = ..., pod_namespace: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., processes: _Optional[int] = ..., metadata_missing: _Optional[bool] = ..., stats: _Optional[_Union[ContainerStats, _Mapping]] = ...) -> None: ...

class CpuStats(_message.Message):
    __slots__ = ("usage_nanos", "user_nanos", "system_nanos", "periods", "throttled_periods", "throttled_nanos", "limit_cores")
    USAGE_NANOS_FIELD_NUMBER: _ClassVar[int]
    USER_NANOS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_NANOS_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    THROTTLED_PERIODS_FIELD_NUMBER: _ClassVar[int]
    THROTTLED_NANOS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_CORES_FIELD_NUMBER: _ClassVar[int]
    usage_nanos: int
    user_nanos: int
    system_nanos: int
    periods: int
    throttled_periods: int
    throttled_nanos: int
    limit_cores: float
    def __init__(self, usage_nanos: _Optional[int] = ..., user_nanos: _Optional[int] = ..., system_nanos: _Optional[int] = ..., periods: _Optional[int] = ..., throttled_periods: _Optional[int] = ..., throttled_nanos: _Optional[int] = ..., limit_cores: _Optional[float] = ...) -> None: ...

class MemoryStats(_message.Message):
    __slots__ = ("usage_bytes", "working_set_bytes", "rss_bytes", "cache_bytes", "limit_bytes", "oom_kills")
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WORKING_SET_BYTES_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLS_FIELD_NUMBER: _ClassVar[int]
    usage_bytes: int
    working_set_bytes: int
    rss_bytes: int
    cache_bytes: int
    limit_bytes: int
    oom_kills: int
    def __init__(self, usage_bytes: _Optional[int] = ..., working_set_bytes: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., limit_bytes: _Optional[int] = ..., oom_kills: _Optional[int] = ...) -> None: ...

class DeviceIo(_message.Message):
    __slots__ = ("device", "major", "minor", "read_bytes", "write_bytes", "read_ops", "write_ops")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    READ_OPS_FIELD_NUMBER: _ClassVar[int]
    WRITE_OPS_FIELD_NUMBER: _ClassVar[int]
    device: str
    major: int
    minor: int
    read_bytes: int
    write_bytes: int
    read_ops: int
    write_ops: int
    def __init__(self, device: _Optional[str] = ..., major: _Optional[int] = ..., minor: _Optional[int] = ..., read_bytes: _Optional[int] = ..., write_bytes: _Optional[int] = ..., read_ops: _Optional[int] = ..., write_ops: _Optional[int] = ...) -> None: ...

class IoStats(_message.Message):
    __slots__ = ("read_bytes", "write_bytes", "read_ops", "write_ops", "devices")
    READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    READ_OPS_FIELD_NUMBER: _ClassVar[int]
    WRITE_OPS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    read_bytes: int
    write_bytes: int
    read_ops: int
    write_ops: int
    devices: _containers.RepeatedCompositeFieldContainer[DeviceIo]
    def __init__(self, read_bytes: _Optional[int] = ..., write_bytes: _Optional[int] = ..., read_ops: _Optional[int] = ..., write_ops: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[DeviceIo, _Mapping]]] = ...) -> None: ...

class PidsStats(_message.Message):
    __slots__ = ("current", "limit")
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    current: int
    limit: int
    def __init__(self, current: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class InterfaceStats(_message.Message):
    __slots__ = ("name", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    RX_PACKETS_FIELD_NUMBER: _ClassVar[int]
    TX_PACKETS_FIELD_NUMBER: _ClassVar[int]
    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    def __init__(self, name: _Optional[str] = ..., rx_bytes: _Optional[int] = ..., tx_bytes: _Optional[int] = ..., rx_packets: _Optional[int] = ..., tx_packets: _Optional[int] = ...) -> None: ...

class NetworkStats(_message.Message):
    __slots__ = ("host_network", "interfaces")
    HOST_NETWORK_FIELD_NUMBER: _ClassVar[int]
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    host_network: bool
    interfaces: _containers.RepeatedCompositeFieldContainer[InterfaceStats]
    def __init__(self, host_network: _Optional[bool] = ..., interfaces: _Optional[_Iterable[_Union[InterfaceStats, _Mapping]]] = ...) -> None: ...

class ContainerStats(_message.Message):
    __slots__ = ("container_id", "name", "image_name", "read_time_nanos", "age_nanos", "cpu", "memory", "io", "pids", "network", "errors")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_NANOS_FIELD_NUMBER: _ClassVar[int]
    AGE_NANOS_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    IO_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    name: str
    image_name: str
    read_time_nanos: int
    age_nanos: int
    cpu: CpuStats
    memory: MemoryStats
    io: IoStats
    pids: PidsStats
    network: NetworkStats
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, container_id: _Optional[str] = ..., name: _Optional[str] = ..., image_name: _Optional[str] = ..., read_time_nanos: _Optional[int] = ..., age_nanos: _Optional[int] = ..., cpu: _Optional[_Union[CpuStats, _Mapping]] = ..., memory: _Optional[_Union[MemoryStats, _Mapping]] = ..., io: _Optional[_Union[IoStats, _Mapping]] = ..., pids: _Optional[_Union[PidsStats, _Mapping]] = ..., network: _Optional[_Union[NetworkStats, _Mapping]] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class ListWorkloadsResponse(_message.Message):
    __slots__ = ("processes", "containers")
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[Process]
    containers: _containers.RepeatedCompositeFieldContainer[Container]
    def __init__(self, processes: _Optional[_Iterable[_Union[Process, _Mapping]]] = ..., containers: _Optional[_Iterable[_Union[Container, _Mapping]]] = ...) -> None: ...

class GetContainerStatsRequest(_message.Message):
    __slots__ = ("containers", "max_age_ms")
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedScalarFieldContainer[str]
    max_age_ms: int
    def __init__(self, containers: _Optional[_Iterable[str]] = ..., max_age_ms: _Optional[int] = ...) -> None: ...

class GetContainerStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _containers.RepeatedCompositeFieldContainer[ContainerStats]
    def __init__(self, stats: _Optional[_Iterable[_Union[ContainerStats, _Mapping]]] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HookBackend(_message.Message):
    __slots__ = ("hook", "backend", "reason")
    HOOK_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    hook: str
    backend: str
    reason: str
    def __init__(self, hook: _Optional[str] = ..., backend: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Counters(_message.Message):
    __slots__ = ("records_read", "events_published", "lost_kernel", "lost_reader", "undecodable", "lost_subscribers", "subscriptions_active", "subscriptions_total", "processes_cached", "containers_cached", "subscriptions_refused")
    RECORDS_READ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    LOST_KERNEL_FIELD_NUMBER: _ClassVar[int]
    LOST_READER_FIELD_NUMBER: _ClassVar[int]
    UNDECODABLE_FIELD_NUMBER: _ClassVar[int]
    LOST_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_CACHED_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_CACHED_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_REFUSED_FIELD_NUMBER: _ClassVar[int]
    records_read: int
    events_published: int
    lost_kernel: int
    lost_reader: int
    undecodable: int
    lost_subscribers: int
    subscriptions_active: int
    subscriptions_total: int
    processes_cached: int
    containers_cached: int
    subscriptions_refused: int
    def __init__(self, records_read: _Optional[int] = ..., events_published: _Optional[int] = ..., lost_kernel: _Optional[int] = ..., lost_reader: _Optional[int] = ..., undecodable: _Optional[int] = ..., lost_subscribers: _Optional[int] = ..., subscriptions_active: _Optional[int] = ..., subscriptions_total: _Optional[int] = ..., processes_cached: _Optional[int] = ..., containers_cached: _Optional[int] = ..., subscriptions_refused: _Optional[int] = ...) -> None: ...

class SubscriptionInfo(_message.Message):
    __slots__ = ("id", "peer", "sent", "lost", "throttled", "queued")
    ID_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    THROTTLED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    id: int
    peer: str
    sent: int
    lost: int
    throttled: int
    queued: int
    def __init__(self, id: _Optional[int] = ..., peer: _Optional[str] = ..., sent: _Optional[int] = ..., lost: _Optional[int] = ..., throttled: _Optional[int] = ..., queued: _Optional[int] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("sensor_id", "version", "kernel", "transport", "cgroup_mode", "hooks", "counters", "subscriptions", "uptime_nanos", "node_name", "exports")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    CGROUP_MODE_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_NANOS_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    version: str
    kernel: str
    transport: str
    cgroup_mode: str
    hooks: _containers.RepeatedCompositeFieldContainer[HookBackend]
    counters: Counters
    subscriptions: _containers.RepeatedCompositeFieldContainer[SubscriptionInfo]
    uptime_nanos: int
    node_name: str
    exports: _containers.RepeatedCompositeFieldContainer[ExportInfo]
    def __init__(self, sensor_id: _Optional[str] = ..., version: _Optional[str] = ..., kernel: _Optional[str] = ..., transport: _Optional[str] = ..., cgroup_mode: _Optional[str] = ..., hooks: _Optional[_Iterable[_Union[HookBackend, _Mapping]]] = ..., counters: _Optional[_Union[Counters, _Mapping]] = ..., subscriptions: _Optional[_Iterable[_Union[SubscriptionInfo, _Mapping]]] = ..., uptime_nanos: _Optional[int] = ..., node_name: _Optional[str] = ..., exports: _Optional[_Iterable[_Union[ExportInfo, _Mapping]]] = ...) -> None: ...

class ExportInfo(_message.Message):
    __slots__ = ("name", "destination", "sent", "lost", "rate_limited", "pending", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    destination: str
    sent: int
    lost: int
    rate_limited: int
    pending: int
    error: str
    def __init__(self, name: _Optional[str] = ..., destination: _Optional[str] = ..., sent: _Optional[int] = ..., lost: _Optional[int] = ..., rate_limited: _Optional[int] = ..., pending: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

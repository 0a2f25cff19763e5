from sensor.api.v1 import telemetry_pb2 as _telemetry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProcessEventFilter(_message.Message):
    __slots__ = ("type", "filter_expression")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    type: _telemetry_pb2.ProcessEvent.ProcessEventType
    filter_expression: str
    def __init__(self, type: _Optional[_Union[_telemetry_pb2.ProcessEvent.ProcessEventType, str]] = ..., filter_expression: _Optional[str] = ...) -> None: ...

class ContainerEventFilter(_message.Message):
    __slots__ = ("type", "filter_expression")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    type: _telemetry_pb2.ContainerEvent.ContainerEventType
    filter_expression: str
    def __init__(self, type: _Optional[_Union[_telemetry_pb2.ContainerEvent.ContainerEventType, str]] = ..., filter_expression: _Optional[str] = ...) -> None: ...

class FileEventFilter(_message.Message):
    __slots__ = ("type", "filter_expression", "read_prefixes")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    READ_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    type: _telemetry_pb2.FileEvent.FileEventType
    filter_expression: str
    read_prefixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, type: _Optional[_Union[_telemetry_pb2.FileEvent.FileEventType, str]] = ..., filter_expression: _Optional[str] = ..., read_prefixes: _Optional[_Iterable[str]] = ...) -> None: ...

class NetworkEventFilter(_message.Message):
    __slots__ = ("type", "filter_expression")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    type: _telemetry_pb2.NetworkEvent.NetworkEventType
    filter_expression: str
    def __init__(self, type: _Optional[_Union[_telemetry_pb2.NetworkEvent.NetworkEventType, str]] = ..., filter_expression: _Optional[str] = ...) -> None: ...

class TickerEventFilter(_message.Message):
    __slots__ = ("interval",)
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    interval: int
    def __init__(self, interval: _Optional[int] = ...) -> None: ...

class EventFilter(_message.Message):
    __slots__ = ("process_events", "container_events", "ticker_events", "file_events", "network_events")
    PROCESS_EVENTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    TICKER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    FILE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_EVENTS_FIELD_NUMBER: _ClassVar[int]
    process_events: _containers.RepeatedCompositeFieldContainer[ProcessEventFilter]
    container_events: _containers.RepeatedCompositeFieldContainer[ContainerEventFilter]
    ticker_events: _containers.RepeatedCompositeFieldContainer[TickerEventFilter]
    file_events: _containers.RepeatedCompositeFieldContainer[FileEventFilter]
    network_events: _containers.RepeatedCompositeFieldContainer[NetworkEventFilter]
    def __init__(self, process_events: _Optional[_Iterable[_Union[ProcessEventFilter, _Mapping]]] = ..., container_events: _Optional[_Iterable[_Union[ContainerEventFilter, _Mapping]]] = ..., ticker_events: _Optional[_Iterable[_Union[TickerEventFilter, _Mapping]]] = ..., file_events: _Optional[_Iterable[_Union[FileEventFilter, _Mapping]]] = ..., network_events: _Optional[_Iterable[_Union[NetworkEventFilter, _Mapping]]] = ...) -> None: ...

class ContainerFilter(_message.Message):
    __slots__ = ("ids", "names", "image_ids", "image_names")
    IDS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAMES_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    names: _containers.RepeatedScalarFieldContainer[str]
    image_ids: _containers.RepeatedScalarFieldContainer[str]
    image_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., names: _Optional[_Iterable[str]] = ..., image_ids: _Optional[_Iterable[str]] = ..., image_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ThrottleModifier(_message.Message):
    __slots__ = ("interval",)
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    interval: int
    def __init__(self, interval: _Optional[int] = ...) -> None: ...

class LimitModifier(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class BatchModifier(_message.Message):
    __slots__ = ("max_delay",)
    MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
    max_delay: int
    def __init__(self, max_delay: _Optional[int] = ...) -> None: ...

class Modifier(_message.Message):
    __slots__ = ("throttle", "limit", "batch")
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    throttle: ThrottleModifier
    limit: LimitModifier
    batch: BatchModifier
    def __init__(self, throttle: _Optional[_Union[ThrottleModifier, _Mapping]] = ..., limit: _Optional[_Union[LimitModifier, _Mapping]] = ..., batch: _Optional[_Union[BatchModifier, _Mapping]] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("event_filter", "container_filter", "modifier", "include_existing")
    EVENT_FILTER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FILTER_FIELD_NUMBER: _ClassVar[int]
    MODIFIER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    event_filter: EventFilter
    container_filter: ContainerFilter
    modifier: Modifier
    include_existing: bool
    def __init__(self, event_filter: _Optional[_Union[EventFilter, _Mapping]] = ..., container_filter: _Optional[_Union[ContainerFilter, _Mapping]] = ..., modifier: _Optional[_Union[Modifier, _Mapping]] = ..., include_existing: _Optional[bool] = ...) -> None: ...

from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Credentials(_message.Message):
    __slots__ = ("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    EUID_FIELD_NUMBER: _ClassVar[int]
    EGID_FIELD_NUMBER: _ClassVar[int]
    SUID_FIELD_NUMBER: _ClassVar[int]
    SGID_FIELD_NUMBER: _ClassVar[int]
    FSUID_FIELD_NUMBER: _ClassVar[int]
    FSGID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    euid: int
    egid: int
    suid: int
    sgid: int
    fsuid: int
    fsgid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ..., euid: _Optional[int] = ..., egid: _Optional[int] = ..., suid: _Optional[int] = ..., sgid: _Optional[int] = ..., fsuid: _Optional[int] = ..., fsgid: _Optional[int] = ...) -> None: ...

class ProcessRef(_message.Message):
    __slots__ = ("process_id", "pid", "comm", "filename")
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    pid: int
    comm: str
    filename: str
    def __init__(self, process_id: _Optional[str] = ..., pid: _Optional[int] = ..., comm: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ProcessEvent(_message.Message):
    __slots__ = ("type", "fork_child_pid", "fork_child_id", "fork_clone_flags", "fork_thread", "exec_filename", "exec_command_line", "exec_command_line_truncated", "exec_errno", "exec_old_pid", "exit_code", "exit_status", "exit_signal", "exit_core_dumped", "exit_thread_only", "old_credentials", "new_credentials", "credentials_cause", "old_groups", "new_groups", "groups_truncated")
    class ProcessEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PROCESS_EVENT_TYPE_UNKNOWN: _ClassVar[ProcessEvent.ProcessEventType]
        FORK: _ClassVar[ProcessEvent.ProcessEventType]
        EXEC: _ClassVar[ProcessEvent.ProcessEventType]
        EXIT: _ClassVar[ProcessEvent.ProcessEventType]
        UPDATE: _ClassVar[ProcessEvent.ProcessEventType]
        CREDENTIALS: _ClassVar[ProcessEvent.ProcessEventType]
    PROCESS_EVENT_TYPE_UNKNOWN: ProcessEvent.ProcessEventType
    FORK: ProcessEvent.ProcessEventType
    EXEC: ProcessEvent.ProcessEventType
    EXIT: ProcessEvent.ProcessEventType
    UPDATE: ProcessEvent.ProcessEventType
    CREDENTIALS: ProcessEvent.ProcessEventType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FORK_CHILD_PID_FIELD_NUMBER: _ClassVar[int]
    FORK_CHILD_ID_FIELD_NUMBER: _ClassVar[int]
    FORK_CLONE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    FORK_THREAD_FIELD_NUMBER: _ClassVar[int]
    EXEC_FILENAME_FIELD_NUMBER: _ClassVar[int]
    EXEC_COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    EXEC_COMMAND_LINE_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    EXEC_ERRNO_FIELD_NUMBER: _ClassVar[int]
    EXEC_OLD_PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    EXIT_CORE_DUMPED_FIELD_NUMBER: _ClassVar[int]
    EXIT_THREAD_ONLY_FIELD_NUMBER: _ClassVar[int]
    OLD_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    NEW_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_CAUSE_FIELD_NUMBER: _ClassVar[int]
    OLD_GROUPS_FIELD_NUMBER: _ClassVar[int]
    NEW_GROUPS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    type: ProcessEvent.ProcessEventType
    fork_child_pid: int
    fork_child_id: str
    fork_clone_flags: int
    fork_thread: bool
    exec_filename: str
    exec_command_line: _containers.RepeatedScalarFieldContainer[str]
    exec_command_line_truncated: bool
    exec_errno: int
    exec_old_pid: int
    exit_code: int
    exit_status: int
    exit_signal: int
    exit_core_dumped: bool
    exit_thread_only: bool
    old_credentials: Credentials
    new_credentials: Credentials
    credentials_cause: str
    old_groups: _containers.RepeatedScalarFieldContainer[int]
    new_groups: _containers.RepeatedScalarFieldContainer[int]
    groups_truncated: bool
    def __init__(self, type: _Optional[_Union[ProcessEvent.ProcessEventType, str]] = ..., fork_child_pid: _Optional[int] = ..., fork_child_id: _Optional[str] = ..., fork_clone_flags: _Optional[int] = ..., fork_thread: _Optional[bool] = ..., exec_filename: _Optional[str] = ..., exec_command_line: _Optional[_Iterable[str]] = ..., exec_command_line_truncated: _Optional[bool] = ..., exec_errno: _Optional[int] = ..., exec_old_pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., exit_status: _Optional[int] = ..., exit_signal: _Optional[int] = ..., exit_core_dumped: _Optional[bool] = ..., exit_thread_only: _Optional[bool] = ..., old_credentials: _Optional[_Union[Credentials, _Mapping]] = ..., new_credentials: _Optional[_Union[Credentials, _Mapping]] = ..., credentials_cause: _Optional[str] = ..., old_groups: _Optional[_Iterable[int]] = ..., new_groups: _Optional[_Iterable[int]] = ..., groups_truncated: _Optional[bool] = ...) -> None: ...

class LostRecordEvent(_message.Message):
    __slots__ = ("lost", "stage", "hook")
    LOST_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    HOOK_FIELD_NUMBER: _ClassVar[int]
    lost: int
    stage: str
    hook: str
    def __init__(self, lost: _Optional[int] = ..., stage: _Optional[str] = ..., hook: _Optional[str] = ...) -> None: ...

class ContainerEvent(_message.Message):
    __slots__ = ("type", "name", "image_id", "image_name", "host_pid", "exit_code", "runtime", "labels", "cgroup_path", "pod_uid", "pod_name", "pod_namespace", "metadata_missing")
    class ContainerEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CONTAINER_EVENT_TYPE_UNKNOWN: _ClassVar[ContainerEvent.ContainerEventType]
        CREATED: _ClassVar[ContainerEvent.ContainerEventType]
        RUNNING: _ClassVar[ContainerEvent.ContainerEventType]
        EXITED: _ClassVar[ContainerEvent.ContainerEventType]
        DESTROYED: _ClassVar[ContainerEvent.ContainerEventType]
        UPDATED: _ClassVar[ContainerEvent.ContainerEventType]
    CONTAINER_EVENT_TYPE_UNKNOWN: ContainerEvent.ContainerEventType
    CREATED: ContainerEvent.ContainerEventType
    RUNNING: ContainerEvent.ContainerEventType
    EXITED: ContainerEvent.ContainerEventType
    DESTROYED: ContainerEvent.ContainerEventType
    UPDATED: ContainerEvent.ContainerEventType
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CGROUP_PATH_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    POD_NAME_FIELD_NUMBER: _ClassVar[int]
    POD_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    METADATA_MISSING_FIELD_NUMBER: _ClassVar[int]
    type: ContainerEvent.ContainerEventType
    name: str
    image_id: str
    image_name: str
    host_pid: int
    exit_code: int
    runtime: str
    labels: _containers.ScalarMap[str, str]
    cgroup_path: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    metadata_missing: bool
    def __init__(self, type: _Optional[_Union[ContainerEvent.ContainerEventType, str]] = ..., name: _Optional[str] = ..., image_id: _Optional[str] = ..., image_name: _Optional[str] = ..., host_pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., runtime: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., cgroup_path: _Optional[str] = ..., pod_uid: _Optional[str] = ..., pod_name: _Optional[str] = ..., pod_namespace: _Optional[str] = ..., metadata_missing: _Optional[bool] = ...) -> None: ...

class TickerEvent(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class FileEvent(_message.Message):
    __slots__ = ("type", "filename", "open_flags", "open_mode", "path", "errno", "fd", "created", "device", "inode", "new_filename", "new_path", "flags", "mode", "uid", "gid", "length", "path_truncated")
    class FileEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FILE_EVENT_TYPE_UNKNOWN: _ClassVar[FileEvent.FileEventType]
        OPEN: _ClassVar[FileEvent.FileEventType]
        UNLINK: _ClassVar[FileEvent.FileEventType]
        RMDIR: _ClassVar[FileEvent.FileEventType]
        RENAME: _ClassVar[FileEvent.FileEventType]
        MKDIR: _ClassVar[FileEvent.FileEventType]
        LINK: _ClassVar[FileEvent.FileEventType]
        SYMLINK: _ClassVar[FileEvent.FileEventType]
        CHMOD: _ClassVar[FileEvent.FileEventType]
        CHOWN: _ClassVar[FileEvent.FileEventType]
        TRUNCATE: _ClassVar[FileEvent.FileEventType]
    FILE_EVENT_TYPE_UNKNOWN: FileEvent.FileEventType
    OPEN: FileEvent.FileEventType
    UNLINK: FileEvent.FileEventType
    RMDIR: FileEvent.FileEventType
    RENAME: FileEvent.FileEventType
    MKDIR: FileEvent.FileEventType
    LINK: FileEvent.FileEventType
    SYMLINK: FileEvent.FileEventType
    CHMOD: FileEvent.FileEventType
    CHOWN: FileEvent.FileEventType
    TRUNCATE: FileEvent.FileEventType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    OPEN_FLAGS_FIELD_NUMBER: _ClassVar[int]
    OPEN_MODE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERRNO_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    INODE_FIELD_NUMBER: _ClassVar[int]
    NEW_FILENAME_FIELD_NUMBER: _ClassVar[int]
    NEW_PATH_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    PATH_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    type: FileEvent.FileEventType
    filename: str
    open_flags: int
    open_mode: int
    path: str
    errno: int
    fd: int
    created: bool
    device: int
    inode: int
    new_filename: str
    new_path: str
    flags: int
    mode: int
    uid: int
    gid: int
    length: int
    path_truncated: bool
    def __init__(self, type: _Optional[_Union[FileEvent.FileEventType, str]] = ..., filename: _Optional[str] = ..., open_flags: _Optional[int] = ..., open_mode: _Optional[int] = ..., path: _Optional[str] = ..., errno: _Optional[int] = ..., fd: _Optional[int] = ..., created: _Optional[bool] = ..., device: _Optional[int] = ..., inode: _Optional[int] = ..., new_filename: _Optional[str] = ..., new_path: _Optional[str] = ..., flags: _Optional[int] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., length: _Optional[int] = ..., path_truncated: _Optional[bool] = ...) -> None: ...

class NetworkEvent(_message.Message):
    __slots__ = ("type", "family", "protocol", "socket_type", "local_address", "local_port", "remote_address", "remote_port", "unix_path", "errno", "in_progress", "fd", "backlog", "duration_ns", "netns", "dns_query", "dns_type", "dns_id", "dns_unparsed")
    class NetworkEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NETWORK_EVENT_TYPE_UNKNOWN: _ClassVar[NetworkEvent.NetworkEventType]
        CONNECT: _ClassVar[NetworkEvent.NetworkEventType]
        CONNECT_RESULT: _ClassVar[NetworkEvent.NetworkEventType]
        ACCEPT: _ClassVar[NetworkEvent.NetworkEventType]
        BIND: _ClassVar[NetworkEvent.NetworkEventType]
        LISTEN: _ClassVar[NetworkEvent.NetworkEventType]
        CLOSE: _ClassVar[NetworkEvent.NetworkEventType]
        DNS_QUERY: _ClassVar[NetworkEvent.NetworkEventType]
    NETWORK_EVENT_TYPE_UNKNOWN: NetworkEvent.NetworkEventType
    CONNECT: NetworkEvent.NetworkEventType
    CONNECT_RESULT: NetworkEvent.NetworkEventType
    ACCEPT: NetworkEvent.NetworkEventType
    BIND: NetworkEvent.NetworkEventType
    LISTEN: NetworkEvent.NetworkEventType
    CLOSE: NetworkEvent.NetworkEventType
    DNS_QUERY: NetworkEvent.NetworkEventType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SOCKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PORT_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REMOTE_PORT_FIELD_NUMBER: _ClassVar[int]
    UNIX_PATH_FIELD_NUMBER: _ClassVar[int]
    ERRNO_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    NETNS_FIELD_NUMBER: _ClassVar[int]
    DNS_QUERY_FIELD_NUMBER: _ClassVar[int]
    DNS_TYPE_FIELD_NUMBER: _ClassVar[int]
    DNS_ID_FIELD_NUMBER: _ClassVar[int]
    DNS_UNPARSED_FIELD_NUMBER: _ClassVar[int]
    type: NetworkEvent.NetworkEventType
    family: str
    protocol: str
    socket_type: str
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    unix_path: str
    errno: int
    in_progress: bool
    fd: int
    backlog: int
    duration_ns: int
    netns: int
    dns_query: str
    dns_type: str
    dns_id: int
    dns_unparsed: bool
    def __init__(self, type: _Optional[_Union[NetworkEvent.NetworkEventType, str]] = ..., family: _Optional[str] = ..., protocol: _Optional[str] = ..., socket_type: _Optional[str] = ..., local_address: _Optional[str] = ..., local_port: _Optional[int] = ..., remote_address: _Optional[str] = ..., remote_port: _Optional[int] = ..., unix_path: _Optional[str] = ..., errno: _Optional[int] = ..., in_progress: _Optional[bool] = ..., fd: _Optional[int] = ..., backlog: _Optional[int] = ..., duration_ns: _Optional[int] = ..., netns: _Optional[int] = ..., dns_query: _Optional[str] = ..., dns_type: _Optional[str] = ..., dns_id: _Optional[int] = ..., dns_unparsed: _Optional[bool] = ...) -> None: ...

class TelemetryEvent(_message.Message):
    __slots__ = ("id", "sensor_id", "sensor_sequence_number", "sensor_monotime_nanos", "process_id", "process_pid", "process_tgid", "cpu", "credentials", "container_id", "container_name", "image_id", "image_name", "pod_uid", "language", "node_name", "comm", "filename", "command_line", "cwd", "parent_process_id", "parent_pid", "ancestors", "snapshot", "creator_process_id", "creator_pid", "cwd_truncated", "process", "lost", "container", "ticker", "file", "network")
    ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SENSOR_MONOTIME_NANOS_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_TGID_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    PARENT_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_PID_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CREATOR_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_PID_FIELD_NUMBER: _ClassVar[int]
    CWD_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    id: str
    sensor_id: str
    sensor_sequence_number: int
    sensor_monotime_nanos: int
    process_id: str
    process_pid: int
    process_tgid: int
    cpu: int
    credentials: Credentials
    container_id: str
    container_name: str
    image_id: str
    image_name: str
    pod_uid: str
    language: str
    node_name: str
    comm: str
    filename: str
    command_line: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    parent_process_id: str
    parent_pid: int
    ancestors: _containers.RepeatedCompositeFieldContainer[ProcessRef]
    snapshot: bool
    creator_process_id: str
    creator_pid: int
    cwd_truncated: bool
    process: ProcessEvent
    lost: LostRecordEvent
    container: ContainerEvent
    ticker: TickerEvent
    file: FileEvent
    network: NetworkEvent
    def __init__(self, id: _Optional[str] = ..., sensor_id: _Optional[str] = ..., sensor_sequence_number: _Optional[int] = ..., sensor_monotime_nanos: _Optional[int] = ..., process_id: _Optional[str] = ..., process_pid: _Optional[int] = ..., process_tgid: _Optional[int] = ..., cpu: _Optional[int] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., container_id: _Optional[str] = ..., container_name: _Optional[str] = ..., image_id: _Optional[str] = ..., image_name: _Optional[str] = ..., pod_uid: _Optional[str] = ..., language: _Optional[str] = ..., node_name: _Optional[str] = ..., comm: _Optional[str] = ..., filename: _Optional[str] = ..., command_line: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ..., parent_process_id: _Optional[str] = ..., parent_pid: _Optional[int] = ..., ancestors: _Optional[_Iterable[_Union[ProcessRef, _Mapping]]] = ..., snapshot: _Optional[bool] = ..., creator_process_id: _Optional[str] = ..., creator_pid: _Optional[int] = ..., cwd_truncated: _Optional[bool] = ..., process: _Optional[_Union[ProcessEvent, _Mapping]] = ..., lost: _Optional[_Union[LostRecordEvent, _Mapping]] = ..., container: _Optional[_Union[ContainerEvent, _Mapping]] = ..., ticker: _Optional[_Union[TickerEvent, _Mapping]] = ..., file: _Optional[_Union[FileEvent, _Mapping]] = ..., network: _Optional[_Union[NetworkEvent, _Mapping]] = ...) -> None: ...

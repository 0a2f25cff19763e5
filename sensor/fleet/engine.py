"""The fleet's engine, NATS JetStream: how to reach it, and where the sensor keeps things in it.

Events go to the stream ``SENSOR_EVENTS`` (by default) on ``sensor.events.<node>.<kind>``; each
node's heartbeat is a key in the bucket ``sensor_nodes``, which forgets a key its node stopped
refreshing; ``sensor_nodes_seen`` keeps each node's last heartbeat for a day, so the fleet can
say which nodes are gone. Language reports go to ``SENSOR_REPORTS`` on ``sensor.languages.<node>``.
The fleet's jobs keep their definitions, assignments and state in buckets of their own
(sensor.fleet.jobs). Everything the sensor writes and `sensor fleet` reads is named here.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.kv import KeyValue

EVENTS_STREAM = "SENSOR_EVENTS"
EVENTS_SUBJECT_PREFIX = "sensor.events"
NODES_BUCKET = "sensor_nodes"  # live nodes: a key expires when its node stops refreshing it
SEEN_BUCKET = "sensor_nodes_seen"  # every node's last heartbeat, for a day: the gone ones
SEEN_TTL_S = 24 * 3600.0
REPORTS_STREAM = "SENSOR_REPORTS"
LANGUAGES_SUBJECT_PREFIX = "sensor.languages"
REPORTS_MAX_AGE_S = 3600.0  # longer than a report's refresh period: a job away that long misses nothing
LANGUAGES_BUCKET = "sensor_languages"  # the fleet's languages per workload, merged by the languages job
DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_EXPIRY_S = 30.0
CONNECT_TIMEOUT_S = 5
RECONNECT_WAIT_S = 1
_NOT_IN_A_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
log = logging.getLogger("sensor")


def subject_token(name: str) -> str:
    """``name`` as one subject token and one key: what NATS does not allow in them ('.', '*', '>',
    spaces) becomes '_' (a host name's dots too: the event itself carries the real name)."""
    return _NOT_IN_A_TOKEN.sub("_", name) or "_"


def events_subject(node: str, kind: str) -> str:
    """The subject of a node's events of a kind."""
    return f"{EVENTS_SUBJECT_PREFIX}.{subject_token(node)}.{kind}"


def engine_error(error: BaseException) -> str:
    """An engine failure said for people: nats-py's text (its error's name when it has none), and
    JetStream's silence as what it usually means."""
    if isinstance(error, (nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError)):
        return "JetStream does not answer (is nats-server run with -js, or is its cluster choosing a leader?)"
    return str(error) or type(error).__name__


def languages_subject(node: str) -> str:
    """The subject of a node's language reports."""
    return f"{LANGUAGES_SUBJECT_PREFIX}.{subject_token(node)}"


async def ensure_stream(js: JetStreamContext, name: str, subject_prefix: str, replicas: int, **limits: Any) -> bool:
    """The stream taking ``<subject_prefix>.>``, made with ``limits`` (StreamConfig's) when absent; True if made."""
    try:
        await js.stream_info(name)
        return False
    except nats.js.errors.NotFoundError:
        config = StreamConfig(
            name=name, subjects=[f"{subject_prefix}.>"], num_replicas=replicas, storage=StorageType.FILE, **limits
        )
        await js.add_stream(config)
        return True


async def ensure_bucket(js: JetStreamContext, name: str, ttl_s: float = 0.0, replicas: int = 1) -> KeyValue:
    """The bucket, made with this TTL (0: none) when absent."""
    try:
        return await js.key_value(name)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=name, ttl=ttl_s or None, history=1, replicas=replicas))


async def read_bucket(js: JetStreamContext, name: str) -> dict[str, KeyValue.Entry]:
    """Every key's latest entry in bucket ``name`` (deleted and expired keys left out). Raises
    BucketNotFoundError.

    The keys come from the bucket's stream (one subject a key), not from nats-py's ``keys()``,
    whose watcher can answer "no keys" while their messages are still on their way (seen under load:
    a dispatcher that read no jobs took every assignment back).
    """
    bucket = await js.key_value(name)
    prefix = f"$KV.{name}."
    info = await js.stream_info(f"KV_{name}", subjects_filter=f"{prefix}>")
    entries = {}
    for subject in info.state.subjects or {}:
        key = subject.removeprefix(prefix)
        try:
            entries[key] = await bucket.get(key)
        except nats.js.errors.KeyNotFoundError:  # deleted, or expired since the listing
            continue
    return entries


@dataclass(frozen=True, slots=True)
class EngineAddress:
    """The servers, and how to prove who we are to them (at most one of creds, token, nkey)."""

    servers: tuple[str, ...]
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    creds_file: str | None = None
    token: str | None = None
    nkey_seed_file: str | None = None

    @classmethod
    def parse(cls, urls: str, **auth: Any) -> EngineAddress:
        """From ``nats://host:4222,nats://other:4222`` (a bare host:port is taken as nats://)."""
        servers = tuple(u if "://" in u else f"nats://{u}" for u in (s.strip() for s in urls.split(",")) if u)
        if not servers:
            raise ValueError("no NATS server named (give nats://HOST:PORT, comma-separated for several)")
        for server in servers:
            if not re.fullmatch(r"(nats|tls|ws|wss)://[^/\s]+", server):
                raise ValueError(f"{server!r} is not a NATS server URL (nats://HOST:PORT or tls://HOST:PORT)")
        address = cls(servers, **auth)
        if sum(x is not None for x in (address.creds_file, address.token, address.nkey_seed_file)) > 1:
            raise ValueError("give one of a credentials file, a token or an nkey seed, not several")
        if (address.tls_cert is None) != (address.tls_key is None):
            raise ValueError("the NATS client certificate and its key go together")
        return address

    def _tls(self) -> ssl.SSLContext | None:
        if self.tls_ca is None and self.tls_cert is None and not any(s.startswith("tls://") for s in self.servers):
            return None
        context = ssl.create_default_context(cafile=self.tls_ca)
        if self.tls_cert is not None and self.tls_key is not None:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        return context

    async def connect(self, name: str, client: type[NatsClient] = NatsClient, **callbacks: Any) -> NatsClient:
        """A connection (of ``client``) that reconnects by itself, forever, once made. Raises what
        nats.connect raises."""
        options: dict[str, Any] = {
            "servers": list(self.servers),
            "name": name,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "reconnect_time_wait": RECONNECT_WAIT_S,
            "max_reconnect_attempts": -1,
            "tls": self._tls(),
            **callbacks,
        }
        if self.creds_file is not None:
            options["user_credentials"] = self.creds_file
        if self.token is not None:
            options["token"] = self.token
        if self.nkey_seed_file is not None:
            options["nkeys_seed"] = self.nkey_seed_file
        nc = client()
        await nc.connect(**options)
        return nc


class JsonRecord:
    """A dataclass kept as a JSON value in a bucket; ``what`` names it in errors."""

    __slots__ = ()
    what: ClassVar[str] = "a record"

    def encode(self) -> bytes:
        """The bucket value."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()  # type: ignore[call-overload]

    @classmethod
    def decode(cls, raw: bytes) -> Self:
        """From a bucket value (fields this version does not know are left out). Raises ValueError for
        one it cannot read."""
        try:
            fields = json.loads(raw)
            known = {k: v for k, v in fields.items() if k in cls.__dataclass_fields__}  # type: ignore[attr-defined]
            return cls._from_fields(known)
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"not {cls.what}: {error}") from None

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Self:
        """The record of its decoded fields (a record with nested records makes them here)."""
        return cls(**fields)


R = TypeVar("R", bound=JsonRecord)


async def read_records(js: JetStreamContext, name: str, record_type: type[R]) -> dict[str, R]:
    """Every key's record in bucket ``name``; a value this version cannot read is left out, and said.
    Raises BucketNotFoundError."""
    records = {}
    for key, entry in (await read_bucket(js, name)).items():
        try:
            records[key] = record_type.decode(entry.value or b"")
        except ValueError as error:
            log.warning("bucket %s, key %s: %s", name, key, error)
    return records


@dataclass(slots=True)
class NodeHeartbeat(JsonRecord):
    """What a node says of itself every heartbeat (JSON in its key)."""

    node_name: str
    sensor_id: str
    version: str
    kernel: str
    started_at: float  # wall-clock seconds
    at: float  # wall-clock seconds of this heartbeat
    hooks: dict[str, str] = field(default_factory=dict)  # hook -> backend
    processes: int = 0
    containers: int = 0
    events: int = 0  # published since start
    events_per_s: float = 0.0  # since the heartbeat before
    lost: int = 0  # lost since start, every stage
    stopped: bool = False  # its last word: the sensor stopped cleanly
    what: ClassVar[str] = "a node heartbeat"

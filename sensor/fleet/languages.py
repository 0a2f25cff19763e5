"""Languages per workload: what a node reports, and what the fleet keeps of the reports.

A workload is a Kubernetes pod (keyed by its uid) or, outside Kubernetes, a container (keyed by
its id). Nodes send :class:`LanguageReport`s to ``sensor.languages.<node>`` (the seed's language
client: fresh workloads after a short buffer, all of them again on a long refresh, the retry).
The ``languages`` job merges them into the bucket ``sensor_languages``, one :class:`WorkloadRecord`
a workload, where each language remembers when each node last reported it; a language nobody
reported for the job's TTL is swept away, and a workload with none left is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from nats.js import JetStreamContext

from sensor.fleet.engine import LANGUAGES_BUCKET, JsonRecord, read_records, subject_token

# Labels that name the application a workload belongs to, first present wins: CRI annotations
# carry no owner reference, so this is as near as a node's runtime metadata comes to one.
OWNER_LABELS = ("app.kubernetes.io/instance", "app.kubernetes.io/name", "app", "com.docker.compose.service")


def owner_of(labels: dict[str, str]) -> str:
    """The workload's owner as its labels name it, or ""."""
    return next((labels[k] for k in OWNER_LABELS if labels.get(k)), "")


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod, or a container outside Kubernetes: what languages are reported for."""

    key: str  # the pod's uid, or the container's id
    kind: str  # "pod" or "container"
    name: str
    namespace: str = ""
    owner: str = ""

    @property
    def bucket_key(self) -> str:
        """Its key in the languages bucket."""
        return subject_token(self.key)


@dataclass(slots=True)
class WorkloadLanguages:
    """One workload's languages, by container name."""

    workload: Workload
    containers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class LanguageReport(JsonRecord):
    """What a node sends: workloads with their languages now, and workloads it saw deleted."""

    node: str
    at: float  # wall-clock seconds
    workloads: list[WorkloadLanguages] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # workload keys

    what: ClassVar[str] = "a language report"

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Self:
        workloads = [
            WorkloadLanguages(Workload(**w["workload"]), {c: list(ls) for c, ls in w["containers"].items()})
            for w in fields.pop("workloads")
        ]
        return cls(**fields, workloads=workloads)


@dataclass(slots=True)
class WorkloadRecord(JsonRecord):
    """The fleet's word on one workload: container -> language -> node -> when it last reported it."""

    workload: Workload
    containers: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def merge(self, languages: WorkloadLanguages, node: str, at: float) -> None:
        """Take one node's report of this workload (a report older than what is known changes nothing)."""
        self.workload = languages.workload
        for container, names in languages.containers.items():
            known = self.containers.setdefault(container, {})
            for language in names:
                nodes = known.setdefault(language, {})
                nodes[node] = max(nodes.get(node, 0.0), at)

    def sweep(self, now: float, ttl_s: float) -> bool:
        """Forget what no node reported for ``ttl_s``; True when nothing is left."""
        for container in list(self.containers):
            languages = self.containers[container]
            for language in list(languages):
                nodes = {n: at for n, at in languages[language].items() if now - at < ttl_s}
                if nodes:
                    languages[language] = nodes
                else:
                    del languages[language]
            if not languages:
                del self.containers[container]
        return not self.containers

    def last_report(self, container: str) -> float:
        """When any language of ``container`` was last reported."""
        return max((at for nodes in self.containers[container].values() for at in nodes.values()), default=0.0)

    what: ClassVar[str] = "a workload's languages"

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Self:
        return cls(Workload(**fields["workload"]), fields["containers"])


async def fleet_languages(js: JetStreamContext) -> list[WorkloadRecord]:
    """Every workload in the languages bucket, by namespace and name. Raises BucketNotFoundError
    when no languages job ever ran."""
    records = (await read_records(js, LANGUAGES_BUCKET, WorkloadRecord)).values()
    return sorted(records, key=lambda r: (r.workload.namespace, r.workload.name, r.workload.key))

"""The node's language batch: what it reports, when, and what it parks, from exec and container events."""

from __future__ import annotations

from concurrent.futures import Future

from sensor.export.exporter import ExportStats
from sensor.export.language_reports import LanguageBatch, LanguageReportConfig, LanguageReportSink
from sensor.fleet.languages import LanguageReport, Workload, WorkloadLanguages
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.kinds.container import ContainerPayload
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload

POD = Workload("pod-uid-1", "pod", "web-7d9f", "shop", "web")
SEQUENCE = iter(range(1, 1000))


def exec_in(container_id: str, language: str, pod_uid: str = "pod-uid-1") -> TelemetryEvent:
    payload = ProcessPayload(ProcessEventType.EXEC, exec_filename="/usr/bin/x")
    return TelemetryEvent(
        "s", next(SEQUENCE), 1, payload, container_id=container_id, pod_uid=pod_uid, language=language
    )


def container(container_id: str, type_: str, name: str = "app", missing: bool = False) -> TelemetryEvent:
    payload = ContainerPayload(
        type_, name=name, pod_uid="pod-uid-1", pod_name="web-7d9f", pod_namespace="shop",
        labels={"app": "web"}, metadata_missing=missing,
    )  # fmt: skip
    return TelemetryEvent("s", next(SEQUENCE), 1, payload, container_id=container_id, pod_uid="pod-uid-1")


def test_a_described_containers_languages_are_fresh_until_taken_once() -> None:
    batch = LanguageBatch()
    batch.container_described("c1", POD, "app")
    batch.process("c1", "python", now=0.0)
    batch.process("c1", "python", now=0.1)  # the same again: nothing new
    batch.process("c1", "go", now=0.2)
    assert batch.take(everything=False) == ([WorkloadLanguages(POD, {"app": ["go", "python"]})], [])
    assert batch.take(everything=False) == ([], [])
    assert batch.take(everything=True) == ([WorkloadLanguages(POD, {"app": ["go", "python"]})], [])


def test_a_process_of_an_undescribed_container_is_parked_until_it_is_described() -> None:
    batch = LanguageBatch(park_s=300.0)
    batch.process("c1", "java", now=10.0)
    assert batch.take(everything=True) == ([], [])
    batch.container_described("c1", POD, "app")
    assert batch.take(everything=False) == ([WorkloadLanguages(POD, {"app": ["java"]})], [])


def test_a_parked_process_whose_container_is_never_described_is_forgotten_after_the_parking_period() -> None:
    batch = LanguageBatch(park_s=300.0)
    batch.process("c1", "java", now=10.0)
    assert batch.forget_parked(now=309.0) == 0
    assert batch.forget_parked(now=310.0) == 1
    batch.container_described("c1", POD, "app")
    assert batch.take(everything=True) == ([], [])


def test_a_pod_leaves_with_its_last_container_and_is_said_removed_once() -> None:
    batch = LanguageBatch()
    batch.container_described("c1", POD, "app")
    batch.container_described("c2", POD, "sidecar")
    batch.process("c1", "python", now=0.0)
    batch.process("c2", "go", now=0.0)
    batch.take(everything=False)
    batch.container_destroyed("c2")
    assert batch.take(everything=False) == ([WorkloadLanguages(POD, {"app": ["python"]})], [])
    batch.container_destroyed("c1")
    assert batch.take(everything=False) == ([], ["pod-uid-1"])
    assert batch.take(everything=False) == ([], [])


class Published:
    """What the sink handed to the engine; each send answered by ``fail`` or success at once."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, LanguageReport]] = []
        self.fail = False

    def __call__(self, subject: str, payload: bytes) -> Future[None]:
        self.reports.append((subject, LanguageReport.decode(payload)))
        future: Future[None] = Future()
        if self.fail:
            future.set_exception(ConnectionError("no server"))
        else:
            future.set_result(None)
        return future


def test_the_sink_sends_fresh_workloads_after_the_buffer_and_everything_on_the_refresh() -> None:
    clock = [0.0]
    published = Published()
    sink = LanguageReportSink(LanguageReportConfig(10.0, 60.0, 300.0), "node-a", published, lambda: clock[0])
    sink.write([container("c1", "RUNNING"), exec_in("c1", "python"), exec_in("c1", ""), exec_in("", "ruby", "")])
    clock[0] = 9.0
    sink.tick()
    assert published.reports == []
    clock[0] = 10.0
    sink.tick()
    ((subject, report),) = published.reports
    assert subject == "sensor.languages.node-a"
    assert (report.node, report.workloads, report.removed) == (
        "node-a",
        [WorkloadLanguages(Workload("pod-uid-1", "pod", "web-7d9f", "shop", "web"), {"app": ["python"]})],
        [],
    )
    clock[0] = 20.0
    sink.tick()  # nothing fresh: nothing sent
    clock[0] = 60.0
    sink.tick()  # the refresh: everything again
    assert len(published.reports) == 2 and published.reports[1][1].workloads == report.workloads
    sink.tick()  # sends are counted as they end, at the tick after
    stats = ExportStats("languages", sink.destination)
    sink.fill(stats)
    assert (stats.sent, stats.lost, stats.error) == (2, 0, "")


def test_a_report_that_was_not_stored_goes_again_with_the_next_send_and_the_failure_is_shown() -> None:
    clock = [0.0]
    published = Published()
    published.fail = True
    sink = LanguageReportSink(LanguageReportConfig(1.0, 600.0, 300.0), "node-a", published, lambda: clock[0])
    sink.write([container("c1", "CREATED", missing=True), exec_in("c1", "node"), container("c1", "UPDATED")])
    clock[0] = 1.0
    sink.tick()
    clock[0] = 1.5
    sink.tick()  # the failure is seen: the workload is fresh again
    stats = ExportStats("languages", sink.destination)
    sink.fill(stats)
    assert stats.error == "not stored: no server"
    published.fail = False
    clock[0] = 2.5
    sink.tick()
    clock[0] = 3.0
    sink.tick()
    assert [r.workloads[0].containers for _, r in published.reports] == [{"app": ["node"]}, {"app": ["node"]}]
    stats = ExportStats("languages", sink.destination)
    sink.fill(stats)
    assert (stats.sent, stats.error) == (1, "")

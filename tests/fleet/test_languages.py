"""The fleet's record of a workload's languages: merged from reports, swept by age."""

from __future__ import annotations

import pytest

from sensor.fleet.languages import LanguageReport, Workload, WorkloadLanguages, WorkloadRecord, owner_of

POD = Workload("0f3c-uid", "pod", "web-7d9f", "shop", "web")


def test_a_report_survives_its_encoding() -> None:
    report = LanguageReport("node-a", 1700.5, [WorkloadLanguages(POD, {"app": ["go", "python"]})], ["gone-uid"])
    assert LanguageReport.decode(report.encode()) == report


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"node": "a"}', b'{"node":"a","at":1,"workloads":[{}],"removed":[]}'])
def test_a_report_this_version_cannot_read_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a language report"):
        LanguageReport.decode(raw)


def test_merging_keeps_each_nodes_latest_report_per_language() -> None:
    record = WorkloadRecord(POD)
    record.merge(WorkloadLanguages(POD, {"app": ["python"]}), "node-a", 100.0)
    record.merge(WorkloadLanguages(POD, {"app": ["python", "go"], "sidecar": ["java"]}), "node-b", 105.0)
    record.merge(WorkloadLanguages(POD, {"app": ["python"]}), "node-a", 90.0)  # older: changes nothing
    assert record.containers == {
        "app": {"python": {"node-a": 100.0, "node-b": 105.0}, "go": {"node-b": 105.0}},
        "sidecar": {"java": {"node-b": 105.0}},
    }
    assert record.last_report("app") == 105.0
    assert WorkloadRecord.decode(record.encode()) == record


def test_merging_the_same_report_twice_changes_nothing() -> None:
    once = WorkloadRecord(POD)
    once.merge(WorkloadLanguages(POD, {"app": ["go"]}), "node-a", 100.0)
    twice = WorkloadRecord.decode(once.encode())
    twice.merge(WorkloadLanguages(POD, {"app": ["go"]}), "node-a", 100.0)
    assert twice == once


def test_the_sweep_forgets_what_no_node_reported_within_the_ttl() -> None:
    record = WorkloadRecord(POD)
    record.merge(WorkloadLanguages(POD, {"app": ["python"], "old": ["ruby"]}), "node-a", 100.0)
    record.merge(WorkloadLanguages(POD, {"app": ["python"]}), "node-b", 150.0)
    assert record.sweep(now=170.0, ttl_s=60.0) is False
    assert record.containers == {"app": {"python": {"node-b": 150.0}}}
    assert record.sweep(now=210.0, ttl_s=60.0) is True
    assert record.containers == {}


def test_the_owner_comes_from_the_first_label_that_names_one() -> None:
    assert owner_of({"app": "shop", "app.kubernetes.io/name": "shop-api"}) == "shop-api"
    assert owner_of({"com.docker.compose.service": "db"}) == "db"
    assert owner_of({"io.kubernetes.cri.container-name": "web"}) == ""

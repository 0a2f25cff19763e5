"""What `sensor run` was asked to export, and the exporters that do it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sensor.export.exporter import Exporter, LostEvent
from sensor.export.jetstream import JetStreamConfig, JetStreamSink
from sensor.export.json_file import FileExportConfig, JsonLinesFile
from sensor.export.language_reports import LanguageReportConfig, LanguageReportSink
from sensor.fleet.engine import NodeHeartbeat
from sensor.telemetry.subscription import CompiledSubscription


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """The exports asked for: which events (``rules``), to which destinations, at what rate at most."""

    rules: CompiledSubscription | None = None  # None: no export
    file: FileExportConfig | None = None
    nats: JetStreamConfig | None = None
    rate_limit: int = 0  # events a second per export; 0: no limit
    languages: LanguageReportConfig | None = None  # language reports, with the NATS export
    language_rules: CompiledSubscription | None = None  # the events the reports are made of

    def exporters(self, lost_event: LostEvent, heartbeat: Callable[[], NodeHeartbeat]) -> list[Exporter]:
        """One exporter per destination (not started). Raises ExportFileError for a file it cannot open."""
        if self.rules is None:
            return []
        exporters = []
        if self.file is not None:
            exporters.append(Exporter(JsonLinesFile(self.file, lost_event), self.rules, self.rate_limit, lost_event))
        if self.nats is not None:
            sink = JetStreamSink(self.nats, lost_event, heartbeat)
            if self.languages is not None and self.language_rules is not None:
                # Before the events' export: stopped first, its last report goes out on the connection.
                reports = LanguageReportSink(self.languages, self.nats.node_name, sink.publish_report)
                exporters.append(Exporter(reports, self.language_rules, 0, lost_event, snapshot=True))
            exporters.append(Exporter(sink, self.rules, self.rate_limit, lost_event))
        return exporters

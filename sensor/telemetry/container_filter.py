"""Which containers a subscriber wants: ids, names, image ids and image names, each a list of globs."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from sensor.telemetry.events import TelemetryEvent


def _compile(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None


@dataclass(frozen=True, slots=True)
class ContainerFilter:
    """Capsule8's ContainerFilter: an event passes when any given list has a matching glob.

    Set, it excludes host events. A container id also matches by prefix, as `docker` accepts ids.
    """

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    image_ids: tuple[str, ...] = ()
    image_names: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether nothing is asked (every event passes)."""
        return not (self.ids or self.names or self.image_ids or self.image_names)

    def compile(self) -> CompiledContainerFilter:
        """The filter as matchers, built once per subscription."""
        return CompiledContainerFilter(
            self.empty,
            _compile(tuple(g if any(c in g for c in "*?[") else g + "*" for g in self.ids)),
            _compile(self.names),
            _compile(self.image_ids),
            _compile(self.image_names),
        )


@dataclass(frozen=True, slots=True)
class CompiledContainerFilter:
    """A ContainerFilter ready to test events."""

    empty: bool
    ids: re.Pattern[str] | None
    names: re.Pattern[str] | None
    image_ids: re.Pattern[str] | None
    image_names: re.Pattern[str] | None

    def matches(self, event: TelemetryEvent) -> bool:
        """Whether the event's container is one the filter asks for (always, for an empty filter)."""
        if self.empty:
            return True
        if not event.container_id:
            return False
        return any(
            pattern is not None and pattern.match(value) is not None
            for pattern, value in (
                (self.ids, event.container_id),
                (self.names, event.container_name),
                (self.image_ids, event.image_id),
                (self.image_names, event.image_name),
            )
        )

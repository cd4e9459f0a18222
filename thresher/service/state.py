"""What every route of the service shares: the workspace (reads through catalog snapshots), the job
store, the scheduler and the event hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thresher.catalog.snapshot import SnapshotWorkspace
from thresher.service.events import EventHub
from thresher.service.jobs import JobStore
from thresher.service.scheduler import Scheduler


@dataclass
class ServiceState:
    ws: SnapshotWorkspace
    store: JobStore
    scheduler: Scheduler
    hub: EventHub
    allowed_paths: tuple[Path, ...] = ()
    token: str | None = None
    extras: dict[str, object] = field(default_factory=dict)  # caches of the read routes (thumbnails, layouts)

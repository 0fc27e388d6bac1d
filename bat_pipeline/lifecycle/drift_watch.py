"""What the drift sensor looks at each tick, behind a small interface.

`DriftWatch.observe` is the only thing a tick reads: `WarehouseDriftWatch` reads the champion
from the MLflow registry and the windows from the DuckDB warehouse; tests pass a fake.
`check_drift` is the whole tick: observe, then decide (`policy.retrain.next_tick`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from bat_pipeline.config import DriftConfig
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import WarehouseLockedError, fetch_one, reader
from bat_pipeline.drift.results import EmptyWindowError
from bat_pipeline.drift.windows import current_window, drift_check, load_reference, quality_failures
from bat_pipeline.lifecycle.registry import CHAMPION, alias_version
from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.policy.retrain import DriftObservation, RetrainDecision, next_tick


class DriftWatch(Protocol):
    """The drift sensor's view of the world."""

    def observe(self, cfg: DriftConfig) -> DriftObservation:
        """The newest `cfg.window_days` of events against the champion's reference profile,
        scored with `cfg.threshold` and decided by `cfg.trigger_groups`."""
        ...


@dataclass(frozen=True)
class WarehouseDriftWatch:
    """The real view: champion from the registry, events and profiles from the warehouse."""

    warehouse: Path
    store: TrackingStore

    def observe(self, cfg: DriftConfig) -> DriftObservation:
        if not self.warehouse.is_file():
            return DriftObservation(skip="no warehouse yet: nothing ingested")
        champion = alias_version(self.store, CHAMPION)
        if champion is None:
            return DriftObservation(skip="no champion yet: nothing to compare with")
        try:
            with reader(self.warehouse, retries=3) as con:
                last_day = fetch_one(con, query("last_data_day"))[0]
                if last_day is None:
                    return DriftObservation(skip="no events yet")
                window = current_window(last_day, cfg.window_days)
                reference = load_reference(con, champion)
                if reference is None:
                    return DriftObservation(
                        skip=f"champion version {champion} has no reference profile"
                    )
                failed = quality_failures(con, window)
                if failed:
                    return DriftObservation(window, failed_partitions=failed)
                if window.start <= reference.end:
                    return DriftObservation(
                        window, skip=f"window {window} overlaps the champion's training data"
                    )
                try:
                    result, _ = drift_check(
                        con, reference, window, cfg.threshold, cfg.trigger_groups
                    )
                except EmptyWindowError as exc:
                    return DriftObservation(window, failed_partitions=[f"{window} ({exc})"])
                return DriftObservation(window, result=result)
        except WarehouseLockedError as exc:
            return DriftObservation(skip=f"warehouse busy, retrying next tick: {exc}")


def check_drift(
    state: dict, watch: DriftWatch, cfg: DriftConfig, now: datetime
) -> tuple[RetrainDecision, dict]:
    """One tick: what the watch sees, the retrain decision and the new cursor state.

    Raises on unexpected errors, so that a sensor's cursor does not move."""
    observation = watch.observe(cfg)
    return next_tick(state, observation, timedelta(hours=cfg.cooldown_hours), now)

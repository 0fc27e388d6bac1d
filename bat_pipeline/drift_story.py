"""The demo's second act: behaviour shifts, the drift sensor fires, the retrain is promoted."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

from bat_pipeline.config import BatConfig
from bat_pipeline.home import BatHome


def drift_and_retrain(home: BatHome, cfg: BatConfig, source: Path, first: date, last: date) -> dict:
    """Deliver the drifted days, ingest them, evaluate the drift sensor and run its request."""
    from bat_pipeline.automation import evaluate_drift_sensor
    from bat_pipeline.demo import deliver
    from bat_pipeline.orchestrate import run_job
    from bat_pipeline.resources import BatHomeResource, MlflowResource, WarehouseResource
    from bat_pipeline.run_command import describe_run, run_training

    lines: list[str] = []
    keys = deliver(source, home.landing, first, last)
    ingest = run_job(home, "ingest_job", partition_range=(keys[0], keys[-1]))
    if not ingest.success:
        return {
            "status": "failed",
            "lines": [f"ingesting the drifted days failed (run {ingest.run_id})"],
        }
    report = run_job(home, "drift_job")
    if report.success:
        meta = [
            e.materialization.metadata
            for e in report.get_asset_materialization_events()
            if e.asset_key.to_user_string() == "drift_report"
        ][-1]
        lines.append(f"drift report: {meta['verdict'].value} ({meta['report'].value})")
    decision, _state, _sensor_run_config = evaluate_drift_sensor(
        {}, BatHomeResource(), WarehouseResource(), MlflowResource(), now=datetime.now(UTC)
    )
    sys.stderr.write(f"drift sensor: {decision.reason}\n")
    lines.append(
        f"drift sensor: {'requested a retrain' if decision.request else 'no retrain'} — {decision.reason}"
    )
    if not decision.request:
        return {"status": "no_drift", "lines": lines, "decision": decision.to_dict()}
    retrain = run_training(
        home,
        cfg,
        None,
        None,
        trigger="drift",
        extra_tags={
            "dagster/sensor_name": "drift_sensor",
            "bat/drift_window": decision.run_key.split(":", 1)[1],
        },
    )
    sys.stderr.write(describe_run(retrain) + "\n")
    lines.append(
        f"retrain (trigger=drift): version {retrain['model_version']}, "
        + (
            "PROMOTED to champion"
            if retrain["promoted"]
            else f"not promoted: {retrain['decision']}"
        )
    )
    return {
        "status": retrain["status"],
        "lines": lines,
        "decision": decision.to_dict(),
        "retrain": retrain,
    }

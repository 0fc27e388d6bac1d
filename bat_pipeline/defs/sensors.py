"""Sensors: new landing files -> ingest runs; behaviour drift beyond threshold -> a retrain run.

Cursors move only in the SensorResult that also carries the run requests, so a sensor that
raises leaves its cursor unchanged and the next tick retries.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from bat_pipeline.config import BatConfig
from bat_pipeline.data.ingest import file_sha256
from bat_pipeline.data.landing import landing_files
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.defs.jobs import ingest_job, training_job
from bat_pipeline.defs.partitions import daily_partitions
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.run_config import training_run_config
from bat_pipeline.defs.run_context import TRIGGER_TAG
from bat_pipeline.lifecycle.drift_watch import DriftWatch, WarehouseDriftWatch, check_drift
from bat_pipeline.policy.retrain import RetrainDecision

#: at most this many partitions per landing-sensor tick (a tick must stay short)
MAX_FILES_PER_TICK = 50


def _loaded_hashes(warehouse: WarehouseResource) -> dict[str, str]:
    if not warehouse.path().is_file():
        return {}
    with warehouse.reader() as con:
        return dict(con.execute(query("loaded_file_hashes")).fetchall())


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches BAT_HOME/landing: a new or corrected daily file launches an ingest run "
    "of its partition (run key raw_events:<day>:<sha256>, so a file is loaded once per content).",
)
def landing_sensor(
    context: dg.SensorEvaluationContext, bat: BatHomeResource, warehouse: WarehouseResource
):
    home = bat.home()
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    valid = set(daily_partitions.get_partition_keys())
    loaded = _loaded_hashes(warehouse)
    requests, skipped_duplicates = [], 0
    for key, paths in sorted(landing_files(home.landing).items()):
        if len(requests) >= MAX_FILES_PER_TICK:
            break
        if key not in valid or len(paths) != 1:
            context.log.warning(f"landing: ignoring {[p.name for p in paths]} (partition {key})")
            continue
        stat = paths[0].stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        if seen.get(key, [None, None, None])[:2] == stamp:
            continue
        digest = file_sha256(paths[0])
        seen[key] = [*stamp, digest]
        if loaded.get(key) == digest:
            skipped_duplicates += 1
            continue
        requests.append(dg.RunRequest(run_key=f"raw_events:{key}:{digest}", partition_key=key))
    if skipped_duplicates:
        context.log.info(
            f"landing: {skipped_duplicates} file(s) already loaded with the same content"
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Compares the newest drift.window_days of events with the champion's reference "
    "profile; drift of a drift.trigger_groups signal (behaviour by default) over its threshold "
    "(drift.threshold, raised to the windows' sampling noise) on healthy data requests one "
    "retrain per window (run key drift:<window>), at most one per drift.cooldown_hours; "
    "population and data drift are reported in the tick's reason.",
)
def drift_sensor(
    context: dg.SensorEvaluationContext,
    bat: BatHomeResource,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
):
    decision, result = drift_tick(
        context.cursor, WarehouseDriftWatch(warehouse.path(), mlflow.store()), bat.config(),
        bat.config_file, datetime.now(UTC),
    )  # fmt: skip
    context.log.info(f"drift sensor: {decision.reason}")
    return result


def drift_tick(
    cursor: str | None, watch: DriftWatch, cfg: BatConfig, config_file: str | None, now: datetime
) -> tuple[RetrainDecision, dg.SensorResult]:
    """One tick of the drift sensor: the decision, and the sensor result carrying the run
    request (if any) with the cursor."""
    decision, state = check_drift(json.loads(cursor) if cursor else {}, watch, cfg.drift, now)
    new_cursor = json.dumps(state, sort_keys=True)
    if not decision.request:
        return decision, dg.SensorResult(skip_reason=decision.reason, cursor=new_cursor)
    request = dg.RunRequest(
        run_key=decision.run_key,
        run_config=training_run_config(cfg, None, config_file),
        tags={TRIGGER_TAG: "drift", "bat/drift_window": decision.run_key.split(":", 1)[1]},
    )
    return decision, dg.SensorResult(run_requests=[request], cursor=new_cursor)

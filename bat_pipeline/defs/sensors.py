"""Sensors: new landing files -> ingest runs; behaviour drift beyond threshold -> a retrain run.

Cursors move only in the SensorResult that also carries the run requests, so a sensor that
raises leaves its cursor unchanged and the next tick retries.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from bat_pipeline.lifecycle.drift_watch import DriftWatch, WarehouseDriftWatch
from bat_pipeline.policy.retrain import (
    MAX_REMEMBERED_WINDOWS,
    RequestedRun,
    RequestHistory,
    RetrainDecision,
    next_tick,
)

#: at most this many partitions per landing-sensor tick (a tick must stay short)
MAX_FILES_PER_TICK = 50
#: a landing-sensor tick stops hashing files once it has read this many bytes; the files left
#: are hashed at the next ticks (an empty or old cursor makes every file look changed)
MAX_BYTES_HASHED_PER_TICK = 1 << 30
#: the run tag that names the drift window a retrain was requested for
DRIFT_WINDOW_TAG = "bat/drift_window"


class LandingReadError(RuntimeError):
    """The landing folder or one of its files could not be read during a sensor tick."""


def _loaded_hashes(warehouse: WarehouseResource) -> dict[str, str]:
    if not warehouse.path().is_file():
        return {}
    with warehouse.reader() as con:
        return dict(con.execute(query("loaded_file_hashes")).fetchall())


@dataclass
class LandingScan:
    """What one landing-sensor tick found: the run requests, the new cursor, and what it left."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    seen: dict[str, list] = field(default_factory=dict)
    already_loaded: list[str] = field(default_factory=list)
    deferred: int = 0
    ignored: list[str] = field(default_factory=list)

    def report(self) -> str:
        """One line on what the tick did not request, and why ("" when nothing)."""
        parts = []
        if self.already_loaded:
            days = self.already_loaded
            span = days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"
            parts.append(
                f"{len(days)} file(s) already loaded with the same content skipped ({span})"
            )
        if self.deferred:
            parts.append(
                f"per-tick bound reached: {self.deferred} file(s) not compared yet, "
                "the next tick goes on"
            )
        if self.ignored:
            parts.append(f"{len(self.ignored)} file(s) ignored: {', '.join(self.ignored)}")
        return "; ".join(parts)


def scan_landing(
    folder: Path, seen: dict[str, list], valid: set[str], loaded: dict[str, str]
) -> LandingScan:
    """Compare the landing folder with the cursor `seen` (partition -> [size, mtime_ns, sha256])
    and the loaded hashes: at most MAX_FILES_PER_TICK run requests, at most about
    MAX_BYTES_HASHED_PER_TICK bytes hashed; files past either bound wait for the next tick,
    which finds them again because the cursor does not hold them. Raises OSError when the
    folder or a file cannot be read."""
    scan = LandingScan(seen=dict(seen))
    hashed_bytes = 0
    items = sorted(landing_files(folder).items())
    for index, (key, paths) in enumerate(items):
        if len(scan.requests) >= MAX_FILES_PER_TICK or hashed_bytes >= MAX_BYTES_HASHED_PER_TICK:
            scan.deferred = len(items) - index
            break
        if key not in valid or len(paths) != 1:
            scan.ignored.append(f"{[p.name for p in paths]} (partition {key})")
            continue
        stat = paths[0].stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        if scan.seen.get(key, [None, None, None])[:2] == stamp:
            continue
        digest = file_sha256(paths[0])
        hashed_bytes += stat.st_size
        scan.seen[key] = [*stamp, digest]
        if loaded.get(key) == digest:
            scan.already_loaded.append(key)
            continue
        scan.requests.append(dg.RunRequest(run_key=f"raw_events:{key}:{digest}", partition_key=key))
    return scan


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches BAT_HOME/landing: a new or corrected daily file launches an ingest run "
    "of its partition (run key raw_events:<day>:<sha256>, so a file is loaded once per content), "
    f"at most {MAX_FILES_PER_TICK} per tick; files already loaded are reported in the tick.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext, bat: BatHomeResource, warehouse: WarehouseResource
):
    home = bat.home()
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    valid = set(daily_partitions.get_partition_keys())
    loaded = _loaded_hashes(warehouse)
    try:
        scan = scan_landing(home.landing, seen, valid, loaded)
    except OSError as exc:
        # the tick fails whole: no run requests, the stored cursor stays as it was
        where = exc.filename or home.landing
        raise LandingReadError(
            f"landing sensor: cannot read {where}: {exc.strerror or exc}. Nothing was "
            "requested and the cursor is unchanged; the next tick reads the folder again "
            "(check its permissions, and that deliveries are moved in whole, not written in "
            "place)"
        ) from exc
    if scan.ignored:
        context.log.warning(f"landing: ignoring {'; '.join(scan.ignored)}")
    report = scan.report()
    if report:
        context.log.info(f"landing: {report}")
    cursor = json.dumps(scan.seen, sort_keys=True)
    if not scan.requests:
        return dg.SensorResult(skip_reason=report or "no new landing files", cursor=cursor)
    return dg.SensorResult(run_requests=scan.requests, cursor=cursor)


def drift_request_history(instance: dg.DagsterInstance) -> RequestHistory:
    """The drift retrains of the instance's run history (the newest MAX_REMEMBERED_WINDOWS)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=training_job.name, tags={TRIGGER_TAG: "drift"}),
        limit=MAX_REMEMBERED_WINDOWS,
    )
    runs: dict[str, RequestedRun] = {}
    for record in records:  # newest first
        window = record.dagster_run.tags.get(DRIFT_WINDOW_TAG)
        if window and window not in runs:
            runs[window] = RequestedRun(record.dagster_run.run_id, record.create_timestamp)
    return RequestHistory(runs)


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
        bat.config_file, datetime.now(UTC), drift_request_history(context.instance),
    )  # fmt: skip
    context.log.info(f"drift sensor: {decision.reason}")
    return result


def drift_tick(
    cursor: str | None,
    watch: DriftWatch,
    cfg: BatConfig,
    config_file: str | None,
    now: datetime,
    history: RequestHistory | None = None,
) -> tuple[RetrainDecision, dg.SensorResult]:
    """One tick of the drift sensor: the decision, and the sensor result carrying the run
    request (if any) with the cursor. `history` holds the retrains the run history remembers,
    so that a reset cursor does not request a window twice. Raises on unexpected errors, so
    that the stored cursor does not move."""
    observation = watch.observe(cfg.drift)
    decision, state = next_tick(
        json.loads(cursor) if cursor else {},
        observation,
        timedelta(hours=cfg.drift.cooldown_hours),
        now,
        history,
    )
    new_cursor = json.dumps(state, sort_keys=True)
    if not decision.request:
        return decision, dg.SensorResult(skip_reason=decision.reason, cursor=new_cursor)
    request = dg.RunRequest(
        run_key=decision.run_key,
        run_config=training_run_config(cfg, None, config_file),
        tags={TRIGGER_TAG: "drift", DRIFT_WINDOW_TAG: decision.run_key.split(":", 1)[1]},
    )
    return decision, dg.SensorResult(run_requests=[request], cursor=new_cursor)

"""Running BAT's Dagster jobs from the command line, on the Dagster instance under BAT_HOME.

Runs launched here are ordinary Dagster runs: they show in the Dagster UI with their logs,
asset materializations and check results, exactly like runs launched from the UI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from bat_pipeline.config import BatConfig
from bat_pipeline.home import BatHome

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def prepare_dagster_home(home: BatHome) -> Path:
    """DAGSTER_HOME = BAT_HOME/dagster, holding the project's dagster.yaml."""
    home.ensure()
    target = home.dagster_home / "dagster.yaml"
    if PROJECT_DAGSTER_YAML.is_file() and (
        not target.is_file() or target.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(PROJECT_DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    os.environ["BAT_HOME"] = str(home.root)
    return home.dagster_home


def instance_for(home: BatHome):
    from dagster import DagsterInstance

    prepare_dagster_home(home)
    return DagsterInstance.get()


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Keep stdout for the one JSON object of `--json`; Dagster and Lightning log to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def resources_config(config_file: str | None) -> dict:
    return {"bat": {"config": {"config_file": config_file}}} if config_file else {}


def run_job(
    home: BatHome,
    job_name: str,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    partition_range: tuple[str, str] | None = None,
):
    """Execute one job of the Definitions in this process; returns the Dagster result."""
    from bat_pipeline.definitions import defs

    instance = instance_for(home)
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if partition_range is not None:
        start, end = partition_range
        if start == end:
            run_tags["dagster/partition"] = start
        else:
            run_tags["dagster/asset_partition_range_start"] = start
            run_tags["dagster/asset_partition_range_end"] = end
    # Dagster's step-by-step DEBUG events stay in the run's event log (Dagster UI); the
    # terminal gets INFO and up: the assets' own messages, warnings and failures
    console = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    with logs_to_stderr():
        return job.execute_in_process(
            run_config={**console, **(run_config or {})},
            instance=instance,
            raise_on_error=False,
            tags=run_tags,
        )


def training_run_config(cfg: BatConfig, as_of: str | None, config_file: str | None) -> dict:
    from bat_pipeline.dagster_config import run_config_for

    run_config = run_config_for(cfg, as_of)
    resources = resources_config(config_file)
    if resources:
        run_config["resources"] = resources
    return run_config


def record_cli_loads(home: BatHome, results: list) -> int:
    """Tell Dagster about partitions loaded by `bat-pipeline ingest` (runless materializations),
    so the UI shows them as materialized instead of asking to re-run raw_events."""
    import dagster as dg

    from bat_pipeline.assets.ingestion import daily_partitions

    valid = set(daily_partitions.get_partition_keys())
    loaded = [r for r in results if not r.skipped and r.partition_key in valid]
    if not loaded:
        return 0
    instance = instance_for(home)
    for result in loaded:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="raw_events",
                partition=result.partition_key,
                description="loaded by bat-pipeline ingest",
                metadata={
                    "rows_read": result.rows_read,
                    "rows_loaded": result.rows_loaded,
                    "rows_quarantined": result.rows_quarantined,
                    "source_file": result.path,
                },
            )
        )
    return len(loaded)

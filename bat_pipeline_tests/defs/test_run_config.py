"""One configuration everywhere: the launchpad's defaults are bat.yaml's values, the daily
scoring schedule builds features with the bucket of the model that scores, and an invalid
bat.yaml fails the code location's load naming the file and the key."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import yaml

from bat_pipeline.defs.resources import BatHomeResource, MlflowResource
from bat_pipeline.defs.schedules import daily_scoring_schedule
from bat_pipeline.lifecycle.registry import CHAMPION

#: every value differs from the code default
WEEKLY = {
    "task": {
        "bucket": "week",
        "horizon_days": 21,
        "cutoff_every_days": 14,
        "lookback_days": 56,
        "target_event": "any",
    },
    "model": {"hidden_size": 48, "max_epochs": 5},
    "gates": {"min_auc": 0.71, "must_beat_baseline": False},
}

#: loads the definitions as the code server does (a fresh process, BAT_HOME from the
#: environment) and prints each job's default run config (the launchpad's pre-filled config),
#: what a launch that sets one field resolves to, and what the asset graph's Materialize of
#: user_activity (the implicit asset job, no config given) resolves to
PRINT_DEFAULTS = """
import json
import dagster as dg
from dagster._core.system_config.objects import ResolvedRunConfig
from bat_pipeline.definitions import defs
jobs = {n: defs.resolve_job_def(n) for n in ("training_job", "features_job", "scoring_job")}
edit = {"ops": {"candidate_model": {"config": {"hidden_size": 7}}}}
edited = ResolvedRunConfig.build(jobs["training_job"], edit).ops
assets = defs.resolve_implicit_global_asset_job_def().get_subset(
    asset_selection={dg.AssetKey("user_activity")}
)
print(json.dumps({
    "defaults": {n: j.run_config for n, j in jobs.items()},
    "edited": {op: edited[op].config for op in ("candidate_model", "training_samples")},
    "materialize": ResolvedRunConfig.build(assets, {}).ops["user_activity"].config,
}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return {**env, "BAT_HOME": str(home)}


def test_launchpad_defaults_are_the_values_of_bat_yaml(tmp_path):
    home = tmp_path / "bat"
    home.mkdir()
    (home / "bat.yaml").write_text(yaml.safe_dump(WEEKLY))
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PRINT_DEFAULTS],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env(home),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    training = printed["defaults"]["training_job"]["ops"]
    assert training["user_activity"]["config"] == {
        "bucket": "week",
        "lookback_days": 56,
        "as_of": None,
    }
    samples = training["training_samples"]["config"]
    assert (samples["horizon_days"], samples["cutoff_every_days"]) == (21, 14)
    assert (samples["lookback_days"], samples["target_event"]) == (56, "any")
    assert training["candidate_model"]["config"]["hidden_size"] == 48
    assert training["candidate_model"]["config"]["max_epochs"] == 5
    assert training["model_evaluation"]["config"]["min_auc"] == 0.71
    assert training["model_evaluation"]["config"]["must_beat_baseline"] is False
    for job in ("features_job", "scoring_job"):
        ops = printed["defaults"][job]["ops"]
        assert ops["user_activity"]["config"]["bucket"] == "week", job
        assert ops["user_activity"]["config"]["lookback_days"] == 56, job
    # defaults, not a fixed config: a launchpad edit of one field keeps bat.yaml's others
    assert printed["edited"]["candidate_model"]["hidden_size"] == 7
    assert printed["edited"]["candidate_model"]["max_epochs"] == 5
    assert printed["edited"]["training_samples"]["horizon_days"] == 21
    assert printed["materialize"] == {"bucket": "week", "lookback_days": 56, "as_of": None}


def test_invalid_bat_yaml_fails_the_code_location_naming_file_and_key(tmp_path):
    home = tmp_path / "bat"
    home.mkdir()
    bad = {"task": {"bucket": "week", "horizon_days": 10}, "model": {"hidden_size": 48}}
    (home / "bat.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "dagster", "definitions", "validate",
         "-m", "bat_pipeline.definitions"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env(home),
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-3000:]
    assert f"ConfigError: {home / 'bat.yaml'}: invalid configuration" in text, text[-3000:]
    assert "task.horizon_days: with bucket: week it must be a multiple of 7 days" in text
    assert "pydantic" not in text and "ValidationError" not in text, text[-3000:]


def _scoring_request(home: Path, store) -> dg.RunRequest:
    resources = {
        "bat": BatHomeResource(root=str(home)),
        "mlflow": MlflowResource(
            tracking_uri=store.tracking_uri,
            artifact_root=store.artifact_root,
            registered_model=store.registered_model,
        ),
    }
    with dg.build_schedule_context(
        resources=resources, scheduled_execution_time=datetime(2026, 3, 2, 2, tzinfo=UTC)
    ) as context:
        request = daily_scoring_schedule(context)
    assert isinstance(request, dg.RunRequest)
    return request


def test_scoring_schedule_builds_features_with_the_configs_bucket_without_champion(
    bat_home, tracking_store
):
    (bat_home.root / "bat.yaml").write_text(yaml.safe_dump(WEEKLY))
    request = _scoring_request(bat_home.root, tracking_store)
    features = request.run_config["ops"]["user_activity"]["config"]
    assert (features["bucket"], features["lookback_days"]) == ("week", 56)
    assert request.run_key == "scoring:2026-03-02"


def test_scoring_schedule_builds_features_with_the_champions_bucket(bat_home, tracking_store):
    """The config says day, the champion was trained on weeks: the tables the champion can
    score are week tables, built with its lookback."""
    client = tracking_store.client()
    run = client.create_run(tracking_store.experiment_id(), run_name="weekly champion")
    for key, value in {"task.bucket": "week", "task.lookback_days": "28"}.items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(tracking_store.registered_model)
    mv = client.create_model_version(
        tracking_store.registered_model, f"runs:/{run.info.run_id}/weights", run.info.run_id
    )
    client.set_registered_model_alias(tracking_store.registered_model, CHAMPION, mv.version)
    (bat_home.root / "bat.yaml").write_text(yaml.safe_dump({"task": {"lookback_days": 30}}))
    request = _scoring_request(bat_home.root, tracking_store)
    features = request.run_config["ops"]["user_activity"]["config"]
    assert (features["bucket"], features["lookback_days"]) == ("week", 28)

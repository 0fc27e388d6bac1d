"""The one Definitions loads with exactly the expected assets, checks, jobs and automation."""

import subprocess
import sys

import dagster as dg
import yaml

from bat_pipeline.definitions import defs
from bat_pipeline.home import PROJECT_ROOT

ASSETS = {
    "raw_events",
    "events",
    "user_activity",
    "training_samples",
    "baseline_model",
    "candidate_model",
    "model_evaluation",
    "champion_model",
    "user_scores",
    "reference_profile",
    "drift_report",
}
CHECKS = {
    ("raw_events", "raw_events_quality"),
    *(
        ("model_evaluation", f"gate_{g}")
        for g in (
            "min_accuracy",
            "beats_majority",
            "min_balanced_accuracy",
            "min_auc",
            "max_loss_gap",
            "beats_baseline",
            "no_regression",
        )
    ),
}
GROUPS = {"ingestion", "quality", "features", "training", "evaluation", "monitoring"}


def test_asset_and_check_keys_are_exactly_the_expected_ones():
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == CHECKS


def test_jobs_schedules_sensors():
    assert {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"} == {
        "ingest_job",
        "features_job",
        "training_job",
        "scoring_job",
        "drift_job",
        "cli_record_job",
    }
    assert {s.name for s in defs.schedules} == {
        "daily_ingest_schedule",
        "daily_scoring_schedule",
        "weekly_retrain_schedule",
    }
    assert {s.name for s in defs.sensors} == {"landing_sensor", "drift_sensor"}


def test_every_asset_has_a_group_and_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in GROUPS, (key, node.group_name)
        assert node.description and len(node.description) > 20, key


def test_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).blocking, key


def test_quality_and_gates_block_downstream_by_position_in_the_graph():
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("events") in graph.get(dg.AssetKey("raw_events")).child_keys
    assert dg.AssetKey("champion_model") in graph.get(dg.AssetKey("model_evaluation")).child_keys


def test_duckdb_writers_share_one_pool():
    writers = {
        "raw_events",
        "events",
        "user_activity",
        "training_samples",
        "user_scores",
        "reference_profile",
    }
    for name in writers:
        assets_def = defs.resolve_assets_def(name)
        assert assets_def.op.pool == "duckdb_writer", name


def test_launchpad_config_has_descriptions_and_defaults():
    job = defs.resolve_job_def("training_job")
    fields = job.run_config_schema.config_type.fields["ops"].config_type.fields
    for op, keys in {
        "training_samples": ("target_event", "horizon_days", "lookback_days", "cutoff_every_days"),
        "user_activity": ("bucket",),
        "candidate_model": ("hidden_size", "num_layers", "dropout", "learning_rate", "max_epochs"),
        "model_evaluation": ("min_accuracy", "max_regression"),
    }.items():
        config = fields[op].config_type.fields["config"].config_type.fields
        for key in keys:
            assert config[key].description, (op, key)
            assert config[key].default_provided, (op, key)


def test_workspace_yaml_points_at_the_definitions_module():
    root = PROJECT_ROOT
    workspace = yaml.safe_load((root / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "bat_pipeline.definitions"


def test_importing_definitions_does_nothing(tmp_path):
    code = (
        f"import os, pathlib; os.chdir({str(tmp_path)!r}); import bat_pipeline.definitions; "
        "print(sorted(p.name for p in pathlib.Path('.').iterdir()))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_cli_runs_print_info_and_keep_every_event_in_the_run_log(tmp_path):
    """A job run from the CLI prints no DEBUG step events on the terminal (INFO and up only);
    they are all still in the instance's event log, for the Dagster UI."""
    from datetime import date, timedelta

    from bat_pipeline.cli.dagster_runs import instance_for
    from bat_pipeline.cli.demo import deliver
    from bat_pipeline.data.synthetic import generate
    from bat_pipeline.home import BatHome

    home = BatHome(tmp_path / "bat")
    home.ensure()
    start = date(2026, 1, 1)
    generate(tmp_path / "source", users=50, days=2, seed=1, start=start)
    first, last = deliver(tmp_path / "source", home.landing, start, start + timedelta(days=1))
    script = (
        "import sys; from pathlib import Path; from bat_pipeline.home import BatHome; "
        "from bat_pipeline.cli.dagster_runs import run_job; "
        f"r = run_job(BatHome(Path(sys.argv[1])), 'ingest_job', partition_range=({first!r}, {last!r})); "
        "print(r.run_id if r.success else 'failed')"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(home.root)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    run_id = out.stdout.strip().splitlines()[-1]
    assert run_id != "failed", out.stderr[-2000:]
    assert " - DEBUG - " not in out.stderr
    stored = instance_for(home).all_logs(run_id)
    kinds = {e.dagster_event.event_type_value for e in stored if e.dagster_event}
    assert {"STEP_START", "STEP_SUCCESS", "ASSET_MATERIALIZATION"} <= kinds

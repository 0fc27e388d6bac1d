"""Tests for the YAML configuration : defaults, per-key overrides, and
errors that name the file, the key path and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bat_pipeline.cli.main import main
from bat_pipeline.config import BatConfig, ConfigError, DataConfig, TaskConfig, load_config
from bat_pipeline.home import BatHome


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_the_documented_defaults(tmp_path):
    cfg = load_config(None, tmp_path)
    assert cfg == BatConfig()
    assert cfg.data.event_types is None and cfg.data.columns == {}
    assert cfg.data.timestamp_format is None
    assert (cfg.task.target_event, cfg.task.churn, cfg.task.horizon_days) == ("purchase", False, 14)
    assert (cfg.task.lookback_days, cfg.task.bucket, cfg.task.cutoff_every_days) == (
        "auto",
        "day",
        7,
    )
    assert (cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout) == (32, 1, 0.2)
    assert (cfg.model.learning_rate, cfg.model.batch_size, cfg.model.max_epochs) == (1e-3, 128, 30)
    assert cfg.model.seed == 42
    assert (cfg.gates.min_accuracy, cfg.gates.min_auc, cfg.gates.max_loss_gap) == (0.0, 0.6, 0.1)
    assert (cfg.gates.must_beat_majority, cfg.gates.min_balanced_accuracy) == (True, 0.55)
    assert (cfg.gates.must_beat_baseline, cfg.gates.max_regression) == (True, 0.01)
    assert cfg.drift.threshold == 0.1


def test_a_key_set_in_a_file_overrides_only_that_key(tmp_path):
    path = write(tmp_path / "bat.yaml", "task:\n  horizon_days: 7\n")
    cfg = load_config(path)
    assert cfg.task.horizon_days == 7
    default = BatConfig()
    assert cfg.task.model_dump() == {**default.task.model_dump(), "horizon_days": 7}
    assert cfg.model_dump(exclude={"task"}) == default.model_dump(exclude={"task"})


def test_a_full_source_mapping_parses(tmp_path):
    path = write(
        tmp_path / "bat.yaml",
        """
data:
  event_types: [view, purchase]
  columns: {user_id: uid, event_time: ts}
  timestamp_format: ms
  event_map: {pv: view}
task: {target_event: any, churn: true, bucket: week, horizon_days: 14}
""",
    )
    cfg = load_config(path)
    assert cfg.data == DataConfig(
        event_types=["view", "purchase"],
        columns={"user_id": "uid", "event_time": "ts"},
        timestamp_format="ms",
        event_map={"pv": "view"},
    )
    assert cfg.task.bucket_days == 7 and cfg.task.lookback_days == "auto"
    assert cfg.task.churn and cfg.task.target_event == "any"


@pytest.mark.parametrize(
    ("text", "where", "allowed"),
    [
        ("task:\n  horizon: 7\n", "task.horizon", "allowed here: bucket, churn, cutoff_every_days"),
        ("modle:\n  seed: 1\n", "modle", "allowed here: data, drift, gates, model, task"),
        ("gates:\n  min_acc: 0.9\n", "gates.min_acc", "max_loss_gap, max_regression, min_accuracy"),
    ],
)
def test_unknown_key_names_the_key_and_the_allowed_keys(tmp_path, text, where, allowed):
    path = write(tmp_path / "bat.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert f"{where}: unknown key" in message
    assert allowed in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("task:\n  horizon_days: soon\n", "task.horizon_days"),
        ("task:\n  bucket: month\n", "task.bucket"),
        ("model:\n  dropout: 1.5\n", "model.dropout"),
        ("data:\n  event_types: view\n", "data.event_types"),
        ("data:\n  columns: {customer: cid}\n", "data.columns"),
        ("task: 14\n", "task"),
    ],
)
def test_a_wrong_type_or_value_names_the_key_path(tmp_path, text, where):
    path = write(tmp_path / "bat.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"  {where}: " in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_canonical_column_in_the_mapping_lists_the_canonical_ones():
    with pytest.raises(ValueError, match=r"unknown canonical column\(s\) \['customer'\]"):
        DataConfig(columns={"customer": "cid"})


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as err:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err.value)


@pytest.mark.parametrize("text", ["task: [unclosed\n", "task:\n  horizon_days: 7\n bad: indent\n"])
def test_invalid_yaml_is_a_config_error(tmp_path, text):
    path = write(tmp_path / "bat.yaml", text)
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load_config(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text", ["- task\n- model\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path / "bat.yaml", text))


def test_an_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path / "bat.yaml", "")) == BatConfig()


def test_bat_home_config_is_used_when_no_config_is_given(tmp_path, monkeypatch):
    home = tmp_path / "state"
    home.mkdir()
    write(home / "bat.yaml", "task:\n  horizon_days: 3\n")
    monkeypatch.setenv("BAT_HOME", str(home))
    root = BatHome.from_env().root
    assert root == home.resolve()
    assert load_config(None, root).task.horizon_days == 3
    # an explicit --config wins over BAT_HOME/bat.yaml
    other = write(tmp_path / "other.yaml", "task:\n  horizon_days: 5\n")
    assert load_config(other, root).task.horizon_days == 5


def test_cli_reads_bat_home_config_and_exits_2_on_a_bad_one(tmp_path, monkeypatch, capsys):
    home = tmp_path / "state"
    home.mkdir()
    write(home / "bat.yaml", "task:\n  horizon_dayz: 3\n")
    monkeypatch.setenv("BAT_HOME", str(home))
    assert main(["ingest", str(tmp_path / "nothing.csv"), "--json"]) == 2
    err = capsys.readouterr().err
    assert "task.horizon_dayz: unknown key" in err
    assert str(home / "bat.yaml") in err
    assert not (home / "warehouse.duckdb").exists()  # refused before touching anything


def test_merged_overrides_key_by_key():
    cfg = BatConfig().merged({"task": {"bucket": "week"}, "gates": {"min_auc": 0.6}})
    assert cfg.task.bucket == "week" and cfg.task.horizon_days == 14
    assert cfg.gates.min_auc == 0.6 and cfg.gates.min_accuracy == 0.0
    with pytest.raises(ConfigError, match=r"task\.bukket: unknown key"):
        BatConfig().merged({"task": {"bukket": "week"}})


def test_task_derived_sizes():
    assert TaskConfig(bucket="day").bucket_days == 1
    assert TaskConfig(bucket="week").bucket_days == 7


@pytest.mark.parametrize(("value", "parsed"), [("auto", "auto"), (28, 28), ("28", 28)])
def test_lookback_is_a_number_of_days_or_auto(value, parsed):
    # "28" is how the Dagster launchpad, which holds the field as text, passes a number
    assert TaskConfig(lookback_days=value).lookback_days == parsed


@pytest.mark.parametrize("value", [0, -7, "soon", "", 2.5])
def test_a_bad_lookback_says_what_is_allowed(value):
    with pytest.raises(ConfigError, match=r"task\.lookback_days"):
        BatConfig().merged({"task": {"lookback_days": value}})


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ("task: {bucket: week, horizon_days: 90}", "task.horizon_days", "use 84 or 91"),
        ("task: {bucket: week, cutoff_every_days: 10}", "task.cutoff_every_days", "use 7 or 14"),
        ("task: {bucket: week, lookback_days: 30}", "task.lookback_days", "use 28 or 35"),
        ("task: {bucket: week, lookback_days: 3}", "task.lookback_days", "use 7"),
        ("gates: {min_auc: 1.5}", "gates.min_auc", "less than or equal to 1"),
        ("gates: {max_regression: -0.1}", "gates.max_regression", "greater than or equal to 0"),
    ],
)
def test_every_cross_field_rule_exits_2_before_anything_is_written(
    tmp_path, capsys, text, where, fix
):
    config = write(tmp_path / "bat.yaml", text + "\n")
    home = tmp_path / "state"
    for argv in (["ingest", str(tmp_path)], ["run"], ["drift"]):
        assert main([*argv, "--config", str(config), "--home", str(home)]) == 2
        err = capsys.readouterr().err
        assert f"  {where}: " in err and fix in err, err
        assert "Traceback" not in err
    assert not home.exists()

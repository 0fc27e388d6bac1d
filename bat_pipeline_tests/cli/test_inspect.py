"""`bat-pipeline inspect`: the text and --json reports, errors as one line with an exit code,
and the suggested block pasted into a bat.yaml that `bat-pipeline ingest --config` then loads
without quarantining a row."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from bat_pipeline.cli.main import main
from bat_pipeline.config import parse_config

START = datetime(2025, 3, 1, tzinfo=UTC)


def write_foreign_log(path, days: int = 5, rows: int = 300, seed: int = 3):
    """A CSV under foreign names (customer, ts in epoch ms, action, amount, sess) with foreign
    event names (view, basket, buy, login); returns the number of rows."""
    rng = random.Random(seed)
    lines = ["customer,ts,action,amount,sess"]
    for i in range(rows):
        t = START + timedelta(seconds=rng.randrange(days * 86_400))
        action = rng.choice(("view", "view", "basket", "buy", "login"))
        amount = f"{rng.uniform(1, 80):.2f}" if action == "buy" else ""
        lines.append(
            f"c{rng.randrange(30)},{int(t.timestamp() * 1000)},{action},{amount},s{i // 4}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_then_paste_then_ingest_quarantines_nothing(capsys, tmp_path, bat_home):
    log = tmp_path / "shop_export.csv"
    rows = write_foreign_log(log)
    code, out, _ = run_cli(capsys, "inspect", str(log), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["timestamp_format"] == "ms"
    assert report["event_map"] == {
        "view": "product_view",
        "basket": "add_to_cart",
        "buy": "purchase",
    }
    config = tmp_path / "bat.yaml"
    config.write_text(report["suggested_yaml"], encoding="utf-8")
    code, out, _ = run_cli(capsys, "ingest", "--config", str(config), str(log), "--json")
    loaded = json.loads(out)
    assert loaded["errors"] == []
    assert loaded["rows_quarantined"] == 0
    assert loaded["rows_loaded"] == loaded["rows_read"] == rows


def test_inspect_needs_no_bat_home_and_writes_nothing(capsys, tmp_path, monkeypatch):
    home = tmp_path / "no_home_here"
    monkeypatch.setenv("BAT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "log.csv"
    write_foreign_log(log)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, _ = run_cli(capsys, "inspect", str(log))
    assert code == 0
    assert not home.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


def test_text_report_shows_what_a_mapping_needs(capsys, tmp_path):
    log = tmp_path / "log.csv"
    rows = write_foreign_log(log, days=30)
    code, out, _ = run_cli(capsys, "inspect", str(log))
    assert code == 0
    assert f"{rows:,} rows" in out
    assert "ts        event_time  integer" in out and "epoch ms" in out
    assert "time range (UTC): 2025-03-01" in out
    assert "min " in out and "median " in out and "first: 2025-03-01" in out  # 30 days: a summary
    assert "basket" in out and "-> add_to_cart" in out and "login" in out
    assert "0 would be quarantined" in out
    block = out.split("suggested block for bat.yaml:")[1]
    assert parse_config(yaml.safe_load(block), "pasted").data.columns["user_id"] == "customer"


def test_few_days_are_listed_one_by_one(capsys, tmp_path):
    log = tmp_path / "log.csv"
    write_foreign_log(log, days=3)
    code, out, _ = run_cli(capsys, "inspect", str(log))
    assert code == 0
    assert "\n  2025-03-01  " in out and "\n  2025-03-03  " in out


def test_json_keys(capsys, tmp_path):
    log = tmp_path / "log.csv"
    write_foreign_log(log)
    code, out, _ = run_cli(capsys, "inspect", str(log), "--json")
    assert code == 0 and out.count("\n") == 1
    report = json.loads(out)
    assert {
        "files",
        "rows",
        "columns",
        "roles",
        "timestamp_format",
        "time_range",
        "rows_per_day",
        "days",
        "events",
        "event_map",
        "quarantine",
        "rows_loadable",
        "notes",
        "suggested_config",
        "suggested_yaml",
    } <= set(report)
    assert {"name", "kind", "time_format", "filled", "distinct", "examples"} <= set(
        report["columns"][0]
    )
    assert sum(report["rows_per_day"].values()) == report["rows"] == report["rows_loadable"]
    assert yaml.safe_load(report["suggested_yaml"]) == report["suggested_config"]


def test_several_files_at_once(capsys, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    rows = write_foreign_log(first, seed=1) + write_foreign_log(second, seed=2)
    code, out, _ = run_cli(capsys, "inspect", str(first), str(second), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["files"] == [str(first), str(second)] and report["rows"] == rows
    code, out, _ = run_cli(capsys, "inspect", str(first), str(second))
    assert out.startswith(f"2 files: {rows:,} rows")


def test_a_missing_file_is_one_line_and_exit_2(capsys, tmp_path):
    code, out, err = run_cli(capsys, "inspect", str(tmp_path / "nowhere.csv"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nowhere.csv" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [("empty.csv", b"", "empty"), ("blob.parquet", b"PAR1garbage", "Parquet")],
)
def test_an_unreadable_file_is_one_line_and_exit_1(capsys, tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "inspect", str(path))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and name in err and says in err and "Traceback" not in err
    code, out, _ = run_cli(capsys, "inspect", str(path), "--json")
    assert code == 1 and name in json.loads(out)["error"]


@pytest.mark.parametrize("argv", [["inspect"], ["inspect", "--frobnicate", "x.csv"]])
def test_bad_usage_exits_2(capsys, argv):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "usage:" in err


def test_a_folder_is_refused_with_the_fix(capsys, tmp_path):
    code, _, err = run_cli(capsys, "inspect", str(tmp_path))
    assert code == 2 and "DIR/*.csv" in err

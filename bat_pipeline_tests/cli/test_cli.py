"""The command line contract: exit codes, --json fields, fast --help."""

import json
import subprocess
import sys

import pytest

from bat_pipeline.cli.main import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from bat_pipeline.cli.main import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('dagster', 'torch', 'mlflow', 'great_expectations', 'lightning', 'pandas', 'duckdb', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["generate"],
        ["run", "--as-of", "yesterday"],
        ["drift", "--reference", "2026-01-01"],
        ["drift", "--current", "2026-02-01:2026-01-01"],
        ["generate", "--out", "x", "--users", "0"],
    ],
)
def test_bad_usage_exits_2(capsys, argv):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert "usage:" in err or "error" in err


def test_generate_drift_arguments_are_checked(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        "generate",
        "--out",
        str(tmp_path),
        "--drift",
        "meteor",
        "--drift-start",
        "2026-01-05",
    )
    assert code == 2 and "conversion_drop" in err
    code, _, err = run_cli(capsys, "generate", "--out", str(tmp_path), "--drift", "mobile_shift")
    assert code == 2 and "--drift-start" in err


def test_bad_config_exits_2_naming_the_key(capsys, tmp_path, bat_home):
    config = tmp_path / "bad.yaml"
    config.write_text("task:\n  horizon: 14\n")
    code, _, err = run_cli(capsys, "status", "--config", str(config))
    assert code == 2
    assert "task.horizon" in err and "horizon_days" in err


def test_generate_and_ingest_json_fields(capsys, tmp_path, bat_home):
    files = tmp_path / "files"
    code, out, _ = run_cli(
        capsys, "generate", "--out", str(files), "--users", "60", "--days", "3", "--json"
    )
    assert code == 0
    generated = json.loads(out)
    assert generated["files"] == 3 and generated["events"] > 0
    bad = files / "events_2026-01-03.csv"
    bad.write_text(
        bad.read_text()
        + "u1,not-a-time,home,s1,,mobile,ads\nu2,2026-01-03T10:00:00Z,home,s2,-5,mobile,ads\n"
    )
    code, out, _ = run_cli(capsys, "ingest", str(files), "--json")
    report = json.loads(out)
    assert {"rows_read", "rows_loaded", "rows_quarantined", "quarantine_reasons"} <= set(report)
    assert (
        report["rows_read"]
        == report["rows_loaded"] + report["rows_quarantined"]
        == generated["events"] + 2
    )
    assert report["quarantine_reasons"]["unparsable_event_time"] == 1
    assert report["quarantine_reasons"]["negative_value"] == 1
    assert code == (1 if report["quality_failed"] else 0)
    again = run_cli(capsys, "ingest", str(files), "--json")
    assert json.loads(again[1])["files_unchanged"] == 3


def test_ingest_of_a_broken_file_exits_1_and_names_it(capsys, tmp_path, bat_home):
    broken = tmp_path / "events_2026-01-01.csv"
    broken.write_text("user_id,event_type\nu1,home\n")
    code, out, _ = run_cli(capsys, "ingest", str(broken))
    assert code == 1
    assert "events_2026-01-01.csv" in out and "event_time" in out


def test_status_score_rollback_without_models(capsys, tmp_path, bat_home):
    code, out, _ = run_cli(capsys, "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["champion"] is None and status["previous"] is None
    code, _, err = run_cli(capsys, "score", "--out", str(tmp_path / "s.csv"))
    assert code == 1 and "no version" in err
    code, out, _ = run_cli(capsys, "rollback", "--json")
    assert code == 1 and "no previous champion" in json.loads(out)["reason"]


def test_wrong_uses_print_one_clear_line_and_no_traceback(tmp_path):
    """Wrong uses as a new user makes them, through the console script itself: each exits
    1 or 2 with a message that says what is wrong, and no stack trace on either stream."""
    home = tmp_path / "state"
    short = tmp_path / "short"
    short.mkdir()
    for day in ("2026-01-01", "2026-01-02"):
        (short / f"events_{day}.csv").write_text(
            f"user_id,event_time,event_type\nu1,{day}T10:00:00,purchase\n"
        )
    cases = [
        (["run"], 1, "events table is empty"),
        (["drift"], 1, "events table is empty"),
        (["ingest", str(tmp_path / "missing.csv")], 1, "missing.csv: no such file"),
        (["inspect", str(tmp_path / "missing.csv")], 2, "missing.csv"),
        (["score", "--out", str(tmp_path / "s.csv")], 1, "no version"),
        (["quality", "accept", "2026-01-09", "--reason", "x"], 2, "2026-01-09"),
        (["ingest", str(short)], 0, "2 loaded"),
        (["run"], 1, "only 0 cutoff(s) fit"),
        (
            ["drift", "--reference", "2020-01-01:2020-01-07", "--current", "2020-02-01:2020-02-07"],
            1,
            "no events",
        ),
    ]
    bat = [sys.executable, "-m", "bat_pipeline.cli.main"]
    for argv, code, message in cases:
        done = subprocess.run(
            [*bat, *argv, "--home", str(home)], capture_output=True, text=True, timeout=600
        )
        output = done.stdout + done.stderr
        assert done.returncode == code, (argv, output)
        assert message in output, (argv, output)
        assert "Traceback" not in output and 'File "' not in output, (argv, output)


def test_status_names_the_days_corrected_since_the_champion_and_features_were_built(
    capsys, tmp_path, bat_home
):
    from datetime import date

    from bat_pipeline.data.warehouse import writer
    from bat_pipeline.features.tables import build_feature_tables
    from bat_pipeline.lifecycle.registry import CHAMPION
    from bat_pipeline.lifecycle.tracking import TrackingStore

    landing = tmp_path / "landing"
    landing.mkdir()
    days = ("2026-01-01", "2026-01-02", "2026-01-03")

    def deliver(day: str, users: int) -> None:
        rows = [f"u{i},{day}T10:00:00Z,home,s{i},,mobile,ads" for i in range(users)]
        header = "user_id,event_time,event_type,session_id,value,device,channel"
        (landing / f"events_{day}.csv").write_text("\n".join([header, *rows]) + "\n")

    for day in days:
        deliver(day, 5)
    assert run_cli(capsys, "ingest", str(landing))[0] == 0
    with writer(bat_home.warehouse) as con:
        build_feature_tables(con, 1, date(2026, 1, 4), 7)
    store = TrackingStore.for_home(bat_home)  # a champion trained now, as of 2026-01-04
    client = store.client()
    run = client.create_run(store.experiment_id(), tags={"bat.as_of": "2026-01-04"})
    client.set_terminated(run.info.run_id)
    client.create_registered_model(store.registered_model)
    version = client.create_model_version(store.registered_model, "weights", run.info.run_id)
    client.set_registered_model_alias(store.registered_model, CHAMPION, version.version)

    code, out, _ = run_cli(capsys, "status", "--json")
    assert json.loads(out)["stale"] == {"champion": [], "feature_tables": []}

    deliver(days[1], 6)  # a corrected delivery of a day both were built from
    assert run_cli(capsys, "ingest", str(landing))[0] == 0
    code, out, _ = run_cli(capsys, "status", "--json")
    assert code == 0
    assert json.loads(out)["stale"] == {"champion": [days[1]], "feature_tables": [days[1]]}
    code, out, _ = run_cli(capsys, "status")
    assert "stale: champion built before 1 day(s) of their data changed (2026-01-02)" in out

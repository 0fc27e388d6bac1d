"""Tests for days left out by failed quality checks and a person accepting them.

A real warehouse under ``tmp_path``, loaded with `bat-pipeline ingest`'s own code, where one
day of five holds ten times the usual rows and fails the volume check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from bat_pipeline.cli.dagster_runs import instance_for
from bat_pipeline.cli.ingest import ingest_paths
from bat_pipeline.cli.main import main
from bat_pipeline.config import BatConfig, DataConfig
from bat_pipeline.data.synthetic import generate
from bat_pipeline.data.warehouse import writer
from bat_pipeline.home import BatHome
from bat_pipeline.quality.acceptance import AcceptanceError, accept_days, excluded_days
from bat_pipeline.quality.suite import NOISE_WINDOW_FACTOR, volume_bounds

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]
SPIKE = "2026-01-05"
CFG = BatConfig(data=DataConfig(event_types=["view", "purchase"]))


def write_days(folder: Path, rows_per_day: dict[str, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for day, n in rows_per_day.items():
        lines = ["user_id,event_time,event_type"]
        lines += [f"u{i},{day}T10:{i % 60:02d}:{i // 60:02d},view" for i in range(n)]
        (folder / f"events_{day}.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def home(tmp_path) -> BatHome:
    """A warehouse whose last day (100 rows after days of 10) failed the volume check."""
    home = BatHome(tmp_path / "home")
    files = write_days(tmp_path / "landing", {d: 100 if d == SPIKE else 10 for d in DAYS})
    report = ingest_paths(home, CFG, [files])
    assert report["quality_failed"] == [SPIKE]
    assert report["quality"][SPIKE] == ["volume_vs_trailing"]
    return home


def events_days(con) -> list[str]:
    rows = con.execute("select distinct strftime(event_time, '%Y-%m-%d') from events").fetchall()
    return sorted(r[0] for r in rows)


def test_a_failed_day_is_listed_and_left_out_until_accepted(home):
    with writer(home.warehouse) as con:
        assert [d.partition_key for d in excluded_days(con)] == [SPIKE]
        assert events_days(con) == DAYS[:-1]
        accepted = accept_days(
            con, [SPIKE], accepted_by="ana", reason="campaign day", now=datetime.now(UTC)
        )
        assert events_days(con) == DAYS
        assert excluded_days(con) == []
        record = con.execute(
            "select partition_key, failed_expectations, accepted_by, reason "
            "from quality_acceptances"
        ).fetchall()
    assert [(a.partition_key, a.passed, a.accepted_by) for a in accepted] == [(SPIKE, True, "ana")]
    assert record == [(SPIKE, ["volume_vs_trailing"], "ana", "campaign day")]


def test_a_later_failing_check_excludes_an_accepted_day_again(home, tmp_path):
    with writer(home.warehouse) as con:
        accept_days(con, [SPIKE], accepted_by="ana", reason="ok", now=datetime(2026, 1, 6))
    # a corrected delivery of the day that is still far off: checked again, fails again
    write_days(tmp_path / "again", {SPIKE: 200})
    report = ingest_paths(home, CFG, [tmp_path / "again"])
    assert report["quality_failed"] == [SPIKE]
    with writer(home.warehouse) as con:
        assert [d.partition_key for d in excluded_days(con)] == [SPIKE]
        assert SPIKE not in events_days(con)


def test_only_failing_days_can_be_accepted_and_a_reason_is_required(home):
    with writer(home.warehouse) as con:
        with pytest.raises(
            AcceptanceError, match=r"not failing.*2026-01-01.*failing now: 2026-01-05"
        ):
            accept_days(con, [DAYS[0]], accepted_by="ana", reason="x", now=datetime.now(UTC))
        with pytest.raises(AcceptanceError, match="never loaded: 2026-02-01"):
            accept_days(con, ["2026-02-01"], accepted_by="ana", reason="x", now=datetime.now(UTC))
        with pytest.raises(AcceptanceError, match="say why"):
            accept_days(con, [SPIKE], accepted_by="ana", reason=" ", now=datetime.now(UTC))
        assert [d.partition_key for d in excluded_days(con)] == [SPIKE]  # nothing written


def test_cli_lists_accepts_and_shows_the_acceptance_in_dagster(home, capsys):
    assert main(["quality", "list", "--home", str(home.root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["partition_key"] for d in listed["excluded_days"]] == [SPIKE]

    argv = ["quality", "accept", SPIKE, "--reason", "campaign", "--by", "ana"]
    assert main([*argv, "--home", str(home.root), "--json"]) == 0
    accepted = json.loads(capsys.readouterr().out)["accepted"]
    assert accepted[0]["accepted_by"] == "ana" and accepted[0]["reason"] == "campaign"

    assert main(["quality", "accept", SPIKE, "--reason", "again", "--home", str(home.root)]) == 2
    assert "not failing" in capsys.readouterr().err

    # the Dagster UI shows the ingest's failed check, then the person's passing one
    history = instance_for(home).event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("raw_events"), "raw_events_quality"), limit=20
    )
    spike = [r.event.dagster_event.event_specific_data for r in history]
    spike = [e for e in spike if e.partition == SPIKE]
    assert [e.passed for e in spike] == [True, False]  # newest first
    assert spike[0].metadata["accepted_by"].value == "ana"
    materialized = instance_for(home).get_materialized_partitions(dg.AssetKey("raw_events"))
    assert materialized == set(DAYS)


def test_a_calm_small_shop_keeps_every_day(tmp_path):
    """300 generated customers over 120 days (~450 rows a day): no day fails the quality
    suite; under the old ± 50 % band alone some of the same days would have been dropped."""
    files = tmp_path / "shop"
    generate(files, users=300, days=120, seed=5)
    home = BatHome(tmp_path / "home")
    report = ingest_paths(home, BatConfig(), [files])
    assert report["days_loaded"] == 120 and report["quality_failed"] == []
    with writer(home.warehouse) as con:
        rows = con.execute("select rows_loaded from ingest_log order by partition_key")
        counts = [r[0] for r in rows.fetchall()]
        assert excluded_days(con) == []
    history_days = NOISE_WINDOW_FACTOR * 7
    outside_tolerance = [
        i
        for i in range(1, len(counts))
        if not _inside(counts[max(0, i - history_days) : i][::-1], counts[i], sigmas=0)
    ]
    assert outside_tolerance  # the noise band, not a calm draw, is what keeps these days


def _inside(history: list[int], rows: int, sigmas: float) -> bool:
    low, high, _ = volume_bounds(history, days=7, tolerance=0.5, sigmas=sigmas)
    return low <= rows <= high

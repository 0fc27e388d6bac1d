"""Tests for multi-day exports: one file split into daily partitions by event day (UTC).

Real DuckDB files and real CSV/Parquet exports under ``tmp_path``. Checked: rows conserved per
day and for the file, re-ingesting the same export changes nothing, a corrected export replaces
only the day whose rows changed, rows without a usable time are quarantined under the file's
own key, and the CLI reports days loaded, replaced and unchanged.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from bat_pipeline.cli.ingest import ingest_paths
from bat_pipeline.config import BatConfig, DataConfig
from bat_pipeline.data.exports import ingest_export, is_export
from bat_pipeline.data.ingest import IngestError
from bat_pipeline.data.loads import load_files
from bat_pipeline.data.warehouse import writer
from bat_pipeline.home import BatHome

NOW = datetime(2024, 3, 10)
VOCAB = DataConfig(event_types=["view", "purchase"])
HEADER = "user_id,event_time,event_type,session_id,value"
ROWS = [  # three days, the first across midnight UTC in another offset
    "u1,2024-03-01T10:00:00,view,s1,",
    "u2,2024-03-01T23:30:00-02:00,purchase,s2,9.5",  # = 2024-03-02 01:30 UTC
    "u1,2024-03-02T09:00:00,view,s3,",
    "u3,2024-03-03T12:00:00,view,s4,",
    "u3,2024-03-03T12:05:00,purchase,s4,3.0",
]


def write_export(folder: Path, rows: list[str], name: str = "shop_export.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def per_day(con) -> dict[str, tuple[int, int]]:
    """partition -> (loaded rows, quarantined rows), from the tables themselves."""
    loaded = dict(
        con.execute("select partition_key, count(*) from raw_events group by 1").fetchall()
    )
    quarantined = dict(
        con.execute("select partition_key, count(*) from quarantine group by 1").fetchall()
    )
    return {k: (loaded.get(k, 0), quarantined.get(k, 0)) for k in {*loaded, *quarantined}}


def test_an_export_is_a_file_without_a_date_in_its_name():
    assert is_export(Path("shop_export.csv")) and is_export(Path("all.parquet"))
    assert not is_export(Path("events_2024-03-01.csv"))


def test_an_export_is_split_by_event_day_with_rows_conserved_per_day(tmp_path):
    path = write_export(tmp_path, ROWS)
    with writer(tmp_path / "w.duckdb") as con:
        results = ingest_export(con, path, VOCAB, now=NOW)
        days = per_day(con)
        logged = dict(con.execute("select partition_key, rows_read from ingest_log").fetchall())
    assert [r.partition_key for r in results] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert days == {"2024-03-01": (1, 0), "2024-03-02": (2, 0), "2024-03-03": (2, 0)}
    assert logged == {"2024-03-01": 1, "2024-03-02": 2, "2024-03-03": 2}
    for result in results:
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
        assert not (result.skipped or result.replaced or result.undated)
    assert sum(r.rows_read for r in results) == len(ROWS)


def test_re_ingesting_the_same_export_changes_nothing(tmp_path):
    path = write_export(tmp_path, ROWS)
    with writer(tmp_path / "w.duckdb") as con:
        ingest_export(con, path, VOCAB, now=NOW)
        before = sorted(con.table("raw_events").fetchall(), key=repr)
        # the same rows in another order, under another name: the same content per day
        again = write_export(tmp_path, list(reversed(ROWS)), name="shop_export_copy.csv")
        results = ingest_export(con, again, VOCAB, now=datetime(2024, 3, 11))
        after = sorted(con.table("raw_events").fetchall(), key=repr)
    assert all(r.skipped for r in results) and len(results) == 3
    assert after == before  # ingested_at and source_file untouched too


def test_a_corrected_export_replaces_only_the_day_that_changed(tmp_path):
    path = write_export(tmp_path, ROWS)
    corrected = [
        *ROWS[:3],
        "u3,2024-03-03T12:00:00,view,s4,",
        "u3,2024-03-03T12:05:00,purchase,s4,4.0",
    ]
    with writer(tmp_path / "w.duckdb") as con:
        ingest_export(con, path, VOCAB, now=NOW)
        stamps = dict(con.execute("select partition_key, ingested_at from ingest_log").fetchall())
        fixed = write_export(tmp_path, corrected, name="shop_export_fixed.csv")
        later = datetime(2024, 3, 11)
        results = {r.partition_key: r for r in ingest_export(con, fixed, VOCAB, now=later)}
        new_stamps = dict(
            con.execute("select partition_key, ingested_at from ingest_log").fetchall()
        )
        value = con.execute(
            "select value from raw_events where event_type = 'purchase' and user_id = 'u3'"
        ).fetchall()
        days = per_day(con)
    assert [k for k, r in results.items() if not r.skipped] == ["2024-03-03"]
    assert results["2024-03-03"].replaced
    assert new_stamps["2024-03-03"] == later
    assert new_stamps["2024-03-01"] == stamps["2024-03-01"] == NOW
    assert value == [(4.0,)]
    assert days == {"2024-03-01": (1, 0), "2024-03-02": (2, 0), "2024-03-03": (2, 0)}


def test_rows_without_a_usable_time_are_quarantined_under_the_files_own_key(tmp_path):
    bad = [
        *ROWS,
        "u4,not-a-time,view,s9,",
        "u4,,view,s9,",
        "u5,2030-01-01T00:00:00,view,s9,",  # in the future
        ",2024-03-01T12:00:00,view,s9,",  # no user: quarantined in its day
    ]
    path = write_export(tmp_path, bad)
    with writer(tmp_path / "w.duckdb") as con:
        results = {r.partition_key: r for r in ingest_export(con, path, VOCAB, now=NOW)}
        days = per_day(con)
        again = ingest_export(con, path, VOCAB, now=NOW)
        reasons = dict(
            con.execute(
                "select reason, count(*) from quarantine where partition_key = 'shop_export' "
                "group by 1"
            ).fetchall()
        )
    assert results["shop_export"].undated and results["shop_export"].rows_loaded == 0
    assert reasons == {
        "unparsable_event_time": 1,
        "missing_event_time": 1,
        "future_event_time": 1,
    }
    assert days["2024-03-01"] == (1, 1)
    assert sum(r.rows_read for r in results.values()) == len(bad)
    assert sum(r.rows_loaded + r.rows_quarantined for r in results.values()) == len(bad)
    assert all(r.skipped for r in again)


@pytest.mark.parametrize("text", [f"{HEADER}\n", f"\ufeff{HEADER}"], ids=["plain", "bom"])
def test_a_header_only_export_fails_clearly_and_writes_nothing(tmp_path, text):
    path = tmp_path / "shop_export.csv"
    path.write_text(text, encoding="utf-8")
    with writer(tmp_path / "w.duckdb") as con:
        ingest_export(con, write_export(tmp_path, ROWS, "old_export.csv"), VOCAB, now=NOW)
        before = per_day(con), con.table("ingest_log").fetchall()
        with pytest.raises(IngestError, match="header but no rows; nothing to load") as err:
            ingest_export(con, path, VOCAB, now=NOW)
        assert (per_day(con), con.table("ingest_log").fetchall()) == before
    assert str(path) in str(err.value)


def test_an_export_mostly_in_the_future_is_refused_whole(tmp_path):
    """A source whose clock runs ahead: most rows lie past now + data.future_skew_minutes."""
    ahead = [
        "u1,2024-03-09T10:00:00,view,s1,",
        "u2,2024-03-10T08:00:00,view,s2,",  # now is 2024-03-10T00:00
        "u3,2024-03-10T09:00:00,purchase,s3,5",
    ]
    path = write_export(tmp_path, ahead)
    with writer(tmp_path / "w.duckdb") as con:
        with pytest.raises(IngestError, match=r"2 of 3 rows have an event time in the future"):
            ingest_export(con, path, VOCAB, now=NOW)
        assert per_day(con) == {}
        assert con.table("ingest_log").fetchall() == []


def test_a_parquet_export_is_split_like_a_csv_one(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "event_time": pd.to_datetime(
                ["2024-03-01 10:00", "2024-03-02 10:00", "2024-03-02 11:00"]
            ),
            "event_type": ["view", "purchase", "view"],
        }
    )
    path = tmp_path / "dump.parquet"
    frame.to_parquet(path)
    with writer(tmp_path / "w.duckdb") as con:
        batch = load_files(con, [path], VOCAB, NOW)
        days = per_day(con)
    assert batch.changed == ["2024-03-01", "2024-03-02"]
    assert days == {"2024-03-01": (1, 0), "2024-03-02": (2, 0)}


def test_cli_ingest_reports_days_loaded_replaced_and_unchanged(tmp_path):
    home = BatHome(tmp_path / "home")
    cfg = BatConfig(data=VOCAB)
    path = write_export(tmp_path, ROWS)
    first = ingest_paths(home, cfg, [path])
    same = ingest_paths(home, cfg, [path])
    path.write_text("\n".join([HEADER, *ROWS[:4], "u3,2024-03-03T12:05:00,purchase,s4,4.0"]) + "\n")
    fixed = ingest_paths(home, cfg, [path])
    counts = [
        (r["days_loaded"], r["days_replaced"], r["days_unchanged"]) for r in (first, same, fixed)
    ]
    assert counts == [(3, 0, 0), (0, 0, 3), (0, 1, 2)]
    assert first["rows_read"] == first["rows_loaded"] == len(ROWS)
    assert first["quality_failed"] == []


def test_a_landing_link_that_leads_outside_the_folder_is_ignored(tmp_path, caplog):
    from bat_pipeline.data.landing import LandingError, file_for, landing_files

    landing = tmp_path / "landing"
    landing.mkdir()
    outside = tmp_path / "secrets.csv"
    outside.write_text("user_id,event_time,event_type\nu1,2024-03-01T10:00:00,view\n")
    inside = write_export(landing, ROWS[:1], name="events_2024-03-01.csv")
    (landing / "events_2024-03-02.csv").symlink_to(outside)
    (landing / "events_2024-03-03.csv").symlink_to(inside)  # a link inside stays usable

    found = landing_files(landing)
    assert sorted(found) == ["2024-03-01", "2024-03-03"]
    assert "outside" in caplog.text and "secrets.csv" in caplog.text
    with pytest.raises(LandingError, match="no landing file for partition 2024-03-02"):
        file_for(landing, "2024-03-02")

"""Tests for the GX data-quality suite on one ``raw_events`` partition.

The data: a real DuckDB ``raw_events`` table (production schema) holding one clean partition of
100 events on 2024-03-01 (10 users, 8 event types, some NULL values), into which each test
injects a defect with SQL before reading it back with ``.df()`` — so the dtypes are the ones
production sees (pandas ``str``, ``datetime64[us]``, ``float64``).
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from bat_pipeline.config import DataConfig
from bat_pipeline.contract import DEFAULT_EVENT_TYPES
from bat_pipeline.data.loads import load_files
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.drift.windows import Window, quality_failures
from bat_pipeline.home import BatHome
from bat_pipeline.quality import suite, validation
from bat_pipeline.quality.suite import QualityReport, QualitySuiteError, volume_bounds
from bat_pipeline.quality.validation import LOCK_FILENAME, validate_events
from bat_pipeline.quality.verdicts import check_partitions

NOW = datetime(2024, 3, 2, 0, 0)  # the partition is 2024-03-01; "now" is just after it
TRAILING = (100, 95, 105)  # median 100 -> 50..150 rows allowed
ALL_NAMES = [
    "columns_match",
    "event_time_type",
    "value_type",
    "user_id_not_null",
    "event_time_not_null",
    "event_type_not_null",
    "event_type_in_vocabulary",
    "value_non_negative",
    "event_time_not_future",
    "row_count_min",
    "duplicate_share",
    "volume_vs_trailing",
]

#: the column whose nulls a row-level expectation skips (the others check every row)
CHECKED_COLUMN = {
    "event_type_in_vocabulary": "event_type",
    "value_non_negative": "value",
    "event_time_not_future": "event_time",
}

CREATE_RAW_EVENTS = """
CREATE TABLE raw_events (
    user_id VARCHAR, event_time TIMESTAMP, event_type VARCHAR, session_id VARCHAR,
    value DOUBLE, device VARCHAR, channel VARCHAR, extra JSON, partition_key VARCHAR,
    source_file VARCHAR, source_row BIGINT, ingested_at TIMESTAMP
)
"""
# 100 clean events: unique (user_id, event_time, event_type, session_id), value NULL every 4th.
INSERT_CLEAN = """
INSERT INTO raw_events
SELECT 'u' || (i % 10), TIMESTAMP '2024-03-01' + i * INTERVAL 10 MINUTE, $types[(i % 8) + 1],
       's' || (i // 5), CASE WHEN i % 4 = 0 THEN NULL ELSE i * 1.5 END, 'mobile', 'web',
       '{"k": 1}', '2024-03-01', 'events.csv', i, TIMESTAMP '2024-03-02 01:00'
FROM range(100) AS r(i)
"""


def partition(*statements: str, select: str = "SELECT * FROM raw_events") -> pd.DataFrame:
    """The clean partition after running ``statements`` on it, as DuckDB's ``.df()`` gives it."""
    con = duckdb.connect()
    try:
        con.execute(CREATE_RAW_EVENTS)
        con.execute(INSERT_CLEAN, {"types": list(DEFAULT_EVENT_TYPES)})
        for statement in statements:
            con.execute(statement)
        return con.sql(select).order("source_row").df()
    finally:
        con.close()


def validate(df: pd.DataFrame, **kwargs) -> QualityReport:
    """``validate_events`` with the test defaults (vocabulary, now, trailing counts)."""
    kwargs.setdefault("vocabulary", DEFAULT_EVENT_TYPES)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("trailing_counts", TRAILING)
    return validate_events(df, **kwargs)


def outcome(report: QualityReport, name: str):
    """The outcome called ``name`` (exactly one must exist)."""
    (found,) = [o for o in report.outcomes if o.name == name]
    return found


def failed_names(report: QualityReport) -> list[str]:
    return [o.name for o in report.failed()]


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return partition()


@pytest.fixture(scope="module")
def clean_report(clean: pd.DataFrame) -> QualityReport:
    return validate(clean)


# --- the clean partition -------------------------------------------------------------------------


def test_fixture_has_production_dtypes(clean: pd.DataFrame) -> None:
    assert len(clean) == 100
    assert str(clean["event_time"].dtype) == "datetime64[us]"
    assert str(clean["value"].dtype) == "float64"
    assert clean["value"].isna().sum() == 25


def test_clean_partition_passes_every_expectation(clean_report: QualityReport) -> None:
    assert clean_report.success, [o.detail for o in clean_report.failed()]
    assert [o.name for o in clean_report.outcomes] == ALL_NAMES
    assert clean_report.evaluated == len(ALL_NAMES)
    assert clean_report.rows == 100
    assert clean_report.failed() == []
    assert all(o.unexpected_count == 0 for o in clean_report.outcomes)
    assert outcome(clean_report, "row_count_min").observed == 100
    assert outcome(clean_report, "duplicate_share").observed == 0.0
    assert outcome(clean_report, "event_time_type").observed == "datetime64[us]"
    assert outcome(clean_report, "value_type").observed == "float64"
    assert clean_report.docs_path is None


def test_outcomes_are_json_serialisable(clean_report: QualityReport) -> None:
    bad = validate(partition("UPDATE raw_events SET value = 'inf'::DOUBLE WHERE source_row = 1"))
    for report in (clean_report, bad):
        json.dumps([asdict(o) for o in report.outcomes], allow_nan=False)
    assert "value_non_negative" in failed_names(bad)


# --- one failing fixture per row-level expectation -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "statements", "unexpected"),
    [
        (
            "user_id_not_null",
            ["UPDATE raw_events SET user_id = NULL WHERE source_row IN (1, 2)"],
            2,
        ),
        (
            "event_time_not_null",
            ["UPDATE raw_events SET event_time = NULL WHERE source_row = 3"],
            1,
        ),
        (
            "event_type_not_null",
            ["UPDATE raw_events SET event_type = NULL WHERE source_row IN (4, 5, 6)"],
            3,
        ),
        (
            "event_type_in_vocabulary",
            ["UPDATE raw_events SET event_type = 'teleport' WHERE source_row IN (7, 8)"],
            2,
        ),
        (
            "event_type_in_vocabulary",  # matching is exact: case matters
            ["UPDATE raw_events SET event_type = 'Purchase' WHERE source_row = 9"],
            1,
        ),
        (
            "value_non_negative",
            [
                "UPDATE raw_events SET value = -1 WHERE source_row = 9",
                "UPDATE raw_events SET value = 'inf'::DOUBLE WHERE source_row = 10",
                "UPDATE raw_events SET value = '-inf'::DOUBLE WHERE source_row = 11",
            ],
            3,
        ),
        (
            "value_non_negative",
            ["UPDATE raw_events SET value = -0.01 WHERE source_row = 13"],
            1,
        ),
        (
            "event_time_not_future",
            ["UPDATE raw_events SET event_time = '2024-03-03' WHERE source_row IN (12, 13)"],
            2,
        ),
        (
            "event_time_not_future",  # one minute past now + 5 min skew
            ["UPDATE raw_events SET event_time = '2024-03-02 00:06' WHERE source_row = 4"],
            1,
        ),
        (
            # 3 exact duplicates: 6 of 103 rows (5.8 %) repeat a key, over the 5 % allowed
            "duplicate_share",
            [
                "INSERT INTO raw_events SELECT * REPLACE (source_row + 1000 AS source_row) "
                "FROM raw_events WHERE source_row IN (1, 2, 3)"
            ],
            6,
        ),
    ],
)
def test_row_level_expectation_fails(name: str, statements: list[str], unexpected: int) -> None:
    df = partition(*statements)
    report = validate(df)
    assert not report.success
    assert failed_names(report) == [name]
    broken = outcome(report, name)
    assert broken.unexpected_count == unexpected
    column = CHECKED_COLUMN.get(name)  # map expectations skip nulls in their column
    checked = int(df[column].notna().sum()) if column else len(df)
    assert broken.observed == pytest.approx(unexpected / checked, abs=1e-6)
    assert f"{unexpected} of {checked} rows checked" in broken.detail


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param(
            [
                "UPDATE raw_events SET value = 0 WHERE source_row IN (1, 2)",
                "UPDATE raw_events SET value = NULL WHERE source_row = 3",
                "UPDATE raw_events SET value = 1e300 WHERE source_row = 5",
            ],
            id="value zero, null and huge",
        ),
        pytest.param(
            ["UPDATE raw_events SET event_time = '2024-03-02 00:05' WHERE source_row = 4"],
            id="event_time exactly now + skew",
        ),
        pytest.param(
            [
                "INSERT INTO raw_events SELECT * REPLACE (source_row + 1000 AS source_row) "
                "FROM raw_events WHERE source_row IN (1, 2)"
            ],
            id="2 duplicates: 4 of 102 rows, under 5 %",
        ),
        pytest.param(
            [
                "INSERT INTO raw_events SELECT * REPLACE (session_id || 'b' AS session_id, "
                "source_row + 1000 AS source_row) FROM raw_events WHERE source_row < 20"
            ],
            id="same event in another session is no duplicate",
        ),
        pytest.param(
            ["UPDATE raw_events SET session_id = NULL WHERE source_row < 50"],
            id="null session_id",
        ),
        pytest.param(
            ["ALTER TABLE raw_events ADD COLUMN country VARCHAR DEFAULT 'NL'"],
            id="extra column",
        ),
    ],
)
def test_near_misses_pass(statements: list[str]) -> None:
    report = validate(partition(*statements))
    assert report.success, [o.detail for o in report.failed()]


def test_two_duplicates_are_counted_even_when_passing() -> None:
    df = partition(
        "INSERT INTO raw_events SELECT * REPLACE (source_row + 1000 AS source_row) "
        "FROM raw_events WHERE source_row IN (1, 2)"
    )
    dup = outcome(validate(df), "duplicate_share")
    assert dup.success
    assert dup.unexpected_count == 4
    assert dup.observed == pytest.approx(4 / 102, abs=1e-6)


def test_duplicate_threshold_is_configurable() -> None:
    df = partition(
        "INSERT INTO raw_events SELECT * REPLACE (source_row + 1000 AS source_row) "
        "FROM raw_events WHERE source_row = 1"
    )
    assert validate(df).success
    strict = validate(df, max_duplicate_share=0.0)
    assert failed_names(strict) == ["duplicate_share"]
    assert outcome(strict, "duplicate_share").unexpected_count == 2


@pytest.mark.parametrize(
    "now",
    [
        NOW,
        NOW.replace(tzinfo=UTC),
        datetime(2024, 3, 2, 2, 0, tzinfo=timezone(timedelta(hours=2))),  # same instant
    ],
    ids=["naive", "utc", "plus-2h"],
)
def test_future_boundary_is_now_plus_skew_in_utc(now: datetime) -> None:
    df = partition(
        "UPDATE raw_events SET event_time = '2024-03-02 00:05' WHERE source_row = 1",
        "UPDATE raw_events SET event_time = '2024-03-02 00:05:01' WHERE source_row = 2",
    )
    report = validate(df, now=now)
    assert failed_names(report) == ["event_time_not_future"]
    assert outcome(report, "event_time_not_future").unexpected_count == 1
    assert validate(df, now=now, future_skew_minutes=6).success


@pytest.mark.parametrize("null", [None, np.nan, pd.NA], ids=["None", "NaN", "pd.NA"])
@pytest.mark.parametrize("via_duckdb", [False, True], ids=["pandas", "duckdb"])
def test_every_kind_of_null_counts(clean: pd.DataFrame, null: object, via_duckdb: bool) -> None:
    """None, NaN and pd.NA in a required column are all nulls."""
    df = clean.copy()
    df["user_id"] = df["user_id"].astype(object)
    df.loc[[5, 6], "user_id"] = null
    if via_duckdb:  # stored in DuckDB and read back: NaN -> NULL on the pandas scan
        con = duckdb.connect()
        con.register("incoming", df)
        df = con.sql("SELECT * FROM incoming").df()
        con.close()
    report = validate(df)
    assert failed_names(report) == ["user_id_not_null"]
    assert outcome(report, "user_id_not_null").unexpected_count == 2


# --- table-level expectations: schema, types, row count ------------------------------------------


def test_missing_required_column_fails_without_raising() -> None:
    report = validate(partition("ALTER TABLE raw_events DROP COLUMN event_type"))
    assert not report.success
    cols = outcome(report, "columns_match")
    assert not cols.success
    assert cols.unexpected_count == 0
    assert "event_type" in cols.detail
    assert "event_type" not in cols.observed
    # the expectations on the missing column fail too, saying why, instead of crashing
    for name in ("event_type_not_null", "event_type_in_vocabulary", "duplicate_share"):
        assert "could not be evaluated" in outcome(report, name).detail
    assert set(failed_names(report)) == {
        "columns_match",
        "event_type_not_null",
        "event_type_in_vocabulary",
        "duplicate_share",
    }


@pytest.mark.parametrize(
    ("name", "select", "dtype"),
    [
        (
            "event_time_type",
            "SELECT * REPLACE (CAST(event_time AS VARCHAR) AS event_time) FROM raw_events",
            "str",
        ),
        (
            "event_time_type",  # tz-aware is not the stored naive UTC
            "SELECT * REPLACE (CAST(event_time AS TIMESTAMPTZ) AS event_time) FROM raw_events",
            "datetime64[us, ",  # then the session time zone
        ),
        (
            "value_type",
            "SELECT * REPLACE (CAST(value AS VARCHAR) AS value) FROM raw_events",
            "str",
        ),
        (
            "value_type",
            "SELECT * REPLACE (CAST(coalesce(value, 0) AS BIGINT) AS value) FROM raw_events",
            "int64",
        ),
    ],
)
def test_wrong_dtype_fails(name: str, select: str, dtype: str) -> None:
    report = validate(partition(select=select))
    assert name in failed_names(report)
    typed = outcome(report, name)
    assert typed.unexpected_count == 0
    assert typed.observed.startswith(dtype)


def test_value_type_accepts_nullable_float(clean: pd.DataFrame) -> None:
    df = clean.astype({"value": "Float64"})
    assert validate(df).success


def test_empty_partition_fails_on_row_count_only() -> None:
    """Every map expectation passes on 0 rows; the row count must not."""
    empty = partition("DELETE FROM raw_events")
    assert len(empty) == 0
    report = validate(empty, trailing_counts=[])
    assert failed_names(report) == ["row_count_min"]
    assert outcome(report, "row_count_min").observed == 0
    assert report.rows == 0
    with_history = validate(empty)
    assert failed_names(with_history) == ["row_count_min", "volume_vs_trailing"]


# --- volume against the trailing partitions ------------------------------------------------------


@pytest.mark.parametrize(
    ("trailing", "ok"),
    [
        ((100, 110, 90), True),
        ((60, 200, 100), True),  # median, not mean
        ((0, 0, 100), True),  # zeros are missing days, ignored
        ((200,), True),  # 100 is exactly the lower bound
        ((202,), False),  # lower bound 101
        ((300, 320, 280), False),  # too few rows
        ((40, 50, 60), False),  # too many rows: upper bound 50 + 4 × stdev 10 = 90
    ],
)
def test_volume_against_trailing_median(trailing: tuple[int, ...], ok: bool) -> None:
    report = validate(partition(), trailing_counts=trailing)
    volume = outcome(report, "volume_vs_trailing")
    assert volume.success is ok
    assert report.success is ok
    assert volume.observed == 100
    assert volume.expectation == "ExpectTableRowCountToBeBetween"


def test_volume_tolerance_is_configurable() -> None:
    report = validate(
        partition(), trailing_counts=(130,), volume_tolerance=0.2, volume_noise_sigmas=0
    )
    assert failed_names(report) == ["volume_vs_trailing"]  # 104..156
    assert validate(
        partition(), trailing_counts=(130,), volume_tolerance=0.25, volume_noise_sigmas=0
    ).success


def test_volume_band_widens_to_the_noise_of_small_counts() -> None:
    # 100 rows after days of about 45: twice the median, outside ± 50 %, but the recent days
    # swing by a standard deviation of about 15, and 45 + 4 × 15 > 100
    noisy = (45, 30, 60, 44, 70, 25, 46, 50, 35, 62)
    assert validate(partition(), trailing_counts=noisy).success
    tight = validate(partition(), trailing_counts=noisy, volume_noise_sigmas=0)
    assert failed_names(tight) == ["volume_vs_trailing"]
    # a steady history keeps the band tight: 45 ± max(22.5, 4 × √45 = 26.8)
    steady = (45, 46, 44, 45, 47, 43, 45)
    assert failed_names(validate(partition(), trailing_counts=steady)) == ["volume_vs_trailing"]


@pytest.mark.parametrize(
    ("history", "band"),
    [
        ((100,), (50, 150)),  # ± 50 % beats 4 × √100 = 40
        ((4,), (0, 12)),  # Poisson: 4 × √4 = 8 beats ± 2
        ((1000, 1010, 990, 1000), (500, 1500)),
        ((100, 20, 180, 100), (0, 362)),  # 100 + 4 × stdev 65.3, rounded up
    ],
)
def test_volume_bounds(history: tuple[int, ...], band: tuple[int, int]) -> None:
    low, high, _ = volume_bounds(history, days=7, tolerance=0.5, sigmas=4)
    assert (low, high) == band


def test_no_history_means_no_volume_expectation(clean: pd.DataFrame) -> None:
    for trailing in ([], [0, 0]):
        report = validate(clean, trailing_counts=trailing)
        assert report.success
        assert [o.name for o in report.outcomes] == ALL_NAMES[:-1]
        assert report.evaluated == len(ALL_NAMES) - 1


# --- unknown event types, as ingest quarantined them --------------------------------------------


def test_a_day_with_many_unknown_event_types_fails_and_blocks_retraining(tmp_path: Path) -> None:
    """Real files loaded into a real warehouse: the rows of a type outside the vocabulary are
    quarantined; a day where they exceed data.max_unknown_event_share fails its check, stays
    out of `events` and is what the drift sensor reports as blocking a retrain."""
    landing = tmp_path / "landing"
    landing.mkdir()
    unknown = {"2024-03-01": 0, "2024-03-02": 2, "2024-03-03": 6}  # of 20 rows: 0, 10, 30 %
    for day, n in unknown.items():
        rows = [
            f"u{i},{day}T{8 + i // 4:02d}:{i % 4 * 10:02d}:00,"
            f"{'live_stream_view' if i < n else 'view'},s{i}"
            for i in range(20)
        ]
        text = "\n".join(["user_id,event_time,event_type,session_id", *rows]) + "\n"
        (landing / f"events_{day}.csv").write_text(text)
    home = BatHome(tmp_path / "home").ensure()
    cfg = DataConfig(event_types=["view", "purchase"])
    assert cfg.max_unknown_event_share == 0.2
    now = datetime(2024, 3, 4, tzinfo=UTC)
    with writer(home.warehouse) as con:
        batch = load_files(con, sorted(landing.iterdir()), cfg, now)
        assert [r.quarantine_reasons for r in batch.results] == [
            {},
            {"unknown_event_type": 2},
            {"unknown_event_type": 6},
        ]
        reports = check_partitions(con, batch.changed, cfg, home, now, build_docs=False)
        replace_table(con, "events")
        days = con.execute(
            "select distinct strftime(event_time, '%Y-%m-%d') from events order by 1"
        ).fetchall()
        blocking = quality_failures(con, Window(date(2024, 3, 1), date(2024, 3, 3)))
    assert {k: [o.name for o in r.failed()] for k, r in reports.items()} == {
        "2024-03-01": [],
        "2024-03-02": [],
        "2024-03-03": ["unknown_event_share"],
    }
    share = outcome(reports["2024-03-03"], "unknown_event_share")
    assert share.observed == pytest.approx(0.3)
    assert share.expectation == "ExpectColumnMaxToBeBetween"
    assert "unknown_event_type" in share.detail
    assert outcome(reports["2024-03-02"], "unknown_event_share").observed == pytest.approx(0.1)
    assert days == [("2024-03-01",), ("2024-03-02",)]
    assert blocking == ["2024-03-03"]
    # the day alone (validated on its own, with its volume history) fails the same way, and
    # passes under a looser threshold
    loose = cfg.model_copy(update={"max_unknown_event_share": 0.3})
    with writer(home.warehouse) as con:
        alone = check_partitions(con, ["2024-03-03"], cfg, home, now, build_docs=False)
        passed = check_partitions(con, ["2024-03-03"], loose, home, now, build_docs=False)
    assert failed_names(alone["2024-03-03"]) == ["unknown_event_share"]
    assert passed["2024-03-03"].success


def test_a_day_left_without_loaded_rows_fails_when_checked_with_other_days(tmp_path: Path) -> None:
    """Several days are first validated together; a day whose every row was quarantined has
    no row in that joint data, so it is validated on its own and fails."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for day, kind in (("2024-03-01", "view"), ("2024-03-02", "live_stream_view")):
        rows = [f"u{i},{day}T10:{i:02d}:00,{kind}" for i in range(10)]
        (landing / f"events_{day}.csv").write_text(
            "\n".join(["user_id,event_time,event_type", *rows]) + "\n"
        )
    home = BatHome(tmp_path / "home").ensure()
    cfg = DataConfig(event_types=["view"])
    now = datetime(2024, 3, 4, tzinfo=UTC)
    with writer(home.warehouse) as con:
        batch = load_files(con, sorted(landing.iterdir()), cfg, now)
        assert [r.rows_loaded for r in batch.results] == [10, 0]
        reports = check_partitions(con, batch.changed, cfg, home, now, build_docs=False)
    assert reports["2024-03-01"].success
    assert {"row_count_min", "unknown_event_share"} <= set(failed_names(reports["2024-03-02"]))


# --- suite misconfiguration ----------------------------------------------------------------------


def test_evaluated_must_equal_suite_length(clean: pd.DataFrame, monkeypatch) -> None:
    """An expectation that GX silently drops (an identical duplicate) is a suite error."""
    build = suite.build_specs

    def with_duplicate(**kwargs):
        specs = build(**kwargs)
        return [*specs, suite.Spec(**{**asdict(specs[-1]), "name": "volume_again"})]

    monkeypatch.setattr(validation, "build_specs", with_duplicate)
    with pytest.raises(QualitySuiteError, match="evaluated 12 expectations"):
        validate(clean)


def test_unknown_expectation_class_is_a_suite_error(clean: pd.DataFrame, monkeypatch) -> None:
    build = suite.build_specs

    def with_typo(**kwargs):
        return [
            *build(**kwargs),
            suite.Spec("typo", "ExpectColumnValuesToBeNotNul", {}, "", True),
        ]

    monkeypatch.setattr(validation, "build_specs", with_typo)
    with pytest.raises(QualitySuiteError, match="ExpectColumnValuesToBeNotNul"):
        validate(clean)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vocabulary": []},
        {"max_duplicate_share": 1.0},
        {"max_duplicate_share": -0.1},
        {"volume_tolerance": -0.5},
        {"volume_tolerance": float("nan")},
        {"future_skew_minutes": -1},
    ],
)
def test_bad_arguments_are_suite_errors(clean: pd.DataFrame, kwargs: dict) -> None:
    with pytest.raises(QualitySuiteError):
        validate(clean, **kwargs)


# --- GX context, data docs, concurrency ----------------------------------------------------------


def test_file_context_is_persistent_and_config_not_rewritten(tmp_path: Path) -> None:
    import great_expectations as gx
    from great_expectations.data_context import FileDataContext

    gx_dir = tmp_path / "gx"
    first = validate(partition(), gx_dir=gx_dir)
    assert first.success
    config = gx_dir / "great_expectations.yml"
    assert config.is_file()
    assert isinstance(gx.get_context(mode="file", context_root_dir=str(gx_dir)), FileDataContext)
    before = config.read_bytes()
    second = validate(
        partition("UPDATE raw_events SET user_id = NULL WHERE source_row = 1"),
        gx_dir=gx_dir,
        docs_dir=tmp_path / "docs",
    )
    assert failed_names(second) == ["user_id_not_null"]
    assert config.read_bytes() == before  # run-time settings (docs site...) stay in memory
    stored = list((gx_dir / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == 2
    assert json.loads((gx_dir / "expectations" / "raw_events.json").read_text())["name"] == (
        "raw_events"
    )


@pytest.mark.parametrize("with_gx_dir", [False, True], ids=["ephemeral", "file"])
def test_data_docs_written(tmp_path: Path, with_gx_dir: bool) -> None:
    docs = tmp_path / "docs"
    report = validate(
        partition("UPDATE raw_events SET value = -5 WHERE source_row = 1"),
        docs_dir=docs,
        gx_dir=tmp_path / "gx" if with_gx_dir else None,
    )
    assert report.docs_path == docs / "index.html"
    assert report.docs_path.is_file()
    assert "raw_events" in report.docs_path.read_text()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 1
    assert "2024-03-01" in str(pages[0])  # the run is named after the partition key


def test_validation_takes_the_gx_dir_lock(tmp_path: Path, clean: pd.DataFrame) -> None:
    """While another process holds the lock, a validation waits for it."""
    gx_dir = tmp_path / "gx"
    assert validate(clean, gx_dir=gx_dir).success  # warm: GX imported, context created
    done = threading.Event()
    with open(gx_dir / LOCK_FILENAME, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: (validate(clean, gx_dir=gx_dir), done.set()))
        worker.start()
        assert not done.wait(2.0)
        fcntl.flock(handle, fcntl.LOCK_UN)
    worker.join(60)
    assert done.is_set()


def _validate_in_worker(gx_dir: str, docs_dir: str, bad_row: int) -> QualityReport:
    """One validation of a partition with a NULL user_id in ``bad_row`` (run in a worker)."""
    df = partition(f"UPDATE raw_events SET user_id = NULL WHERE source_row = {bad_row}")
    return validate(df, gx_dir=Path(gx_dir), docs_dir=Path(docs_dir))


@pytest.mark.parametrize("pool", ["processes", "threads"])
def test_concurrent_validations_share_a_gx_dir(tmp_path: Path, pool: str) -> None:
    """Parallel runs on one (fresh) context all complete, nothing corrupts."""
    gx_dir, docs = tmp_path / "gx", tmp_path / "docs"
    if pool == "processes":
        executor = ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork"))
    else:
        executor = ThreadPoolExecutor(3)
    with executor:
        futures = [
            executor.submit(_validate_in_worker, str(gx_dir), str(docs), i) for i in (1, 2, 3)
        ]
        reports = [f.result(timeout=120) for f in futures]
    for report in reports:
        assert failed_names(report) == ["user_id_not_null"]
        assert outcome(report, "user_id_not_null").unexpected_count == 1
        assert report.evaluated == len(ALL_NAMES)
    assert len(list((gx_dir / "uncommitted" / "validations").rglob("*.json"))) == 3
    assert len(list((docs / "validations").rglob("*.html"))) == 3
    for stored in ("expectations", "checkpoints", "validation_definitions"):
        json.loads((gx_dir / stored / "raw_events.json").read_text())
    assert validate(partition(), gx_dir=gx_dir).success  # the context still loads and runs


# --- hygiene -------------------------------------------------------------------------------------


def test_import_is_cheap_and_side_effect_free() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GX_ANALYTICS_ENABLED"}
    code = (
        "import os, sys, bat_pipeline.quality.validation, bat_pipeline.quality.verdicts\n"
        "assert 'great_expectations' not in sys.modules\n"
        "assert 'dagster' not in sys.modules\n"
        "assert 'GX_ANALYTICS_ENABLED' not in os.environ\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_environment_restored_and_no_progress_bars(clean: pd.DataFrame, monkeypatch, capfd) -> None:
    monkeypatch.delenv("GX_ANALYTICS_ENABLED", raising=False)
    validate(clean)
    assert "GX_ANALYTICS_ENABLED" not in os.environ
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "true")
    validate(clean)
    assert os.environ["GX_ANALYTICS_ENABLED"] == "true"
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out


def test_input_frame_is_not_modified(clean: pd.DataFrame) -> None:
    before = clean.copy()
    validate(clean)
    pd.testing.assert_frame_equal(clean, before)

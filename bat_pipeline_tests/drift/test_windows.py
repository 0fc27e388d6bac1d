"""Drift detection on synthetic data loaded through the real ingest (the vocabulary quarantines a
new event type): every injected kind is flagged in its group in its first week, and calm
windows of the same data flag nothing. What each kind moves: test_drift_kinds.py."""

from datetime import date, timedelta

import pytest

from bat_pipeline.config import DataConfig
from bat_pipeline.data.ingest import ingest_file
from bat_pipeline.data.synthetic import DRIFT_KINDS, generate
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.drift.windows import Window, build_window_profile, drift_check
from bat_pipeline_tests.drift.shops import EXPECTED
from bat_pipeline_tests.helpers import mark_checked

START = date(2026, 1, 1)
DAYS, DRIFT_DAY = 56, 42
DRIFT_START = START + timedelta(days=DRIFT_DAY)


def day(n: int) -> date:
    return START + timedelta(days=n)


def warehouse(tmp_path, drift: str | None):
    files = tmp_path / "files"
    generate(files, users=1500, days=DAYS, seed=5, start=START, drift=drift,
             drift_start=DRIFT_START if drift else None)  # fmt: skip
    db = tmp_path / "w.duckdb"
    with writer(db) as con:
        for path in sorted(files.glob("events_*.csv")):
            ingest_file(con, path, DataConfig())
        mark_checked(con)
        replace_table(con, "events")
    return db


def check(db, reference: Window, current: Window):
    with writer(db) as con:
        profile = build_window_profile(con, reference)
        result, _ = drift_check(con, profile, current, threshold=0.2)
    return result


@pytest.fixture(scope="module")
def calm_db(tmp_path_factory):
    return warehouse(tmp_path_factory.mktemp("calm"), None)


def test_two_calm_windows_are_not_flagged(calm_db):
    for ref_start, cur_start in ((7, 35), (0, 28), (14, 49)):
        result = check(
            calm_db,
            Window(day(ref_start), day(ref_start + 27)),
            Window(day(cur_start), day(cur_start + 6)),
        )
        assert not result.signals_moved, result.verdict


@pytest.mark.slow
@pytest.mark.parametrize("kind", DRIFT_KINDS)
def test_each_drift_kind_is_flagged_in_its_first_week(tmp_path, kind):
    group, _, retrains = EXPECTED[kind]
    db = warehouse(tmp_path, kind)
    reference = Window(day(DRIFT_DAY - 28), day(DRIFT_DAY - 1))
    before = check(db, reference, Window(day(DRIFT_DAY - 7), day(DRIFT_DAY - 1)))
    assert not before.signals_moved, f"{kind} flagged before it started: {before.verdict}"
    first_week = check(db, reference, Window(DRIFT_START, DRIFT_START + timedelta(days=6)))
    assert {f.group for f in first_week.drifted} == {group}, first_week.verdict
    assert first_week.drift_detected is retrains, first_week.verdict
    assert first_week.features[0].drifted
    assert first_week.features[0].name in first_week.verdict

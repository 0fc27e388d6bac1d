"""Tests for the feature SQL (`sql/events.sql`, `user_activity.sql`, `user_profile.sql`,
`user_rfm.sql`) against values computed by hand on a tiny fixture.

The fixture (weeks start on Monday; 2024-03-04 is a Monday):

| user | event_time          | type         | session | value | device | channel |
|------|---------------------|--------------|---------|-------|--------|---------|
| u1   | 2024-03-04 09:00    | home         | s1      |       | mobile | ads     |
| u1   | 2024-03-04 09:05    | product_view | s1      |       | mobile | ads     |
| u1   | 2024-03-04 09:10    | purchase     | s1      | 20.0  | mobile | ads     |
| u1   | 2024-03-05 10:00    | home         | s2      |       | desktop| organic |
| u1   | 2024-03-11 08:00    | purchase     | s3      | 5.5   | desktop| organic |
| u2   | 2024-03-01 12:00    | purchase     | s8      | 7.0   | (null) | email   |
| u2   | 2024-03-05 23:59:59 | home         | s9      |       | tablet | email   |
| u2   | 2024-03-06 00:00:00 | search       | s9      |       | tablet | email   |
| u2   | 2024-03-10 12:00    | search       | s10     |       | tablet | email   |
| u3   | 2024-03-12 07:00    | home         | (null)  |       | mobile | (null)  |
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from bat_pipeline.data.events import summarize_events
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.features.tables import (
    FeatureMismatchError,
    build_feature_tables,
    check_tables_fit,
)
from bat_pipeline_tests.helpers import add_events

D = datetime
FIXTURE = [
    ("u1", D(2024, 3, 4, 9, 0), "home", "s1", None, "mobile", "ads"),
    ("u1", D(2024, 3, 4, 9, 5), "product_view", "s1", None, "mobile", "ads"),
    ("u1", D(2024, 3, 4, 9, 10), "purchase", "s1", 20.0, "mobile", "ads"),
    ("u1", D(2024, 3, 5, 10, 0), "home", "s2", None, "desktop", "organic"),
    ("u1", D(2024, 3, 11, 8, 0), "purchase", "s3", 5.5, "desktop", "organic"),
    ("u2", D(2024, 3, 1, 12, 0), "purchase", "s8", 7.0, None, "email"),
    ("u2", D(2024, 3, 5, 23, 59, 59), "home", "s9", None, "tablet", "email"),
    ("u2", D(2024, 3, 6, 0, 0, 0), "search", "s9", None, "tablet", "email"),
    ("u2", D(2024, 3, 10, 12, 0), "search", "s10", None, "tablet", "email"),
    ("u3", D(2024, 3, 12, 7, 0), "home", None, None, "mobile", None),
]


@pytest.fixture
def con(tmp_path):
    with writer(tmp_path / "w.duckdb") as con:
        add_events(con, FIXTURE)
        replace_table(con, "events")
        yield con


def rows_of(con: duckdb.DuckDBPyConnection, table: str, columns: str, order: str):
    return con.table(table).order(order).select(columns).fetchall()


ACTIVITY = "user_id, bucket_start, events, sessions, value, purchases"


def activity_rows(con: duckdb.DuckDBPyConnection, bucket_days: int):
    """user_activity rows, each with its counts per event type from user_event_counts."""
    replace_table(con, "user_session_days")
    replace_table(con, "user_activity", {"bucket_days": bucket_days})
    replace_table(con, "user_event_counts", {"bucket_days": bucket_days})
    counts: dict = {}
    for user, start, event_type, n in rows_of(
        con,
        "user_event_counts",
        "user_id, bucket_start, event_type, events",
        "user_id, bucket_start, event_type",
    ):
        counts.setdefault((user, start), {})[event_type] = n
    return [
        (*row, counts[(row[0], row[1])])
        for row in rows_of(con, "user_activity", ACTIVITY, "user_id, bucket_start")
    ]


def test_user_activity_per_day(con):
    assert activity_rows(con, 1) == [
        ("u1", date(2024, 3, 4), 3, 1, 20.0, 1, {"home": 1, "product_view": 1, "purchase": 1}),
        ("u1", date(2024, 3, 5), 1, 1, 0.0, 0, {"home": 1}),
        ("u1", date(2024, 3, 11), 1, 1, 5.5, 1, {"purchase": 1}),
        ("u2", date(2024, 3, 1), 1, 1, 7.0, 1, {"purchase": 1}),
        ("u2", date(2024, 3, 5), 1, 1, 0.0, 0, {"home": 1}),
        ("u2", date(2024, 3, 6), 1, 1, 0.0, 0, {"search": 1}),
        ("u2", date(2024, 3, 10), 1, 1, 0.0, 0, {"search": 1}),
        ("u3", date(2024, 3, 12), 1, 0, 0.0, 0, {"home": 1}),
    ]
    first_last = rows_of(
        con, "user_activity", "first_event_time, last_event_time", "user_id, bucket_start"
    )[0]
    assert first_last == (D(2024, 3, 4, 9, 0), D(2024, 3, 4, 9, 10))


def test_user_activity_per_week_starts_on_monday(con):
    assert activity_rows(con, 7) == [
        ("u1", date(2024, 3, 4), 4, 2, 20.0, 1, {"home": 2, "product_view": 1, "purchase": 1}),
        ("u1", date(2024, 3, 11), 1, 1, 5.5, 1, {"purchase": 1}),
        ("u2", date(2024, 2, 26), 1, 1, 7.0, 1, {"purchase": 1}),
        # Tue 23:59:59, Wed 00:00 and Sun 12:00 are one week; s9 spans two days
        ("u2", date(2024, 3, 4), 3, 2, 0.0, 0, {"home": 1, "search": 2}),
        ("u3", date(2024, 3, 11), 1, 0, 0.0, 0, {"home": 1}),
    ]
    starts = [r[0] for r in rows_of(con, "user_activity", "bucket_start", "bucket_start")]
    assert all(s.weekday() == 0 for s in starts)


def test_user_session_days_splits_a_session_at_midnight(con):
    replace_table(con, "user_session_days")
    rows = rows_of(
        con,
        "user_session_days",
        "user_id, session_id, day, events, value, purchases",
        "user_id, day, session_id",
    )
    assert [r for r in rows if r[0] == "u2"] == [
        ("u2", "s8", date(2024, 3, 1), 1, 7.0, 1),
        ("u2", "s9", date(2024, 3, 5), 1, None, 0),
        ("u2", "s9", date(2024, 3, 6), 1, None, 0),
        ("u2", "s10", date(2024, 3, 10), 1, None, 0),
    ]
    # u3's event has no session: one row with a null session_id
    assert rows[-1] == ("u3", None, date(2024, 3, 12), 1, None, 0)


def test_scoring_refuses_tables_built_with_another_bucket(con):
    check_tables_fit(con, 7, "a week model")  # nothing built yet: nothing to compare
    build_feature_tables(con, bucket_days=1, as_of=AS_OF, lookback_days=7)
    check_tables_fit(con, 1, "a day model")
    with pytest.raises(FeatureMismatchError, match=r"built with day buckets.*task.bucket: week"):
        check_tables_fit(con, 7, "champion version 3")
    build_feature_tables(con, bucket_days=7, as_of=AS_OF, lookback_days=14)
    check_tables_fit(con, 7, "champion version 3")


def test_build_feature_tables_leaves_no_intermediate_behind(con):
    build_feature_tables(con, bucket_days=1, as_of=AS_OF, lookback_days=7)
    names = {r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()}
    assert "user_session_days" not in names
    assert {"user_activity", "user_event_counts", "user_profile", "user_rfm"} <= names


def test_user_profile_is_the_context_of_the_first_event(con):
    replace_table(con, "user_profile")
    assert rows_of(
        con,
        "user_profile",
        "user_id, first_seen, last_seen, first_device, first_channel, events",
        "user_id",
    ) == [
        ("u1", D(2024, 3, 4, 9, 0), D(2024, 3, 11, 8, 0), "mobile", "ads", 5),
        # u2's first event has no device: the first device is unknown, not the later 'tablet'
        ("u2", D(2024, 3, 1, 12, 0), D(2024, 3, 10, 12, 0), None, "email", 4),
        ("u3", D(2024, 3, 12, 7, 0), D(2024, 3, 12, 7, 0), "mobile", None, 1),
    ]


RFM = "user_id, recency_days, tenure_days, frequency_days, sessions, monetary, purchases"
AS_OF = date(2024, 3, 11)


def rfm(con, as_of=AS_OF, lookback_days=7):
    replace_table(con, "user_session_days")
    replace_table(con, "user_rfm", {"as_of": as_of, "lookback_days": lookback_days})
    return rows_of(con, "user_rfm", RFM, "user_id")


def test_user_rfm_at_as_of(con):
    # window [2024-03-04, 2024-03-11): u1's 03-11 purchase, u3's only event and u2's
    # 03-01 purchase (before the 7-day lookback) do not count towards frequency/monetary
    assert rfm(con) == [
        ("u1", 6, 7, 2, 2, 20.0, 1),
        ("u2", 1, 10, 3, 2, 0.0, 0),
    ]
    # a longer lookback takes u2's 03-01 purchase in
    assert rfm(con, lookback_days=30)[1] == ("u2", 1, 10, 4, 3, 7.0, 1)


def test_user_rfm_ignores_events_at_or_after_as_of(con):
    before = rfm(con)
    add_events(
        con,
        [
            ("u1", D(2024, 3, 11, 0, 0, 0), "purchase", "s99", 100.0, "mobile", "ads"),
            ("u2", D(2024, 3, 11, 0, 0, 0), "purchase", "s98", 50.0, "tablet", "email"),
            ("u4", D(2024, 3, 11, 0, 0, 0), "purchase", "s97", 10.0, "mobile", "ads"),
        ],
    )
    replace_table(con, "events")
    assert rfm(con) == before
    # one second earlier is history
    add_events(con, [("u1", D(2024, 3, 10, 23, 59, 59), "purchase", "s96", 1.0, None, None)])
    replace_table(con, "events")
    assert rfm(con)[0] == ("u1", 1, 7, 3, 3, 21.0, 2)


def test_build_feature_tables_reports_row_counts(con):
    built = build_feature_tables(con, bucket_days=7, as_of=AS_OF, lookback_days=7)
    assert built.rows == {
        "user_activity": 5,
        "user_event_counts": 8,
        "user_profile": 3,
        "user_rfm": 2,
    }
    assert built.to_dict() == {
        "bucket_days": 7,
        "as_of": "2024-03-11",
        "rows": {"user_activity": 5, "user_event_counts": 8, "user_profile": 3, "user_rfm": 2},
    }


def test_replace_table_refuses_unknown_names(con):
    with pytest.raises(ValueError, match="not a warehouse table"):
        replace_table(con, "raw_events; drop table raw_events")


def record_quality(con, key: str, passed: bool, checked_at: datetime) -> None:
    con.execute(
        "insert into quality_results values (?, ?, ?, ?)",
        [key, passed, [] if passed else ["value_non_negative"], checked_at],
    )


def event_days(con) -> dict[str, int]:
    replace_table(con, "events")
    rows = con.execute(
        "select partition_key, count(*) from events group by 1 order by 1"
    ).fetchall()
    return dict(rows)


def test_events_excludes_partitions_whose_latest_quality_check_failed(con):
    everything = event_days(con)
    assert everything["2024-03-04"] == 3 and sum(everything.values()) == len(FIXTURE)

    record_quality(con, "2024-03-04", True, D(2024, 3, 13, 1))
    record_quality(con, "2024-03-04", False, D(2024, 3, 13, 2))
    record_quality(con, "2024-03-05", True, D(2024, 3, 13, 2))
    after_failure = event_days(con)
    assert "2024-03-04" not in after_failure
    assert after_failure == {k: n for k, n in everything.items() if k != "2024-03-04"}

    record_quality(con, "2024-03-04", True, D(2024, 3, 13, 3))  # fixed and re-checked
    assert event_days(con) == everything

    record_quality(con, "2024-03-05", False, D(2024, 3, 13, 4))
    assert "2024-03-05" not in event_days(con)


def test_events_leaves_out_a_partition_that_was_never_checked(con):
    from bat_pipeline.quality.acceptance import excluded_days

    everything = event_days(con)
    con.execute("delete from quality_results where partition_key = '2024-03-04'")
    con.execute(
        "insert into ingest_log values ('2024-03-04', 'f.csv', 'x', 3, 3, 0, timestamp "
        "'2024-03-05')"
    )
    assert event_days(con) == {k: n for k, n in everything.items() if k != "2024-03-04"}
    unchecked = [(d.partition_key, d.failed_expectations) for d in excluded_days(con)]
    assert unchecked == [("2024-03-04", ["not_checked"])]


def test_summarize_events_and_default_as_of(con):
    summary = summarize_events(con)
    assert (summary.rows, summary.users) == (len(FIXTURE), 3)
    assert summary.first_event == D(2024, 3, 1, 12, 0)
    assert summary.last_event == D(2024, 3, 12, 7, 0)
    assert summary.default_as_of == date(2024, 3, 13)  # the day after the last event

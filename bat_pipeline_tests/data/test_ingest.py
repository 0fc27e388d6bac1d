"""Tests for loading event files into the warehouse.

Every test works on a real DuckDB file under ``tmp_path`` and on real event files written there
(CSV, CSV.gz, Parquet). The invariant checked throughout: every row read lands in ``raw_events``
or in ``quarantine`` with a reason, ``rows_read == rows_loaded + rows_quarantined``, and a file
that cannot be loaded as a whole fails with a message naming it and writes nothing.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bat_pipeline.cli.ingest import ingest_paths
from bat_pipeline.config import BatConfig, DataConfig
from bat_pipeline.contract import QUARANTINE_REASONS
from bat_pipeline.data.ingest import IngestError, IngestResult, ingest_file, partition_key_for
from bat_pipeline.data.sqlfiles import statement
from bat_pipeline.data.warehouse import WarehouseLockedError, writer
from bat_pipeline.home import BatHome

NOW = datetime(2024, 3, 5)  # naive UTC, after every partition used below
VOCAB = DataConfig(event_types=["view", "purchase"])
HEADER = "user_id,event_time,event_type,session_id,value"
GOOD_ROWS = [
    "u1,2024-03-01T10:00:00,view,s1,",
    "u2,2024-03-01T11:00:00,purchase,s2,9.5",
]
TABLES = ("raw_events", "quarantine", "ingest_log", "vocabulary")


def write_csv(folder: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.table(t).aggregate("count(*)").fetchall()[0][0] for t in TABLES}


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every row of every ingestion table, sorted: to show that nothing was written."""
    return {t: sorted(con.table(t).fetchall(), key=repr) for t in TABLES}


def assert_conserved(con: duckdb.DuckDBPyConnection, result: IngestResult) -> None:
    """rows_read == loaded + quarantined, and the tables hold exactly those rows."""
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    assert sum(result.quarantine_reasons.values()) == result.rows_quarantined
    key = result.partition_key
    loaded = con.execute(
        "select count(*) from raw_events where partition_key = ?", [key]
    ).fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from quarantine where partition_key = ?", [key]
    ).fetchall()[0][0]
    assert (loaded, quarantined) == (result.rows_loaded, result.rows_quarantined)


def load(tmp_path: Path, path: Path, cfg: DataConfig = VOCAB, now: datetime = NOW):
    with writer(tmp_path / "w.duckdb") as con:
        result = ingest_file(con, path, cfg, now=now)
        assert_conserved(con, result)
        rows = con.execute(
            "select user_id, event_time, event_type, session_id, value, device, channel, extra "
            "from raw_events where partition_key = ? order by user_id, event_time",
            [result.partition_key],
        ).fetchall()
    return result, rows


# ------------------------------------------------------------------ quarantine, row by row

#: reason -> (the offending row, now); the file holds GOOD_ROWS plus this row.
BAD_ROWS = {
    "missing_user_id": (",2024-03-01T10:00:00,view,s1,1", NOW),
    "missing_event_type": ("u9,2024-03-01T10:00:00,,s1,1", NOW),
    "missing_event_time": ("u9,,view,s1,1", NOW),
    "unparsable_event_time": ("u9,yesterday at noon,view,s1,1", NOW),
    "negative_value": ("u9,2024-03-01T10:00:00,view,s1,-3", NOW),
    "non_finite_value": ("u9,2024-03-01T10:00:00,view,s1,inf", NOW),
    "unparsable_value": ("u9,2024-03-01T10:00:00,view,s1,12abc", NOW),
    # now = noon of the partition's day; 18:00 is in the window but 6 h in the future
    "future_event_time": ("u9,2024-03-01T18:00:00,view,s1,1", datetime(2024, 3, 1, 12)),
    "unknown_event_type": ("u9,2024-03-01T10:00:00,teleport,s1,1", NOW),
    "duplicate": (GOOD_ROWS[1], NOW),
    "outside_partition_window": ("u9,2024-02-29T23:59:59,view,s1,1", NOW),
    "malformed_line": ("u9,2024-03-01T10:00:00,view,s1,1,RAGGED", NOW),
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_each_bad_row_is_quarantined_with_its_reason(tmp_path, reason):
    bad, now = BAD_ROWS[reason]
    path = write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, bad])
    result, rows = load(tmp_path, path, now=now)
    assert result.quarantine_reasons == {reason: 1}
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert sorted(r[0] for r in rows) == ["u1", "u2"]
    with writer(tmp_path / "w.duckdb") as con:
        stored = con.execute("select reason, raw from quarantine").fetchall()
    assert [r[0] for r in stored] == [reason]
    # nothing is lost: the quarantined row's original text is kept
    raw = json.loads(stored[0][1])
    if reason == "malformed_line":
        assert raw["line"] == bad
    else:
        fields = bad.split(",")
        assert raw["user_id"] == (fields[0] or None)
        assert raw["event_time"] == (fields[1] or None)
        assert raw["value"] == (fields[4] or None)


def test_a_file_with_every_defect_counts_each_reason_and_conserves_rows(tmp_path):
    now = datetime(2024, 3, 1, 12)
    bad = [row for row, _ in BAD_ROWS.values()]
    path = write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, *bad])
    result, rows = load(tmp_path, path, now=now)
    assert result.rows_read == len(GOOD_ROWS) + len(bad) == 14
    assert result.rows_loaded == 2
    assert result.rows_quarantined == 12
    assert result.quarantine_reasons == dict.fromkeys(BAD_ROWS, 1)
    assert len(rows) == 2
    # the fixture exercises every reason the data contract declares, and no other
    assert set(BAD_ROWS) == set(QUARANTINE_REASONS)


def test_future_rows_respect_an_aware_now(tmp_path):
    """`now` given in another time zone is compared in UTC (12:00+02:00 is 10:00 UTC)."""
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["u1,2024-03-01T09:00:00,view,s1,", "u2,2024-03-01T11:00:00,view,s1,"],
    )
    now = datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    result, rows = load(
        tmp_path, path, cfg=DataConfig(event_types=["view"], future_skew_minutes=0), now=now
    )
    assert result.quarantine_reasons == {"future_event_time": 1}
    assert [r[0] for r in rows] == ["u1"]


def test_partition_window_is_half_open(tmp_path):
    rows = [
        "a,2024-03-01T00:00:00,view,s,",  # first instant: in
        "b,2024-03-01T23:59:59.999,view,s,",  # last instant: in
        "c,2024-03-02T00:00:00,view,s,",  # next day: out
        "d,2024-02-29T23:59:59,view,s,",  # day before: out
    ]
    result, loaded = load(tmp_path, write_csv(tmp_path, "events_2024-03-01.csv", rows))
    assert [r[0] for r in loaded] == ["a", "b"]
    assert result.quarantine_reasons == {"outside_partition_window": 2}


def test_a_mostly_malformed_file_is_refused_whole_and_writes_nothing(tmp_path):
    rows = [GOOD_ROWS[0], "u2,2024-03-01T11:00:00", "u3,2024-03-01T11:00:00,view"]
    path = write_csv(tmp_path, "events_2024-03-01.csv", rows)
    with writer(tmp_path / "w.duckdb") as con:
        before = snapshot(con)
        with pytest.raises(IngestError, match=r"2 of 3 lines are malformed") as err:
            ingest_file(con, path, VOCAB, now=NOW)
        assert str(path) in str(err.value)
        assert "line" in str(err.value)
        assert snapshot(con) == before


# ------------------------------------------------------------------ idempotence, replacement


def test_reingesting_the_same_file_is_a_no_op(tmp_path):
    path = write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, BAD_ROWS["negative_value"][0]])
    with writer(tmp_path / "w.duckdb") as con:
        first = ingest_file(con, path, VOCAB, now=NOW)
        before = snapshot(con)
        again = ingest_file(con, path, VOCAB, now=NOW + timedelta(days=1))
        assert again.skipped and not first.skipped
        assert (again.rows_read, again.rows_loaded, again.rows_quarantined) == (3, 2, 1)
        assert again.quarantine_reasons == first.quarantine_reasons == {"negative_value": 1}
        assert again.sha256 == first.sha256
        assert snapshot(con) == before  # same rows, same ingest_log entry (ingested_at too)


def test_a_corrected_file_replaces_its_partition(tmp_path):
    path = write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, BAD_ROWS["negative_value"][0]])
    other = write_csv(tmp_path, "events_2024-03-02.csv", ["u7,2024-03-02T08:00:00,view,s7,"])
    with writer(tmp_path / "w.duckdb") as con:
        first = ingest_file(con, path, VOCAB, now=NOW)
        ingest_file(con, other, VOCAB, now=NOW)
        other_rows = con.execute(
            "select * from raw_events where partition_key = '2024-03-02'"
        ).fetchall()
        # the same file delivered again with one value corrected
        write_csv(
            tmp_path,
            "events_2024-03-01.csv",
            [
                GOOD_ROWS[0],
                "u2,2024-03-01T11:00:00,purchase,s2,19.5",
                BAD_ROWS["negative_value"][0],
            ],
        )
        second = ingest_file(con, path, VOCAB, now=NOW)
        assert not second.skipped and second.sha256 != first.sha256
        assert_conserved(con, second)
        assert (second.rows_read, second.rows_loaded, second.rows_quarantined) == (3, 2, 1)
        values = con.execute(
            "select user_id, value from raw_events where partition_key = '2024-03-01' "
            "order by user_id"
        ).fetchall()
        assert values == [("u1", None), ("u2", 19.5)]
        # quarantine and ingest_log are replaced too, not appended to
        assert con.execute("select count(*) from quarantine").fetchall()[0][0] == 1
        log = con.execute(
            "select sha256, rows_read from ingest_log where partition_key = '2024-03-01'"
        ).fetchall()
        assert log == [(second.sha256, 3)]
        # the neighbouring partition is untouched
        assert (
            con.execute("select * from raw_events where partition_key = '2024-03-02'").fetchall()
            == other_rows
        )


# ------------------------------------------------------------------ whole-file failures


def _loaded_warehouse(tmp_path: Path) -> Path:
    """A warehouse holding one good partition (so 'nothing written' can be checked)."""
    good = write_csv(tmp_path, "events_2024-02-28.csv", ["u0,2024-02-28T09:00:00,view,s0,"])
    with writer(tmp_path / "w.duckdb") as con:
        ingest_file(con, good, VOCAB, now=NOW)
    return tmp_path / "w.duckdb"


def test_missing_required_column_fails_naming_file_and_column_and_writes_nothing(tmp_path):
    db = _loaded_warehouse(tmp_path)
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["u1,view,s1,", "u2,purchase,s2,9.5"],
        header="user_id,event_type,session_id,value",
    )
    with writer(db) as con:
        before = snapshot(con)
        with pytest.raises(IngestError) as err:
            ingest_file(con, path, VOCAB, now=NOW)
        assert snapshot(con) == before
    message = str(err.value)
    assert str(path) in message
    assert "missing required column(s) ['event_time']" in message
    assert "found ['user_id', 'event_type', 'session_id', 'value']" in message


def test_renamed_column_fails_naming_the_missing_and_found_columns(tmp_path):
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["u1,2024-03-01T10:00:00,view"],
        header="uid,ts,event_type",
    )
    with writer(tmp_path / "w.duckdb") as con, pytest.raises(IngestError) as err:
        ingest_file(con, path, VOCAB, now=NOW)
    assert "['user_id', 'event_time']" in str(err.value)
    assert "'uid'" in str(err.value) and "'ts'" in str(err.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"empty \(0 bytes\)"),
        (f"{HEADER}\n".encode(), "header but no rows"),
        (f"\ufeff{HEADER}\r\n".encode(), "header but no rows"),
        (bytes(range(256)) * 8, "not a CSV text file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 8, "cannot be read as CSV"),
    ],
    ids=["empty", "header_only", "header_only_bom_crlf", "binary", "binary_without_nul"],
)
def test_unloadable_files_fail_clearly_and_write_nothing(tmp_path, content, expected):
    db = _loaded_warehouse(tmp_path)
    path = tmp_path / "events_2024-03-01.csv"
    path.write_bytes(content)
    with writer(db) as con:
        before = snapshot(con)
        with pytest.raises(IngestError, match=expected) as err:
            ingest_file(con, path, DataConfig(), now=NOW)
        assert str(path) in str(err.value)
        assert snapshot(con) == before


def test_non_utf8_line_is_quarantined_with_the_encoding_reason(tmp_path):
    path = tmp_path / "events_2024-03-01.csv"
    text = "user_id,event_time,event_type,city\nu1,2024-03-01T01:00:00,view,Zürich\n"
    text += "u2,2024-03-01T02:00:00,view,Bern\nu3,2024-03-01T03:00:00,view,Basel\n"
    path.write_bytes(text.encode("latin-1"))
    result, rows = load(tmp_path, path)
    assert result.quarantine_reasons == {"malformed_line": 1}
    assert [r[0] for r in rows] == ["u2", "u3"]
    with writer(tmp_path / "w.duckdb") as con:
        raw = json.loads(con.execute("select raw from quarantine").fetchall()[0][0])
    assert "utf-8" in raw["errors"]


# ------------------------------------------------------------------ CSV dialect and encoding


def assert_refused(db: Path, path: Path, match: str, cfg: DataConfig = VOCAB, now=NOW) -> str:
    """Loading `path` raises an IngestError naming it and matching `match`; nothing written."""
    with writer(db) as con:
        before = snapshot(con)
        with pytest.raises(IngestError, match=match) as err:
            ingest_file(con, path, cfg, now=now)
        assert snapshot(con) == before
    assert str(path) in str(err.value)
    return str(err.value)


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        # the quote opens on line 3 and the 200 rows after it are swallowed into its value
        (
            [GOOD_ROWS[0], 'u2,"2024-03-01T11:00:00,purchase,s2,9.5']
            + [f"u{i},2024-03-01T12:00:00,view,s{i}," for i in range(3, 203)],
            3,
        ),
        ([*GOOD_ROWS, 'u3,2024-03-01T12:00:00,view,"s3,'], 4),  # on the last line
    ],
    ids=["mid_file", "last_line"],
)
def test_an_unterminated_quote_refuses_the_file_naming_its_line(tmp_path, rows, line):
    db = _loaded_warehouse(tmp_path)
    old = write_csv(tmp_path, "events_2024-03-01.csv", GOOD_ROWS)
    with writer(db) as con:
        ingest_file(con, old, VOCAB, now=NOW)
    path = write_csv(tmp_path / "again", "events_2024-03-01.csv", rows)
    message = assert_refused(db, path, rf"line {line} opens a quoted value that is never closed")
    assert "unterminated quote" in message and "nothing was loaded" in message


def test_a_quote_closed_too_early_quarantines_only_its_line(tmp_path):
    bad = 'u3,"2024-03-01T12:00:00"x,view,s3,'
    result, rows = load(tmp_path, write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, bad]))
    assert result.quarantine_reasons == {"malformed_line": 1}
    assert [r[0] for r in rows] == ["u1", "u2"]
    with writer(tmp_path / "w.duckdb") as con:
        raw = json.loads(con.execute("select raw from quarantine").fetchall()[0][0])
    assert raw["line"] == bad


def test_a_file_in_another_delimiter_is_refused_naming_it_never_loaded_as_one_column(tmp_path):
    db = _loaded_warehouse(tmp_path)
    rows = [r.replace(",", ";") for r in GOOD_ROWS]
    path = write_csv(tmp_path, "events_2024-03-01.csv", rows, header=HEADER.replace(",", ";"))
    message = assert_refused(db, path, r"is one column: the file is separated by ';', not ','")
    assert repr(HEADER.replace(",", ";")) in message


def test_lines_in_another_delimiter_are_malformed_quarantined_and_counted(tmp_path):
    semicolon = GOOD_ROWS[1].replace("u2", "u3").replace(",", ";")
    path = write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, semicolon])
    result, rows = load(tmp_path, path)
    assert result.quarantine_reasons == {"malformed_line": 1}
    assert (result.rows_read, result.rows_loaded) == (3, 2)
    assert [r[0] for r in rows] == ["u1", "u2"]
    # mostly in another delimiter: refused whole, naming the first bad line
    again = write_csv(
        tmp_path / "again",
        "events_2024-03-01.csv",
        [GOOD_ROWS[0], *(r.replace(",", ";") for r in GOOD_ROWS[1:]), semicolon],
    )
    message = assert_refused(tmp_path / "w.duckdb", again, r"2 of 3 lines are malformed")
    assert "first at line 3" in message


def test_a_tsv_file_is_read_tab_separated(tmp_path):
    path = write_csv(
        tmp_path,
        "events_2024-03-01.tsv",
        [r.replace(",", "\t") for r in GOOD_ROWS],
        header=HEADER.replace(",", "\t"),
    )
    result, rows = load(tmp_path, path)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    assert [(r[0], r[4]) for r in rows] == [("u1", None), ("u2", 9.5)]


@pytest.mark.parametrize(
    ("header", "row", "cfg"),
    [
        ("user_id,event_time,event_type,country", "u1,2024-03-01T10:00:00,view,DE", VOCAB),
        (
            "uid,event_time,event_type,country",
            "u1,2024-03-01T10:00:00,view,DE",
            DataConfig(event_types=["view"], columns={"user_id": "uid"}),
        ),
        ("country,user_id,event_time,event_type", "DE,u1,2024-03-01T10:00:00,view", VOCAB),
    ],
    ids=["user_id_first", "mapped_first", "extra_first"],
)
def test_a_utf8_bom_is_dropped_from_the_column_names(tmp_path, header, row, cfg):
    path = tmp_path / "events_2024-03-01.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result, rows = load(tmp_path, path, cfg=cfg)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)
    (stored,) = rows
    assert stored[:3] == ("u1", datetime(2024, 3, 1, 10), "view")
    assert json.loads(stored[7]) == {"country": "DE"}
    with writer(tmp_path / "w.duckdb") as con:
        everything = repr(con.execute("select * from raw_events").fetchall())
        everything += repr(con.execute("select * from quarantine").fetchall())
    assert "\ufeff" not in everything and "\\ufeff" not in everything


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "user_id,event_time,event_type,città\nu1,2024-03-01T01:00:00,view,Roma\n",
            r"line 1 \(the header\) is not UTF-8 text",
        ),
        (
            "user_id,event_time,event_type,city\nu1,2024-03-01T01:00:00,view,Zürich\n"
            "u2,2024-03-01T02:00:00,view,Genève\nu3,2024-03-01T03:00:00,view,Bern\n",
            r"2 of 3 lines are malformed .*not utf-8 encoded.*encoding \(UTF-8\)",
        ),
    ],
    ids=["latin1_header", "mostly_latin1_rows"],
)
def test_a_latin1_file_is_refused_naming_the_encoding(tmp_path, text, match):
    path = tmp_path / "events_2024-03-01.csv"
    path.write_bytes(text.encode("latin-1"))
    assert_refused(_loaded_warehouse(tmp_path), path, match)


# ------------------------------------------------------------------ a wrong clock upstream


def test_a_file_mostly_in_the_future_is_refused_whole_and_the_old_partition_stays(tmp_path):
    """Rows past now + data.future_skew_minutes are quarantined one by one; a file where
    they are over data.max_reject_share comes from a wrong clock and is refused whole."""
    now = datetime(2024, 3, 1, 12)  # noon of the partition's day
    db = tmp_path / "w.duckdb"
    good = write_csv(tmp_path, "events_2024-03-01.csv", ["u1,2024-03-01T09:00:00,view,s1,"])
    with writer(db) as con:
        ingest_file(con, good, VOCAB, now=now)
    shifted = [  # a source clock 8 h ahead: two of its three rows lie in the future
        "u1,2024-03-01T11:00:00,view,s1,",
        "u2,2024-03-01T18:00:00,view,s2,",
        "u3,2024-03-01T19:30:00,purchase,s3,4",
    ]
    path = write_csv(tmp_path / "again", "events_2024-03-01.csv", shifted)
    message = assert_refused(db, path, r"2 of 3 rows have an event time in the future", now=now)
    assert "first at row 2: '2024-03-01T18:00:00'" in message
    assert "data.future_skew_minutes=5" in message and "clock" in message
    # under a looser threshold the same file loads, its future rows quarantined and counted
    result, rows = load(
        tmp_path, path, cfg=VOCAB.model_copy(update={"max_reject_share": 0.7}), now=now
    )
    assert result.quarantine_reasons == {"future_event_time": 2}
    assert [r[0] for r in rows] == ["u1"]


# ------------------------------------------------------------------ schema by name, mapping


def test_reordered_columns_load_by_name(tmp_path):
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["7.25,purchase,SESSION,SENTINEL,2024-03-01T03:04:05"],
        header="value,event_type,session_id,user_id,event_time",
    )
    _, rows = load(tmp_path, path)
    assert rows == [
        ("SENTINEL", datetime(2024, 3, 1, 3, 4, 5), "purchase", "SESSION", 7.25, None, None, None)
    ]


def test_a_partition_is_stored_clustered_by_user_and_time(tmp_path):
    # the file is in time order; the store keeps each user's rows together (feature queries
    # aggregate per user), and a plain scan returns them in that order
    rows = [
        "u2,2024-03-01T09:00:00,view,s2,",
        "u1,2024-03-01T10:00:00,view,s1,",
        "u2,2024-03-01T11:00:00,purchase,s2,3",
        "u1,2024-03-01T08:00:00,view,s0,",
    ]
    result, _ = load(tmp_path, write_csv(tmp_path, "events_2024-03-01.csv", rows))
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        scanned = con.sql("select user_id, hour(event_time) from raw_events").fetchall()
    assert result.rows_loaded == 4
    assert scanned == [("u1", 8), ("u1", 10), ("u2", 9), ("u2", 11)]


def test_extra_columns_are_kept_as_json_and_static_columns_get_their_own(tmp_path):
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["u1,2024-03-01T01:00:00,view,mobile,DE,12,ads"],
        header="user_id,event_time,event_type,device,country,score,channel",
    )
    _, rows = load(tmp_path, path)
    (row,) = rows
    assert row[5:7] == ("mobile", "ads")
    assert json.loads(row[7]) == {"country": "DE", "score": "12"}


MAPPED = {"user_id": "uid", "event_time": "ts", "event_type": "kind"}


@pytest.mark.parametrize(
    ("fmt", "stamp", "expected"),
    [
        ("s", "1709251200", datetime(2024, 3, 1)),
        ("s", "1709287445.5", datetime(2024, 3, 1, 10, 4, 5, 500000)),
        ("ms", "1709251200123", datetime(2024, 3, 1, 0, 0, 0, 123000)),
        ("%d/%m/%Y %H:%M", "01/03/2024 13:45", datetime(2024, 3, 1, 13, 45)),
    ],
)
def test_source_mapping_renames_columns_parses_timestamps_and_maps_events(
    tmp_path, fmt, stamp, expected
):
    cfg = DataConfig(
        event_types=["view", "purchase"],
        columns=MAPPED,
        timestamp_format=fmt,
        event_map={"pv": "view", "buy": "purchase"},
    )
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        [f"A,{stamp},pv", f"B,{stamp},buy", "C,not-a-time,pv"],
        header="uid,ts,kind",
    )
    result, rows = load(tmp_path, path, cfg=cfg)
    assert rows == [
        ("A", expected, "view", None, None, None, None, None),
        ("B", expected, "purchase", None, None, None, None, None),
    ]
    assert result.quarantine_reasons == {"unparsable_event_time": 1}


@pytest.mark.parametrize("stamp", ["1e20", "nan", "inf", "-1e15"])
def test_out_of_range_epoch_is_quarantined_not_a_file_failure(tmp_path, stamp):
    cfg = DataConfig(event_types=["view"], timestamp_format="s")
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        ["u1,1709251200,view", f"u2,{stamp},view"],
        header="user_id,event_time,event_type",
    )
    result, rows = load(tmp_path, path, cfg=cfg)
    assert result.quarantine_reasons == {"unparsable_event_time": 1}
    assert [r[0] for r in rows] == ["u1"]


def test_timestamps_with_offsets_are_stored_in_utc(tmp_path):
    path = write_csv(
        tmp_path,
        "events_2024-03-01.csv",
        [
            "plus2,2024-03-01T12:00:00+02:00,view,s,",
            "minus5,2024-03-01T01:00:00-05:00,view,s,",
            "zulu,2024-03-01T12:00:00Z,view,s,",
            "naive,2024-03-01 12:00:00,view,s,",
        ],
    )
    _, rows = load(tmp_path, path)
    assert {r[0]: r[1] for r in rows} == {
        "plus2": datetime(2024, 3, 1, 10),
        "minus5": datetime(2024, 3, 1, 6),
        "zulu": datetime(2024, 3, 1, 12),
        "naive": datetime(2024, 3, 1, 12),
    }


def test_parquet_input(tmp_path):
    path = tmp_path / "events_2024-03-01.parquet"
    pd.DataFrame(
        {
            "event_type": ["view", "purchase", "view"],
            "user_id": ["p1", "p2", "p3"],
            "event_time": pd.to_datetime(
                ["2024-03-01 01:00", "2024-03-01 14:30", "2024-03-01 02:00"]
            ).tz_localize("Europe/Berlin"),
            "value": [None, 3.5, -1.0],
            "device": ["mobile", "desktop", None],
            "country": ["CH", None, "FR"],
        }
    ).to_parquet(path)
    result, rows = load(tmp_path, path)
    assert result.quarantine_reasons == {"negative_value": 1}
    assert rows == [
        ("p1", datetime(2024, 3, 1, 0), "view", None, None, "mobile", None, '{"country":"CH"}'),
        (
            "p2",
            datetime(2024, 3, 1, 13, 30),
            "purchase",
            None,
            3.5,
            "desktop",
            None,
            '{"country":null}',
        ),
    ]


def test_csv_gz_input(tmp_path):
    path = tmp_path / "events_2024-03-01.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *GOOD_ROWS]) + "\n").encode()))
    assert partition_key_for(path) == "2024-03-01"
    result, rows = load(tmp_path, path)
    assert (result.rows_read, result.rows_loaded) == (2, 2)
    assert rows[1][:5] == ("u2", datetime(2024, 3, 1, 11), "purchase", "s2", 9.5)


def test_partition_key_from_file_name():
    assert partition_key_for(Path("landing/shop_2024-03-01_v2.csv")) == "2024-03-01"
    assert partition_key_for(Path("events.csv.gz")) == "events"
    assert partition_key_for(Path("dump.parquet")) == "dump"


def test_vocabulary_is_learned_on_first_load_then_enforced(tmp_path):
    learn = DataConfig(event_types=None)
    first = write_csv(tmp_path, "events_2024-03-01.csv", GOOD_ROWS)
    second = write_csv(
        tmp_path,
        "events_2024-03-02.csv",
        ["u3,2024-03-02T10:00:00,view,s3,", "u4,2024-03-02T10:00:00,teleport,s4,"],
    )
    with writer(tmp_path / "w.duckdb") as con:
        ingest_file(con, first, learn, now=NOW)
        assert con.execute("select event_type from vocabulary order by 1").fetchall() == [
            ("purchase",),
            ("view",),
        ]
        result = ingest_file(con, second, learn, now=NOW)
        assert result.quarantine_reasons == {"unknown_event_type": 1}
        assert con.execute("select count(*) from vocabulary").fetchall()[0][0] == 2


# ------------------------------------------------------------------ locks and crashes


#: a second process that opens the warehouse, says so, and holds it until stdin closes
#: (or for argv[2] seconds); a bare interpreter, so it starts in a fraction of a second
HOLD_LOCK = """
import sys, select, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
con.close()
"""


def _hold_lock(db: Path, hold_s: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db), str(hold_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready", "the child never opened the warehouse"
    return child


def test_writer_blocked_by_another_process_fails_after_bounded_retries(tmp_path):
    db = _loaded_warehouse(tmp_path)
    child = _hold_lock(db, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as err, writer(db, retries=2, wait_s=0.01):
            pass
        assert time.monotonic() - started < 5
    finally:
        child.stdin.close()
        child.wait(30)
    message = str(err.value)
    assert str(db) in message
    assert "after 2 retries" in message
    assert f"PID {child.pid}" in message  # DuckDB's own message names the holder
    with writer(db) as con:  # lock released: the warehouse is whole
        assert table_counts(con)["raw_events"] == 1


def test_writer_retries_until_the_other_process_lets_go(tmp_path):
    db = _loaded_warehouse(tmp_path)
    child = _hold_lock(db, 0.5)
    try:
        with writer(db, retries=8, wait_s=0.1) as con:
            assert table_counts(con)["raw_events"] == 1
    finally:
        child.stdin.close()
        child.wait(30)


#: a writer that runs ingest_file on a real connection wrapped so that the process SIGKILLs
#: itself just before one statement (after logging every statement it ran)
INGEST_THEN_DIE = """
import json, os, signal, sys
from datetime import datetime
from pathlib import Path
from bat_pipeline.config import DataConfig
from bat_pipeline.data.ingest import ingest_file
from bat_pipeline.data.warehouse import writer

db, path, log, target = sys.argv[1:5]


class KillBefore:
    def __init__(self, con):
        self._con = con

    def execute(self, query, *args, **kwargs):
        with open(log, "a") as handle:
            handle.write(json.dumps(query.strip()) + "\\n")
        if query.strip() == target.strip():
            os.kill(os.getpid(), signal.SIGKILL)
        return self._con.execute(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


with writer(Path(db)) as con:
    cfg = DataConfig(event_types=["view", "purchase"])
    ingest_file(KillBefore(con), Path(path), cfg, now=datetime(2024, 3, 5))
"""


def test_partition_swap_is_atomic_when_the_writer_dies_between_delete_and_insert(tmp_path):
    db = tmp_path / "w.duckdb"
    path = write_csv(tmp_path, "events_2024-03-01.csv", GOOD_ROWS)
    with writer(db) as con:
        old = ingest_file(con, path, VOCAB, now=NOW)
        before = snapshot(con)
    write_csv(tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, "u3,2024-03-01T12:00:00,view,s3,"])
    log = tmp_path / "statements.log"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            INGEST_THEN_DIE,
            str(db),
            str(path),
            str(log),
            statement("insert_loaded"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    ran = [json.loads(line) for line in log.read_text().splitlines()]
    assert statement("delete_partition").strip() in ran  # the old rows were already deleted
    assert ran[-1] == statement("insert_loaded").strip()  # ... and it died right there
    with writer(db) as con:  # reopen: the uncommitted delete is gone, the old partition is whole
        assert snapshot(con) == before
        again = ingest_file(con, path, VOCAB, now=NOW)  # the re-run converges
        assert not again.skipped and again.sha256 != old.sha256
        assert table_counts(con)["raw_events"] == 3


def test_a_failed_replacement_rolls_back_and_keeps_the_old_partition(tmp_path):
    db = tmp_path / "w.duckdb"
    path = write_csv(tmp_path, "events_2024-03-01.csv", GOOD_ROWS)
    with writer(db) as con:
        ingest_file(con, path, DataConfig(event_types=None), now=NOW)
        before = snapshot(con)
        # redelivered mostly ragged, with a config that adds an event type: refused inside the
        # transaction, after the vocabulary insert, which must be rolled back with the rest
        write_csv(
            tmp_path,
            "events_2024-03-01.csv",
            [GOOD_ROWS[0], "u2,2024-03-01T11:00:00", "u3,2024-03-01T11:00:00,view", "u4"],
        )
        with pytest.raises(IngestError, match="malformed"):
            ingest_file(con, path, DataConfig(event_types=["view", "purchase", "new"]), now=NOW)
        assert snapshot(con) == before  # rows, quarantine, ingest_log and vocabulary
        # the connection is still usable
        assert con.execute("select count(*) from raw_events").fetchall() == [(2,)]


# ------------------------------------------------------------------ the ingest command


def test_ingest_paths_loads_good_files_reports_the_bad_one_and_records_quality(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    for day in (1, 2, 3):
        rows = [
            f"u{i},2024-03-0{day}T{8 + i % 10:02d}:00:00,{'purchase' if i % 4 == 0 else 'view'},"
            f"s{i},{i if i % 4 == 0 else ''}"
            for i in range(12)
        ]
        write_csv(landing, f"events_2024-03-0{day}.csv", rows)
    bad = write_csv(
        landing,
        "events_2024-03-04.csv",
        ["u1,view,s1,"],
        header="user_id,event_type,session_id,value",
    )
    (landing / "notes.txt").write_text("not an event file")
    home = BatHome(tmp_path / "home")
    cfg = BatConfig.model_validate({"data": {"event_types": ["view", "purchase"]}})
    report = ingest_paths(home, cfg, [landing])
    assert report["rows_read"] == report["rows_loaded"] == 36
    assert report["rows_quarantined"] == 0
    assert report["files_loaded"] == 3
    assert len(report["errors"]) == 1
    assert str(bad) in report["errors"][0] and "event_time" in report["errors"][0]
    assert report["quality_failed"] == []
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        results = con.execute(
            "select partition_key, passed from quality_results order by partition_key"
        ).fetchall()
        assert results == [("2024-03-01", True), ("2024-03-02", True), ("2024-03-03", True)]
        assert con.execute("select count(*) from events").fetchall() == [(36,)]
        assert con.execute(
            "select count(*) from ingest_log where partition_key = '2024-03-04'"
        ).fetchall() == [(0,)]
    # a second pass changes nothing and checks nothing again
    again = ingest_paths(home, cfg, [landing])
    assert again["files_unchanged"] == 3 and again["files_loaded"] == 0
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from quality_results").fetchall() == [(3,)]


def test_ingest_paths_reports_missing_paths(tmp_path):
    home = BatHome(tmp_path / "home")
    report = ingest_paths(home, BatConfig(), [tmp_path / "nowhere"])
    assert report["errors"] == [f"{tmp_path / 'nowhere'}: no such file or folder"]
    assert report["rows_read"] == 0


def test_ingest_now_defaults_to_the_current_utc_time(tmp_path):
    """Without an explicit now, an event 1 h in the (real) future is quarantined."""
    now = datetime.now(UTC).replace(tzinfo=None)
    past = datetime.combine(now.date(), datetime.min.time())  # today's partition, in the past
    future = now + timedelta(hours=1)  # future is checked before the partition window
    key = now.date().isoformat()
    path = write_csv(
        tmp_path,
        f"events_{key}.csv",
        [f"u1,{past.isoformat()},view,s,", f"u2,{future.isoformat()},view,s,"],
    )
    with writer(tmp_path / "w.duckdb") as con:
        result = ingest_file(con, path, DataConfig(event_types=["view"]))
    assert result.quarantine_reasons == {"future_event_time": 1}


def test_a_day_redelivered_in_another_time_format_is_refused_and_the_good_day_stays(tmp_path):
    good = write_csv(
        tmp_path, "events_2024-03-01.csv", [*GOOD_ROWS, "u3,2024-03-01T12:00:00,view,s3,"]
    )
    again = tmp_path / "again"
    again.mkdir()
    epoch_rows = [
        "u1,1709287200,view,s1,",
        "u2,1709290800,purchase,s2,9.5",
        "u3,1709294400,view,s3,",
    ]
    epoch = write_csv(again, "events_2024-03-01.csv", epoch_rows)
    with writer(tmp_path / "w.duckdb") as con:
        first = ingest_file(con, good, VOCAB, now=NOW)
        before = snapshot(con)
        with pytest.raises(
            IngestError, match=r"3 of 3 rows have an event time .* not parse"
        ) as err:
            ingest_file(con, epoch, VOCAB, now=NOW)
        assert "unparsable_event_time '1709287200'" in str(err.value)
        assert "timestamp_format" in str(err.value)
        assert snapshot(con) == before
    assert first.rows_loaded == 3

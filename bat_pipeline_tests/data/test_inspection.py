"""Tests for inspecting a foreign event log and the `data:` block suggested for it.

Every test writes a real log under ``tmp_path`` (CSV or Parquet) with foreign column names,
foreign event names and a timestamp format of its own, inspects it, and where the suggestion
matters, parses the suggested YAML with the config loader and loads the file with it into a
real DuckDB warehouse: the suggestion is right when nothing is quarantined.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bat_pipeline.config import load_config, parse_config
from bat_pipeline.data.ingest import IngestError
from bat_pipeline.data.inspection import inspect_files
from bat_pipeline.data.loads import load_files, totals
from bat_pipeline.data.source_mapping import (
    ColumnProfile,
    guess_roles,
    map_event_names,
    suggested_yaml,
)
from bat_pipeline.data.warehouse import writer

START = datetime(2025, 3, 1, tzinfo=UTC)
ACTIONS = ("view", "view", "basket", "buy", "login")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def foreign_log(days: int = 5, rows: int = 400, seed: int = 1, start: datetime = START):
    """A shop's log under foreign names: customer, ts (as datetimes here), action, amount, sess."""
    rng = random.Random(seed)
    times = sorted(start + timedelta(seconds=rng.randrange(days * 86_400)) for _ in range(rows))
    actions = [rng.choice(ACTIONS) for _ in times]
    return pd.DataFrame(
        {
            "customer": [f"c{rng.randrange(40)}" for _ in times],
            "ts": times,
            "action": actions,
            "amount": [round(rng.uniform(1, 80), 2) if a == "buy" else None for a in actions],
            "sess": [f"s{i // 3}" for i in range(len(times))],
        }
    )


def stamped(frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """The log with `ts` written as the format says: iso, s, ms or a strptime pattern."""
    out = frame.copy()
    seconds = [(t - EPOCH).total_seconds() for t in frame["ts"]]
    if fmt == "iso":
        out["ts"] = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in frame["ts"]]
    elif fmt == "s":
        out["ts"] = [int(s) for s in seconds]
    elif fmt == "ms":
        out["ts"] = [int(s * 1000) for s in seconds]
    else:
        out["ts"] = [t.strftime(fmt) for t in frame["ts"]]
    return out


def write_log(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def load_with_suggestion(tmp_path: Path, paths: list[Path], suggestion: str) -> dict:
    """Write the suggested block into a bat.yaml, read it back with the config loader and load
    the files with it into a fresh warehouse; the load's totals."""
    config_file = tmp_path / "bat.yaml"
    config_file.write_text(suggestion, encoding="utf-8")
    cfg = load_config(config_file)
    with writer(tmp_path / "warehouse.duckdb") as con:
        batch = load_files(con, paths, cfg.data, datetime.now(UTC))
    assert batch.errors == []
    return totals(batch.results)


def test_foreign_names_and_epoch_ms_map_and_load_without_quarantine(tmp_path):
    frame = foreign_log()
    path = write_log(stamped(frame, "ms"), tmp_path / "export.csv")
    result = inspect_files([path])
    assert result.roles == {
        "user_id": "customer",
        "event_time": "ts",
        "event_type": "action",
        "session_id": "sess",
        "value": "amount",
    }
    assert result.timestamp_format == "ms"
    assert result.event_map == {"view": "product_view", "basket": "add_to_cart", "buy": "purchase"}
    assert result.quarantine == {}
    suggestion = result.suggested_yaml()
    assert "login" in suggestion.split("event_map:")[1]  # named in the comment on kept names
    assert parse_config(yaml.safe_load(suggestion), "suggestion").data.timestamp_format == "ms"
    loaded = load_with_suggestion(tmp_path, [path], suggestion)
    assert loaded["rows_quarantined"] == 0
    assert loaded["rows_loaded"] == loaded["rows_read"] == len(frame)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("iso", None),
        ("s", "s"),
        ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M"),
        ("%Y%m%d%H%M%S", "%Y%m%d%H%M%S"),
    ],
)
def test_timestamp_format_is_detected_and_loads(tmp_path, fmt, expected):
    frame = foreign_log(start=datetime(2025, 3, 14, tzinfo=UTC))  # days > 12: not month-first
    if fmt == "%d/%m/%Y %H:%M":  # minutes only: the times the file can say
        frame["ts"] = [t.replace(second=0) for t in frame["ts"]]
    path = write_log(stamped(frame, fmt), tmp_path / "log.csv")
    result = inspect_files([path])
    ts = next(c for c in result.columns if c.name == "ts")
    assert (ts.time_format, ts.time_parsed) == (fmt, 1.0)
    assert result.timestamp_format == expected
    assert result.notes == []
    assert result.time_range[0] == min(frame["ts"]).replace(tzinfo=None).isoformat()
    loaded = load_with_suggestion(tmp_path, [path], result.suggested_yaml())
    assert (loaded["rows_read"], loaded["rows_quarantined"]) == (len(frame), 0)


def test_day_first_dates_that_could_be_month_first_are_flagged(tmp_path):
    frame = foreign_log(days=10, start=datetime(2025, 3, 1, tzinfo=UTC))  # days 1..10 <= 12
    frame["ts"] = [t.replace(second=0) for t in frame["ts"]]
    path = write_log(stamped(frame, "%d/%m/%Y %H:%M"), tmp_path / "log.csv")
    result = inspect_files([path])
    assert result.timestamp_format == "%d/%m/%Y %H:%M"  # day first wins the tie
    assert any("day/month order" in note for note in result.notes)


def test_parquet_with_native_types_maps_and_loads(tmp_path):
    frame = foreign_log()
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize(None)  # a TIMESTAMP column
    path = write_log(frame, tmp_path / "log.parquet")
    result = inspect_files([path])
    by_name = {c.name: c for c in result.columns}
    assert by_name["ts"].source_type.startswith("TIMESTAMP")
    assert by_name["amount"].kind == "number"
    assert result.timestamp_format is None  # read as text, a timestamp is ISO 8601
    loaded = load_with_suggestion(tmp_path, [path], result.suggested_yaml())
    assert (loaded["rows_read"], loaded["rows_quarantined"]) == (len(frame), 0)


def test_several_files_counts_per_day_and_event_are_exact(tmp_path):
    first = foreign_log(days=3, seed=1)
    second = foreign_log(days=3, seed=2, start=START + timedelta(days=3))
    paths = [
        write_log(stamped(first, "ms"), tmp_path / "part1.csv"),
        write_log(stamped(second, "ms"), tmp_path / "part2.parquet"),
    ]
    result = inspect_files(paths)
    both = pd.concat([first, second])
    assert result.rows == len(both)
    assert result.rows_per_day == dict(
        sorted(Counter(t.strftime("%Y-%m-%d") for t in both["ts"]).items())
    )
    assert result.events == dict(Counter(both["action"]))
    assert result.timestamp_format == "ms"
    loaded = load_with_suggestion(tmp_path, paths, result.suggested_yaml())
    assert (loaded["rows_read"], loaded["rows_quarantined"]) == (len(both), 0)


def test_rows_that_would_be_quarantined_are_counted_by_reason(tmp_path):
    frame = stamped(foreign_log(rows=50), "iso")
    frame.loc[0, "amount"] = -3.0
    frame.loc[1, "ts"] = "sometime"
    path = write_log(frame, tmp_path / "log.csv")
    result = inspect_files([path])
    assert result.quarantine == {"negative_value": 1, "unparsable_event_time": 1}
    assert any("2 of 50 rows would be quarantined" in note for note in result.notes)
    loaded = load_with_suggestion(tmp_path, [path], result.suggested_yaml())
    assert loaded["quarantine_reasons"] == result.quarantine


def test_no_purchase_event_suggests_the_target(tmp_path):
    frame = stamped(foreign_log(), "iso")
    frame["action"] = frame["action"].replace({"buy": "signup", "basket": "Add To Cart"})
    path = write_log(frame, tmp_path / "log.csv")
    result = inspect_files([path])
    assert result.event_map == {"view": "product_view", "Add To Cart": "add_to_cart"}
    assert any("task.target_event" in note for note in result.notes)
    suggestion = result.suggested_yaml()
    assert "# task:" in suggestion and "target_event: signup" in suggestion
    data = parse_config(yaml.safe_load(suggestion), "suggestion").data
    assert data.event_map == result.event_map


def test_canonical_names_need_no_mapping(tmp_path):
    frame = stamped(foreign_log(), "iso").rename(
        columns={"customer": "user_id", "ts": "event_time", "action": "event_type"}
    )
    frame["action"] = "x"  # a column no role claims
    result = inspect_files([write_log(frame, tmp_path / "log.csv")])
    assert result.suggested_config()["data"]["columns"] == {"session_id": "sess", "value": "amount"}


def test_a_time_column_is_found_by_its_content(tmp_path):
    frame = stamped(foreign_log(), "s").rename(columns={"ts": "when_it_happened"})
    result = inspect_files([write_log(frame, tmp_path / "log.csv")])
    assert result.roles["event_time"] == "when_it_happened"
    assert result.timestamp_format == "s"
    assert any("chosen for its content" in note for note in result.notes)


def test_a_value_column_that_is_not_numeric_is_left_unmapped(tmp_path):
    frame = stamped(foreign_log(), "iso")
    frame["amount"] = [f"${v}" if v == v else "" for v in frame["amount"]]
    result = inspect_files([write_log(frame, tmp_path / "log.csv")])
    assert "value" not in result.roles
    assert any(n.startswith("value: column 'amount' is named for it") for n in result.notes)
    assert result.quarantine == {}


def test_a_missing_user_column_is_named_and_the_suggestion_still_parses(tmp_path):
    frame = stamped(foreign_log(), "iso").drop(columns=["customer"])
    result = inspect_files([write_log(frame, tmp_path / "log.csv")])
    assert "user_id" not in result.roles
    assert any("no column looks like user_id" in note for note in result.notes)
    assert result.rows_per_day == {}  # no dry run without every required column
    assert "# user_id: COLUMN" in result.suggested_yaml()
    parse_config(yaml.safe_load(result.suggested_yaml()), "suggestion")


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"", "empty.csv", "empty"),
        (b"\x00\x01\x02binary", "blob.csv", "binary"),
        (b"PAR1 not really parquet", "bad.parquet", "cannot be read as Parquet"),
        (b"customer,ts,action\n", "header.csv", "header but no rows"),
    ],
)
def test_unreadable_files_raise_one_clear_error(tmp_path, content, name, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=match) as caught:
        inspect_files([path])
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(IngestError, match=r"nowhere\.csv: no such file"):
        inspect_files([tmp_path / "nowhere.csv"])


def test_event_names_map_onto_the_shop_vocabulary():
    names = ["view", "Add To Cart", "addtocart", "transaction", "purchase", "login", "PageView"]
    assert map_event_names(names) == {
        "view": "product_view",
        "Add To Cart": "add_to_cart",
        "addtocart": "add_to_cart",
        "transaction": "purchase",
        "PageView": "product_view",
    }


def test_role_synonyms_and_yaml_scalars_read_back():
    def column(name, kind="text", time_format=None):
        return ColumnProfile(name, kind, time_format, 1.0, 10, ["x"], "VARCHAR")

    columns = [
        column("household_key", "integer"),
        column("Event Time", "timestamp", "%d.%m.%Y %H:%M"),
        column("event_name"),
        column("visit_id"),
        column("revenue", "number"),
        column("platform"),
    ]
    roles, notes = guess_roles(columns)
    assert roles == {
        "user_id": "household_key",
        "event_time": "Event Time",
        "event_type": "event_name",
        "session_id": "visit_id",
        "value": "revenue",
        "device": "platform",
    }
    assert notes == []
    event_map = {"yes": "purchase", "1": "home", "a: b": "search"}
    events = {"yes": 1, "1": 2, "a: b": 3, "no": 4}
    text = suggested_yaml(roles, "%d.%m.%Y %H:%M", event_map, events)
    data = parse_config(yaml.safe_load(text), "suggestion").data
    assert data.event_map == event_map
    assert data.timestamp_format == "%d.%m.%Y %H:%M"
    assert data.columns["event_time"] == "Event Time"
    assert data.columns["device"] == "platform"  # context columns are mapped too

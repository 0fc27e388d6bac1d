"""Generated shops as in-memory warehouses for drift tests, without running ingest or Dagster.

The built-in generator's daily CSVs are read into DuckDB as the tables a drift check reads:
`raw_events` (loaded rows, partition = the event's UTC day), `quarantine` (rows of an event type
outside the vocabulary, reason `unknown_event_type`, as ingest does with a type it has not
learned) and the view `events`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bat_pipeline.contract import DEFAULT_EVENT_TYPES
from bat_pipeline.data.synthetic import generate
from bat_pipeline.drift.groups import BEHAVIOUR, DATA, POPULATION

START = date(2026, 1, 1)
DAYS, DRIFT_DAY = 70, 56
DRIFT_START = START + timedelta(days=DRIFT_DAY)
#: drift kind -> (the one group it moves, signals of which one must drift, retrains by default);
#: why, in test_drift_kinds.py
EXPECTED = {
    "conversion_drop": (
        BEHAVIOUR,
        {"next_after_checkout", "purchases_per_cart", "next_after_remove_from_cart"},
        True,
    ),
    "mobile_shift": (POPULATION, {"device_mix", "mobile_share"}, False),
    "segment_mix": (POPULATION, {"user_age_mix"}, False),
    "new_event_type": (DATA, {"load_outcome_mix"}, False),
}


def day(n: int) -> date:
    return START + timedelta(days=n)


def load_shop(
    folder: Path, vocabulary: Sequence[str] | None = DEFAULT_EVENT_TYPES
) -> duckdb.DuckDBPyConnection:
    """The CSV days in `folder` as raw_events / quarantine / events; `vocabulary` None loads
    every event type."""
    con = duckdb.connect()
    con.execute(
        "create table staged as select user_id,"
        " strptime(event_time, '%Y-%m-%dT%H:%M:%SZ') as event_time, event_type, session_id,"
        " value, device, channel, null::json as extra, filename as source_file,"
        " row_number() over () as source_row, now()::timestamp as ingested_at"
        " from read_csv($files, filename = true, types = {'event_time': 'VARCHAR'})",
        {"files": str(folder / "events_*.csv")},
    )
    known = "true" if vocabulary is None else "list_contains($types, event_type)"
    params = {} if vocabulary is None else {"types": list(vocabulary)}
    con.execute(
        "create table raw_events as select *, strftime(event_time, '%Y-%m-%d') as partition_key"
        f" from staged where {known}",
        params,
    )
    con.execute(
        "create table quarantine as select strftime(event_time, '%Y-%m-%d') as partition_key,"
        f" 'unknown_event_type' as reason from staged where not ({known})",
        params,
    )
    con.execute("create view events as select * from raw_events")
    return con


def generated_shop(
    root: Path,
    users: int,
    drift: str | None,
    vocabulary: Sequence[str] | None = DEFAULT_EVENT_TYPES,
) -> duckdb.DuckDBPyConnection:
    """A shop of `users` customers over DAYS days, `drift` injected from DRIFT_START."""
    folder = root / f"{users}_{drift or 'calm'}"
    if not folder.is_dir():
        generate(folder, users=users, days=DAYS, seed=5, start=START, drift=drift,
                 drift_start=DRIFT_START if drift else None)  # fmt: skip
    return load_shop(folder, vocabulary)

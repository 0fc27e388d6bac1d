"""The validated `events` table at a glance: rows, users, time range and vocabulary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import duckdb

from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import fetch_one


@dataclass(frozen=True)
class EventsSummary:
    """The validated events table at a glance."""

    rows: int
    users: int
    first_event: datetime | None
    last_event: datetime | None
    event_types: list[str]

    @property
    def default_as_of(self) -> date:
        """Midnight after the last event's day: every event so far is visible."""
        if self.last_event is None:
            raise ValueError("the events table is empty: ingest events first")
        return self.last_event.date() + timedelta(days=1)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["first_event"] = self.first_event.isoformat() if self.first_event else None
        out["last_event"] = self.last_event.isoformat() if self.last_event else None
        return out


def summarize_events(con: duckdb.DuckDBPyConnection) -> EventsSummary:
    rows, users, first, last = fetch_one(con, query("events_summary"))
    types = [r[0] for r in con.execute(query("event_vocabulary")).fetchall()]
    return EventsSummary(int(rows), int(users), first, last, types)

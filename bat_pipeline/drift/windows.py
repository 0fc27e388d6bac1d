"""Windows of days compared for drift, and the warehouse reads that compare them.

- A reference profile is stored for every trained model (table `reference_profiles` and an
  MLflow artifact), so drift is always measured against what the champion learned from.
- `drift_check` compares a current window with the champion's reference, adding the share of
  rows quarantined per reason (a new event type never reaches `events`: it is quarantined as
  `unknown_event_type`) and the share of active user-days from new users (a wave of new
  customers changes who is active before it changes what they do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.drift.comparisons import compare_mix, compare_profiles
from bat_pipeline.drift.profiles import Profile, build_profile
from bat_pipeline.drift.results import DriftResult, FeatureDrift

#: days at the end of a model's training data that make its reference profile
REFERENCE_DAYS = 28


@dataclass(frozen=True)
class Window:
    """A window of days, both ends inclusive."""

    start: date
    end: date

    @classmethod
    def parse(cls, text: str) -> Window:
        start, end = text.split(":")
        return cls(date.fromisoformat(start), date.fromisoformat(end))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}:{self.end.isoformat()}"

    @property
    def keys(self) -> list[str]:
        return [
            (self.start + timedelta(days=i)).isoformat()
            for i in range((self.end - self.start).days + 1)
        ]


def reference_window(as_of: date, days: int = REFERENCE_DAYS) -> Window:
    """The last `days` days before a model's as-of (what it learned most recently from)."""
    return Window(as_of - timedelta(days=days), as_of - timedelta(days=1))


def current_window(last_day: date, days: int) -> Window:
    return Window(last_day - timedelta(days=days - 1), last_day)


def build_window_profile(
    con: duckdb.DuckDBPyConnection, window: Window, reference: Profile | None = None
) -> Profile:
    return build_profile(con, window.start, window.end, reference)


def store_reference(
    con: duckdb.DuckDBPyConnection, model_version: str, run_id: str, profile: Profile
) -> None:
    con.execute(
        statement("upsert_reference_profile"),
        {
            "model_version": str(model_version),
            "run_id": run_id,
            "window_start": profile.start,
            "window_end": profile.end,
            "profile": json.dumps(profile.to_dict()),
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        },
    )


def load_reference(con: duckdb.DuckDBPyConnection, model_version: str) -> Profile | None:
    rows = con.execute(query("reference_profile"), {"model_version": str(model_version)}).fetchall()
    return Profile.from_dict(json.loads(rows[0][0])) if rows else None


def quarantine_mix(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, int]:
    """{'loaded': n, '<reason>': n, ...} for the partitions of a window."""
    rows = con.execute(query("window_load_mix"), {"keys": window.keys}).fetchall()
    return {str(k): int(n) for k, n in rows}


#: a user is 'new' on the days less than this many days after their first event
NEW_USER_DAYS = 14


def user_age_mix(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, int]:
    """{'new': active user-days of new users, 'returning': the others} in a window."""
    rows = con.execute(
        query("window_user_age_mix"),
        {"window_start": window.start, "window_end": window.end, "new_days": NEW_USER_DAYS},
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def drift_check(
    con: duckdb.DuckDBPyConnection, reference: Profile, current: Window, threshold: float
) -> tuple[DriftResult, Profile]:
    """Drift of the current window against a stored reference profile."""
    profile = build_window_profile(con, current, reference)
    result = compare_profiles(reference, profile, threshold)
    ref_window = Window(reference.start, reference.end)
    extra: list[FeatureDrift] = []
    for name, mix in (("load_outcome_mix", quarantine_mix), ("user_age_mix", user_age_mix)):
        ref_mix, cur_mix = mix(con, ref_window), mix(con, current)
        if ref_mix and cur_mix:
            extra.append(compare_mix(name, ref_mix, cur_mix, threshold))
    return (result.with_features(*extra) if extra else result), profile


def quality_failures(con: duckdb.DuckDBPyConnection, window: Window) -> list[str]:
    """Partitions of the window whose latest quality check failed (broken data blocks)."""
    return [
        r[0]
        for r in con.execute(query("window_quality_failures"), {"keys": window.keys}).fetchall()
    ]

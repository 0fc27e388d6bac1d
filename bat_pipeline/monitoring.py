"""Drift monitoring glue (no Dagster): reference profiles, drift checks, retrain decisions.

- A reference profile is stored for every trained model (table `reference_profiles` and an
  MLflow artifact), so drift is always measured against what the champion learned from.
- `drift_check` compares a current window with the champion's reference, adding the share of
  rows quarantined per reason (a new event type never reaches `events`: it is quarantined as
  `unknown_event_type`) and the share of active user-days from new users (a wave of new
  customers changes who is active before it changes what they do).
- `retrain_decision` is the sensor's pure decision: drift, data quality, dedup and cooldown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from bat_pipeline.ml.drift import DriftResult, FeatureDrift, Profile
from bat_pipeline.sqlfiles import sql, statement

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
    from bat_pipeline.drift_profile import build_profile

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
    rows = con.execute(sql("reference_profile"), {"model_version": str(model_version)}).fetchall()
    return Profile.from_dict(json.loads(rows[0][0])) if rows else None


def quarantine_mix(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, int]:
    """{'loaded': n, '<reason>': n, ...} for the partitions of a window."""
    rows = con.execute(sql("window_load_mix"), {"keys": window.keys}).fetchall()
    return {str(k): int(n) for k, n in rows}


#: a user is 'new' on the days less than this many days after their first event
NEW_USER_DAYS = 14


def user_age_mix(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, int]:
    """{'new': active user-days of new users, 'returning': the others} in a window."""
    rows = con.execute(
        sql("window_user_age_mix"),
        {"window_start": window.start, "window_end": window.end, "new_days": NEW_USER_DAYS},
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def drift_check(
    con: duckdb.DuckDBPyConnection, reference: Profile, current: Window, threshold: float
) -> tuple[DriftResult, Profile]:
    """Drift of the current window against a stored reference profile."""
    from bat_pipeline.ml.drift import compare_mix, compare_profiles

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
        r[0] for r in con.execute(sql("window_quality_failures"), {"keys": window.keys}).fetchall()
    ]


@dataclass(frozen=True)
class RetrainDecision:
    """What the drift sensor decided for one window, and why."""

    request: bool
    run_key: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def retrain_decision(
    window: Window,
    drift_detected: bool | None,
    verdict: str,
    failed_partitions: list[str],
    last_request_at: datetime | None,
    now: datetime,
    cooldown: timedelta,
    already_requested: bool,
) -> RetrainDecision:
    """Request a retrain only for drift on healthy data, once per window, outside the cooldown."""
    key = f"drift:{window}"
    if failed_partitions:
        return RetrainDecision(
            False, key, f"data-quality checks failed for {', '.join(failed_partitions)}: "
            "broken data blocks retraining (fix and re-ingest those days)",
        )  # fmt: skip
    if not drift_detected:
        return RetrainDecision(False, key, f"no drift in {window}: {verdict}")
    if already_requested:
        return RetrainDecision(False, key, f"a retrain was already requested for {window}")
    if last_request_at is not None and now - last_request_at < cooldown:
        wait = cooldown - (now - last_request_at)
        return RetrainDecision(
            False, key, f"drift in {window} recorded, but within the cooldown "
            f"(last retrain request {last_request_at.isoformat(timespec='minutes')}, {wait} left)",
        )  # fmt: skip
    return RetrainDecision(True, key, f"drift in {window}: {verdict}")

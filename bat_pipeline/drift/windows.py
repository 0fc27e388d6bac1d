"""Windows of days compared for drift, and the warehouse reads that compare them.

- A reference profile is stored for every trained model (table `reference_profiles` and an
  MLflow artifact), so drift is always measured against what the champion learned from.
- `drift_check` compares a current window with the champion's reference, adding the share of
  rows quarantined per reason (data group: a new event type never reaches `events`, it is
  quarantined as `unknown_event_type`) and the share of active user-days from new users
  (population group: a wave of new customers changes who is active before it changes what
  they do, and a log whose customers were acquired early ages without any change at all).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.drift.comparisons import compare_mix, compare_profiles
from bat_pipeline.drift.groups import DEFAULT_TRIGGER_GROUPS
from bat_pipeline.drift.profiles import Profile, build_profile
from bat_pipeline.drift.results import DriftResult, EmptyWindowError, FeatureDrift
from bat_pipeline.drift.statistics import USER_GROUPS, design_effect, group_matrix

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


#: {category: count} of a window, and the design effect of those counts (None: unknown)
Mix = tuple[dict[str, int], float | None]


def _grouped(rows: list[tuple[str, object, int]]) -> Mix:
    """(category, group, n) rows as ({category: n}, design effect over the groups)."""
    cells: dict[str, dict[object, int]] = defaultdict(dict)
    for category, group, n in rows:
        cells[str(category)][group] = int(n)
    numbered = {g: i for i, g in enumerate(sorted({g for c in cells.values() for g in c}))}
    per_group = {c: {numbered[g]: n for g, n in by.items()} for c, by in cells.items()}
    counts = {c: sum(by.values()) for c, by in cells.items()}
    return counts, design_effect(group_matrix(per_group, max(len(numbered), 1)))


def quarantine_mix(con: duckdb.DuckDBPyConnection, window: Window) -> Mix:
    """{'loaded': n, '<reason>': n, ...} for the partitions of a window; the partitions are the
    groups of its design effect (a bad file quarantines many rows of one day)."""
    return _grouped(con.execute(query("window_load_mix"), {"keys": window.keys}).fetchall())


#: a user is 'new' on the days less than this many days after their first event
NEW_USER_DAYS = 14


def user_age_mix(con: duckdb.DuckDBPyConnection, window: Window) -> Mix:
    """{'new': active user-days of new users, 'returning': the others} in a window, with the
    design effect over random groups of users."""
    rows = con.execute(
        query("window_user_age_mix"),
        {
            "window_start": window.start,
            "window_end": window.end,
            "new_days": NEW_USER_DAYS,
            "user_groups": USER_GROUPS,
        },
    ).fetchall()
    return _grouped(rows)


#: the window-level mixes `drift_check` adds to the profiles' signals
WINDOW_MIXES: dict[str, Callable[[duckdb.DuckDBPyConnection, Window], Mix]] = {
    "load_outcome_mix": quarantine_mix,
    "user_age_mix": user_age_mix,
}


def drift_check(
    con: duckdb.DuckDBPyConnection,
    reference: Profile,
    current: Window,
    threshold: float,
    trigger_groups: Sequence[str] = DEFAULT_TRIGGER_GROUPS,
) -> tuple[DriftResult, Profile]:
    """Drift of the current window against a stored reference profile, with the load outcome
    and user age mixes; a mix with nothing counted on a side is left out with a note."""
    profile = build_window_profile(con, current, reference)
    result = compare_profiles(reference, profile, threshold, trigger_groups)
    ref_window = Window(reference.start, reference.end)
    extra: list[FeatureDrift] = []
    notes: list[str] = []
    for name, mix in WINDOW_MIXES.items():
        (ref_mix, ref_deff), (cur_mix, cur_deff) = mix(con, ref_window), mix(con, current)
        try:
            extra.append(compare_mix(name, ref_mix, cur_mix, threshold, ref_deff, cur_deff))
        except EmptyWindowError as exc:
            notes.append(f"{exc}: not compared")
    out = result.with_features(*extra)
    out.notes.extend(notes)
    return out, profile


def quality_failures(con: duckdb.DuckDBPyConnection, window: Window) -> list[str]:
    """Partitions of the window whose latest quality check failed (broken data blocks)."""
    return [
        r[0]
        for r in con.execute(query("window_quality_failures"), {"keys": window.keys}).fetchall()
    ]

"""Drift profiles: what one window of the `events` table looked like, aggregated in DuckDB.

Three queries per window (`sql/queries/drift_*.sql`): `drift_mix` (exact event counts per event type, device, channel),
`drift_user_days` (one row of behaviour features per user and active day) and
`drift_sequences` (consecutive event pairs within sessions, with gaps and session lengths).
Only their small results reach Python, where they are binned into histograms. Every count is
also kept per random group of users (`statistics.USER_GROUPS`), whose spread gives each
distribution's design effect: how much noisier the window is than its count of events says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from bat_pipeline.data.sqlfiles import query
from bat_pipeline.drift.histograms import Histogram
from bat_pipeline.drift.statistics import USER_GROUPS, design_effect, group_matrix

#: pseudo event types that open and close every session in the transition counts.
SESSION_START = "<start>"
SESSION_END = "<end>"
#: category name for an empty categorical value.
MISSING = "(missing)"
PROFILE_VERSION = 2
#: older profile versions still read (version 1 has no design effects: noise is then taken
#: from the other window, see `statistics.null_draws`)
READABLE_VERSIONS = (1, PROFILE_VERSION)


@dataclass
class Profile:
    """What one window of events [start, end] (dates inclusive, UTC) looked like.

    - `features`: per-user-day behaviour features (name -> histogram; one value per user and
      active day, so windows of different lengths compare like with like);
    - `mix`: {dimension: {category: events}} for event_type, device and channel, exact;
    - `transitions`: {source: {target: count}} of consecutive events within sessions;
      SESSION_START is the source of each session's first event, SESSION_END the target after
      its last;
    - `session_length`: events per session; `inter_event_gap`: log2(1 + seconds) between
      consecutive events of a session;
    - `n_events` (exact), `n_user_days` and `n_sessions` (in the sample), `sample_rate` (share
      of users profiled, 1.0 = all; users are picked by a hash of user_id);
    - `mix_deff` {dimension: design effect} and `transition_deff` {source: design effect} of
      the mix and of each source's next events (histograms carry their own); empty when the
      profile predates them.
    """

    start: date
    end: date
    n_events: int
    n_user_days: int
    n_sessions: int
    features: dict[str, Histogram]
    mix: dict[str, dict[str, int]]
    transitions: dict[str, dict[str, int]]
    session_length: Histogram
    inter_event_gap: Histogram
    sample_rate: float = 1.0
    mix_deff: dict[str, float | None] = field(default_factory=dict)
    transition_deff: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (dates as ISO strings); `from_dict` reads it back."""
        return {
            "version": PROFILE_VERSION,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_events": self.n_events,
            "n_user_days": self.n_user_days,
            "n_sessions": self.n_sessions,
            "sample_rate": self.sample_rate,
            "features": {name: h.to_dict() for name, h in self.features.items()},
            "mix": self.mix,
            "transitions": self.transitions,
            "session_length": self.session_length.to_dict(),
            "inter_event_gap": self.inter_event_gap.to_dict(),
            "mix_deff": self.mix_deff,
            "transition_deff": self.transition_deff,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"profile version {version!r} is not one of {READABLE_VERSIONS}; rebuild it"
            )
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            n_events=int(data["n_events"]),
            n_user_days=int(data["n_user_days"]),
            n_sessions=int(data["n_sessions"]),
            sample_rate=float(data.get("sample_rate", 1.0)),
            features={k: Histogram.from_dict(v) for k, v in data["features"].items()},
            mix={dim: {c: int(n) for c, n in cats.items()} for dim, cats in data["mix"].items()},
            transitions={
                s: {t: int(n) for t, n in row.items()} for s, row in data["transitions"].items()
            },
            session_length=Histogram.from_dict(data["session_length"]),
            inter_event_gap=Histogram.from_dict(data["inter_event_gap"]),
            mix_deff=dict(data.get("mix_deff", {})),
            transition_deff=dict(data.get("transition_deff", {})),
        )

    def summary(self) -> dict[str, Any]:
        """The window and its sizes, for reports."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_events": self.n_events,
            "n_user_days": self.n_user_days,
            "n_sessions": self.n_sessions,
            "sample_rate": self.sample_rate,
        }


#: the per-user-day features of `sql/drift_user_days.sql`, with what each value is.
USER_DAY_FEATURES: dict[str, str] = {
    "events": "events on the day",
    "sessions": "sessions on the day",
    "events_per_session": "mean events per session",
    "session_minutes": "mean minutes from a session's first to its last event",
    "purchases": "purchase events",
    "purchase_session_share": "share of sessions with a purchase",
    "cart_session_share": "share of sessions with an add-to-cart",
    "purchases_per_cart": "purchase events per add-to-cart event (undefined without carts)",
    "value": "money spent on the day",
    "value_per_purchase": "money per purchase event (undefined without purchases)",
    "mobile_share": "share of events on a mobile device (undefined without device)",
    "first_hour": "UTC hour of the day's first event",
}
#: above this many events in a window, user-day features and sequences are computed on a
#: hash sample of users expected to hold about this many events (the mix stays exact).
DEFAULT_MAX_EVENTS = 1_000_000


def sample_rate(n_events: int, max_events: int | None) -> float:
    """Share of users to profile so that about `max_events` events are read (1.0 = all)."""
    if not max_events or n_events <= max_events:
        return 1.0
    return max_events / n_events


def build_profile(
    con: Any,
    start: date,
    end: date,
    reference: Profile | None = None,
    *,
    purchase_event: str = "purchase",
    cart_event: str = "add_to_cart",
    mobile_device: str = "mobile",
    max_events: int | None = DEFAULT_MAX_EVENTS,
) -> Profile:
    """Profile the events of [start, end] (dates inclusive) in the DuckDB connection `con`.

    With `reference`, every histogram reuses the reference's bin edges so the two profiles can
    be compared; without, the window's own deciles become the edges. `max_events=None` reads
    every event however many there are.
    """
    window: dict[str, Any] = {"window_start": start, "window_end": end, "user_groups": USER_GROUPS}
    mix, mix_deff = _mix(con, window)
    n_events = sum(mix.get("event_type", {}).values())
    window["sample_rate"] = sample_rate(n_events, max_events)
    days = con.execute(
        query("drift_user_days"),
        window
        | {
            "purchase_event": purchase_event,
            "cart_event": cart_event,
            "mobile_device": mobile_device,
        },
    ).fetchnumpy()
    groups = np.asarray(days["user_group"], dtype=np.int64)
    features = {
        name: Histogram.from_values(
            _floats(days[name]), edges=_edges(reference, name), groups=groups
        )
        for name in USER_DAY_FEATURES
    }
    rows = con.execute(query("drift_sequences"), window | {"session_start": SESSION_START})
    transitions, transition_deff, lengths, gaps = _sequences(rows.fetchall())
    return Profile(
        start=start,
        end=end,
        n_events=n_events,
        n_user_days=len(days["events"]),
        n_sessions=int(sum(n for _, n in lengths)),
        features=features,
        mix=mix,
        transitions=transitions,
        session_length=_weighted(lengths, reference.session_length if reference else None),
        inter_event_gap=_weighted(gaps, reference.inter_event_gap if reference else None),
        sample_rate=window["sample_rate"],
        mix_deff=mix_deff,
        transition_deff=transition_deff,
    )


def _mix(
    con: Any, window: dict[str, Any]
) -> tuple[dict[str, dict[str, int]], dict[str, float | None]]:
    """{dimension: {category: events}} from `drift_mix` (an empty value becomes MISSING), and
    each dimension's design effect over the user groups."""
    per_group: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for category, n, dimension, group in con.execute(query("drift_mix"), window).fetchall():
        per_group[dimension][MISSING if category is None else category][int(group)] = int(n)
    mix = {
        dim: {cat: sum(by_group.values()) for cat, by_group in cats.items()}
        for dim, cats in per_group.items()
    }
    return mix, {dim: design_effect(group_matrix(cats)) for dim, cats in per_group.items()}


def _floats(column: np.ndarray) -> np.ndarray:
    """A fetched column as float64 with NaN where SQL had null."""
    return np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)


def _edges(reference: Profile | None, name: str) -> list[float] | None:
    if reference is None:
        return None
    if name not in reference.features:
        raise ValueError(f"the reference profile has no feature {name!r}; rebuild it")
    return reference.features[name].edges


def _sequences(
    rows: list[tuple[str, str, float | None, int | None, int, int]],
) -> tuple[
    dict[str, dict[str, int]],
    dict[str, float | None],
    list[tuple[tuple[int, int], int]],
    list[tuple[tuple[float, int], int]],
]:
    """`drift_sequences` rows -> transition counts (with SESSION_END after each session's last
    event), each source's design effect, and ((session length, group), sessions) and
    ((log2 gap, group), event pairs) pairs."""
    cells: dict[str, dict[str, dict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    lengths: dict[tuple[int, int], int] = defaultdict(int)
    gaps: dict[tuple[float, int], int] = defaultdict(int)
    for source, target, gap, session_events, group, n in rows:
        cells[source][target][int(group)] += n
        if session_events is not None:
            cells[target][SESSION_END][int(group)] += n
            lengths[(int(session_events), int(group))] += n
        if gap is not None:
            gaps[(float(gap), int(group))] += n
    plain = {
        s: {t: sum(by_group.values()) for t, by_group in sorted(row.items())}
        for s, row in sorted(cells.items())
    }
    deff = {s: design_effect(group_matrix(row)) for s, row in sorted(cells.items())}
    return plain, deff, list(lengths.items()), list(gaps.items())


def _weighted(
    counts: list[tuple[tuple[float, int], int]], reference: Histogram | None
) -> Histogram:
    """Histogram of ((value, user group), count) pairs."""
    values = np.array([v for (v, _), _ in counts], dtype=float)
    groups = np.array([g for (_, g), _ in counts], dtype=np.int64)
    weights = np.array([n for _, n in counts], dtype=float)
    return Histogram.from_values(
        values, weights, edges=reference.edges if reference else None, groups=groups
    )

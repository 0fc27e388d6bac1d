"""Drift detection: effect sizes, profiles built in DuckDB, comparison, report.

Small hand-made event tables check the SQL aggregates value by value; a reordering of events
inside sessions (same counts) shows that the transition features see what marginals cannot;
synthetic shops with injected drift are in test_drift_kinds.py.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from bat_pipeline.data.sqlfiles import query
from bat_pipeline.drift.comparisons import (
    compare_mix,
    compare_profiles,
    compare_scores,
    realised_performance,
)
from bat_pipeline.drift.histograms import Histogram
from bat_pipeline.drift.profiles import (
    SESSION_END,
    SESSION_START,
    USER_DAY_FEATURES,
    Profile,
    build_profile,
    sample_rate,
)
from bat_pipeline.drift.report import REPORT_JSON, write_drift_report
from bat_pipeline.drift.results import (
    DEFAULT_THRESHOLD,
    DriftResult,
    EmptyWindowError,
    FeatureDrift,
)
from bat_pipeline.drift.statistics import USER_GROUPS, js_distance, psi

COLUMNS = ["user_id", "event_time", "event_type", "session_id", "value", "device", "channel"]
DAY1, DAY2 = date(2026, 1, 5), date(2026, 1, 6)


def events_table(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with an `events` table (warehouse schema) holding `rows`
    (user_id, event_time, event_type, session_id, value, device, channel)."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["event_time"] = pd.to_datetime(frame["event_time"])
    frame["value"] = frame["value"].astype("float64")
    frame["source_row"] = np.arange(len(frame), dtype="int64")
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(
        "create table events as select user_id, event_time, event_type, session_id, value,"
        " device, channel, null::json as extra, 'p' as partition_key, 'f.csv' as source_file,"
        " source_row, now()::timestamp as ingested_at from frame"
    )
    con.unregister("frame")
    return con


def at(day: date, hms: str) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T{hms}")


# Two users over two days; hand-computed aggregates are in test_user_day_features_by_hand.
HAND_ROWS = [
    ("a", at(DAY1, "10:00:00"), "home", "a1", 0.0, "desktop", "web"),
    ("a", at(DAY1, "10:01:00"), "search", "a1", 0.0, "desktop", "web"),
    ("a", at(DAY1, "10:03:00"), "add_to_cart", "a1", 0.0, "desktop", "web"),
    ("a", at(DAY1, "10:04:00"), "purchase", "a1", 20.0, "desktop", "web"),
    ("a", at(DAY1, "18:00:00"), "home", "a2", 0.0, "mobile", "app"),
    ("b", at(DAY1, "09:00:00"), "home", "b1", None, "mobile", "app"),
    ("b", at(DAY1, "09:00:30"), "product_view", "b1", 0.0, "mobile", "app"),
    ("b", at(DAY1, "12:00:00"), "search", None, None, None, "web"),  # no session, no device
    ("a", at(DAY2, "08:00:00"), "search", "a3", 0.0, "desktop", "email"),
    ("a", at(DAY2, "08:10:00"), "add_to_cart", "a3", 0.0, "desktop", "email"),
    ("a", at(DAY2, "08:11:00"), "remove_from_cart", "a3", 0.0, "desktop", "email"),
]


def window_params(start: date, end: date) -> dict:
    return {
        "window_start": start,
        "window_end": end,
        "sample_rate": 1.0,
        "purchase_event": "purchase",
        "cart_event": "add_to_cart",
        "mobile_device": "mobile",
        "user_groups": USER_GROUPS,
    }


# --------------------------------------------------------------------------- effect sizes


def test_psi_is_zero_for_identical_and_large_for_shifted_distributions() -> None:
    rng = np.random.default_rng(0)
    reference = Histogram.from_values(rng.normal(0, 1, 5000))
    same = Histogram.from_values(rng.normal(0, 1, 5000), edges=reference.edges)
    shifted = Histogram.from_values(rng.normal(1, 1, 5000), edges=reference.edges)

    assert len(reference.counts) == 10  # deciles -> 10 equally filled bins
    assert psi(reference.counts, reference.counts) == pytest.approx(0.0, abs=1e-12)
    assert psi(reference.counts, same.counts) < 0.02
    assert psi(reference.counts, shifted.counts) > 0.2
    # PSI is symmetric in the two windows
    assert psi(reference.counts, shifted.counts) == pytest.approx(
        psi(shifted.counts, reference.counts)
    )


def test_histogram_bins_are_right_closed_and_weights_count_repeats() -> None:
    plain = Histogram.from_values([1, 2, 2, 3, np.nan], edges=[1, 2])
    assert plain.counts == [1, 2, 1]  # x <= 1, 1 < x <= 2, x > 2
    assert plain.missing == 1 and plain.mean == pytest.approx(2.0)
    weighted = Histogram.from_values([1, 2, 3, np.nan], weights=[1, 2, 1, 1], edges=[1, 2])
    assert weighted == plain

    x = np.random.default_rng(2).integers(0, 7, 1001).astype(float)
    own = Histogram.from_values(x)
    assert own.quantiles == list(np.quantile(x, np.arange(101) / 100, method="inverted_cdf"))
    assert own.edges == sorted(set(own.edges))  # tied deciles merged into one edge
    assert sum(own.counts) == 1001


def test_psi_needs_matching_bins() -> None:
    with pytest.raises(ValueError, match="same"):
        psi([1, 2, 3], [1, 2])


def test_js_distance_is_bounded_by_zero_and_one() -> None:
    assert js_distance([5, 5], [5, 5]) == pytest.approx(0.0, abs=1e-12)
    assert js_distance([10, 0], [0, 10]) == pytest.approx(1.0)
    partial = js_distance([8, 2], [2, 8])
    assert 0.0 < partial < 1.0
    # a side with nothing counted is as far as can be, not an error
    assert js_distance([0, 0], [3, 1]) == 1.0 and js_distance([0, 0], [0, 0]) == 0.0


def test_unseen_category_is_scored_and_named() -> None:
    reference = {"home": 500, "search": 500}
    new = compare_mix("event_type_mix", reference, {"home": 350, "search": 350, "live": 300})
    assert new.drifted and np.isfinite(new.score)
    assert new.extra["unseen"] == ["live"]
    assert new.extra["vanished"] == []

    gone = compare_mix("event_type_mix", {**reference, "chat": 300}, reference)
    assert gone.drifted and gone.extra["vanished"] == ["chat"]

    rare = compare_mix("event_type_mix", reference, {"home": 499, "search": 500, "live": 1})
    assert not rare.drifted  # one event of a new type is no drift
    assert rare.extra["unseen"] == ["live"]


def test_categories_on_one_side_only_are_drift_never_an_error() -> None:
    """The crash of issue 12: every category of the reference gone, others new (e.g. a quarantine
    reason that only one window has, or categories renamed between exports)."""
    swapped = compare_mix("load_outcome_mix", {"loaded": 900, "future": 40}, {"bad_time": 700})
    assert swapped.drifted and np.isfinite(swapped.score) and swapped.score > 1
    assert swapped.extra["unseen"] == ["bad_time"]
    assert swapped.extra["vanished"] == ["future", "loaded"]
    assert swapped.extra["js"] == pytest.approx(1.0)
    assert swapped.group == "data" and "load_outcome_mix" in swapped.describe()
    # one category on each side, tiny counts: still a score against its (large) noise
    tiny = compare_mix("device_mix", {"mobile": 2}, {"desktop": 1})
    assert np.isfinite(tiny.score) and tiny.threshold >= 0.2
    # nothing counted on a side is not drift but nothing measured, said so
    with pytest.raises(EmptyWindowError, match="nothing counted in the current window"):
        compare_mix("load_outcome_mix", {"loaded": 5}, {"loaded": 0})


# --------------------------------------------------------------------------------- profiles


def test_user_day_features_by_hand() -> None:
    con = events_table(HAND_ROWS)
    rows = con.execute(query("drift_user_days"), window_params(DAY1, DAY2)).df()
    assert set(rows["user_group"]) <= set(range(USER_GROUPS))
    got = rows.drop(columns="user_group").sort_values(["first_hour"]).reset_index(drop=True)
    expected = pd.DataFrame(
        {
            # a on day 2, b on day 1, a on day 1 (ordered by first_hour 8, 9, 10)
            "events": [3.0, 3.0, 5.0],
            "sessions": [1.0, 2.0, 2.0],
            "events_per_session": [3.0, 1.5, 2.5],
            "session_minutes": [11.0, 0.25, 2.0],
            "purchases": [0.0, 0.0, 1.0],
            "purchase_session_share": [0.0, 0.0, 0.5],
            "cart_session_share": [1.0, 0.0, 0.5],
            "purchases_per_cart": [0.0, np.nan, 1.0],
            "value": [0.0, 0.0, 20.0],
            "value_per_purchase": [np.nan, np.nan, 20.0],
            "mobile_share": [0.0, 1.0, 0.2],
            "first_hour": [8.0, 9.0, 10.0],
        }
    )
    assert list(got.columns) == list(USER_DAY_FEATURES)
    pd.testing.assert_frame_equal(got.astype("float64"), expected, check_dtype=False)


def test_build_profile_by_hand() -> None:
    profile = build_profile(events_table(HAND_ROWS), DAY1, DAY2)

    assert (profile.n_events, profile.n_user_days, profile.n_sessions) == (11, 3, 5)
    assert profile.sample_rate == 1.0
    assert profile.mix["event_type"] == {
        "home": 3,
        "search": 3,
        "add_to_cart": 2,
        "purchase": 1,
        "product_view": 1,
        "remove_from_cart": 1,
    }
    assert profile.mix["device"] == {"desktop": 7, "mobile": 3, "(missing)": 1}
    assert profile.transitions == {
        SESSION_START: {"home": 3, "search": 2},
        "add_to_cart": {"purchase": 1, "remove_from_cart": 1},
        "home": {SESSION_END: 1, "product_view": 1, "search": 1},
        "product_view": {SESSION_END: 1},
        "purchase": {SESSION_END: 1},
        "remove_from_cart": {SESSION_END: 1},
        "search": {SESSION_END: 1, "add_to_cart": 2},
    }
    # sessions of 4, 1, 2, 1 and 3 events
    assert profile.session_length.mean == pytest.approx(2.2)
    assert profile.session_length.quantiles[0] == 1 and profile.session_length.quantiles[-1] == 4
    assert profile.session_length.total == 5
    # gaps of 60, 120, 60, 30, 600, 60 s as log2(1 + s) in quarters: 6, 7, 6, 5, 9.25, 6
    assert profile.inter_event_gap.mean == pytest.approx((6 + 7 + 6 + 5 + 9.25 + 6) / 6)
    # per-user-day features: hand values as in test_user_day_features_by_hand
    assert profile.features["events"].mean == pytest.approx(11 / 3)
    assert profile.features["value_per_purchase"].missing == 2
    assert profile.features["value_per_purchase"].mean == pytest.approx(20.0)
    assert profile.features["mobile_share"].mean == pytest.approx(0.4)
    assert profile.features["events"].total == 3


def test_profile_round_trips_through_json() -> None:
    profile = build_profile(events_table(HAND_ROWS), DAY1, DAY2)
    text = json.dumps(profile.to_dict())
    again = Profile.from_dict(json.loads(text))
    assert again == profile
    with pytest.raises(ValueError, match="version"):
        Profile.from_dict({**json.loads(text), "version": 0})


def test_profiles_carry_design_effects_and_version_1_still_reads() -> None:
    con = events_table(sessions_rows(DAY1, CALM_ORDER, users=40))
    profile = build_profile(con, DAY1, DAY1 + timedelta(days=4))
    # every user keeps one device all week: the device mix is far noisier than its events say
    assert profile.mix_deff["device"] > 5
    assert profile.features["mobile_share"].deff > 1  # same user, same share, five days
    assert set(profile.transition_deff) == set(profile.transitions)

    old = profile.to_dict() | {"version": 1}
    for key in ("mix_deff", "transition_deff"):
        del old[key]
    for hist in [*old["features"].values(), old["session_length"], old["inter_event_gap"]]:
        del hist["deff"]
    legacy = Profile.from_dict(old)  # a champion's stored reference from before
    assert legacy.mix_deff == {} and legacy.features["events"].deff is None
    current = build_profile(con, DAY1, DAY1 + timedelta(days=4), reference=legacy)
    assert not compare_profiles(legacy, current).signals_moved


def test_current_profile_reuses_reference_edges() -> None:
    con = events_table(HAND_ROWS)
    reference = build_profile(con, DAY1, DAY1)
    current = build_profile(con, DAY2, DAY2, reference=reference)
    for name, hist in reference.features.items():
        assert current.features[name].edges == hist.edges
    assert current.session_length.edges == reference.session_length.edges

    own_edges = build_profile(con, DAY2, DAY2)
    with pytest.raises(ValueError, match="reference's edges"):
        compare_profiles(reference, own_edges)


def test_empty_window_is_an_error_not_drift() -> None:
    con = events_table(HAND_ROWS)
    reference = build_profile(con, DAY1, DAY2)
    empty = build_profile(con, date(2026, 2, 1), date(2026, 2, 7), reference=reference)
    assert empty.n_events == 0
    with pytest.raises(EmptyWindowError, match="no events"):
        compare_profiles(reference, empty)


# -------------------------------------------------------------- sequence-awareness, sampling

CALM_ORDER = ("home", "search", "product_view", "add_to_cart", "purchase")
SWAPPED_ORDER = ("home", "product_view", "search", "purchase", "add_to_cart")


def sessions_rows(first_day: date, order: tuple[str, ...], users: int = 10) -> list[tuple]:
    """One session per user and day for 5 days, events 1 minute apart in `order`."""
    rows = []
    for d in range(5):
        day = first_day + timedelta(days=d)
        for u in range(users):
            session = f"u{u}-{day.isoformat()}"
            for i, event in enumerate(order):
                when = at(day, f"10:{u:02d}:00") + timedelta(minutes=i)
                value = 10.0 if event == "purchase" else 0.0
                device = "mobile" if u % 2 else "desktop"
                rows.append((f"u{u}", when, event, session, value, device, "web"))
    return rows


def test_reordered_sessions_drift_although_every_count_is_the_same() -> None:
    week2 = DAY1 + timedelta(days=7)
    con = events_table(sessions_rows(DAY1, CALM_ORDER) + sessions_rows(week2, SWAPPED_ORDER))
    reference = build_profile(con, DAY1, DAY1 + timedelta(days=4))
    same_order = build_profile(con, DAY1, DAY1 + timedelta(days=4), reference=reference)
    swapped = build_profile(con, week2, week2 + timedelta(days=4), reference=reference)

    result = compare_profiles(reference, swapped)
    scores = {f.name: f.score for f in result.features}
    # marginals cannot tell the windows apart ...
    for name in [*USER_DAY_FEATURES, "event_type_mix", "session_length", "inter_event_gap"]:
        assert scores[name] == pytest.approx(0.0, abs=1e-9), name
    # ... the transitions can
    assert result.drift_detected
    assert scores["event_transitions"] > 1.0
    assert {"next_after_home", "next_after_search"} <= {f.name for f in result.drifted}
    assert all(f.kind == "sequence" for f in result.drifted)
    assert not compare_profiles(reference, same_order).drift_detected


def test_large_windows_are_profiled_on_a_user_sample() -> None:
    assert sample_rate(500, 1000) == 1.0
    assert sample_rate(4000, 1000) == 0.25
    assert sample_rate(4000, None) == 1.0

    con = events_table(sessions_rows(DAY1, CALM_ORDER, users=40))
    full = build_profile(con, DAY1, DAY1 + timedelta(days=4))
    sampled = build_profile(con, DAY1, DAY1 + timedelta(days=4), max_events=300)
    assert sampled.sample_rate == pytest.approx(300 / 1000)
    assert sampled.n_events == full.n_events == 1000  # the mix is always exact
    assert 0 < sampled.n_user_days < full.n_user_days


# ------------------------------------------------------------------------------- results


def test_result_sorts_by_score_over_threshold_and_names_the_movers() -> None:
    features = [
        FeatureDrift("calm", "psi", 0.05, 0.2, False),
        FeatureDrift("big", "psi", 0.9, 0.2, True),
        FeatureDrift("strict", "psi", 0.15, 0.1, True),  # 1.5x its threshold
    ]
    result = DriftResult(features, threshold=0.2)
    assert [f.name for f in result.features] == ["big", "strict", "calm"]
    assert [f.name for f in result.top_features(2)] == ["big", "strict"]
    assert result.drift_detected
    assert "big" in result.verdict and "strict" in result.verdict
    assert "calm" not in result.verdict

    data = json.loads(json.dumps(result.to_dict()))
    assert data["drift_detected"] is True
    assert [f["name"] for f in data["features"]] == ["big", "strict", "calm"]
    assert set(data["features"][0]) >= {"name", "method", "score", "threshold", "drifted"}

    calm = DriftResult([features[0]])
    assert not calm.drift_detected
    assert calm.verdict.startswith("No drift")
    assert calm.with_features(features[1]).drift_detected


def test_compare_scores_flags_a_moved_score_distribution() -> None:
    rng = np.random.default_rng(1)
    reference = rng.beta(2, 5, 3000)
    same = compare_scores(reference, rng.beta(2, 5, 3000))
    moved = compare_scores(reference, rng.beta(5, 2, 3000))
    assert not same.drifted and same.score < 0.05
    assert moved.drifted and moved.name == "prediction_score" and moved.kind == "prediction"
    assert moved.extra["wasserstein"] > 0.3  # in score units: means 0.29 -> 0.71
    with pytest.raises(ValueError, match="both sides"):
        compare_scores(reference, [])


def test_realised_performance_against_test_figures() -> None:
    report = realised_performance(
        [0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], expected={"accuracy": 0.8, "auc": 0.9}
    )
    metrics = report["metrics"]
    assert report["n"] == 4 and report["positive_rate"] == 0.5
    assert metrics["accuracy"]["realised"] == pytest.approx(0.5)
    assert metrics["auc"]["realised"] == pytest.approx(0.75)  # 3 of 4 pairs ranked right
    assert metrics["balanced_accuracy"]["realised"] == pytest.approx(0.5)
    assert metrics["accuracy"]["change"] == pytest.approx(-0.3)
    assert metrics["log_loss"]["expected"] is None and metrics["log_loss"]["change"] is None
    assert report["degraded"] == ["accuracy", "auc"]

    fine = realised_performance([0, 1], [0.2, 0.8], expected={"accuracy": 1.0, "auc": 1.0})
    assert fine["degraded"] == []


def test_realised_performance_undefined_metrics_are_none_not_zero() -> None:
    one_class = realised_performance([1, 1, 1], [0.9, 0.8, 0.3], expected={"auc": 0.9})
    assert one_class["metrics"]["auc"]["realised"] is None
    assert one_class["metrics"]["auc"]["change"] is None
    assert one_class["metrics"]["balanced_accuracy"]["realised"] is None
    assert one_class["metrics"]["accuracy"]["realised"] == pytest.approx(2 / 3)
    assert one_class["degraded"] == []

    nothing = realised_performance([], [], expected={"accuracy": 0.9})
    assert nothing["n"] == 0 and nothing["positive_rate"] is None
    assert all(m["realised"] is None for m in nothing["metrics"].values())


# -------------------------------------------------------------------------------- report


def test_report_is_written_with_embedded_plots(tmp_path: Path) -> None:
    week2 = DAY1 + timedelta(days=7)
    con = events_table(sessions_rows(DAY1, CALM_ORDER) + sessions_rows(week2, SWAPPED_ORDER))
    reference = build_profile(con, DAY1, DAY1 + timedelta(days=4))
    current = build_profile(con, week2, week2 + timedelta(days=4), reference=reference)
    result = compare_profiles(reference, current)

    path = write_drift_report(result, reference, current, tmp_path / "report")

    page = path.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # top histograms, categorical mix, transition heatmap
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert "drift detected" in page and "event_transitions" in page
    assert "behaviour (decides retraining)" in page and "population (reported only" in page
    data = json.loads((path.parent / REPORT_JSON).read_text(encoding="utf-8"))
    assert data["drift_detected"] is True and data["trigger_groups"] == ["behaviour"]
    assert data["features"][0]["name"] == result.features[0].name
    assert {f["group"] for f in data["features"]} == {"behaviour", "population"}
    behaviour = data["groups"]["behaviour"]
    assert behaviour["triggers_retrain"] and behaviour["drifted"]
    assert "next_after_home" in {m["name"] for m in behaviour["moved"]}
    assert all(m["score"] > m["threshold"] >= DEFAULT_THRESHOLD for m in behaviour["moved"])
    assert data["groups"]["population"]["triggers_retrain"] is False

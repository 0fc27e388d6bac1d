"""The lifetime context of a sample, computed by hand: the whole history before the cutoff and
nothing at or after it."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.features.lifetime import (
    LIFETIME_COLUMNS,
    fit_lifetime_scaler,
    fit_piecewise_edges,
    lifetime_features,
    piecewise_linear,
    piecewise_names,
    scale_lifetime,
)
from bat_pipeline.features.samples import register_index
from bat_pipeline_tests.helpers import add_events

CUTOFF = date(2024, 3, 1)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00")


def lifetime_of(rows: list[tuple], users: list[str], target: str = "purchase", tmp_path=None):
    with writer(tmp_path / "w.duckdb") as con:
        add_events(con, rows)
        replace_table(con, "events")
        register_index(con, pd.DataFrame({"user_id": users, "cutoff": CUTOFF}))
        try:
            values = lifetime_features(con, target)
        finally:
            con.unregister("sample_index")
    return [dict(zip(LIFETIME_COLUMNS, row, strict=True)) for row in values.tolist()]


def test_lifetime_features_by_hand(tmp_path):
    rows = [
        # u1: active on 01-01, 02-01, 02-20, 02-28; purchases on 01-01 (10) and 02-20 (30)
        ("u1", at("2024-01-01", 10), "home", "s1", None, "mobile", "ads"),
        ("u1", at("2024-01-01", 11), "purchase", "s1", 10.0, "mobile", "ads"),
        ("u1", at("2024-02-01"), "home", "s2", None, "mobile", "ads"),
        ("u1", at("2024-02-20"), "purchase", "s3", 30.0, "mobile", "ads"),
        ("u1", at("2024-02-28", 18), "search", "s4", None, "mobile", "ads"),
        # at and after the cutoff: must change nothing
        ("u1", at("2024-03-01", 0), "purchase", "s5", 999.0, "mobile", "ads"),
        ("u1", at("2024-03-05"), "purchase", "s6", 999.0, "mobile", "ads"),
    ]
    (u1,) = lifetime_of(rows, ["u1"], tmp_path=tmp_path)
    expected = {
        "recency_days": 1 + 6 / 24,  # 02-28 18:00 to 03-01 00:00 (2024 has a 02-29)
        "tenure_days": 60 - 10 / 24,  # 01-01 10:00 to 03-01: 31 + 29 days less 10 hours
        "target_recency_days": 9 + 12 / 24,  # 02-20 12:00
        "active_days": 4,
        "events": 5,
        "targets": 2,
        "value": 40.0,
        "last_gap_days": 8,  # 02-20 -> 02-28
        "mean_gap_days": 58 / 3,  # 01-01 .. 02-28 over 3 gaps
        "last_target_gap_days": 50,  # 01-01 -> 02-20
        "mean_target_gap_days": 50,
        "events_7d": 1,  # days >= 02-23
        "events_14d": 2,  # >= 02-16
        "events_28d": 2,  # >= 02-02
        "events_56d": 3,  # >= 01-05
        "targets_7d": 0,
        "targets_14d": 1,
        "targets_28d": 1,
        "targets_56d": 1,
        "value_28d": 30.0,
    }
    assert u1 == pytest.approx(expected)


def test_a_single_day_customer_has_tenure_for_every_gap(tmp_path):
    rows = [("u2", at("2024-02-25", 6), "home", "s1", None, "desktop", "email")]
    (u2,) = lifetime_of(rows, ["u2"], tmp_path=tmp_path)
    tenure = 4 + 18 / 24
    assert u2["tenure_days"] == pytest.approx(tenure) == pytest.approx(u2["recency_days"])
    for gap in ("last_gap_days", "mean_gap_days", "last_target_gap_days", "mean_target_gap_days"):
        assert u2[gap] == pytest.approx(tenure), gap
    assert u2["targets"] == 0 and u2["target_recency_days"] == pytest.approx(tenure)


def test_target_any_counts_every_event(tmp_path):
    rows = [
        ("u3", at("2024-02-10"), "home", "s1", None, "desktop", "email"),
        ("u3", at("2024-02-27"), "search", "s2", None, "desktop", "email"),
    ]
    (u3,) = lifetime_of(rows, ["u3"], target="any", tmp_path=tmp_path)
    assert u3["targets"] == u3["events"] == 2
    assert u3["last_target_gap_days"] == 17


def test_scaling_is_fitted_on_train_and_not_clipped():
    train = np.array([[0.0, 10.0], [0.0, 100.0]], dtype=np.float32)
    mean, std = fit_lifetime_scaler(train)
    assert std[0] == 1.0  # a constant feature scales to 0, not to NaN
    scaled = scale_lifetime(np.array([[0.0, 10_000.0]], dtype=np.float32), mean, std)
    assert scaled[0, 0] == 0.0 and scaled[0, 1] > 3  # longer than any seen stays longer


def test_piecewise_edges_are_the_distinct_train_quantiles():
    train = np.array([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    edges = fit_piecewise_edges(train, bins=4)
    # the first feature is mostly 0: its quantiles 0, 0, 0, 2, 4 collapse to three edges
    assert edges == [[0.0, 2.0, 4.0], [5.0]]


def test_piecewise_linear_is_0_below_a_bin_1_above_it_and_the_fraction_inside():
    edges = [[0.0, 2.0, 4.0], [5.0]]  # the constant second feature has no bin
    raw = np.array([[-1.0, 5.0], [0.0, 9.0], [1.0, 5.0], [3.0, 0.0], [10.0, 5.0]], np.float32)
    np.testing.assert_allclose(
        piecewise_linear(raw, edges),
        [[0.0, 0.0], [0.0, 0.0], [0.5, 0.0], [1.0, 0.5], [1.0, 1.0]],
    )
    assert piecewise_names(["recency_days", "tenure_days"], edges) == [
        "lifetime.recency_days>0",
        "lifetime.recency_days>2",
    ]

"""The synthetic shop: file format, determinism, realism, predictive signal and drift kinds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bat_pipeline.contract import DEFAULT_EVENT_TYPES
from bat_pipeline.data.synthetic import (
    CHANNELS,
    COLUMNS,
    DEVICES,
    DRIFT_KINDS,
    NEW_EVENT_TYPE,
    GenerateSummary,
    generate,
)

START = date(2026, 1, 1)
TIME_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


def load(summary: GenerateSummary) -> pd.DataFrame:
    """All events of a generated folder, with `time` (UTC, naive) and `day` (0 = start)."""
    frames = [pd.read_csv(f, dtype={"user_id": str, "session_id": str}) for f in summary.files]
    df = pd.concat(frames, ignore_index=True)
    df["time"] = pd.to_datetime(df["event_time"], format="%Y-%m-%dT%H:%M:%SZ")
    df["day"] = (df["time"].dt.normalize() - pd.Timestamp(summary.start)).dt.days
    return df


def psi(reference: pd.Series, current: pd.Series) -> float:
    """Population stability index of two categorical samples."""
    cats = sorted(set(reference) | set(current))
    p = reference.value_counts(normalize=True).reindex(cats, fill_value=0).clip(lower=1e-4)
    q = current.value_counts(normalize=True).reindex(cats, fill_value=0).clip(lower=1e-4)
    return float(((q - p) * np.log(q / p)).sum())


def sessions_of(df: pd.DataFrame) -> pd.DataFrame:
    """One row per session: its day, device, channel and whether it has a purchase."""
    return df.groupby("session_id").agg(
        day=("day", "first"),
        user_id=("user_id", "first"),
        device=("device", "first"),
        channel=("channel", "first"),
        bought=("event_type", lambda s: (s == "purchase").any()),
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerateSummary, pd.DataFrame]:
    """A calm shop: 1000 users over 120 days (about 170k events)."""
    summary = generate(tmp_path_factory.mktemp("shop"), users=1000, days=120, seed=11)
    return summary, load(summary)


def drifted(tmp: Path, kind: str, users: int = 800) -> tuple[GenerateSummary, pd.DataFrame, int]:
    """A shop of 70 days whose drift starts on day 42 (a Thursday)."""
    summary = generate(
        tmp, users=users, days=70, seed=3, drift=kind, drift_start=START + timedelta(days=42)
    )
    return summary, load(summary), 42


# --- format ---------------------------------------------------------------------------------


def test_one_csv_file_per_day_with_canonical_columns(shop):
    summary, df = shop
    assert [f.name for f in summary.files] == [
        f"events_{START + timedelta(days=d)}.csv" for d in range(120)
    ]
    for f in summary.files:
        assert f.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert df["event_time"].str.match(TIME_TEXT).all()
    assert set(df["event_type"]) == set(DEFAULT_EVENT_TYPES)
    assert set(df["device"]) == set(DEVICES)
    assert set(df["channel"]) == set(CHANNELS)
    assert df["user_id"].str.match(r"^u\d{6}$").all()
    assert df["value"].dtype == np.float64
    assert df[list(COLUMNS)].notna().all().all()
    # every file holds its own day only, sorted by time
    for f in summary.files[:10]:
        day = pd.read_csv(f)["event_time"]
        assert day.str.startswith(f.stem.removeprefix("events_")).all()
        assert day.is_monotonic_increasing


def test_summary_counts_what_was_written(shop):
    summary, df = shop
    assert summary.events == len(df)
    assert summary.users == df["user_id"].nunique()
    assert (summary.days, summary.start, summary.drift, summary.drift_start) == (
        120,
        START,
        None,
        None,
    )
    # the default size is a realistic few hundred thousand events
    assert 100_000 < summary.events < 300_000


def test_parquet_holds_the_same_events_with_real_types(tmp_path):
    as_csv = generate(tmp_path / "csv", users=200, days=5, seed=5)
    as_parquet = generate(tmp_path / "pq", users=200, days=5, seed=5, fmt="parquet")
    assert [f.name for f in as_parquet.files] == [
        f.name.replace(".csv", ".parquet") for f in as_csv.files
    ]
    table = pq.read_table(as_parquet.files[2])
    assert table.schema.names == list(COLUMNS)
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("user_id").type == pa.string()
    got = pd.concat([pd.read_parquet(f) for f in as_parquet.files], ignore_index=True)
    want = pd.concat([pd.read_csv(f) for f in as_csv.files], ignore_index=True)
    got["event_time"] = got["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert as_parquet.events == as_csv.events == len(want)


def test_same_arguments_same_bytes(tmp_path):
    a = generate(tmp_path / "a", users=150, days=12, seed=42)
    b = generate(tmp_path / "b", users=150, days=12, seed=42)
    c = generate(tmp_path / "c", users=150, days=12, seed=43)
    assert [f.read_bytes() for f in a.files] == [f.read_bytes() for f in b.files]
    assert [f.read_bytes() for f in a.files] != [f.read_bytes() for f in c.files]
    pa_ = generate(tmp_path / "pa", users=150, days=3, seed=42, fmt="parquet")
    pb = generate(tmp_path / "pb", users=150, days=3, seed=42, fmt="parquet")
    assert [f.read_bytes() for f in pa_.files] == [f.read_bytes() for f in pb.files]


def test_files_before_drift_are_identical_to_no_drift(tmp_path):
    calm = generate(tmp_path / "calm", users=200, days=20, seed=9)
    for kind in DRIFT_KINDS:
        out = generate(
            tmp_path / kind,
            users=200,
            days=20,
            seed=9,
            drift=kind,
            drift_start=START + timedelta(days=12),
        )
        before = [f.read_bytes() for f in out.files[:12]]
        assert before == [f.read_bytes() for f in calm.files[:12]], kind
        assert out.files[15].read_bytes() != calm.files[15].read_bytes(), kind


def test_progress_is_reported_after_each_day(tmp_path):
    calls: list[tuple[int, int]] = []
    generate(tmp_path, users=20, days=4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_tiny_shop_still_writes_every_day(tmp_path):
    summary = generate(tmp_path, users=1, days=3, seed=1)
    assert len(summary.files) == 3
    for f in summary.files:
        assert f.read_text().startswith(",".join(COLUMNS) + "\n")
    assert summary.users <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "users"),
        ({"users": 2.5}, "users"),
        ({"days": 0}, "days"),
        ({"days": True}, "days"),
        ({"seed": -1}, "seed"),
        ({"fmt": "json"}, "fmt"),
        ({"drift": "alien_invasion", "drift_start": START}, "unknown drift"),
        ({"drift": "mobile_shift"}, "drift_start"),
        ({"drift_start": START + timedelta(days=3)}, "drift"),
        ({"drift": "mobile_shift", "drift_start": START - timedelta(days=1)}, "outside"),
        ({"drift": "mobile_shift", "drift_start": START + timedelta(days=10)}, "outside"),
        ({"start": "2026-01-01"}, "start"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, kwargs, message):
    args = {"users": 10, "days": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


# --- realism --------------------------------------------------------------------------------


def test_value_is_positive_on_purchases_and_zero_elsewhere(shop):
    _, df = shop
    purchases = df["event_type"] == "purchase"
    assert (df.loc[purchases, "value"] > 0).all()
    assert (df.loc[~purchases, "value"] == 0).all()
    assert (df["value"] == df["value"].round(2)).all()
    # baskets differ by customer: the top spenders' median basket is far above the bottom's
    per_user = df[purchases].groupby("user_id")["value"].median()
    assert per_user.quantile(0.9) > 2.5 * per_user.quantile(0.1)


def test_sessions_are_ordered_plausible_sequences(shop):
    _, df = shop
    first = df.groupby("session_id", sort=False).head(1)
    assert first["event_type"].isin(["home", "search"]).all()
    assert (df.groupby("session_id")["user_id"].nunique() == 1).all()
    assert (df.groupby("session_id")["day"].nunique() == 1).all()
    # in file order, each session's events are in time order
    by_session = df.sort_values(["session_id"], kind="stable")
    assert by_session.groupby("session_id")["time"].apply(lambda t: t.is_monotonic_increasing).all()
    # purchase follows checkout follows add_to_cart, within the session
    pos = df.assign(pos=np.arange(len(df)))
    first_at = pos.pivot_table(
        index="session_id", columns="event_type", values="pos", aggfunc="min"
    )
    bought = first_at["purchase"].notna()
    assert (first_at.loc[bought, "checkout"] < first_at.loc[bought, "purchase"]).all()
    checked = first_at["checkout"].notna()
    assert (first_at.loc[checked, "add_to_cart"] < first_at.loc[checked, "checkout"]).all()
    removed = first_at["remove_from_cart"].notna()
    assert (first_at.loc[removed, "add_to_cart"] < first_at.loc[removed, "remove_from_cart"]).all()
    # a user's sessions of a day do not overlap
    span = df.groupby("session_id").agg(
        user=("user_id", "first"), a=("time", "min"), b=("time", "max")
    )
    span = span.sort_values(["user", "a"])
    same_user = span["user"].eq(span["user"].shift())
    assert (span["a"][same_user] >= span["b"].shift()[same_user]).all()


def test_funnel_rates_look_like_a_shop(shop):
    _, df = shop
    counts = df["event_type"].value_counts(normalize=True)
    assert counts["product_view"] > counts["add_to_cart"] > counts["checkout"] > counts["purchase"]
    sessions = df["session_id"].nunique()
    conversion = (df["event_type"] == "purchase").sum() / sessions
    assert 0.02 < conversion < 0.15
    assert 3 < len(df) / sessions < 12


def test_weekends_are_busier(shop):
    summary, df = shop
    per_day = df.groupby("day").size()
    weekday = pd.Series([(summary.start + timedelta(days=int(d))).weekday() for d in per_day.index])
    weekend = weekday.values >= 5
    assert per_day[weekend].mean() > 1.05 * per_day[~weekend].mean()


def test_users_join_over_time_and_churners_fade_away(shop):
    summary, df = shop
    first = df.groupby("user_id")["day"].min()
    last = df.groupby("user_id")["day"].max()
    assert (first >= 30).mean() > 0.2  # a good share only arrives later
    assert (first < 7).mean() > 0.2  # and many are there from the start
    # users who stop coming visit less and less in the weeks before they stop
    gone = last[(last < summary.days - 30) & (last - first >= 56)].index
    assert len(gone) > 20
    active = df[df["user_id"].isin(gone)].drop_duplicates(["user_id", "day"])
    age = last.reindex(active["user_id"]).to_numpy() - active["day"].to_numpy()
    last_four_weeks = ((age >= 1) & (age < 29)).sum()
    four_weeks_before = ((age >= 29) & (age < 57)).sum()
    assert last_four_weeks < 0.8 * four_weeks_before


def test_devices_and_channels_are_mostly_stable_per_user(shop):
    _, df = shop
    sessions = sessions_of(df)
    for column in ("device", "channel"):
        top_share = sessions.groupby("user_id")[column].agg(
            lambda s: s.value_counts(normalize=True).iloc[0]
        )
        assert top_share[sessions.groupby("user_id").size() >= 10].mean() > 0.7


def test_two_calm_windows_look_alike(shop):
    _, df = shop
    a = df[df["day"].between(30, 57)]
    b = df[df["day"].between(72, 99)]
    assert psi(a["event_type"], b["event_type"]) < 0.02
    sa, sb = sessions_of(a), sessions_of(b)
    assert psi(sa["device"], sb["device"]) < 0.02
    assert psi(sa["channel"], sb["channel"]) < 0.02
    assert sb["bought"].mean() == pytest.approx(sa["bought"].mean(), rel=0.25)
    assert len(b) == pytest.approx(len(a), rel=0.25)


def test_no_day_jumps_against_the_trailing_week(shop):
    """The ingest volume check (trailing 7-day median, 50 % tolerance) passes on calm data."""
    _, df = shop
    per_day = df.groupby("day").size()
    trailing = per_day.rolling(7).median().shift(1)
    assert ((per_day / trailing - 1).abs().dropna() < 0.5).all()


# --- predictive signal ----------------------------------------------------------------------


def daily_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Events per (user, day, event type), wide."""
    return df.pivot_table(
        index=["user_id", "day"], columns="event_type", values="value", aggfunc="size", fill_value=0
    )


def samples_at(df: pd.DataFrame, cutoffs: range, horizon: int = 14) -> pd.DataFrame:
    """Per (user seen before t, cutoff t): RFM aggregates, recent activity and the label."""
    counts = daily_counts(df).reset_index()
    spend = df.groupby(["user_id", "day"])["value"].sum().rename("spend").reset_index()
    counts = counts.merge(spend, on=["user_id", "day"])
    rows = []
    for t in cutoffs:
        past = counts[counts["day"] < t]
        recent = past[past["day"] >= t - 7]
        buys = past[past["purchase"] > 0]
        future = counts[(counts["day"] >= t) & (counts["day"] < t + horizon)]
        frame = pd.DataFrame(
            {
                "recency": t - past.groupby("user_id")["day"].max(),
                "purchase_recency": t - buys.groupby("user_id")["day"].max(),
                "active_days": past[past["day"] >= t - 60].groupby("user_id").size(),
                "purchases": past.groupby("user_id")["purchase"].sum(),
                "spend": past.groupby("user_id")["spend"].sum(),
                "events": past.drop(columns=["day", "spend"]).groupby("user_id").sum().sum(axis=1),
                "recent_carts": recent.groupby("user_id")["add_to_cart"].sum(),
                "recent_views": recent.groupby("user_id")["product_view"].sum(),
                "recent_purchases": recent.groupby("user_id")["purchase"].sum(),
                "recent_days": recent.groupby("user_id").size(),
                "label": future.groupby("user_id")["purchase"].sum(),
            }
        )
        frame = frame[frame["recency"].notna()]
        frame["purchase_recency"] = frame["purchase_recency"].fillna(t + 60)
        frame = frame.fillna(0)
        frame["label"] = frame["label"] > 0
        rows.append(frame.assign(cutoff=t))
    return pd.concat(rows)


def test_purchase_base_rate_is_neither_rare_nor_common(shop):
    _, df = shop
    samples = samples_at(df, range(35, 106, 14))
    active = samples[samples["recency"] <= 30]
    assert 0.2 < samples["label"].mean() < 0.4
    assert 0.25 < active["label"].mean() < 0.45


def test_cart_without_purchase_in_last_week_predicts_purchase(shop):
    _, df = shop
    samples = samples_at(df, range(28, 106, 7))
    open_cart = (samples["recent_carts"] > 0) & (samples["recent_purchases"] == 0)
    no_cart = samples["recent_carts"] == 0
    assert open_cart.sum() > 200 and no_cart.sum() > 200
    rate_cart = samples.loc[open_cart, "label"].mean()
    rate_none = samples.loc[no_cart, "label"].mean()
    assert rate_cart > 1.5 * rate_none
    assert rate_cart - rate_none > 0.2


def test_recent_behaviour_adds_signal_beyond_rfm(shop):
    """Recent patterns carry information that recency/frequency/monetary totals do not."""
    _, df = shop
    samples = samples_at(df, range(21, 106, 7))
    train = samples["cutoff"] < 80
    rfm = ["recency", "purchase_recency", "active_days", "purchases", "spend", "events"]
    recent = ["recent_carts", "recent_views", "recent_purchases", "recent_days"]

    def auc(columns: list[str]) -> float:
        x = np.log1p(samples[columns].to_numpy(float))
        y = samples["label"].to_numpy()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(x[train], y[train])
        return roc_auc_score(y[~train], model.predict_proba(x[~train])[:, 1])

    rfm_auc, both_auc = auc(rfm), auc(rfm + recent)
    assert rfm_auc > 0.65  # the aggregates are informative ...
    assert both_auc > rfm_auc + 0.02  # ... and recent behaviour adds to them


# --- drift ----------------------------------------------------------------------------------


def test_conversion_drop_cuts_purchases(tmp_path):
    _, df, d = drifted(tmp_path, "conversion_drop")
    sessions = sessions_of(df)
    before = sessions[sessions["day"].between(d - 28, d - 1)]["bought"].mean()
    week1 = sessions[sessions["day"].between(d, d + 6)]["bought"].mean()
    assert week1 < 0.4 * before
    # the calm shop of the same seed kept converting
    calm = generate(tmp_path / "calm", users=800, days=70, seed=3)
    calm_sessions = sessions_of(load(calm))
    assert calm_sessions[calm_sessions["day"].between(d, d + 6)]["bought"].mean() > 0.7 * before


def test_mobile_shift_moves_sessions_to_mobile(tmp_path):
    _, df, d = drifted(tmp_path, "mobile_shift")
    sessions = sessions_of(df)
    before = sessions[sessions["day"].between(d - 28, d - 1)]
    week1 = sessions[sessions["day"].between(d, d + 6)]
    assert (before["device"] == "mobile").mean() < 0.65
    assert (week1["device"] == "mobile").mean() > (before["device"] == "mobile").mean() + 0.2
    assert psi(before["device"], week1["device"]) > 0.2


def test_new_event_type_appears_only_after_drift_start(tmp_path):
    _, df, d = drifted(tmp_path, "new_event_type")
    live = df["event_type"] == NEW_EVENT_TYPE
    assert not live[df["day"] < d].any()
    week1 = df[df["day"].between(d, d + 6)]
    share = week1.groupby("session_id")["event_type"].apply(lambda s: (s == NEW_EVENT_TYPE).any())
    assert share.mean() > 0.25
    assert psi(df[df["day"].between(d - 28, d - 1)]["event_type"], week1["event_type"]) > 0.2


def test_segment_mix_brings_a_wave_of_new_users(tmp_path):
    summary, df, d = drifted(tmp_path, "segment_mix", users=1500)
    first = df.groupby("user_id")["day"].min()

    def new_share(lo: int, hi: int) -> float:
        active = df[df["day"].between(lo, hi)]["user_id"].unique()
        return float((first.reindex(active) >= lo).mean())

    assert new_share(d - 7, d - 1) < 0.12
    assert new_share(d, d + 6) > 0.25
    sessions = sessions_of(df)
    paid = sessions["channel"].isin(["ads", "social"])
    assert (
        paid[sessions["day"] >= d + 7].mean()
        > paid[sessions["day"].between(d - 28, d - 1)].mean() + 0.05
    )
    # the wave arrives gradually: the ingest volume check still passes every day
    per_day = df.groupby("day").size()
    trailing = per_day.rolling(7).median().shift(1)
    assert ((per_day / trailing - 1).abs().dropna() < 0.5).all()
    assert per_day[per_day.index >= d + 14].mean() > 1.3 * per_day[per_day.index < d].mean()
    assert summary.users > 1500

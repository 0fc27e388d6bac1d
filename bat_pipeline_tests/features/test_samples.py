"""Tests for point-in-time training samples and scoring inputs.

A small synthetic shop (9 weeks from Monday 2024-01-01, a handful of users) is written into a
real DuckDB warehouse; the feature tables and samples are then built exactly as a training run
builds them. The central property is the leakage guard: nothing at or after a sample's cutoff t
may change that sample's inputs, while events in [t, t + horizon) decide its label.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from bat_pipeline.config import DataConfig, TaskConfig
from bat_pipeline.data.ingest import ingest_file
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.features.cutoffs import (
    SampleError,
    choose_cutoffs,
    floor_to_bucket,
    keep_at_most,
    resolve_lookback_days,
    split_of_cutoffs,
)
from bat_pipeline.features.samples import (
    apply_scaler,
    build_sample_set,
    fit_scaler,
    inputs_for_index,
    observed_mask,
    scoring_inputs,
)
from bat_pipeline.features.tables import build_feature_tables
from bat_pipeline.ml.dataset import TEST, TRAIN, VAL
from bat_pipeline_tests.helpers import add_events, mark_checked

START = date(2024, 1, 1)  # a Monday
AS_OF = date(2024, 3, 4)  # a Monday; cutoffs 01-15 .. 02-26 with the task below
EVENT_TYPES = ["home", "purchase", "search"]
TASK = TaskConfig(
    target_event="purchase", horizon_days=7, lookback_days=14, bucket="day", cutoff_every_days=7
)
LEAKY = "ux"  # never purchases, never has a device: the user the leakage test probes
DORMANT = "ud"  # active the first five days only


def shop_events() -> list[tuple]:
    """(user, time, type, session, value, device, channel) rows of the synthetic shop."""
    rows = []
    for d in range(63):
        day = datetime.combine(START + timedelta(days=d), datetime.min.time())
        for u in range(6):
            user, session = f"u{u}", f"{u}-{d}"
            context = ("mobile" if u % 2 else "desktop", "ads" if u % 3 else "organic")
            if (d + u) % (u + 2) == 0:
                rows.append((user, day + timedelta(hours=10 + u), "home", session, None, *context))
            if (d + 2 * u) % 9 == 0:
                value = 10.0 * (u + 1)
                rows.append((user, day + timedelta(hours=18), "purchase", session, value, *context))
        if d % 3 == 0:
            rows.append((LEAKY, day + timedelta(hours=9), "search", f"x-{d}", None, None, "email"))
        if d < 5:
            rows.append(
                (DORMANT, day + timedelta(hours=8), "home", f"d-{d}", None, "tablet", "ads")
            )
    return rows


@pytest.fixture
def con(tmp_path):
    with writer(tmp_path / "w.duckdb") as con:
        add_events(con, shop_events())
        yield con


def build(con, task: TaskConfig = TASK, as_of: date = AS_OF):
    replace_table(con, "events")
    build_feature_tables(con, task.bucket_days, as_of, task.lookback_days)
    return build_sample_set(con, task, as_of, EVENT_TYPES, START)


def position(samples, user: str, cutoff: date) -> int:
    hits = np.flatnonzero(
        (samples.user_ids == user) & (samples.cutoffs == np.datetime64(cutoff, "D"))
    )
    assert len(hits) == 1, f"no sample ({user}, {cutoff})"
    return int(hits[0])


def features_of(samples, i: int) -> tuple[bytes, bytes, bytes]:
    return (
        samples.sequences[i].tobytes(),
        samples.static[i].tobytes(),
        samples.baseline_features[i].tobytes(),
    )


def at(day: date, seconds: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(seconds=seconds)


# ------------------------------------------------------------------ the leakage guard


@pytest.mark.parametrize("bucket", ["day", "week"])
def test_events_at_or_after_the_cutoff_never_reach_the_features(con, bucket):
    task = TASK.model_copy(update={"bucket": bucket})
    samples, _, _ = build(con, task)
    t = date(2024, 2, 26)  # the newest cutoff
    i = position(samples, LEAKY, t)
    assert samples.split[i] == TEST
    assert samples.labels[i] == 0.0  # LEAKY never purchases
    before = features_of(samples, i)

    # a purchase exactly at t, and one a second later, both with a device never seen before
    add_events(
        con,
        [
            (LEAKY, at(t), "purchase", "leak", 99.0, "smart_tv", "tv"),
            (LEAKY, at(t, 1), "purchase", "leak", 99.0, "smart_tv", "tv"),
        ],
    )
    after, _, _ = build(con, task)
    j = position(after, LEAKY, t)
    assert features_of(after, j) == before  # sequence, static and baseline: byte-identical
    assert after.labels[j] == 1.0  # ... while the label sees the purchase in [t, t + horizon)
    assert len(after) == len(samples)

    # one second before t is history: the features move, the label does not
    add_events(con, [(LEAKY, at(t, -1), "purchase", "late", 5.0, None, "email")])
    moved, spec, _ = build(con, task)
    k = position(moved, LEAKY, t)
    seq_before, _, base_before = before
    seq_after, _, base_after = features_of(moved, k)
    assert seq_after != seq_before
    assert base_after != base_before
    one_hot = sum(len(values) for values in spec.static_categories.values())
    # the first event (and its device and channel) is unchanged; the lifetime history moved
    assert (moved.static[k, :one_hot] == samples.static[i, :one_hot]).all()
    assert (moved.static[k, one_hot:] != samples.static[i, one_hot:]).any()
    purchases = moved.baseline_names.index("targets")
    assert moved.baseline_features[k, purchases] == samples.baseline_features[i, purchases] + 1
    last_bucket = moved.sequences[k, -1, EVENT_TYPES.index("purchase")]
    assert last_bucket > 0  # the purchase sits in the bucket just before t
    assert moved.labels[k] == 1.0


def test_static_context_is_the_first_event_even_when_it_has_no_device(con):
    """A user whose first events carry no device gets 'unknown', not a later event's device."""
    add_events(con, [(LEAKY, at(date(2024, 3, 10)), "search", "late", None, "smart_tv", "tv")])
    samples, spec, _ = build(con)
    i = position(samples, LEAKY, date(2024, 1, 15))
    names = spec.static_names
    hot = {names[k] for k in np.flatnonzero(samples.static[i]) if "=" in names[k]}
    assert hot == {"device=unknown", "channel=email"}
    assert "device=smart_tv" not in names


def test_a_champions_spec_keeps_its_inputs_with_new_event_types_and_unseen_categories(
    con, tmp_path
):
    """After training, a delivery holds an event type the model never saw (the vocabulary
    now accepts it) and a new user on a device and channel never seen. Scoring and samples
    built with the champion's spec keep its shape; unseen values encode to zeros and shift no
    other input."""
    samples, spec, _ = build(con)
    users_before, seq_before, static_before, _ = scoring_inputs(con, spec, AS_OF)
    path = tmp_path / "late_delivery.csv"
    path.write_text(
        "user_id,event_time,event_type,session_id,value,device,channel\n"
        "u1,2024-02-20T12:00:00,live_stream_view,l1,,smart_tv,tv\n"
        "fresh,2024-02-20T13:00:00,live_stream_view,f1,,smart_tv,tv\n"
        "fresh,2024-02-20T13:05:00,home,f1,,smart_tv,tv\n"
    )
    cfg = DataConfig(event_types=[*EVENT_TYPES, "live_stream_view"])
    loaded = ingest_file(con, path, cfg, now=datetime(2024, 3, 4), partition_key="late")
    assert (loaded.rows_loaded, loaded.rows_quarantined) == (3, 0)
    mark_checked(con)
    replace_table(con, "events")
    build_feature_tables(con, TASK.bucket_days, AS_OF, TASK.lookback_days)

    users, sequences, static, _ = scoring_inputs(con, spec, AS_OF)
    assert list(users) == sorted([*users_before, "fresh"])
    assert sequences.shape == (len(users), spec.lookback_buckets, len(spec.feature_names))
    assert static.shape == (len(users), len(spec.static_names))
    assert (sequences.shape[1:], static.shape[1]) == (seq_before.shape[1:], static_before.shape[1])
    names, features = spec.static_names, spec.feature_names
    one_hot = [k for k, name in enumerate(names) if "=" in name]
    f = list(users).index("fresh")
    assert not static[f, one_hot].any()  # smart_tv and tv: no slot, all zeros
    assert sequences[f, :, features.index("n_home")].any()
    assert not sequences[f, :, [features.index("n_purchase"), features.index("n_search")]].any()
    per_type = slice(0, len(spec.event_types))
    for i, user in enumerate(users_before):
        j = list(users).index(user)
        if user == "u1":  # its new-type event reaches the totals, never a per-type channel
            assert np.array_equal(sequences[j, :, per_type], seq_before[i, :, per_type])
            assert np.array_equal(static[j, one_hot], static_before[i, one_hot])
        else:
            assert np.array_equal(sequences[j], seq_before[i]) and np.array_equal(
                static[j], static_before[i]
            )

    # samples rebuilt with the champion's spec (as a champion is evaluated on newer labels)
    t = date(2024, 2, 26)
    index = pd.DataFrame({"user_id": ["u0", "fresh"], "cutoff": [t, t]})
    seq_idx, static_idx = inputs_for_index(con, spec, index)
    assert seq_idx.shape == (2, spec.lookback_buckets, len(features))
    assert static_idx.shape == (2, len(names))
    assert not static_idx[1, one_hot].any()
    i = position(samples, "u0", t)
    assert np.array_equal(seq_idx[0], samples.sequences[i])
    assert np.array_equal(static_idx[0], samples.static[i])


# ------------------------------------------------------------------ splits


def test_cutoffs_are_every_week_back_from_as_of_minus_horizon_to_the_first_history():
    cutoffs = choose_cutoffs(START, AS_OF, TASK)
    # 2024-01-01 is the first day itself: nobody has history before it, so it is no cutoff
    assert cutoffs == [date(2024, 1, 8) + timedelta(days=7 * k) for k in range(8)]
    assert all(t + timedelta(days=TASK.horizon_days) <= AS_OF for t in cutoffs)
    assert choose_cutoffs(START, AS_OF, TASK.model_copy(update={"lookback_days": 365})) == cutoffs


@pytest.mark.parametrize(
    ("bucket", "lookback", "last_cutoff", "days"),
    [
        ("day", 14, date(2024, 2, 26), 14),  # a number is taken as it is
        ("day", "auto", date(2024, 2, 26), 56),  # the whole history: 01-01 .. 02-26
        ("day", "auto", date(2024, 6, 3), 60),  # capped at 60 buckets
        ("week", "auto", date(2024, 2, 26), 56),  # 8 weeks of history
        ("week", "auto", date(2026, 1, 5), 420),  # capped at 60 weeks
    ],
)
def test_auto_lookback_takes_the_history_the_data_holds_up_to_a_cap(
    bucket, lookback, last_cutoff, days
):
    task = TaskConfig(bucket=bucket, lookback_days=lookback, horizon_days=7, cutoff_every_days=7)
    assert resolve_lookback_days(task, START, last_cutoff) == days


def test_observed_mask_marks_buckets_from_the_first_event_on():
    first_seen = pd.Series(
        pd.to_datetime(["2024-01-03 10:00", "2023-06-01 00:00", "2024-01-08 09:00"])
    )
    cutoffs = pd.Series([date(2024, 1, 8)] * 3)
    daily = observed_mask(first_seen, cutoffs, lookback_buckets=7, bucket_days=1)
    assert daily.tolist() == [[0, 0, 1, 1, 1, 1, 1], [1] * 7, [0] * 7]
    # week buckets: first seen Wednesday 01-03 -> its week (from Monday 01-01) is observed
    weekly = observed_mask(first_seen, cutoffs, lookback_buckets=3, bucket_days=7)
    assert weekly.tolist() == [[0, 0, 1], [1, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize(("n", "sizes"), [(3, (1, 1, 1)), (7, (5, 1, 1)), (20, (14, 3, 3))])
def test_split_is_oldest_70_train_15_val_newest_15_test(n, sizes):
    cutoffs = [date(2024, 1, 1) + timedelta(days=7 * k) for k in range(n)]
    shuffled = cutoffs[::2] + cutoffs[1::2]  # the input order does not matter
    split = split_of_cutoffs(shuffled)
    counts = tuple(sum(1 for s in split.values() if s == part) for part in (TRAIN, VAL, TEST))
    assert counts == sizes
    order = [split[t] for t in cutoffs]
    assert order == sorted(order)  # TRAIN ... VAL ... TEST, oldest to newest


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_cutoffs_is_a_sample_error(n):
    with pytest.raises(SampleError, match=f"only {n} cutoff"):
        split_of_cutoffs([date(2024, 1, 1) + timedelta(days=7 * k) for k in range(n)])


def test_too_short_history_for_three_cutoffs_fails_clearly(con):
    with pytest.raises(SampleError, match="only 2 cutoff"):
        build(con, as_of=date(2024, 1, 22))  # cutoffs 01-08 and 01-15 only


def test_every_train_cutoff_precedes_every_val_cutoff_precedes_every_test_cutoff(con):
    samples, _, index = build(con)
    by_split = {s: samples.cutoffs[samples.split == s] for s in (TRAIN, VAL, TEST)}
    assert all(len(c) for c in by_split.values())
    assert by_split[TRAIN].max() < by_split[VAL].min()
    assert by_split[VAL].max() < by_split[TEST].min()
    assert by_split[TEST].min() == np.datetime64("2024-02-26")
    assert list(index.columns) == ["cutoff", "user_id", "label", "split"]


# ------------------------------------------------------------------ scaling


def test_scaler_is_fitted_on_the_train_split_only(con):
    samples, spec, _ = build(con)
    assert samples.sequences.min() >= 0.0 and samples.sequences.max() <= 1.0
    value = spec.feature_names.index("value")
    # a huge purchase the day before the newest cutoff: only a test sample sees it
    add_events(con, [("u1", at(date(2024, 2, 25), 3600), "purchase", "big", 1e9, "mobile", "ads")])
    after, spec_after, _ = build(con)
    assert spec_after.scaler_max == spec.scaler_max
    test = after.sequences[after.split == TEST]
    assert test.min() >= 0.0 and test.max() <= 1.0
    i = position(after, "u1", date(2024, 2, 26))
    assert after.sequences[i, -1, value] == 1.0  # clipped
    untouched = after.split != TEST
    np.testing.assert_array_equal(after.sequences[untouched], samples.sequences[untouched])

    # the same purchase in a train sample's history does move the scaler
    add_events(con, [("u1", at(date(2024, 1, 20), 3600), "purchase", "big", 1e9, "mobile", "ads")])
    _, spec_train, _ = build(con)
    assert spec_train.scaler_max[value] == pytest.approx(np.log1p(1e9 + 20.0), rel=1e-6)
    assert spec_train.scaler_max[value] > spec.scaler_max[value]


def test_fit_and_apply_scaler():
    train = np.array([[[0.0, 3.0], [1.0, 0.0]]], dtype=np.float32)
    scaler = fit_scaler(train)
    assert scaler == pytest.approx([np.log1p(1.0), np.log1p(3.0)])
    scaled = apply_scaler(np.array([[[1.0, 3.0], [100.0, 0.0]]], dtype=np.float32), scaler)
    np.testing.assert_allclose(scaled, [[[1.0, 1.0], [1.0, 0.0]]])
    assert scaled.dtype == np.float32
    assert fit_scaler(np.zeros((2, 3, 2), np.float32)) == [1.0, 1.0]  # never divide by 0


# ------------------------------------------------------------------ week buckets


def test_week_cutoffs_fall_on_mondays():
    task = TaskConfig(bucket="week", horizon_days=14, lookback_days=28, cutoff_every_days=7)
    cutoffs = choose_cutoffs(date(2024, 1, 3), date(2024, 3, 6), task)  # Wednesdays
    assert cutoffs and all(t.weekday() == 0 for t in cutoffs)
    assert cutoffs[-1] == date(2024, 2, 19)
    assert all(t + timedelta(days=14) <= date(2024, 3, 6) for t in cutoffs)
    assert floor_to_bucket(date(2024, 3, 10), 7) == date(2024, 3, 4)  # Sunday -> Monday
    assert floor_to_bucket(date(2024, 3, 10), 1) == date(2024, 3, 10)


@pytest.mark.parametrize(
    ("horizon", "every"), [(10, 7), (7, 10), (15, 14)], ids=["horizon", "spacing", "both"]
)
def test_week_buckets_need_multiples_of_seven(horizon, every):
    with pytest.raises(ValueError, match="multiple of 7 days"):  # refused at config load
        TaskConfig(bucket="week", horizon_days=horizon, cutoff_every_days=every)
    # and by the sample builder, for a task that skipped validation
    task = TaskConfig.model_construct(bucket="week", horizon_days=horizon, cutoff_every_days=every)
    with pytest.raises(SampleError, match="multiples of 7"):
        choose_cutoffs(START, AS_OF, task)


def expected_sequence(user: str, t: date, bucket_days: int, buckets: int) -> np.ndarray:
    """The unscaled sequence of (user, t), counted in Python from the fixture rows."""
    out = np.zeros((buckets, len(EVENT_TYPES) + 3), np.float32)
    for p in range(buckets):
        start = at(t - timedelta(days=bucket_days * (buckets - p)))  # last = just before t
        rows = [
            e
            for e in shop_events()
            if e[0] == user and start <= e[1] < start + timedelta(days=bucket_days)
        ]
        for kind in EVENT_TYPES:
            out[p, EVENT_TYPES.index(kind)] = sum(e[2] == kind for e in rows)
        out[p, -3:] = (len(rows), len({e[3] for e in rows}), sum(e[4] or 0.0 for e in rows))
    return out


def expected_observed(user: str, t: date, bucket_days: int, buckets: int) -> np.ndarray:
    """1 for each bucket that ends after the user's first event in the fixture rows."""
    first = min(e[1] for e in shop_events() if e[0] == user)
    ends = [at(t - timedelta(days=bucket_days * (buckets - p - 1))) for p in range(buckets)]
    return np.array([[float(end > first) for end in ends]], np.float32)


@pytest.mark.parametrize(
    ("bucket", "lookback", "samples_checked"),
    [
        (
            "day",
            14,
            [("u0", date(2024, 2, 26)), ("u5", date(2024, 1, 15)), (DORMANT, date(2024, 1, 15))],
        ),
        (
            "week",
            21,
            [("u0", date(2024, 2, 26)), ("u3", date(2024, 2, 5)), (DORMANT, date(2024, 1, 22))],
        ),
    ],
)
def test_sequences_hold_the_buckets_before_the_cutoff(con, bucket, lookback, samples_checked):
    task = TASK.model_copy(update={"bucket": bucket, "lookback_days": lookback})
    samples, spec, _ = build(con, task)
    buckets = lookback // task.bucket_days
    assert samples.sequences.shape[1:] == (buckets, len(EVENT_TYPES) + 4)
    assert spec.feature_names == [
        *("n_home", "n_purchase", "n_search", "events", "sessions", "value", "observed")
    ]
    assert all(t.astype(object).weekday() == 0 for t in samples.cutoffs)
    for user, t in samples_checked:
        raw = expected_sequence(user, t, task.bucket_days, buckets)
        assert raw.any()
        i = position(samples, user, t)
        observed = expected_observed(user, t, task.bucket_days, buckets)
        scaled = apply_scaler(raw[None], spec.scaler_max, observed)
        np.testing.assert_allclose(samples.sequences[i], scaled[0], rtol=1e-6)


def test_a_history_shorter_than_the_lookback_is_left_padded_and_marked(con):
    # at 01-08 everyone has 7 days of history; the lookback asks for 14
    samples, spec, _ = build(con)
    i = position(samples, "u0", date(2024, 1, 8))
    raw = expected_sequence("u0", date(2024, 1, 8), 1, spec.lookback_buckets)
    assert not raw[:7].any() and raw[7:].any()
    observed = np.array([[0.0] * 7 + [1.0] * 7], np.float32)
    np.testing.assert_array_equal(observed, expected_observed("u0", date(2024, 1, 8), 1, 14))
    np.testing.assert_allclose(
        samples.sequences[i], apply_scaler(raw[None], spec.scaler_max, observed)[0]
    )
    # a user with a full lookback of history is observed on every bucket, active or not
    assert samples.sequences[position(samples, DORMANT, date(2024, 1, 22)), :, -1].all()


# ------------------------------------------------------------------ labels


def test_target_any_with_churn_inverts_the_labels(con):
    active, _, index = build(con, TASK.model_copy(update={"target_event": "any"}))
    churn, _, churn_index = build(
        con, TASK.model_copy(update={"target_event": "any", "churn": True})
    )
    assert list(churn_index["user_id"]) == list(index["user_id"])
    np.testing.assert_array_equal(churn.labels, 1.0 - active.labels)
    # DORMANT is active before 01-15 only; at that cutoff its next week is empty: churned
    i = position(churn, DORMANT, date(2024, 1, 15))
    assert churn.labels[i] == 1.0 and active.labels[i] == 0.0
    assert 0 < churn.labels.sum() < len(churn)


def test_purchase_labels_match_the_events(con):
    samples, _, _ = build(con)
    # u0 purchases on days d = 0, 9, 18, 27, 36, ... after 01-01 (01-19, 01-28, 02-06, ...)
    label = {
        t: samples.labels[position(samples, "u0", t)] for t in choose_cutoffs(START, AS_OF, TASK)
    }
    assert label[date(2024, 1, 15)] == 1.0  # [01-15, 01-22) holds 01-19
    assert label[date(2024, 1, 22)] == 1.0  # [01-22, 01-29) holds 01-28
    assert label[date(2024, 1, 29)] == 0.0  # [01-29, 02-05) holds none
    assert label[date(2024, 2, 5)] == 1.0  # 02-06


def test_target_event_outside_the_vocabulary_is_a_sample_error(con):
    with pytest.raises(SampleError, match="'refund' is not an event type"):
        build(con, TASK.model_copy(update={"target_event": "refund"}))


# ------------------------------------------------------------------ scoring


def test_scoring_covers_dormant_users_with_an_all_zero_sequence(con):
    _, spec, _ = build(con)
    # a user first seen exactly at as-of is not known yet
    add_events(con, [("new", at(AS_OF), "home", "n", None, "mobile", "ads")])
    replace_table(con, "events")
    build_feature_tables(con, TASK.bucket_days, AS_OF, TASK.lookback_days)
    users, sequences, static, cutoff = scoring_inputs(con, spec, AS_OF)
    assert cutoff == AS_OF
    assert list(users) == sorted([f"u{u}" for u in range(6)] + [LEAKY, DORMANT])
    assert sequences.shape == (len(users), spec.lookback_buckets, len(spec.feature_names))
    d = list(users).index(DORMANT)
    assert not sequences[d, :, :-1].any()  # no activity in the lookback window
    assert sequences[d, :, -1].all()  # but a customer all along: observed, not padding
    names = spec.static_names
    assert {names[k] for k in np.flatnonzero(static[d]) if "=" in names[k]} == {
        "device=tablet",
        "channel=ads",
    }
    # dormant is not blank: the lifetime history says how long ago they were last seen
    recency = names.index("lifetime.recency_days")
    assert static[d, recency] > static[:, recency].mean()
    active = [i for i, u in enumerate(users) if u != DORMANT]
    assert all(sequences[i].any() for i in active)
    assert sequences.min() >= 0.0 and sequences.max() <= 1.0


def test_sample_budget_keeps_each_cutoffs_share_and_is_seeded():
    cutoffs = [START + timedelta(days=7 * k) for k in range(10)]
    index = pd.DataFrame(
        {"cutoff": np.repeat(cutoffs, 300), "user_id": [f"u{i}" for i in range(3000)] * 1}
    )
    kept = keep_at_most(index, 1200)
    assert len(kept) == 1200
    assert kept.groupby("cutoff").size().tolist() == [120] * 10
    assert kept.equals(keep_at_most(index, 1200))  # same rows every time
    assert kept["user_id"].tolist() == sorted(kept["user_id"], key=lambda u: int(u[1:]))
    assert keep_at_most(index, 3000) is index


def test_sample_budget_bounds_the_built_samples(con):
    full, _, full_index = build(con)
    budget = len(full) // 2
    # model_copy skips validation: the config's own floor (1,000) is above this small shop
    samples, _, index = build(con, TASK.model_copy(update={"max_samples": budget}))
    assert len(samples) == len(index) <= budget
    assert sorted(index["split"].unique()) == [TRAIN, VAL, TEST]
    rows = set(zip(full_index["user_id"], full_index["cutoff"], strict=True))
    assert set(zip(index["user_id"], index["cutoff"], strict=True)) <= rows

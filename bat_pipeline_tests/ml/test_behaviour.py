"""Behavioural tests of the trained model on a shop whose outcome is decided by recency:
customers buy every day until they stop for good, so at a cutoff "buys in the next week" is
exactly "bought in the last day". Built and trained through the real path (warehouse, feature
tables, samples, Lightning fit), with a tiny network.

- minimum functionality: the model learns that rule (test AUC > 0.95);
- direction: the same history, shifted so that the last purchase is more recent, scores higher;
- invariance: renaming every customer changes no input and no score.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bat_pipeline.config import ModelConfig, TaskConfig
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.features.samples import build_sample_set, scoring_inputs
from bat_pipeline.features.tables import build_feature_tables
from bat_pipeline.ml.dataset import TEST
from bat_pipeline.ml.fit import train_lstm
from bat_pipeline.ml.predict import predict_proba
from bat_pipeline_tests.helpers import add_events

START = date(2024, 1, 1)  # a Monday: cutoffs fall on Mondays (day 0 mod 7)
DAYS = 126
AS_OF = START + timedelta(days=DAYS)
TASK = TaskConfig(horizon_days=7, lookback_days=28, cutoff_every_days=7)
TINY = ModelConfig(hidden_size=16, num_layers=1, max_epochs=12, patience=4, batch_size=64)
EVENT_TYPES = ["home", "purchase"]


def recency_shop(n_users: int = 240, seed: int = 3) -> list[tuple]:
    """Each customer starts on a random day and buys daily until a stop day that is never a
    cutoff's eve (stops fall on day 3 mod 7), so the label is a function of recency alone."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        first = int(rng.integers(0, 110))
        stop = first + 3 + 7 * int(rng.integers(1, 8))  # day 3 mod 7 after at least a week
        stop = stop - (stop % 7) + 3
        for d in range(first, min(stop, DAYS + 14)):
            when = datetime.combine(START + timedelta(days=d), datetime.min.time())
            session = f"{u}-{d}"
            rows.append((f"c{u}", when + timedelta(hours=9), "home", session, None, "web", "ads"))
            rows.append(
                (f"c{u}", when + timedelta(hours=10), "purchase", session, 5.0, "web", "ads")
            )
    return rows


def renamed(rows: list[tuple]) -> list[tuple]:
    return [(f"customer-{r[0][::-1]}", *r[1:]) for r in rows]


def build(path, rows):
    con_ctx = writer(path)
    con = con_ctx.__enter__()
    add_events(con, rows)
    replace_table(con, "events")
    build_feature_tables(con, TASK.bucket_days, AS_OF, TASK.lookback_days)
    return con_ctx, con


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("behaviour")
    ctx, con = build(root / "w.duckdb", recency_shop())
    samples, spec, _ = build_sample_set(con, TASK, AS_OF, EVENT_TYPES, START)
    result = train_lstm(samples, TINY, root / "ckpt")
    yield con, samples, spec, result.net
    ctx.__exit__(None, None, None)


def test_minimum_functionality_learns_a_recency_rule(trained):
    _, samples, _, net = trained
    test = samples.part(TEST)
    assert 0.1 < test.labels.mean() < 0.9  # both classes in the test window
    p = predict_proba(net, test.sequences, test.static)
    auc = roc_auc_score(test.labels, p)
    assert auc > 0.95, (auc, test.labels.mean())


def test_direction_a_more_recent_last_purchase_scores_higher(trained, tmp_path):
    _, _, spec, net = trained

    def buyer(user: str, first: date, days: int) -> list[tuple]:
        out = []
        for d in range(days):
            when = datetime.combine(first + timedelta(days=d), datetime.min.time())
            out.append(
                (user, when + timedelta(hours=10), "purchase", f"{user}{d}", 5.0, "web", "ads")
            )
        return out

    # the same 20 daily purchases, ending 21 days before as-of for one, the day before for the other
    rows = buyer("lapsed", AS_OF - timedelta(days=40), 20)
    rows += buyer("recent", AS_OF - timedelta(days=20), 20)
    ctx, con = build(tmp_path / "w.duckdb", rows)
    try:
        users, sequences, static, _ = scoring_inputs(con, spec, AS_OF)
    finally:
        ctx.__exit__(None, None, None)
    score = dict(zip(users, predict_proba(net, sequences, static), strict=True))
    assert score["recent"] > score["lapsed"] + 0.2, score


def test_invariance_renaming_customers_changes_no_input_and_no_score(trained, tmp_path):
    con, _, spec, net = trained
    users, sequences, static, _ = scoring_inputs(con, spec, AS_OF)
    ctx, other = build(tmp_path / "renamed.duckdb", renamed(recency_shop()))
    try:
        users2, sequences2, static2, _ = scoring_inputs(other, spec, AS_OF)
    finally:
        ctx.__exit__(None, None, None)
    order = {u: i for i, u in enumerate(users2)}
    same = [order[f"customer-{u[::-1]}"] for u in users]
    np.testing.assert_array_equal(sequences, sequences2[same])
    np.testing.assert_array_equal(static, static2[same])
    np.testing.assert_array_equal(
        predict_proba(net, sequences, static), predict_proba(net, sequences2[same], static2[same])
    )

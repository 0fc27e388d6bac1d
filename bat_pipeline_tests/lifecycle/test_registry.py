"""Promotion by alias on a real MLflow registry (SQLite under tmp_path)."""

import contextlib
import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bat_pipeline.config import GatesConfig
from bat_pipeline.lifecycle.registry import (
    CHAMPION,
    PREVIOUS,
    alias_version,
    get_alias,
    promote,
    rollback,
)
from bat_pipeline.policy.gates import evaluate_gates, no_regression

CFG = GatesConfig(min_accuracy=0.8, min_auc=0.0, max_loss_gap=0.1, max_regression=0.01)


def register(store, auc: float) -> tuple[str, str]:
    """A finished run with test metrics and a registered version pointing at it."""
    client = store.client()
    run = client.create_run(store.experiment_id(), run_name=f"auc {auc}")
    client.log_metric(run.info.run_id, "test/auc", auc)
    client.log_metric(run.info.run_id, "test/accuracy", 0.9)
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(f"name = '{store.registered_model}'"):
        client.create_registered_model(store.registered_model)
    mv = client.create_model_version(
        store.registered_model, f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    return str(mv.version), run.info.run_id


def attempt(store, aucs: dict, version: str, run_id: str, delay: float = 0.0):
    """Evaluate against the champion of now, then promote (recheck uses the same AUC table)."""
    champion = alias_version(store, CHAMPION)
    gates = evaluate_gates(
        {
            "accuracy": 0.9,
            "majority_rate": 0.6,
            "balanced_accuracy": 0.85,
            "auc": aucs[version],
            "train_loss": 0.3,
            "val_loss": 0.32,
        },
        {"auc": 0.5},
        {"auc": aucs[champion]} if champion else None,
        CFG,
    )
    time.sleep(delay)
    return promote(
        store,
        version,
        gates,
        evaluated_against=champion,
        recheck=lambda v: no_regression(aucs[version], aucs[v], True, CFG.max_regression),
        record={"mlflow_run_id": run_id, "data_fingerprint": "fp"},
    )


def decision_files(store, run_id):
    return [a.path for a in store.client().list_artifacts(run_id, "decisions")]


def test_first_model_becomes_champion_with_a_decision_record(tracking_store):
    v1, run1 = register(tracking_store, 0.80)
    decision = attempt(tracking_store, {v1: 0.80}, v1, run1)
    assert decision.promoted and decision.champion_before is None and decision.champion_after == v1
    assert alias_version(tracking_store, CHAMPION) == v1
    assert alias_version(tracking_store, PREVIOUS) is None
    tags = tracking_store.client().get_run(run1).data.tags
    assert tags["bat.promotion"] == "promoted"
    assert tags["bat.gate.no_regression"].startswith("pass")
    assert len(decision_files(tracking_store, run1)) == 1
    assert get_alias(tracking_store, CHAMPION).promoted_at is not None


@pytest.mark.parametrize(("auc", "promoted"), [(0.85, True), (0.80, True), (0.70, False)])
def test_better_equal_worse_candidates(tracking_store, auc, promoted):
    v1, run1 = register(tracking_store, 0.80)
    v2, run2 = register(tracking_store, auc)
    aucs = {v1: 0.80, v2: auc}
    attempt(tracking_store, aucs, v1, run1)
    decision = attempt(tracking_store, aucs, v2, run2)
    assert decision.promoted is promoted
    assert alias_version(tracking_store, CHAMPION) == (v2 if promoted else v1)
    assert alias_version(tracking_store, PREVIOUS) == (v1 if promoted else None)
    assert tracking_store.client().get_run(run2).data.tags["bat.promotion"] == (
        "promoted" if promoted else "rejected"
    )


def test_failed_gate_never_promotes_and_is_recorded(tracking_store):
    v1, run1 = register(tracking_store, 0.99)
    gates = evaluate_gates(
        {
            "accuracy": 0.5,
            "majority_rate": 0.6,
            "balanced_accuracy": 0.5,
            "auc": 0.99,
            "train_loss": 0.3,
            "val_loss": 0.3,
        },
        {"auc": 0.5},
        None,
        CFG,
    )
    decision = promote(
        tracking_store, v1, gates, None, recheck=None, record={"mlflow_run_id": run1}
    )
    assert not decision.promoted and "min_accuracy" in decision.reason
    assert alias_version(tracking_store, CHAMPION) is None
    record = tracking_store.client().download_artifacts(
        run1, decision_files(tracking_store, run1)[0]
    )
    saved = json.loads(Path(record).read_text())
    assert saved["promoted"] is False and saved["gates"][0]["name"] == "min_accuracy"


@pytest.mark.parametrize("better_first", [True, False])
def test_two_promotions_racing_exactly_one_wins_and_it_is_the_better(tracking_store, better_first):
    v1, run1 = register(tracking_store, 0.80)
    good, run_good = register(tracking_store, 0.90)
    bad, run_bad = register(tracking_store, 0.85)
    aucs = {v1: 0.80, good: 0.90, bad: 0.85}
    attempt(tracking_store, aucs, v1, run1)
    results = {}

    def go(version, run_id, delay):
        results[version] = attempt(tracking_store, aucs, version, run_id, delay)

    first, second = (
        ((good, run_good), (bad, run_bad)) if better_first else ((bad, run_bad), (good, run_good))
    )
    # Both evaluate against v1 before either promotes; the second then finds a new champion.
    threads = [
        threading.Thread(target=go, args=(*first, 0.0)),
        threading.Thread(target=go, args=(*second, 0.3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert alias_version(tracking_store, CHAMPION) == good
    if better_first:
        assert results[good].promoted and not results[bad].promoted
        assert "baseline changed" in results[bad].reason
        assert results[bad].recheck is not None
    else:
        assert results[bad].promoted and results[good].promoted  # the better one replaces it
        assert alias_version(tracking_store, PREVIOUS) == bad


def test_promoting_the_champion_again_is_idempotent(tracking_store):
    v1, run1 = register(tracking_store, 0.8)
    attempt(tracking_store, {v1: 0.8}, v1, run1)
    again = attempt(tracking_store, {v1: 0.8}, v1, run1)
    assert again.promoted and "idempotent" in again.reason
    assert alias_version(tracking_store, PREVIOUS) is None


def test_rollback_moves_champion_back_and_is_recorded(tracking_store):
    v1, run1 = register(tracking_store, 0.80)
    v2, run2 = register(tracking_store, 0.85)
    aucs = {v1: 0.80, v2: 0.85}
    attempt(tracking_store, aucs, v1, run1)
    attempt(tracking_store, aucs, v2, run2)
    decision = rollback(tracking_store)
    assert decision.promoted and decision.champion_before == v2 and decision.champion_after == v1
    assert alias_version(tracking_store, CHAMPION) == v1
    assert alias_version(tracking_store, PREVIOUS) is None
    runs = tracking_store.client().search_runs(
        [tracking_store.experiment_id()], "tags.`bat.action` = 'rollback'"
    )
    assert len(runs) == 1
    second = rollback(tracking_store)
    assert not second.promoted and "no previous" in second.reason


def test_a_candidate_with_the_champions_weights_is_not_promoted(tracking_store):
    v1, run1 = register(tracking_store, 0.80)
    v2, run2 = register(tracking_store, 0.80)
    for version in (v1, v2):
        tracking_store.client().set_model_version_tag(
            tracking_store.registered_model, version, "weights_sha256", "abc"
        )
    aucs = {v1: 0.80, v2: 0.80}
    attempt(tracking_store, aucs, v1, run1)
    decision = attempt(tracking_store, aucs, v2, run2)
    assert not decision.promoted and "identical to the champion" in decision.reason
    assert alias_version(tracking_store, CHAMPION) == v1


@pytest.mark.parametrize("refused", [CHAMPION, PREVIOUS])
def test_a_failed_alias_move_leaves_both_aliases_as_they_were(tracking_store, monkeypatch, refused):
    from bat_pipeline.lifecycle import registry
    from bat_pipeline.lifecycle.registry import PromotionError

    v1, run1 = register(tracking_store, 0.80)
    v2, run2 = register(tracking_store, 0.85)
    aucs = {v1: 0.80, v2: 0.85}
    attempt(tracking_store, aucs, v1, run1)
    real_move = registry._move_alias
    refused_move = {CHAMPION: v2, PREVIOUS: v1}[refused]

    def move(store, alias, version):  # the registry refuses one of the promotion's moves
        if (alias, version) == (refused, refused_move):
            raise PromotionError(f"injected: the registry refused to move {alias!r}")
        real_move(store, alias, version)

    monkeypatch.setattr(registry, "_move_alias", move)
    with pytest.raises(PromotionError, match="injected"):
        attempt(tracking_store, aucs, v2, run2)
    assert alias_version(tracking_store, CHAMPION) == v1
    assert alias_version(tracking_store, PREVIOUS) is None


LOCK_HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # held until the test closes stdin or kills this process
"""


@contextlib.contextmanager
def locked_by_another_process(db: Path) -> Iterator[None]:
    """Another process holds an exclusive SQLite lock on `db`: every read and write of it
    waits for the busy timeout, then fails with "database is locked"."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=60)
        holder.stdin.close()
        holder.stdout.close()


@pytest.mark.slow  # MLflow waits 20 s for a locked SQLite file on each try
def test_promotion_with_the_registry_locked_fails_clear_and_moves_no_alias(tracking_store, caplog):
    from bat_pipeline.lifecycle.tracking import TrackingUnavailableError

    store = dataclasses.replace(tracking_store, retry_attempts=2, retry_wait_s=0.05)
    v1, run1 = register(store, 0.80)
    v2, run2 = register(store, 0.85)
    aucs = {v1: 0.80, v2: 0.85}
    attempt(store, aucs, v1, run1)
    gates = evaluate_gates(
        {"accuracy": 0.9, "majority_rate": 0.6, "balanced_accuracy": 0.85, "auc": 0.85,
         "train_loss": 0.3, "val_loss": 0.32},
        {"auc": 0.5}, None, CFG,
    )  # fmt: skip
    db = Path(store.tracking_uri.removeprefix("sqlite:///"))
    with contextlib.ExitStack() as held:

        def recheck(version: str):
            # another process locks the MLflow database after the evaluation, before any move
            held.enter_context(locked_by_another_process(db))
            return no_regression(aucs[v2], aucs[version], True, CFG.max_regression)

        with pytest.raises(TrackingUnavailableError) as locked:
            promote(store, v2, gates, evaluated_against=None, recheck=recheck,
                    record={"mlflow_run_id": run2})  # fmt: skip
    message = str(locked.value)
    assert "\n" not in message
    assert message.startswith(
        f"MLflow at {store.tracking_uri} did not answer while trying to move alias champion "
        "(2 attempts): (sqlite3.OperationalError) database is locked. Start the tracking server"
    )
    retries = [r.getMessage() for r in caplog.records if "(try 1 of 2" in r.getMessage()]
    assert len(retries) == 1 and "move alias champion" in retries[0]
    # the lock is gone: both aliases are as they were, and no decision claims a promotion
    assert alias_version(store, CHAMPION) == v1
    assert alias_version(store, PREVIOUS) is None
    assert "bat.promotion" not in store.client().get_run(run2).data.tags

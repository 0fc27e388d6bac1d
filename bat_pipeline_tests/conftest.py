"""Shared fixtures: every store (DuckDB, MLflow, Dagster, BAT_HOME) lives under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def bat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh BAT_HOME (and DAGSTER_HOME under it) for one test."""
    from bat_pipeline.home import BatHome

    home = BatHome(tmp_path / "bat").ensure()
    monkeypatch.setenv("BAT_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    return home


@pytest.fixture(scope="module")
def shared_tracking_store(tmp_path_factory: pytest.TempPathFactory):
    """One MLflow store (SQLite + local artifacts) per test module: creating the schema of a
    new SQLite store takes seconds, so tests share it and differ by registered model name."""
    from bat_pipeline.lifecycle.tracking import TrackingStore

    root = tmp_path_factory.mktemp("mlflow")
    store = TrackingStore(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_root=str(root / "artifacts"),
        locks_dir=root / "locks",
    )
    store.experiment_id()
    return store


@pytest.fixture
def tracking_store(shared_tracking_store, request: pytest.FixtureRequest):
    """The module's MLflow store with a registered model of this test's own; fails a test
    that leaves a run open."""
    import dataclasses
    import re

    import mlflow

    name = "m_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:80]
    store = dataclasses.replace(shared_tracking_store, registered_model=name, _cache={})
    store.activate()
    yield store
    active = mlflow.active_run()
    if active is not None:
        mlflow.end_run()
        pytest.fail(f"test left MLflow run {active.info.run_id} open")

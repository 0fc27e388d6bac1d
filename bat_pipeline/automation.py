"""The drift sensor's evaluation, apart from Dagster's sensor plumbing (testable by calling)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bat_pipeline.monitoring import RetrainDecision, current_window, retrain_decision


def evaluate_drift_sensor(state: dict, bat, warehouse, mlflow, now: datetime):
    """(decision, new cursor state, run config) for one tick.

    `state` is the previous cursor: {"last_request_at": iso | None, "requested": [windows],
    "last_checked": window}. Raises on unexpected errors, so the cursor does not move.
    """
    from bat_pipeline.ml.drift import EmptyWindowError
    from bat_pipeline.monitoring import drift_check, load_reference, quality_failures
    from bat_pipeline.orchestrate import training_run_config
    from bat_pipeline.registry import CHAMPION, alias_version
    from bat_pipeline.sqlfiles import sql
    from bat_pipeline.warehouse import WarehouseLockedError, fetch_one, reader

    cfg = bat.config()
    requested: list[str] = list(state.get("requested", []))
    last_raw = state.get("last_request_at")
    last_request_at = datetime.fromisoformat(last_raw) if last_raw else None
    new_state = {**state, "last_checked_at": now.isoformat()}
    if not warehouse.path().is_file():
        return RetrainDecision(False, "", "no warehouse yet: nothing ingested"), new_state, None
    champion = alias_version(mlflow.store(), CHAMPION)
    if champion is None:
        return (
            RetrainDecision(False, "", "no champion yet: nothing to compare with"),
            new_state,
            None,
        )
    try:
        with reader(warehouse.path(), retries=3) as con:
            last_day = fetch_one(con, sql("last_data_day"))[0]
            if last_day is None:
                return RetrainDecision(False, "", "no events yet"), new_state, None
            window = current_window(last_day, cfg.drift.window_days)
            reference = load_reference(con, champion)
            if reference is None:
                return (
                    RetrainDecision(
                        False, "", f"champion version {champion} has no reference profile"
                    ),
                    new_state,
                    None,
                )
            failed = quality_failures(con, window)
            result = None
            if not failed and window.start > reference.end:
                try:
                    result, _ = drift_check(con, reference, window, cfg.drift.threshold)
                except EmptyWindowError as exc:
                    failed = [f"{window} ({exc})"]
    except WarehouseLockedError as exc:
        return (
            RetrainDecision(False, "", f"warehouse busy, retrying next tick: {exc}"),
            new_state,
            None,
        )
    if result is None and not failed:
        return (
            RetrainDecision(
                False, f"drift:{window}", f"window {window} overlaps the champion's training data"
            ),
            new_state,
            None,
        )
    decision = retrain_decision(
        window,
        result.drift_detected if result else None,
        result.verdict if result else "",
        failed,
        last_request_at,
        now,
        timedelta(hours=cfg.drift.cooldown_hours),
        already_requested=str(window) in requested,
    )
    new_state["last_checked"] = str(window)
    if result is not None:
        new_state["last_drift_detected"] = result.drift_detected
    if not decision.request:
        return decision, new_state, None
    new_state["requested"] = [*requested, str(window)][-60:]
    new_state["last_request_at"] = now.isoformat()
    return decision, new_state, training_run_config(cfg, None, bat.config_file)

"""A drift report (CLI `drift` and the `drift_report` asset): compare, render, log, record.

The report's JSON is `DriftResult.to_dict()` (features with their group, calibrated threshold
and noise; the per-group summary) plus the windows, the champion, its realised performance
and where the report and the MLflow run are."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bat_pipeline.config import BatConfig
from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.data.warehouse import fetch_one, reader, writer
from bat_pipeline.drift.comparisons import compare_scores, realised_performance
from bat_pipeline.drift.report import write_drift_report
from bat_pipeline.drift.windows import (
    Window,
    build_window_profile,
    current_window,
    drift_check,
    load_reference,
)
from bat_pipeline.features.samples import inputs_for_index, scoring_inputs
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.registry import CHAMPION
from bat_pipeline.lifecycle.serving import load_alias
from bat_pipeline.lifecycle.tracking import TrackingStore, retry


class DriftError(RuntimeError):
    """A drift report cannot be made (no events, no reference); says what to do."""


def _champion(store: TrackingStore):
    return load_alias(store, CHAMPION)


def _score_drift(con, champion, reference: Window, current: Window, threshold: float):
    """The champion's score distribution at the end of each window (prediction drift)."""
    scores = []
    for window in (reference, current):
        _, seq, static, _ = scoring_inputs(con, champion.spec, window.end + timedelta(days=1))
        active = seq.reshape(len(seq), -1).sum(axis=1) > 0
        scores.append(
            champion.predict(seq[active], static[active]) if active.any() else np.array([])
        )
    if min(len(s) for s in scores) == 0:
        return None
    return compare_scores(scores[0], scores[1], threshold)


def _realised(con, champion, store: TrackingStore, last_day: date) -> dict | None:
    """The champion's realised accuracy/AUC on the newest cutoff whose labels have matured."""
    params = store.client().get_run(champion.ref.run_id).data.params
    horizon = int(params.get("task.horizon_days", 14))
    cutoff = last_day + timedelta(days=1) - timedelta(days=horizon)
    if cutoff <= date(1970, 1, 2):
        return None
    labels = con.execute(
        query("sample_labels"),
        {
            "cutoffs": [cutoff],
            "horizon_days": horizon,
            "target_event": params.get("task.target_event", "purchase"),
            "churn": params.get("task.churn", "False") == "True",
        },
    ).df()
    if labels.empty:
        return None
    labels["cutoff"] = pd.to_datetime(labels["cutoff"]).dt.date
    seq, static = inputs_for_index(con, champion.spec, labels)
    p = champion.predict(seq, static)
    out = realised_performance(labels["label"].to_numpy().astype(float), p, champion.ref.metrics)
    return {"cutoff": cutoff.isoformat(), **out}


def run_drift_report(
    db_path: Path,
    store: TrackingStore,
    home: BatHome,
    cfg: BatConfig,
    reference: Window | None = None,
    current: Window | None = None,
) -> dict:
    """Compare windows, write HTML+JSON under BAT_HOME/reports/drift/, log to MLflow, record."""
    champion = _champion(store)
    threshold, triggers = cfg.drift.threshold, cfg.drift.trigger_groups
    with reader(db_path) as con:
        last_day = fetch_one(con, query("last_data_day"))[0]
        if last_day is None:
            raise DriftError("the events table is empty: ingest events first")
        current = current or current_window(last_day, cfg.drift.window_days)
        if reference is None:
            ref_profile = load_reference(con, champion.ref.version) if champion else None
            if ref_profile is None:
                raise DriftError(
                    "no champion reference profile yet: train and promote a model first, or "
                    "pass --reference START:END"
                )
        else:
            ref_profile = build_window_profile(con, reference)
        ref_window = Window(ref_profile.start, ref_profile.end)
        result, cur_profile = drift_check(con, ref_profile, current, threshold, triggers)
        realised = None
        if champion is not None:
            score = _score_drift(con, champion, ref_window, current, threshold)
            if score is not None:
                result = result.with_features(score)
            realised = _realised(con, champion, store, last_day)
    out_dir = home.reports / "drift" / f"{current.start}_{current.end}"
    html = write_drift_report(result, ref_profile, cur_profile, out_dir)
    payload = {
        **result.to_dict(),
        "verdict": result.verdict,
        "reference_window": str(ref_window),
        "current_window": str(current),
        "champion_version": champion.ref.version if champion else None,
        "realised_performance": realised,
        "report_html": str(html),
    }
    (out_dir / "drift_report.json").write_text(
        json.dumps(payload, indent=2, default=str), encoding="utf-8"
    )
    run_id = _log_to_mlflow(store, payload, out_dir)
    payload["mlflow_run_id"] = run_id
    payload["mlflow_run_url"] = store.run_url(run_id)
    # the signal recorded as top: the strongest that decided, else the strongest of any group
    top = (result.triggering or result.features or [None])[0]
    with writer(db_path) as con:
        con.execute(
            statement("insert_drift_report"),
            {
                "reference_start": ref_window.start,
                "reference_end": ref_window.end,
                "current_start": current.start,
                "current_end": current.end,
                "champion_version": payload["champion_version"],
                "drift_detected": result.drift_detected,
                "top_feature": top.name if top else None,
                "top_score": top.score if top else None,
                "verdict": result.verdict,
                "report_path": str(html),
                "mlflow_run_id": run_id,
                "checked_at": datetime.now(UTC).replace(tzinfo=None),
            },
        )
    return payload


def _log_to_mlflow(store: TrackingStore, payload: dict, out_dir: Path) -> str:
    from mlflow.entities import Metric

    client = store.client()
    run = retry(
        lambda: client.create_run(
            store.experiment_id(),
            run_name=f"drift · current {payload['current_window']}",
            tags={
                "bat.kind": "drift_report",
                "bat.drift_detected": str(payload["drift_detected"]).lower(),
                "bat.reference_window": payload["reference_window"],
                "bat.current_window": payload["current_window"],
                "bat.champion_version": str(payload["champion_version"]),
                "bat.drift_trigger_groups": ",".join(payload["trigger_groups"]),
                "bat.drift_groups_moved": ",".join(
                    g for g, summary in payload["groups"].items() if summary["drifted"]
                ),
                "mlflow.note.content": payload["verdict"],
            },
        ),
        "start the drift run",
    )
    run_id = run.info.run_id
    now = int(datetime.now(UTC).timestamp() * 1000)
    # per signal its PSI and the threshold it was held to; per group the largest score/threshold
    metrics = [
        Metric(f"drift/{f['name']}{suffix}", float(f[key]), now, 0)
        for f in payload["features"]
        for key, suffix in (("score", ""), ("threshold", "/threshold"))
        if np.isfinite(f[key])
    ]
    metrics += [
        Metric(f"drift_group/{group}/max_severity", max(severities), now, 0)
        for group in payload["groups"]
        if (
            severities := [
                f["severity"]
                for f in payload["features"]
                if f["group"] == group and np.isfinite(f["severity"])
            ]
        )
    ]
    retry(lambda: client.log_batch(run_id, metrics=metrics[:900]), "log drift scores")
    retry(
        lambda: client.log_artifacts(run_id, str(out_dir), "drift_report"), "log the drift report"
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id

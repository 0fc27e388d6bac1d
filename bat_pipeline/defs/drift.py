"""Monitoring assets: each model's reference profile, and the drift report of the newest days."""

import dagster as dg
from pydantic import Field

from bat_pipeline.defs.groups import DUCKDB_WRITER, MONITORING
from bat_pipeline.defs.metadata import markdown_table, rounded
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.training import SampleBundle
from bat_pipeline.drift.windows import (
    Window,
    build_window_profile,
    reference_window,
    store_reference,
)
from bat_pipeline.lifecycle.drift_runs import DriftError, run_drift_report
from bat_pipeline.lifecycle.tracking import retry
from bat_pipeline.lifecycle.training import CandidateResult


@dg.asset(
    group_name=MONITORING,
    pool=DUCKDB_WRITER,
    kinds={"duckdb", "mlflow"},
    description="Distribution of the candidate's training data (last 28 days before as-of): "
    "per-user-day features, event mix, transitions; table reference_profiles + MLflow artifact.",
)
def reference_profile(
    training_samples: SampleBundle,
    candidate_model: CandidateResult,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    window = reference_window(training_samples.as_of)
    with warehouse.writer() as con:
        profile = build_window_profile(con, window)
        store_reference(con, candidate_model.model_version, candidate_model.run_id, profile)
    client = mlflow.store().client()
    retry(
        lambda: client.log_dict(
            candidate_model.run_id, profile.to_dict(), "reference_profile.json"
        ),
        "log the reference profile",
    )
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.TextMetadataValue(candidate_model.model_version),
            "window": dg.TextMetadataValue(str(window)),
            "events": dg.IntMetadataValue(profile.n_events),
            "user_days": dg.IntMetadataValue(profile.n_user_days),
            "features": dg.IntMetadataValue(len(profile.features)),
        }
    )


class DriftRunConfig(dg.Config):
    reference: str | None = Field(
        default=None,
        description="Reference window START:END (YYYY-MM-DD, inclusive); null = the champion's "
        "stored reference profile.",
    )
    current: str | None = Field(
        default=None,
        description="Current window START:END; null = the last drift.window_days days of events.",
    )


@dg.asset(
    deps=["events"],
    group_name=MONITORING,
    kinds={"duckdb", "mlflow"},
    description="Drift of the newest days against the champion's training data, grouped: "
    "behaviour (per-feature PSI + Jensen-Shannon, Wasserstein; event mix, transitions, session "
    "length, time between events, score drift), population (new vs returning, device, channel) "
    "and data (load outcomes); each threshold raised to the windows' sampling noise; realised "
    "performance; HTML + JSON, logged to MLflow.",
)
def drift_report(
    config: DriftRunConfig,
    bat: BatHomeResource,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    home, cfg = bat.home(), bat.config()
    try:
        report = run_drift_report(
            warehouse.path(),
            mlflow.store(),
            home,
            cfg,
            Window.parse(config.reference) if config.reference else None,
            Window.parse(config.current) if config.current else None,
        )
    except (DriftError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from None
    top = report["features"][:10]
    return dg.MaterializeResult(
        metadata={
            "drift_detected": dg.BoolMetadataValue(report["drift_detected"]),
            "trigger_groups": dg.TextMetadataValue(", ".join(report["trigger_groups"])),
            "groups_moved": dg.TextMetadataValue(
                ", ".join(g for g, s in report["groups"].items() if s["drifted"]) or "none"
            ),
            "verdict": dg.TextMetadataValue(report["verdict"]),
            "max_psi": rounded(max((f["score"] for f in report["features"]), default=0.0)),
            "drifted_features": dg.IntMetadataValue(sum(f["drifted"] for f in report["features"])),
            "top_features": dg.MarkdownMetadataValue(
                markdown_table(
                    ["feature", "group", "method", "score", "threshold", "noise", "drifted"],
                    [
                        (
                            f["name"],
                            f["group"],
                            f["method"],
                            f["score"],
                            f["threshold"],
                            f["extra"].get("noise_psi"),
                            f["drifted"],
                        )
                        for f in top
                    ],
                )
            ),
            "reference": dg.TextMetadataValue(report["reference_window"]),
            "current": dg.TextMetadataValue(report["current_window"]),
            "report": dg.PathMetadataValue(report["report_html"]),
            "mlflow_run": dg.UrlMetadataValue(report["mlflow_run_url"]),
        }
    )

"""`bat-pipeline run`: the training job through Dagster, summarised for people and scripts."""

from __future__ import annotations

import argparse

from bat_pipeline.cli.common import config_of, emit, home_of
from bat_pipeline.cli.dagster_runs import run_job
from bat_pipeline.config import BatConfig
from bat_pipeline.defs.run_config import training_run_config
from bat_pipeline.defs.run_context import dagster_run_url
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.registry import CHAMPION, alias_version
from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.ml.metrics import METRIC_NAMES

#: the `metrics` of `run --json`: the test metrics, then the two losses
METRIC_KEYS = (*METRIC_NAMES, "train_loss", "val_loss")


def _failures(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the user code's own exception, not Dagster's wrapper
            text = error.message.strip() if error else "failed"
            # "dagster._core.definitions.events.Failure: why" -> "why" (a dg.Failure is ours)
            if error is not None and error.cls_name == "Failure":
                text = text.split(": ", 1)[-1]
            messages.append(f"{event.step_key}: {text}")
    return messages


def step_seconds(result) -> dict[str, float]:
    """Seconds each step of the run took, in the order they finished (successful steps)."""
    return {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 1)
        for event in result.all_events
        if event.is_step_success
    }


def _output(result, node: str):
    """The node's output, or None when it did not succeed in this run."""
    if node not in {e.node_name for e in result.all_node_events if e.is_successful_output}:
        return None
    return result.output_for_node(node)


def run_training(
    home: BatHome,
    cfg: BatConfig,
    config_file: str | None,
    as_of: str | None,
    trigger: str = "manual",
    extra_tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> dict:
    """Run training_job (features -> train -> evaluate -> gates -> promote -> score)."""
    result = run_job(
        home,
        "training_job",
        run_config or training_run_config(cfg, as_of, config_file),
        tags={"bat/trigger": trigger, **(extra_tags or {})},
    )
    candidate = _output(result, "candidate_model")
    evaluation = _output(result, "model_evaluation")
    store = TrackingStore.for_home(home)
    payload: dict = {
        "dagster_run_id": result.run_id,
        "dagster_run_url": dagster_run_url(result.run_id),
        "mlflow_run_id": candidate.run_id if candidate else None,
        "mlflow_run_url": candidate.run_url if candidate else None,
        "model_version": candidate.model_version if candidate else None,
        "metrics": {k: (candidate.metrics.get(k) if candidate else None) for k in METRIC_KEYS},
        "baseline_metrics": {
            k: candidate.baseline_metrics.get(k)
            for k in METRIC_KEYS
            if candidate and k in candidate.baseline_metrics
        },
        "gates": [],
        "promoted": False,
        "decision": "not evaluated",
        "champion_version": alias_version(store, CHAMPION) if candidate else None,
        "errors": [],
        "step_seconds": step_seconds(result),
        "training": {
            "epochs": candidate.epochs if candidate else None,
            "samples_per_second": round(candidate.samples_per_second) if candidate else None,
        },
    }
    if evaluation is not None:
        res = evaluation.result
        payload["gates"] = [
            {
                "name": g.name,
                "passed": g.passed,
                "value": g.value,
                "threshold": g.threshold,
                "reason": g.reason,
            }
            for g in res.gates
        ]
        payload["test_window"] = res.test_window
        payload["champion_before"] = res.champion_version
    promoted = [
        e for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "champion_model"
    ]  # fmt: skip
    if promoted:
        meta = promoted[-1].materialization.metadata
        payload["promoted"] = bool(meta["promoted"].value)
        payload["decision"] = str(meta["decision"].value)
    elif evaluation is not None and not evaluation.result.passed:
        failed = [g for g in evaluation.result.gates if not g.passed]
        payload["decision"] = "gates failed: " + "; ".join(f"{g.name}: {g.reason}" for g in failed)
    if candidate is None or evaluation is None:
        payload["status"] = "failed"
        payload["errors"] = _failures(result)
    else:
        payload["status"] = "promoted" if payload["promoted"] else "not_promoted"
    return payload


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def describe_run(p: dict) -> str:
    """A few lines a person reads after `bat-pipeline run`."""
    if p["status"] == "failed":
        return (
            "training run FAILED\n"
            + "\n".join(f"  {e}" for e in p["errors"])
            + f"\nDagster run: {p['dagster_run_url']}"
        )
    m, b = p["metrics"], p["baseline_metrics"]
    lines = [
        f"model version {p['model_version']}: accuracy {_fmt(m['accuracy'])}, AUC {_fmt(m['auc'])} "
        f"(baseline AUC {_fmt(b.get('auc'))}), train/val loss {_fmt(m['train_loss'])}/{_fmt(m['val_loss'])}",
        "gates:",
    ]
    lines += [
        f"  {'pass' if g['passed'] else 'FAIL'}  {g['name']:<15} {g['reason']}" for g in p["gates"]
    ]
    lines.append(("PROMOTED: " if p["promoted"] else "not promoted: ") + p["decision"])
    lines.append(f"champion is now version {p['champion_version']}")
    slowest = sorted(p["step_seconds"].items(), key=lambda kv: -kv[1])[:3]
    lines.append(
        f"steps took {sum(p['step_seconds'].values()):.0f} s: "
        + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in slowest)
    )
    lines.append(f"MLflow run:  {p['mlflow_run_url']}")
    lines.append(f"Dagster run: {p['dagster_run_url']}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    home, cfg = home_of(args), config_of(args)
    payload = run_training(
        home, cfg, args.config, args.as_of.isoformat() if args.as_of else None, trigger=args.trigger
    )
    emit(args, payload, describe_run)
    return EXIT_OK if payload["status"] in ("promoted", "not_promoted") else EXIT_FAILED

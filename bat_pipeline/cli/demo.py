"""`bat-pipeline demo`: the whole loop on built-in synthetic data, told as a story.

1. a calm period of a simulated shop lands day by day; Dagster ingests it (quality checks);
2. the training job builds features, trains the LSTM and the baseline, evaluates, gates and
   promotes the first champion, and scores every user;
3. customer behaviour shifts (injected drift) in the days that land next; the drift sensor
   compares them with the champion's training data and requests a retrain;
4. the retrain goes through the same gates and is promoted automatically if it passes.
It ends with where to look in the Dagster UI and the MLflow UI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bat_pipeline.cli.common import home_of
from bat_pipeline.cli.dagster_runs import run_job
from bat_pipeline.cli.run import describe_run, run_training
from bat_pipeline.config import BatConfig
from bat_pipeline.data.synthetic import generate
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.drift_watch import WarehouseDriftWatch, check_drift
from bat_pipeline.lifecycle.tracking import TrackingStore


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo data and when behaviour drifts."""

    users: int
    calm_days: int
    drift_days: int
    seed: int = 7
    start: date = date(2026, 1, 1)
    drift: str = "conversion_drop"

    @property
    def drift_start(self) -> date:
        return self.start + timedelta(days=self.calm_days)

    @property
    def days(self) -> int:
        return self.calm_days + self.drift_days


FULL = DemoPlan(users=3000, calm_days=150, drift_days=14)
FAST = DemoPlan(users=600, calm_days=110, drift_days=14)


def _say(text: str) -> None:
    sys.stderr.write(f"\n== {text}\n")
    sys.stderr.flush()


def deliver(source: Path, landing: Path, first: date, last: date) -> list[str]:
    """Copy the daily files of [first, last] from the generated source into the landing folder."""
    landing.mkdir(parents=True, exist_ok=True)
    keys = []
    day = first
    while day <= last:
        for path in source.glob(f"*{day.isoformat()}*"):
            target = landing / path.name
            if not target.exists() or target.read_bytes() != path.read_bytes():
                shutil.copyfile(path, target)
        keys.append(day.isoformat())
        day += timedelta(days=1)
    return keys


def demo_config(fast: bool) -> BatConfig:
    """The default config; `--fast` trims epochs and lookback so tests finish quickly."""
    cfg = BatConfig()
    if fast:
        cfg = cfg.merged(
            {"task": {"lookback_days": 28}, "model": {"max_epochs": 4, "hidden_size": 32}}
        )
    return cfg


def run_demo(home: BatHome, fast: bool = False, json_out: bool = False) -> int:
    plan = FAST if fast else FULL
    cfg = demo_config(fast)
    home.ensure()
    started = time.perf_counter()
    source = home.root / "demo" / "source"
    _say(
        f"1/4 generating {plan.days} days of a simulated shop ({plan.users} customers) in {source}"
    )
    summary = generate(
        source,
        users=plan.users,
        days=plan.days,
        seed=plan.seed,
        start=plan.start,
        drift=plan.drift,
        drift_start=plan.drift_start,
    )
    sys.stderr.write(
        f"{summary.events:,} events; behaviour drifts ({plan.drift}) from {plan.drift_start}\n"
    )

    _say(
        f"2/4 the calm period lands in {home.landing}; Dagster ingests it and runs the quality checks"
    )
    calm_last = plan.drift_start - timedelta(days=1)
    keys = deliver(source, home.landing, plan.start, calm_last)
    ingest = run_job(home, "ingest_job", partition_range=(keys[0], keys[-1]))
    if not ingest.success:
        _say("ingestion failed; see the Dagster run " + ingest.run_id)
        return 1

    _say(
        "3/4 training job: features -> samples -> baseline + LSTM -> evaluation -> gates -> promotion"
    )
    first = run_training(home, cfg, None, None, trigger="manual")
    sys.stderr.write(describe_run(first) + "\n")
    if first["status"] == "failed":
        return 1

    _say(f"4/4 behaviour shifts ({plan.drift}); new days land, the drift sensor looks at them")
    story = drift_and_retrain(
        home, cfg, source, plan.drift_start, plan.start + timedelta(days=plan.days - 1)
    )
    seconds = time.perf_counter() - started
    result = {
        "first_run": first,
        "drift": story,
        "seconds": round(seconds, 1),
        "home": str(home.root),
    }
    if json_out:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    else:
        sys.stdout.write(summary_text(home, first, story, seconds) + "\n")
    return 0 if story.get("status") != "failed" else 1


def drift_and_retrain(home: BatHome, cfg: BatConfig, source: Path, first: date, last: date) -> dict:
    """Deliver the drifted days, ingest them, evaluate the drift sensor and run its request."""
    lines: list[str] = []
    keys = deliver(source, home.landing, first, last)
    ingest = run_job(home, "ingest_job", partition_range=(keys[0], keys[-1]))
    if not ingest.success:
        return {
            "status": "failed",
            "lines": [f"ingesting the drifted days failed (run {ingest.run_id})"],
        }
    report = run_job(home, "drift_job")
    if report.success:
        meta = [
            e.materialization.metadata
            for e in report.get_asset_materialization_events()
            if e.asset_key.to_user_string() == "drift_report"
        ][-1]
        lines.append(f"drift report: {meta['verdict'].value} ({meta['report'].value})")
    watch = WarehouseDriftWatch(home.warehouse, TrackingStore.for_home(home))
    decision, _state = check_drift({}, watch, cfg.drift, datetime.now(UTC))
    sys.stderr.write(f"drift sensor: {decision.reason}\n")
    lines.append(
        f"drift sensor: {'requested a retrain' if decision.request else 'no retrain'} — {decision.reason}"
    )
    if not decision.request:
        return {"status": "no_drift", "lines": lines, "decision": decision.to_dict()}
    retrain = run_training(
        home,
        cfg,
        None,
        None,
        trigger="drift",
        extra_tags={
            "dagster/sensor_name": "drift_sensor",
            "bat/drift_window": decision.run_key.split(":", 1)[1],
        },
    )
    sys.stderr.write(describe_run(retrain) + "\n")
    lines.append(
        f"retrain (trigger=drift): version {retrain['model_version']}, "
        + (
            "PROMOTED to champion"
            if retrain["promoted"]
            else f"not promoted: {retrain['decision']}"
        )
    )
    return {
        "status": retrain["status"],
        "lines": lines,
        "decision": decision.to_dict(),
        "retrain": retrain,
    }


def summary_text(home: BatHome, first: dict, story: dict, seconds: float) -> str:
    lines = [
        "",
        f"BAT demo finished in {seconds:.0f} s. State is in {home.root}",
        f"- first model: version {first['model_version']}, "
        + ("promoted to champion" if first["promoted"] else f"not promoted ({first['decision']})"),
    ]
    lines += [f"- {line}" for line in story.get("lines", [])]
    lines += [
        "",
        "Where to look (start both UIs with `bat-pipeline ui` or `make ui`):",
        "- Dagster UI  http://127.0.0.1:3000  Assets -> the graph by group; Runs -> the ingest, "
        "training and drift-triggered runs; raw_events -> Checks for the quality suite; "
        "model_evaluation -> Checks for each gate.",
        "- MLflow UI   http://127.0.0.1:5000  Experiment 'bat_pipeline' -> one run per training "
        "(curves, ROC, confusion matrix, model card, decision record, drift report); "
        "Models -> bat_behaviour_lstm -> which version holds @champion and @previous.",
        f"- Warehouse   {home.warehouse} (tables events, user_activity, user_scores, quarantine…)",
        f"- Data docs   {home.reports / 'data_docs' / 'index.html'}",
    ]
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(home_of(args), fast=args.fast, json_out=args.json)

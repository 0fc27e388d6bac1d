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


#: signals listed per group in the text output
_TEXT_ROWS = 8


def _drift_text(p: dict) -> str:
    """The verdict, then per group (triggering groups first) its signals most moved first:
    PSI, the threshold it was held to (floor or sampling noise) and the noise alone."""
    lines = [f"reference {p['reference_window']} vs current {p['current_window']}: {p['verdict']}"]
    groups = sorted(p["groups"].items(), key=lambda kv: not kv[1]["triggers_retrain"])
    for group, summary in groups:
        role = "decides retraining" if summary["triggers_retrain"] else "reported only"
        state = "DRIFTED" if summary["drifted"] else "calm"
        lines += [
            "",
            f"{group} ({role}): {state}, {summary['signals']} signals",
            f"  {'signal':<30} {'PSI':>7} {'threshold':>9} {'noise':>7}  drifted",
        ]
        members = [f for f in p["features"] if f["group"] == group]
        lines += [
            f"  {f['name']:<30} {f['score']:>7.3f} {f['threshold']:>9.3f} "
            f"{_noise(f):>7}  {'YES' if f['drifted'] else 'no'}"
            for f in members[:_TEXT_ROWS]
        ]
    lines += [f"note: {note}" for note in p.get("notes", [])]
    lines.append(f"report: {p['report_html']}")
    lines.append(f"MLflow: {p['mlflow_run_url']}")
    return "\n".join(lines)


def _noise(f: dict) -> str:
    noise = f["extra"].get("noise_psi")
    return "" if noise is None else f"{noise:.3f}"

"""`bat-pipeline ingest PATH...`: load files directly (no Dagster run), check, rebuild events.

The same ingestion and quality code as the `raw_events` asset and its check; use the landing
folder + Dagster (sensor, schedule or UI) for the daily flow, this command for ad-hoc files.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bat_pipeline.cli.common import config_of, emit, home_of, progress_bar, say
from bat_pipeline.cli.dagster_runs import record_cli_loads
from bat_pipeline.config import BatConfig
from bat_pipeline.data.landing import SUFFIXES
from bat_pipeline.data.loads import load_files, totals
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK
from bat_pipeline.home import BatHome
from bat_pipeline.quality.verdicts import check_partitions


def expand(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files named directly, plus the event files inside named folders; missing paths are errors."""
    files, errors = [], []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES)
            )
        elif path.exists():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def ingest_paths(
    home: BatHome,
    cfg: BatConfig,
    paths: list[Path],
    progress: Callable[[int, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict:
    """Ingest every file, run the quality suite on what changed, rebuild the events table;
    `progress(done, total)` after each file and `say(line)` at each later stage."""
    say = say or (lambda _line: None)
    home.ensure()
    files, errors = expand(paths)
    now = datetime.now(UTC)
    with writer(home.warehouse) as con:
        batch = load_files(con, files, cfg.data, now, progress)
        changed = batch.changed
        reports = {}
        if changed:
            say(f"quality: checking {len(changed)} changed day(s)")
            started = time.perf_counter()
            reports = check_partitions(con, changed, cfg.data, home, now=now)
            failed = sum(not r.success for r in reports.values())
            say(f"quality: {len(changed)} day(s) checked in {time.perf_counter() - started:.0f} s"
                f", {failed} failed")  # fmt: skip
        say("events: rebuilding the validated events table")
        replace_table(con, "events")
    say("dagster: recording the loaded days and their checks for the Dagster UI")
    record_cli_loads(home, batch.results, reports)
    return {
        **totals(batch.results),
        "files_loaded": len(changed),
        "files": [r.to_dict() for r in batch.results],
        "quality_failed": sorted(k for k, rep in reports.items() if not rep.success),
        "quality": {
            k: [o.name for o in rep.failed()] for k, rep in reports.items() if not rep.success
        },
        "errors": errors + batch.errors,
        "warehouse": str(home.warehouse),
    }


def cmd_ingest(args: argparse.Namespace) -> int:
    home, cfg = home_of(args), config_of(args)
    paths = [Path(p) for p in args.paths]
    report = ingest_paths(
        home,
        cfg,
        paths,
        progress=progress_bar("ingest", sys.stderr.isatty() and not args.json),
        say=say,
    )
    emit(args, report, _ingest_text)
    return EXIT_OK if not report["errors"] and not report["quality_failed"] else EXIT_FAILED


def _ingest_text(p: dict) -> str:
    lines = [
        f"read {p['rows_read']:,} rows: {p['rows_loaded']:,} loaded, {p['rows_quarantined']:,} quarantined",
        f"days: {p['days_loaded']} loaded, {p['days_replaced']} replaced, "
        f"{p['days_unchanged']} unchanged",
    ]
    lines += [f"  quarantined {n:,} × {reason}" for reason, n in p["quarantine_reasons"].items()]
    for key, failed in p["quality"].items():
        lines.append(f"quality checks FAILED for partition {key}: {', '.join(failed)}")
    if p["quality"]:
        lines.append(
            "these days are left out of events (features, training, drift) until fixed and "
            "re-delivered, or accepted: bat-pipeline quality accept DAY... --reason TEXT"
        )
    lines += [f"error: {e}" for e in p["errors"]]
    return "\n".join(lines)

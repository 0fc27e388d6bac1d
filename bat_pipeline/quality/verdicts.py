"""Runs the quality suite over loaded partitions and records the verdicts in the warehouse.

The verdict table `quality_results` is what keeps a failed partition out of `events` (and
so out of training) and what the drift sensor reads to refuse retraining on broken data.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.home import BatHome
from bat_pipeline.quality.suite import ExpectationOutcome, QualityReport
from bat_pipeline.quality.validation import validate_events, validate_volumes


def check_partitions(
    con: duckdb.DuckDBPyConnection,
    keys: list[str],
    cfg: DataConfig,
    home: BatHome,
    now: datetime,
    build_docs: bool = True,
) -> dict[str, QualityReport]:
    """Validate each partition in `keys` and record the verdicts; data docs are rebuilt once.

    Several partitions are first validated together (one GX run for the row-level and table
    expectations, one for the volume of each partition); only if that fails is each
    partition validated on its own, so that the failure is pinned to its partitions.
    """
    vocabulary = cfg.event_types or [
        r[0] for r in con.execute(query("event_vocabulary")).fetchall()
    ]
    vocabulary = vocabulary or ["__none__"]
    if len(keys) > 1:
        reports = _check_together(con, keys, cfg, home, now, vocabulary, build_docs)
        if reports is not None:
            _record(con, reports, now)
            return reports
    reports = _check_each(con, keys, cfg, home, now, vocabulary, build_docs)
    _record(con, reports, now)
    return reports


def _record(
    con: duckdb.DuckDBPyConnection, reports: dict[str, QualityReport], now: datetime
) -> None:
    for key, report in reports.items():
        con.execute(
            statement("insert_quality_result"),
            {
                "partition_key": key,
                "passed": report.success,
                "failed_expectations": [o.name for o in report.failed()],
                "checked_at": now.replace(tzinfo=None),
            },
        )


def _check_together(con, keys, cfg, home, now, vocabulary, build_docs):
    """One report per partition from a joint run, or None if the joint run failed."""
    frame = con.execute(query("range_events"), {"keys": keys}).df()
    joint = validate_events(
        frame,
        vocabulary=vocabulary,
        now=now,
        trailing_counts=[],
        max_duplicate_share=cfg.max_duplicate_share,
        future_skew_minutes=cfg.future_skew_minutes,
        gx_dir=home.root / "gx",
        docs_dir=home.reports / "data_docs" if build_docs else None,
        suite_name="raw_events_range",
    )
    if not joint.success:
        return None
    counts = con.execute(
        query("partition_volumes"), {"keys": keys, "days": cfg.volume_trailing_days}
    ).df()
    volumes = validate_volumes(
        counts, volume_tolerance=cfg.volume_tolerance, gx_dir=home.root / "gx"
    )
    ratio = counts["rows"] / counts["trailing_median"]
    outside = (ratio < 1 - cfg.volume_tolerance) | (ratio > 1 + cfg.volume_tolerance)
    volume = volumes.outcomes[0]
    reports = {}
    for key, bad, n, median in zip(
        counts["partition_key"], outside, counts["rows"], counts["trailing_median"], strict=True
    ):
        mine = ExpectationOutcome(
            volume.name,
            volume.expectation,
            not bool(bad),
            int(bool(bad)),
            int(n),
            f"Expected rows within {cfg.volume_tolerance:.0%} of the trailing median "
            f"({median if median == median else 'no history'}); saw {int(n)}.",
        )
        outcomes = [*joint.outcomes, mine]
        reports[key] = QualityReport(
            success=all(o.success for o in outcomes),
            evaluated=joint.evaluated + 1,
            outcomes=outcomes,
            rows=int(n),
            docs_path=joint.docs_path,
        )
    return reports


def _check_each(con, keys, cfg, home, now, vocabulary, build_docs) -> dict[str, QualityReport]:
    reports: dict[str, QualityReport] = {}
    for i, key in enumerate(keys):
        frame = con.execute(query("range_events"), {"keys": [key]}).df()
        trailing = [
            int(r[0])
            for r in con.execute(
                query("trailing_partition_counts"),
                {"partition_key": key, "days": cfg.volume_trailing_days},
            ).fetchall()
        ]
        last = i == len(keys) - 1
        report = validate_events(
            frame,
            vocabulary=vocabulary,
            now=now,
            trailing_counts=trailing,
            max_duplicate_share=cfg.max_duplicate_share,
            volume_tolerance=cfg.volume_tolerance,
            future_skew_minutes=cfg.future_skew_minutes,
            gx_dir=home.root / "gx",
            docs_dir=home.reports / "data_docs" if (build_docs and last) else None,
        )
        reports[key] = report
    return reports

"""Runs the quality suite over loaded partitions and records the verdicts in the warehouse.

The verdict table `quality_results` is what keeps a failed partition out of `events` (and
so out of training) and what the drift sensor reads to refuse retraining on broken data.
"""

from __future__ import annotations

import math
from datetime import datetime

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.home import BatHome
from bat_pipeline.quality.suite import (
    NOISE_WINDOW_FACTOR,
    ExpectationOutcome,
    QualityReport,
    volume_bounds,
)
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
    """One report per partition from a joint run, or None if the joint run failed or cannot
    see every partition (one without loaded rows has no row in the joint data)."""
    frame = con.execute(query("range_events"), {"keys": keys}).df()
    if set(frame["partition_key"].unique()) != set(keys):
        return None
    joint = validate_events(
        frame,
        vocabulary=vocabulary,
        now=now,
        trailing_counts=[],
        max_duplicate_share=cfg.max_duplicate_share,
        future_skew_minutes=cfg.future_skew_minutes,
        max_unknown_event_share=cfg.max_unknown_event_share,
        gx_dir=home.root / "gx",
        docs_dir=home.reports / "data_docs" if build_docs else None,
        suite_name="raw_events_range",
    )
    if not joint.success:
        return None
    counts = con.execute(
        query("partition_volumes"), {"keys": keys, "days": _history_days(cfg)}
    ).df()
    bands = [_band([int(n) for n in trailing], cfg) for trailing in counts["trailing_rows"]]
    counts["low"] = [b[0] for b in bands]
    counts["high"] = [b[1] for b in bands]
    volume = validate_volumes(
        counts[["partition_key", "rows", "low", "high"]], gx_dir=home.root / "gx"
    ).outcomes[0]
    reports = {}
    for key, n, (low, high, median) in zip(
        counts["partition_key"], counts["rows"], bands, strict=True
    ):
        bad = median == median and not low <= n <= high
        mine = ExpectationOutcome(
            volume.name,
            volume.expectation,
            not bad,
            int(bad),
            int(n),
            f"Expected between {low:g} and {high:g} rows (trailing median {median:g}); "
            f"saw {int(n)}."
            if median == median
            else f"No trailing partitions: no volume band; saw {int(n)}.",
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


def _history_days(cfg: DataConfig) -> int:
    """Partitions of history the volume band reads (its spread needs more than its median)."""
    return NOISE_WINDOW_FACTOR * cfg.volume_trailing_days


def _band(trailing: list[int], cfg: DataConfig) -> tuple[float, float, float]:
    """(low, high, median) rows allowed, NaN without history."""
    if not trailing:
        return math.nan, math.nan, math.nan
    return volume_bounds(
        trailing,
        days=cfg.volume_trailing_days,
        tolerance=cfg.volume_tolerance,
        sigmas=cfg.volume_noise_sigmas,
    )


def _check_each(con, keys, cfg, home, now, vocabulary, build_docs) -> dict[str, QualityReport]:
    reports: dict[str, QualityReport] = {}
    for i, key in enumerate(keys):
        frame = con.execute(query("range_events"), {"keys": [key]}).df()
        trailing = [
            int(r[0])
            for r in con.execute(
                query("trailing_partition_counts"),
                {"partition_key": key, "days": _history_days(cfg)},
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
            volume_noise_sigmas=cfg.volume_noise_sigmas,
            volume_trailing_days=cfg.volume_trailing_days,
            future_skew_minutes=cfg.future_skew_minutes,
            max_unknown_event_share=cfg.max_unknown_event_share,
            gx_dir=home.root / "gx",
            docs_dir=home.reports / "data_docs" if (build_docs and last) else None,
        )
        reports[key] = report
    return reports

"""`bat-pipeline status` and `rollback`: which registered versions hold `champion` and
`previous`, and moving `champion` back."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from bat_pipeline.cli.common import config_of, emit, home_of, store_of
from bat_pipeline.data.loads import changed_days
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import fetch_one, writer
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.registry import CHAMPION, PREVIOUS, ModelRef, get_alias, rollback
from bat_pipeline.quality.acceptance import excluded_days


def _model_text(label: str, ref: dict | None) -> str:
    if ref is None:
        return f"{label}: none"
    m = ref["metrics"]
    auc, acc = m.get("auc"), m.get("accuracy")
    return (
        f"{label}: version {ref['version']} (promoted {ref.get('promoted_at') or 'n/a'}), "
        f"AUC {auc if auc is None else round(auc, 4)}, accuracy {acc if acc is None else round(acc, 4)}"
    )


def cmd_status(args: argparse.Namespace) -> int:
    config_of(args)
    store = store_of(args)
    payload, refs = {}, {}
    for alias in (CHAMPION, PREVIOUS):
        ref = refs[alias] = get_alias(store, alias)
        payload[alias] = (
            {
                "version": ref.version,
                "metrics": ref.metrics,
                "promoted_at": ref.promoted_at,
                "run_id": ref.run_id,
            }
            if ref
            else None
        )
    payload["registered_model"] = store.registered_model
    payload["model_url"] = store.model_url()
    payload["excluded_days"] = _excluded_days(home_of(args))
    payload["stale"] = _stale(home_of(args), refs[CHAMPION])
    emit(
        args,
        payload,
        lambda p: "\n".join(
            [
                _model_text(CHAMPION, p[CHAMPION]),
                _model_text(PREVIOUS, p[PREVIOUS]),
                f"registry: {p['model_url']}",
                _excluded_text(p["excluded_days"]),
                _stale_text(p["stale"]),
            ]
        ),
    )
    return EXIT_OK


def _excluded_days(home: BatHome) -> list[dict]:
    """Days left out of events by failed quality checks (none without a warehouse)."""
    if not home.warehouse.is_file():
        return []
    with writer(home.warehouse) as con:  # a warehouse of an older version gets the tables
        return [
            {"day": d.partition_key, "failed_expectations": d.failed_expectations}
            for d in excluded_days(con)
        ]


def _stale(home: BatHome, champion: ModelRef | None) -> dict[str, list[str]]:
    """Days loaded or replaced (a corrected delivery, a late day) after the champion was
    trained, or the feature tables built, that lie in the data they were built from."""
    stale: dict[str, list[str]] = {"champion": [], "feature_tables": []}
    if not home.warehouse.is_file():
        return stale
    with writer(home.warehouse) as con:  # a warehouse of an older version gets the tables
        if champion is not None and champion.as_of and champion.trained_at:
            trained = datetime.fromisoformat(champion.trained_at).astimezone(UTC)
            as_of = date.fromisoformat(champion.as_of)
            stale["champion"] = changed_days(con, trained.replace(tzinfo=None), as_of)
        build = fetch_one(con, query("feature_build"))
        if build is not None:
            _, as_of, built_at = build
            stale["feature_tables"] = changed_days(con, built_at, as_of)
    return stale


def _stale_text(stale: dict[str, list[str]]) -> str:
    lines = []
    for what, days in stale.items():
        if days:
            span = days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"
            lines.append(
                f"stale: {what.replace('_', ' ')} built before {len(days)} day(s) of their "
                f"data changed ({span}); rebuild with `bat-pipeline run`"
            )
    return "\n".join(lines) or "stale: nothing (no day of their data changed since they were built)"


def _excluded_text(days: list[dict]) -> str:
    if not days:
        return "excluded days: none (every checked day passed or was accepted)"
    listed = ", ".join(f"{d['day']} ({', '.join(d['failed_expectations'])})" for d in days)
    return f"excluded days ({len(days)}, see bat-pipeline quality list): {listed}"


def cmd_rollback(args: argparse.Namespace) -> int:
    config_of(args)
    decision = rollback(store_of(args))
    emit(args, decision.to_dict(), lambda p: p["reason"])
    return EXIT_OK if decision.promoted else EXIT_FAILED

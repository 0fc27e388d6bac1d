"""`bat-pipeline status` and `rollback`: which registered versions hold `champion` and
`previous`, and moving `champion` back."""

from __future__ import annotations

import argparse

from bat_pipeline.cli.common import config_of, emit, home_of, store_of
from bat_pipeline.data.warehouse import writer
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.registry import CHAMPION, PREVIOUS, get_alias, rollback
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
    payload = {}
    for alias in (CHAMPION, PREVIOUS):
        ref = get_alias(store, alias)
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
    emit(
        args,
        payload,
        lambda p: "\n".join(
            [
                _model_text(CHAMPION, p[CHAMPION]),
                _model_text(PREVIOUS, p[PREVIOUS]),
                f"registry: {p['model_url']}",
                _excluded_text(p["excluded_days"]),
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

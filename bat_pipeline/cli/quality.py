"""`bat-pipeline quality list | accept DAY... --reason TEXT`: the days that failed quality checks
(and are left out of events, features, training and drift), and a person accepting them.

An acceptance is recorded in the warehouse (who, when, why), `events` is rebuilt with the
days, and the Dagster UI shows each accepted day's `raw_events_quality` check as passed,
with the acceptance in its metadata.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime

from bat_pipeline.cli.common import emit, home_of
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.errors import EXIT_OK, UsageError
from bat_pipeline.quality.acceptance import (
    AcceptanceError,
    DayVerdict,
    accept_days,
    excluded_days,
)


def cmd_quality(args: argparse.Namespace) -> int:
    home = home_of(args)
    if not home.warehouse.is_file():
        raise UsageError(f"no warehouse at {home.warehouse}: ingest event files first")
    if args.action == "list":
        with writer(home.warehouse) as con:  # a warehouse of an older version gets the tables
            days = excluded_days(con)
        payload = {"excluded_days": [d.to_dict() for d in days]}
        emit(args, payload, lambda _: _excluded_text(days))
        return EXIT_OK
    by = args.by or getpass.getuser()
    try:
        with writer(home.warehouse) as con:
            accepted = accept_days(
                con, args.days, accepted_by=by, reason=args.reason, now=datetime.now(UTC)
            )
            replace_table(con, "events")
    except AcceptanceError as exc:
        raise UsageError(str(exc)) from None
    _record_in_dagster(home, accepted)
    payload = {"accepted": [d.to_dict() for d in accepted]}
    emit(
        args,
        payload,
        lambda _: "\n".join(
            f"accepted {d.partition_key} (by {d.accepted_by}: {d.reason}); back in events"
            for d in accepted
        ),
    )
    return EXIT_OK


def _excluded_text(days: list[DayVerdict]) -> str:
    if not days:
        return "no day is left out: every checked day passed or was accepted"
    lines = [f"{len(days)} day(s) left out of events by failed quality checks:"]
    lines += [
        f"  {d.partition_key}: {', '.join(d.failed_expectations)} ({d.rows_loaded} rows)"
        for d in days
    ]
    lines.append("fix and re-deliver them, or: bat-pipeline quality accept DAY... --reason TEXT")
    return "\n".join(lines)


def _record_in_dagster(home, accepted: list[DayVerdict]) -> None:
    """Report each accepted day's check as passed, with who/when/why, to the Dagster UI."""
    from bat_pipeline.cli.dagster_runs import record_cli_events  # list and errors need no Dagster

    events = [
        {
            "kind": "check",
            "partition": day.partition_key,
            "passed": True,
            "description": f"accepted by {day.accepted_by}: {day.reason}",
            "metadata": {
                "accepted_by": day.accepted_by,
                "accepted_at": str(day.accepted_at),
                "reason": day.reason,
            },
        }
        for day in accepted
    ]
    record_cli_events(home, events, "quality accept")

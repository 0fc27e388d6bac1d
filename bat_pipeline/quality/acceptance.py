"""Days left out by failed quality checks, and a person's decision to accept them anyway.

A partition whose latest check failed, or that was loaded and never checked, stays out of `events` (features, training, drift) until
it is fixed and re-checked, or accepted: `accept_days` records who accepted it, when and why in
`quality_acceptances`, and a passing verdict in `quality_results`, so that `events` takes the
day again. A later failing check of the same day excludes it again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import duckdb

from bat_pipeline.data.sqlfiles import query, statement


class AcceptanceError(ValueError):
    """A day cannot be accepted (never loaded, never checked, or not failing); says which."""


@dataclass(frozen=True)
class DayVerdict:
    """The latest quality verdict of one partition, and its acceptance if a person gave one."""

    partition_key: str
    passed: bool
    failed_expectations: list[str]
    checked_at: datetime | None  # None: loaded but never checked
    rows_loaded: int | None
    accepted_by: str | None = None
    reason: str | None = None
    accepted_at: datetime | None = None

    @property
    def excluded(self) -> bool:
        """True while the day is left out of `events`."""
        return not self.passed

    def to_dict(self) -> dict:
        return asdict(self)


def latest_verdicts(con: duckdb.DuckDBPyConnection) -> dict[str, DayVerdict]:
    """Partition key -> its latest verdict, for every checked partition."""
    frame = con.execute(query("latest_quality")).fetchall()
    return {
        row[0]: DayVerdict(
            partition_key=row[0],
            passed=bool(row[1]),
            failed_expectations=list(row[2] or []),
            checked_at=row[3],
            rows_loaded=None if row[4] is None else int(row[4]),
            accepted_by=row[5],
            reason=row[6],
            accepted_at=row[7],
        )
        for row in frame
    }


def excluded_days(con: duckdb.DuckDBPyConnection) -> list[DayVerdict]:
    """The partitions left out of `events` by their latest failed check, oldest first."""
    return [v for v in latest_verdicts(con).values() if v.excluded]


def accept_days(
    con: duckdb.DuckDBPyConnection,
    days: list[str],
    *,
    accepted_by: str,
    reason: str,
    now: datetime,
) -> list[DayVerdict]:
    """Accept each failing day in `days` (all or none): record the acceptance and a passing
    verdict. Raises AcceptanceError naming the days that are unknown or not failing."""
    if not reason.strip():
        raise AcceptanceError("say why the days are accepted (--reason TEXT)")
    verdicts = latest_verdicts(con)
    unknown = [d for d in days if d not in verdicts]
    passing = [d for d in days if d in verdicts and verdicts[d].passed]
    if unknown or passing:
        problems = []
        if unknown:
            problems.append(f"never loaded: {', '.join(unknown)}")
        if passing:
            problems.append(f"not failing (nothing to accept): {', '.join(passing)}")
        failing = [v.partition_key for v in verdicts.values() if v.excluded]
        hint = f"days failing now: {', '.join(failing)}" if failing else "no day is failing now"
        raise AcceptanceError(f"cannot accept: {'; '.join(problems)}; {hint}")
    stamp = now.replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        for day in dict.fromkeys(days):
            failed = verdicts[day].failed_expectations
            con.execute(
                statement("insert_quality_acceptance"),
                {
                    "partition_key": day,
                    "failed_expectations": failed,
                    "accepted_by": accepted_by,
                    "reason": reason,
                    "accepted_at": stamp,
                },
            )
            con.execute(
                statement("insert_quality_result"),
                {
                    "partition_key": day,
                    "passed": True,
                    "failed_expectations": [],
                    "checked_at": stamp,
                },
            )
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
    accepted = latest_verdicts(con)
    return [accepted[day] for day in dict.fromkeys(days)]

"""Drift report cost versus building per-user daily feature tables, on the same events.

For each `--events` N, an `events` table of N synthetic events (`benchmarks/sql/drift_bench_events.sql`,
built with DuckDB's range(): ~N/300 users over 90 days, sessions of 8 events) is written to a
temporary DuckDB file. Then, interleaved and repeated (best of `--repeats` is reported):

- drift report: profile the first half of the days (reference), profile the second half with the
  reference's edges (current), compare — with the default user sampling above
  `DEFAULT_MAX_EVENTS` events per window, and exact (`max_events=None`);
- per-user daily features: `create table` of counts grouped by user_id, day and event_type
  over the whole table (the core of the features step);
- the project's `user_activity` table (sql/user_activity.sql, daily buckets) over the whole
  table, as built by the features step.

Peak RSS is the process's high-water mark during each step (reset before it where Linux allows
it; elsewhere the mark only grows), which includes DuckDB's cache of the table; (+N) is how far
it rose above the RSS at the step's start. Ratios are to the per-user daily features step.

    .venv/bin/python benchmarks/bench_drift.py [--events 1000000 10000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bat_pipeline.data.sqlfiles import table
from bat_pipeline.drift.comparisons import compare_profiles
from bat_pipeline.drift.profiles import DEFAULT_MAX_EVENTS, build_profile

#: the synthetic events of this benchmark (SQL used by no pipeline step)
BENCH_EVENTS_SQL = (
    (Path(__file__).parent / "sql" / "drift_bench_events.sql").read_text().strip().rstrip(";")
)

FIRST_DAY = date(2026, 1, 1)
DAYS = 90
EVENTS_PER_USER = 300
#: the per-user daily feature aggregation the drift report is compared with.
DAILY_FEATURES = (
    "create or replace temp table bench_daily as"
    " select user_id, cast(event_time as date) as day, event_type, count(*) as n"
    " from events group by all"
)
DAILY_LABEL = "per-user daily features (group by)"
#: the project's own per-user daily feature table, for reference.
ACTIVITY_LABEL = "user_activity (sql/tables/user_activity.sql, daily)"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    print(f"duckdb {duckdb.__version__}, threads {args.threads}, best of {args.repeats}")
    for n in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            con = duckdb.connect(str(Path(tmp) / "bench.duckdb"), config={"threads": args.threads})
            seconds = _generate(con, n)
            print(
                f"\n{n:,} events ({n // EVENTS_PER_USER:,} users, {DAYS} days), "
                f"generated in {seconds:.1f} s"
            )
            best: dict[str, float] = {}
            peak: dict[str, float] = {}
            grew: dict[str, float] = {}
            for _ in range(args.repeats):
                for label, step in _steps(con).items():
                    _reset_peak_rss()
                    before = _rss_mib("VmRSS:")
                    started = time.perf_counter()
                    step()
                    best[label] = min(best.get(label, float("inf")), time.perf_counter() - started)
                    peak[label] = max(peak.get(label, 0.0), _rss_mib("VmHWM:"))
                    grew[label] = max(grew.get(label, 0.0), peak[label] - before)
            daily = best[DAILY_LABEL]
            for label, value in best.items():
                print(
                    f"  {label:<46} {value:6.2f} s  ({value / daily:4.2f}x)  "
                    f"peak RSS {peak[label]:6.0f} MiB (+{grew[label]:.0f})"
                )
            con.close()
    return 0


def _generate(con: duckdb.DuckDBPyConnection, n: int) -> float:
    started = time.perf_counter()
    con.execute(
        "create table events as " + BENCH_EVENTS_SQL,
        {
            "events": n,
            "users": max(n // EVENTS_PER_USER, 10),
            "days": DAYS,
            "seed": 7,
            "first_day": FIRST_DAY,
        },
    )
    con.execute("checkpoint")
    return time.perf_counter() - started


def _steps(con: duckdb.DuckDBPyConnection) -> dict[str, Callable[[], object]]:
    half = FIRST_DAY + timedelta(days=DAYS // 2)
    last = FIRST_DAY + timedelta(days=DAYS - 1)

    def drift(max_events: int | None) -> None:
        reference = build_profile(con, FIRST_DAY, half - timedelta(days=1), max_events=max_events)
        current = build_profile(con, half, last, reference, max_events=max_events)
        compare_profiles(reference, current)

    return {
        f"drift report (sampled above {DEFAULT_MAX_EVENTS:,}/window)": lambda: drift(
            DEFAULT_MAX_EVENTS
        ),
        "drift report (exact)": lambda: drift(None),
        DAILY_LABEL: lambda: con.execute(DAILY_FEATURES),
        ACTIVITY_LABEL: lambda: _activity(con),
    }


def _activity(con: duckdb.DuckDBPyConnection) -> None:
    """The daily user_activity table, rolled up from user_session_days as the pipeline does."""
    con.execute("create or replace temp table user_session_days as " + table("user_session_days"))
    con.execute(
        "create or replace temp table bench_activity as " + table("user_activity"),
        {"bucket_days": 1},
    )


def _reset_peak_rss() -> None:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); elsewhere it keeps growing."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MiB; ru_maxrss where /proc is missing."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    import resource

    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, nargs="+", default=[1_000_000, 10_000_000], help="table sizes"
    )
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--repeats", type=int, default=3, help="runs per step; best is shown")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())

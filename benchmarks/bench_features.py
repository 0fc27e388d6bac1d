"""Benchmark: ingest rows/s, feature build seconds and peak RSS for 1M and 10M events.

The feature build is the project's own path (sql/user_activity.sql, user_profile.sql and
user_rfm.sql in DuckDB, then the dense [users, lookback, channels] tensor scattered from Arrow,
as scoring needs it), next to an idiomatic pandas implementation of the same features run in
the same script. Each measured step runs in a fresh subprocess so its peak RSS is its own.

    .venv/bin/python benchmarks/bench_features.py --events 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

EVENTS_PER_USER_DAY = 1.35  # what the synthetic shop produces on average
DAYS = 100
LOOKBACK = 60


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_generate(folder: str, events: int) -> dict:
    from bat_pipeline.synthetic import generate

    users = max(100, int(events / (EVENTS_PER_USER_DAY * DAYS)))
    started = time.perf_counter()
    summary = generate(
        Path(folder), users=users, days=DAYS, seed=11, start=date(2026, 1, 1), fmt="parquet"
    )
    return {
        "events": summary.events,
        "users": summary.users,
        "seconds": time.perf_counter() - started,
    }


def step_ingest(folder: str, db: str) -> dict:
    from bat_pipeline.config import DataConfig
    from bat_pipeline.features import replace_table
    from bat_pipeline.ingest import ingest_file
    from bat_pipeline.warehouse import writer

    files = sorted(Path(folder).glob("events_*"))
    rows = 0
    started = time.perf_counter()
    with writer(Path(db)) as con:
        for path in files:
            rows += ingest_file(con, path, DataConfig()).rows_read
        replace_table(con, "events")
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def step_features_duckdb(db: str) -> dict:
    import pandas as pd

    from bat_pipeline.features import build_feature_tables, summarize_events
    from bat_pipeline.samples import raw_sequences, register_index
    from bat_pipeline.sqlfiles import sql
    from bat_pipeline.warehouse import writer

    with writer(Path(db)) as con:
        summary = summarize_events(con)
        as_of = summary.default_as_of
        started = time.perf_counter()
        build_feature_tables(con, 1, as_of, LOOKBACK)
        users = con.execute(sql("users_seen_before"), {"as_of": as_of}).df()
        register_index(con, pd.DataFrame({"user_id": users["user_id"], "cutoff": as_of}))
        tensor = raw_sequences(con, len(users), summary.event_types, LOOKBACK, 1)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "tensor_shape": list(tensor.shape),
        "checksum": float(tensor.sum()),
        "peak_rss_mb": _peak_rss_mb(),
    }


def step_features_pandas(db: str) -> dict:
    """The same per-user daily features + dense tensor with idiomatic pandas (groupby/pivot)."""
    import duckdb
    import numpy as np
    import pandas as pd

    with duckdb.connect(db, read_only=True) as con:
        frame = con.sql(
            "select user_id, event_time, event_type, session_id, value, device, channel from events"
        ).df()
        types = [
            r[0]
            for r in con.sql("select event_type from vocabulary order by event_type").fetchall()
        ]
    started = time.perf_counter()
    frame["day"] = frame["event_time"].dt.floor("D")
    as_of = frame["day"].max() + pd.Timedelta(days=1)
    counts = frame.pivot_table(
        index=["user_id", "day"],
        columns="event_type",
        values="event_time",
        aggfunc="count",
        fill_value=0,
    )
    totals = frame.groupby(["user_id", "day"]).agg(
        events=("event_type", "size"), sessions=("session_id", "nunique"), value=("value", "sum")
    )
    daily = counts.reindex(columns=types, fill_value=0).join(totals)
    profile = (
        frame.sort_values("event_time")
        .groupby("user_id")
        .agg(
            first_seen=("event_time", "first"),
            device=("device", "first"),
            channel=("channel", "first"),
        )
    )
    recent = frame[frame["event_time"] >= as_of - pd.Timedelta(days=LOOKBACK)]
    rfm = recent.groupby("user_id").agg(
        last=("event_time", "max"), frequency=("day", "nunique"), monetary=("value", "sum")
    )
    rfm["recency_days"] = (as_of - rfm["last"]).dt.days
    users = profile.index.to_numpy()
    user_pos = pd.Series(np.arange(len(users)), index=users)
    window = daily[daily.index.get_level_values("day") >= as_of - pd.Timedelta(days=LOOKBACK)]
    tensor = np.zeros((len(users), LOOKBACK, daily.shape[1]), np.float32)
    rows = user_pos[window.index.get_level_values("user_id")].to_numpy()
    pos = LOOKBACK - (as_of - window.index.get_level_values("day")).days.to_numpy()
    tensor[rows, pos] = window.to_numpy(dtype=np.float32)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "tensor_shape": list(tensor.shape),
        "checksum": float(tensor.sum()),
        "peak_rss_mb": _peak_rss_mb(),
        "rfm_rows": len(rfm),
    }


STEPS = {
    "generate": step_generate,
    "ingest": step_ingest,
    "features_duckdb": step_features_duckdb,
    "features_pandas": step_features_pandas,
}


def _run(step: str, *args: object) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(events: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder, db = f"{tmp}/files", f"{tmp}/w.duckdb"
        gen = _run("generate", folder, events)
        ingest = _run("ingest", folder, db)
        duck = min((_run("features_duckdb", db) for _ in range(3)), key=lambda r: r["seconds"])
        pandas = _run("features_pandas", db)
    return {"generate": gen, "ingest": ingest, "features_duckdb": duck, "features_pandas": pandas}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        fn = STEPS[args.step]
        params = [int(a) if a.isdigit() else a for a in args.args]
        print(json.dumps(fn(*params)))
        return
    print(
        f"{'events':>10} {'users':>7} {'ingest rows/s':>14} {'ingest RSS MB':>13} {'features s (DuckDB)':>20} "
        f"{'RSS MB':>7} {'features s (pandas)':>20} {'RSS MB':>7} {'speed-up':>8}"
    )
    for n in args.events:
        r = bench(n)
        duck, pd_ = r["features_duckdb"], r["features_pandas"]
        assert duck["tensor_shape"] == pd_["tensor_shape"], (
            duck["tensor_shape"],
            pd_["tensor_shape"],
        )
        print(
            f"{r['generate']['events']:>10,} {r['generate']['users']:>7,} {r['ingest']['rows_per_s']:>14,.0f} "
            f"{r['ingest']['peak_rss_mb']:>13,.0f} {duck['seconds']:>20.2f} {duck['peak_rss_mb']:>7,.0f} "
            f"{pd_['seconds']:>20.2f} {pd_['peak_rss_mb']:>7,.0f} {pd_['seconds'] / duck['seconds']:>7.1f}x",
            flush=True,
        )
        if abs(duck["checksum"] - pd_["checksum"]) > 1e-3 * max(1.0, abs(pd_["checksum"])):
            print(
                f"  note: tensor checksums differ (duckdb {duck['checksum']:.1f}, pandas {pd_['checksum']:.1f})"
            )


if __name__ == "__main__":
    main()

"""Benchmark: ingest rows/s, feature build seconds and peak RSS for 1M and 10M events.

The feature build is the project's own path (sql/user_session_days.sql, user_activity.sql,
user_event_counts.sql, user_profile.sql and user_rfm.sql in DuckDB, then the dense
[users, lookback, channels] tensor scattered from Arrow, as scoring needs it), next to an
idiomatic pandas implementation of the same four tables and tensor, run in the same script.
The pandas step then compares its tables with the ones the DuckDB step left in the warehouse,
cell by cell, so that the two sides provably computed the same features.

Each measured step runs in a fresh subprocess so its peak RSS is its own, and each side runs in
its faster setting: the DuckDB step with the environment BAT's own processes start with
(bat_pipeline/process_env.py), the pandas step with numpy's default transparent huge pages,
which pandas' 6.7 GB working set benefits from. Both report the best of --repeats runs.

    .venv/bin/python benchmarks/bench_features.py --events 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import os
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
    from bat_pipeline.data.synthetic import generate

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
    from bat_pipeline.data.ingest import ingest_file
    from bat_pipeline.data.warehouse import replace_table, writer

    files = sorted(Path(folder).glob("events_*"))
    rows = 0
    started = time.perf_counter()
    with writer(Path(db)) as con:
        for path in files:
            rows += ingest_file(con, path, DataConfig()).rows_read
        # this benchmark times loading and features, not the quality suite: every generated
        # day is taken as checked (events holds checked partitions only)
        con.execute(
            "insert into quality_results select partition_key, true, [], now() from ingest_log"
        )
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

    from bat_pipeline.data.events import summarize_events
    from bat_pipeline.data.sqlfiles import query
    from bat_pipeline.data.warehouse import writer
    from bat_pipeline.features.samples import raw_sequences, register_index
    from bat_pipeline.features.tables import build_feature_tables

    with writer(Path(db)) as con:
        summary = summarize_events(con)
        as_of = summary.default_as_of
        started = time.perf_counter()
        build_feature_tables(con, 1, as_of, LOOKBACK)
        users = con.execute(query("users_seen_before"), {"as_of": as_of}).df()
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
    """The same four tables and dense tensor in idiomatic pandas (groupby, pivot_table, idxmin),
    then checked cell by cell against the tables the DuckDB step left in `db`."""
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
    # user_event_counts (wide) and user_activity, per user and day
    counts = frame.pivot_table(
        index=["user_id", "day"],
        columns="event_type",
        values="event_time",
        aggfunc="count",
        fill_value=0,
    ).reindex(columns=types, fill_value=0)
    activity = frame.groupby(["user_id", "day"]).agg(
        events=("event_type", "size"),
        sessions=("session_id", "nunique"),
        value=("value", "sum"),
        first_event_time=("event_time", "min"),
        last_event_time=("event_time", "max"),
    )
    activity["purchases"] = counts.get("purchase", 0)
    # user_profile: first and last seen, and the context of the first event
    by_user = frame.groupby("user_id")
    profile = by_user.agg(
        first_seen=("event_time", "min"),
        last_seen=("event_time", "max"),
        events=("event_time", "size"),
    ).join(
        frame.loc[by_user["event_time"].idxmin(), ["user_id", "device", "channel"]]
        .set_index("user_id")
        .rename(columns={"device": "first_device", "channel": "first_channel"})
    )
    # user_rfm at as_of over the last LOOKBACK days
    history = frame[frame["event_time"] < as_of]
    recent = history[history["event_time"] >= as_of - pd.Timedelta(days=LOOKBACK)]
    span = history.groupby("user_id")["day"].agg(["min", "max"])
    rfm = (
        pd.DataFrame(
            {
                "recency_days": (as_of - span["max"]).dt.days,
                "tenure_days": (as_of - span["min"]).dt.days,
            }
        )
        .join(
            recent.assign(purchase=recent["event_type"] == "purchase")
            .groupby("user_id")
            .agg(
                frequency_days=("day", "nunique"),
                sessions=("session_id", "nunique"),
                monetary=("value", "sum"),
                purchases=("purchase", "sum"),
            )
        )
        .fillna(0)
    )
    # the dense [users, LOOKBACK, types + events/sessions/value] tensor
    daily = counts.join(activity[["events", "sessions", "value"]])
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
        "mismatches": _mismatches(db, counts, activity, profile, rfm),
    }


def _mismatches(db: str, counts, activity, profile, rfm) -> dict[str, int]:
    """Rows or cells where the pandas tables differ from the DuckDB step's (0 = same features)."""
    import duckdb

    with duckdb.connect(db, read_only=True) as con:

        def table(name: str, keys: list[str]):
            return con.table(name).df().set_index(keys)

        sql_counts = table("user_event_counts", ["user_id", "bucket_start", "event_type"])["events"]
        return {
            "user_event_counts": _differences(counts, sql_counts.unstack(fill_value=0)),
            "user_activity": _differences(
                activity, table("user_activity", ["user_id", "bucket_start"])
            ),
            "user_profile": _differences(profile, table("user_profile", ["user_id"])),
            "user_rfm": _differences(rfm, table("user_rfm", ["user_id"])),
        }


def _differences(mine, theirs) -> int:
    """Cells that differ between two frames over the union of their keys (floats to 1e-6)."""
    import numpy as np
    import pandas as pd

    def normalized(frame):
        frame = frame.rename_axis(theirs.index.names).reset_index()
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = frame[col].astype("datetime64[us]")
        return frame.set_index(list(theirs.index.names))

    joined = pd.merge(
        normalized(mine),
        normalized(theirs),
        how="outer",
        left_index=True,
        right_index=True,
        suffixes=("_pd", "_sql"),
    )
    bad = 0
    for col in theirs.columns:
        x, y = joined[f"{col}_pd"], joined[f"{col}_sql"]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            same = np.isclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-6)
        else:
            same = (x == y) | (x.isna() & y.isna())
        bad += int((~np.asarray(same, dtype=bool)).sum())
    return bad


STEPS = {
    "generate": step_generate,
    "ingest": step_ingest,
    "features_duckdb": step_features_duckdb,
    "features_pandas": step_features_pandas,
}


def _run(step: str, *args: object, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _environments() -> tuple[dict[str, str], dict[str, str]]:
    """(DuckDB step: BAT's process environment, pandas step: without it)."""
    from bat_pipeline.process_env import PROCESS_ENV

    plain = {k: v for k, v in os.environ.items() if k not in PROCESS_ENV}
    return {**plain, **PROCESS_ENV}, plain


def bench(events: int, repeats: int) -> dict:
    bat_env, plain_env = _environments()
    with tempfile.TemporaryDirectory() as tmp:
        folder, db = f"{tmp}/files", f"{tmp}/w.duckdb"
        gen = _run("generate", folder, events)
        ingest = _run("ingest", folder, db, env=bat_env)
        duck = [_run("features_duckdb", db, env=bat_env) for _ in range(repeats)]
        pandas = [_run("features_pandas", db, env=plain_env) for _ in range(repeats)]
    return {
        "generate": gen,
        "ingest": ingest,
        "features_duckdb": min(duck, key=lambda r: r["seconds"]),
        "features_pandas": min(pandas, key=lambda r: r["seconds"]),
        "all_seconds": {
            "duckdb": [round(r["seconds"], 2) for r in duck],
            "pandas": [round(r["seconds"], 2) for r in pandas],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per side")
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
        r = bench(n, args.repeats)
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
        print(f"  every run, seconds: {r['all_seconds']}")
        differing = {name: n for name, n in pd_["mismatches"].items() if n}
        same_tensor = abs(duck["checksum"] - pd_["checksum"]) <= 1e-3 * max(
            1.0, abs(pd_["checksum"])
        )
        print(
            "  same features: "
            + ("yes" if not differing and same_tensor else "NO")
            + f" (differing cells per table: {pd_['mismatches']}; tensor checksums "
            f"{duck['checksum']:.1f} and {pd_['checksum']:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()

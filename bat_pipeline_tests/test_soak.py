"""Soak test: daily partitions keep arriving while scoring, drift reports, both sensors and a
retrain use the same store, each in its own process, as on a busy production host.

At the end every landing row is in `raw_events` or in `quarantine` (none lost, none twice),
and every command either succeeded or failed with one of the clear errors BAT gives when the
store is busy. The figures go to test-artifacts/soak.json (`make test-soak`, run by CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from bat_pipeline_tests.helpers import SMALL_MODEL_GATES

pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.timeout(1800)]

START = date(2026, 3, 1)
FIRST_DAYS, SOAK_DAYS = 42, 14
#: the soak phase stops delivering days by then (the test then fails)
SOAK_LIMIT_S = 600
CONFIG = {
    "data": {"volume_tolerance": 2.0},  # 200 customers make a noisy daily volume
    "task": {"lookback_days": 21, "horizon_days": 7, "cutoff_every_days": 7},
    "model": {"max_epochs": 2, "hidden_size": 16, "num_layers": 1, "batch_size": 256},
    "gates": SMALL_MODEL_GATES,
}
#: how a command may fail while others hold the store: the clear errors, first line
EXPECTED_FAILURES = ("is locked by another process",)
BAT = [sys.executable, "-m", "bat_pipeline.cli.main"]

#: a child that evaluates the landing and drift sensors, like the daemon, until told to stop
SENSOR_LOOP = r"""
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
import dagster as dg
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.sensors import drift_tick, landing_sensor
from bat_pipeline.lifecycle.drift_watch import WarehouseDriftWatch
stop, ticks, failures = Path(sys.argv[1]), [], []
landing_cursor = drift_cursor = None
resources = {"bat": BatHomeResource(), "warehouse": WarehouseResource()}
while not stop.exists():
    for name in ("landing", "drift"):
        try:
            if name == "landing":
                with dg.build_sensor_context(cursor=landing_cursor, resources=resources) as ctx:
                    result = landing_sensor(ctx)
                landing_cursor = result.cursor
            else:
                watch = WarehouseDriftWatch(WarehouseResource().path(), MlflowResource().store())
                _, result = drift_tick(drift_cursor, watch, BatHomeResource().config(), None,
                                       datetime.now(UTC))
                drift_cursor = result.cursor
            ticks.append({"sensor": name, "ok": True, "requests": len(result.run_requests or [])})
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            ticks.append({"sensor": name, "ok": False, "error": first})
    time.sleep(1)
print(json.dumps(ticks))
"""


def cli(home: Path, *argv: str) -> dict:
    started = time.monotonic()
    done = subprocess.run(
        [*BAT, *argv, "--home", str(home)], capture_output=True, text=True, timeout=SOAK_LIMIT_S
    )
    lines = (done.stderr.strip() or done.stdout.strip() or "(no output)").splitlines()
    seconds = time.monotonic() - started
    sys.stderr.write(f"soak: {argv[0]} exit {done.returncode} in {seconds:.0f} s\n")
    return {
        "command": argv[0],
        "code": done.returncode,
        "seconds": round(seconds, 1),
        "message": lines[0] if done.returncode else "",
        "traceback": "Traceback" in done.stdout + done.stderr,
    }


def loop_until(stop: Path, home: Path, *argv: str) -> list[dict]:
    """Run one command again and again, in this thread, until `stop` exists."""
    runs = []
    while not stop.exists():
        runs.append(cli(home, *argv))
    return runs


def test_soak_ingest_while_scoring_drift_sensors_and_a_retrain_share_the_store(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    home, source, landing = tmp_path / "home", tmp_path / "source", tmp_path / "home" / "landing"
    home.mkdir()
    (home / "bat.yaml").write_text(yaml.safe_dump(CONFIG))
    days = FIRST_DAYS + SOAK_DAYS
    made = cli(
        home, "generate", "--out", str(source), "--users", "200", "--days", str(days),
        "--start", START.isoformat(), "--seed", "11",
    )  # fmt: skip
    assert made["code"] == 0, made
    files = sorted(source.glob("events_*.csv"))
    assert len(files) == days
    landing.mkdir()
    for path in files[:FIRST_DAYS]:
        shutil.copy(path, landing / path.name)
    setup = [cli(home, "ingest", str(landing))]
    as_of = START + timedelta(days=FIRST_DAYS - 7)
    setup.append(cli(home, "run", "--as-of", as_of.isoformat()))
    assert [r["code"] for r in setup] == [0, 0], setup
    status = subprocess.run(
        [*BAT, "status", "--json", "--home", str(home)], capture_output=True, text=True
    )
    assert json.loads(status.stdout)["champion"], "the first training promoted no champion"

    stop = tmp_path / "stop"
    started = time.monotonic()
    sensors = subprocess.Popen(
        [sys.executable, "-c", SENSOR_LOOP, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BAT_HOME": str(home)},
    )

    def deliver_days() -> list[dict]:
        runs = []
        for path in files[FIRST_DAYS:]:
            shutil.copy(path, landing / path.name)
            runs.append(cli(home, "ingest", str(landing / path.name)))
            if time.monotonic() - started > SOAK_LIMIT_S:
                break
        stop.touch()
        return runs

    with ThreadPoolExecutor(4) as pool:
        ingests = pool.submit(deliver_days)
        retrain = pool.submit(cli, home, "run")
        scoring = pool.submit(loop_until, stop, home, "score", "--out", str(tmp_path / "s.csv"))
        drift = pool.submit(loop_until, stop, home, "drift")
        runs = [*ingests.result(), retrain.result(), *scoring.result(), *drift.result()]
    out, err = sensors.communicate(timeout=300)
    assert sensors.returncode == 0, err
    ticks = json.loads(out.strip().splitlines()[-1])
    soak_s = time.monotonic() - started

    # rows: every landing row loaded or quarantined, per day, none lost and none twice
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        stored = dict(
            con.execute(
                "select partition_key, sum(n) from ("
                " select partition_key, count(*) n from raw_events group by all"
                " union all select partition_key, count(*) from quarantine group by all"
                ") group by all"
            ).fetchall()
        )
    delivered = {p.stem.removeprefix("events_"): _rows(p) for p in landing.glob("events_*.csv")}
    lost = {day: n - stored.get(day, 0) for day, n in delivered.items() if stored.get(day) != n}

    failures = [r for r in runs if r["code"] != 0]
    unexpected = [
        r
        for r in failures
        if r["traceback"] or not any(e in r["message"] for e in EXPECTED_FAILURES)
    ]
    tick_errors = [t for t in ticks if not t["ok"]]
    unexpected_ticks = [
        t for t in tick_errors if not any(e in t["error"] for e in EXPECTED_FAILURES)
    ]
    figures = {
        "partitions": len(delivered),
        "partitions_during_soak": sum(r["command"] == "ingest" for r in runs),
        "rows": sum(delivered.values()),
        "rows_lost": sum(lost.values()),
        "runs": {
            c: sum(r["command"] == c for r in runs) for c in ("ingest", "run", "score", "drift")
        },
        "failed_runs": len(failures),
        "failures": sorted({r["message"] for r in failures}),
        "sensor_ticks": len(ticks),
        "sensor_tick_errors": len(tick_errors),
        "retrain": next(r for r in runs if r["command"] == "run"),
        "soak_seconds": round(soak_s, 1),
    }
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "soak.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert soak_s < SOAK_LIMIT_S, figures
    assert figures["partitions"] == FIRST_DAYS + SOAK_DAYS, figures
    assert not lost, lost
    assert not unexpected, unexpected
    assert not unexpected_ticks, unexpected_ticks
    assert figures["retrain"]["code"] == 0, figures["retrain"]
    assert min(figures["runs"]["score"], figures["runs"]["drift"], len(ticks)) >= 2, figures


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip()) - 1

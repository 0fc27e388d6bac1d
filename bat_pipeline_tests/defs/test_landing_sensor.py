"""The landing sensor under load and faults, on real landing files, a real DuckDB warehouse
(filled by the real ingest) and a real Dagster instance: a tick stays bounded, successive ticks
request every file once, a reset cursor requests nothing already loaded and says so, and a
folder that cannot be read fails the tick without moving the cursor."""

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from bat_pipeline.config import DataConfig
from bat_pipeline.data.ingest import ingest_file
from bat_pipeline.data.synthetic import generate
from bat_pipeline.data.warehouse import writer
from bat_pipeline.defs import sensors
from bat_pipeline.defs.resources import BatHomeResource, WarehouseResource
from bat_pipeline.defs.sensors import MAX_FILES_PER_TICK, landing_sensor
from bat_pipeline.home import BatHome

START = date(2025, 6, 1)
DAYS = 2 * MAX_FILES_PER_TICK + 20  # three ticks' worth: full, full, the rest
LOADED = 60  # the first days, already ingested in the "loaded" home
ALL_KEYS = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """DAYS daily files of a small shop (generated once per module)."""
    files = tmp_path_factory.mktemp("shop")
    generate(files, users=80, days=DAYS, seed=2, start=START)
    return files


@pytest.fixture(scope="module")
def loaded_warehouse(shop, tmp_path_factory) -> Path:
    """A warehouse into which the real ingest loaded the first LOADED days."""
    db = tmp_path_factory.mktemp("loaded") / "warehouse.duckdb"
    with writer(db) as con:
        for key in ALL_KEYS[:LOADED]:
            ingest_file(con, shop / f"events_{key}.csv", DataConfig())
    return db


def deliver(shop: Path, home: BatHome, keys: list[str]) -> None:
    for key in keys:
        shutil.copy2(shop / f"events_{key}.csv", home.landing / f"events_{key}.csv")


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def evaluate(instance, bat_home):
    def tick(cursor: str | None) -> dg.SensorResult:
        """One tick of the landing sensor as the daemon runs it: cursor in, result out."""
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"bat": BatHomeResource(), "warehouse": WarehouseResource()},
        )
        return landing_sensor(context)

    return tick


def run_ticks(evaluate, cursor: str | None = None, limit: int = 10) -> list[dg.SensorResult]:
    """Successive ticks, each fed the cursor of the one before, up to the first that requests
    nothing."""
    results = []
    for _ in range(limit):
        result = evaluate(cursor)
        results.append(result)
        cursor = result.cursor
        if not result.run_requests:
            return results
    raise AssertionError(f"still requesting after {limit} ticks")


def skip_message(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def test_many_new_files_are_requested_over_successive_bounded_ticks_each_once(
    bat_home, shop, evaluate
):
    # a sensor re-enabled after a long pause finds many files at once: no flood
    deliver(shop, bat_home, ALL_KEYS)
    ticks = run_ticks(evaluate)
    sizes = [len(t.run_requests) for t in ticks]
    assert sizes == [MAX_FILES_PER_TICK, MAX_FILES_PER_TICK, DAYS - 2 * MAX_FILES_PER_TICK, 0]
    requested = [r.partition_key for t in ticks for r in t.run_requests]
    assert requested == ALL_KEYS  # none skipped, none repeated, oldest first
    assert all(r.run_key.startswith(f"raw_events:{r.partition_key}:") for t in ticks
               for r in t.run_requests)  # fmt: skip
    assert skip_message(ticks[-1]) == "no new landing files"
    # the run keys are a function of the files alone: a tick that lost its cursor asks for
    # the same runs again, which Dagster's run-key check launches only once
    again = evaluate(None)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in ticks[0].run_requests]


def test_files_delivered_during_a_pause_are_bounded_and_only_the_new_ones(
    bat_home, shop, evaluate, capfd
):
    deliver(shop, bat_home, ALL_KEYS[:10])
    before_pause = evaluate(None)
    assert [r.partition_key for r in before_pause.run_requests] == ALL_KEYS[:10]
    deliver(shop, bat_home, ALL_KEYS[10:])  # the sensor was off; the deliveries went on
    ticks = run_ticks(evaluate, before_pause.cursor)
    assert [len(t.run_requests) for t in ticks] == [MAX_FILES_PER_TICK, MAX_FILES_PER_TICK,
                                                     DAYS - 10 - 2 * MAX_FILES_PER_TICK, 0]  # fmt: skip
    assert [r.partition_key for t in ticks for r in t.run_requests] == ALL_KEYS[10:]
    assert "per-tick bound reached" in capfd.readouterr().err  # the first tick says it stopped


def test_a_reset_cursor_requests_nothing_already_loaded_and_reports_it(
    bat_home, shop, loaded_warehouse, evaluate, capfd
):
    shutil.copyfile(loaded_warehouse, bat_home.warehouse)
    deliver(shop, bat_home, ALL_KEYS[:LOADED])
    reset = evaluate(None)  # no cursor: every file looks new until hashed
    assert reset.run_requests == []
    message = skip_message(reset)
    assert f"{LOADED} file(s) already loaded with the same content skipped" in message
    assert f"({ALL_KEYS[0]} .. {ALL_KEYS[LOADED - 1]})" in message
    assert sorted(json.loads(reset.cursor)) == ALL_KEYS[:LOADED]  # not hashed again next tick
    assert skip_message(evaluate(reset.cursor)) == "no new landing files"

    # with new files next to the loaded ones, the tick requests the new ones and logs the rest
    deliver(shop, bat_home, ALL_KEYS[LOADED : LOADED + 3])
    capfd.readouterr()
    mixed = evaluate(None)
    assert [r.partition_key for r in mixed.run_requests] == ALL_KEYS[LOADED : LOADED + 3]
    assert f"landing: {LOADED} file(s) already loaded" in capfd.readouterr().err


def test_a_reset_cursor_hashes_a_bounded_amount_per_tick(
    bat_home, shop, loaded_warehouse, evaluate, monkeypatch
):
    shutil.copyfile(loaded_warehouse, bat_home.warehouse)
    deliver(shop, bat_home, ALL_KEYS[:LOADED])
    per_file = (bat_home.landing / f"events_{ALL_KEYS[0]}.csv").stat().st_size
    monkeypatch.setattr(sensors, "MAX_BYTES_HASHED_PER_TICK", 20 * per_file)
    cursor, skipped = None, []
    for _ in range(LOADED):
        result = evaluate(cursor)
        assert result.run_requests == []
        cursor = result.cursor
        if skip_message(result) == "no new landing files":
            break
        assert "already loaded with the same content" in skip_message(result)
        skipped.append(len(json.loads(cursor)))
    # a few ticks of about 20 files each, together every file once
    assert 3 <= len(skipped) <= 6, skipped
    assert skipped[-1] == LOADED and skipped == sorted(skipped)
    assert sorted(json.loads(cursor)) == ALL_KEYS[:LOADED]


CHILD = """
import json, sys
import dagster as dg
from bat_pipeline.defs.resources import BatHomeResource, WarehouseResource
from bat_pipeline.defs.sensors import landing_sensor

cursor = sys.argv[1] or None
with dg.instance_for_test() as instance:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"bat": BatHomeResource(), "warehouse": WarehouseResource()},
    )
    try:
        result = landing_sensor(context)
    except Exception as exc:
        out = {"error": type(exc).__name__, "message": str(exc), "cursor": context.cursor}
    else:
        out = {"run_keys": [r.run_key for r in result.run_requests], "cursor": result.cursor}
print(json.dumps(out))
"""


def evaluate_unprivileged(home: BatHome, cursor: str) -> dict:
    """One tick in a process that file permissions bind: as root, one without the capabilities
    that bypass them (the daemon of a real deployment does not run as root)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot bind")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    env = {**os.environ, "BAT_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    done = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, cursor],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("unreadable", ["folder", "file"])
def test_an_unreadable_landing_fails_the_tick_keeps_the_cursor_and_the_next_tick_recovers(
    bat_home, shop, evaluate, unreadable
):
    deliver(shop, bat_home, ALL_KEYS[:5])
    first = evaluate(None)
    assert len(first.run_requests) == 5
    deliver(shop, bat_home, ALL_KEYS[5:12])
    # the folder cannot be listed, or a file in the middle cannot be hashed after the files
    # before it were: either way the tick raises mid-evaluation
    target = bat_home.landing if unreadable == "folder" else bat_home.landing / (
        f"events_{ALL_KEYS[8]}.csv"
    )  # fmt: skip
    mode = target.stat().st_mode
    target.chmod(0)
    try:
        failed = evaluate_unprivileged(bat_home, first.cursor)
    finally:
        target.chmod(mode)
    assert failed["error"] == "LandingReadError", failed
    assert f"cannot read {target}" in failed["message"]
    assert "Nothing was requested and the cursor is unchanged" in failed["message"]
    assert failed["cursor"] == first.cursor and "run_keys" not in failed
    # readable again: the next tick, from the unchanged cursor, requests exactly the new files
    recovered = evaluate(first.cursor)
    assert [r.partition_key for r in recovered.run_requests] == ALL_KEYS[5:12]

"""The drift sensor's view of a busy warehouse: a tick while another process holds the DuckDB
file's write lock gives up after a few short retries and skips, so the tick stays far inside
the sensor's time limit; the next tick, once the lock is gone, reads the store again."""

import subprocess
import sys
import time
from datetime import UTC, datetime

from bat_pipeline.config import DriftConfig
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.lifecycle.drift_watch import WarehouseDriftWatch, check_drift
from bat_pipeline.lifecycle.registry import CHAMPION

#: a child that holds the warehouse open read-write until its stdin closes
HOLD_LOCK = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


def with_a_champion(store) -> None:
    """A registered version under the champion alias (the watch only reads the alias here)."""
    client = store.client()
    run = client.create_run(store.experiment_id())
    client.set_terminated(run.info.run_id)
    client.create_registered_model(store.registered_model)
    version = client.create_model_version(
        store.registered_model, f"runs:/{run.info.run_id}/weights", run.info.run_id
    )
    client.set_registered_model_alias(store.registered_model, CHAMPION, version.version)


def test_a_drift_tick_on_a_locked_warehouse_skips_as_busy_and_the_next_one_reads(
    tmp_path, tracking_store
):
    db = tmp_path / "warehouse.duckdb"
    with writer(db) as con:
        replace_table(con, "events")
    with_a_champion(tracking_store)
    watch, cfg = WarehouseDriftWatch(db, tracking_store), DriftConfig()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        decision, state = check_drift({}, watch, cfg, datetime.now(UTC))
        busy_s = time.monotonic() - started
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert not decision.request
    assert decision.reason.startswith("warehouse busy, retrying next tick"), decision.reason
    assert f"PID {holder.pid}" in decision.reason  # who holds it, in DuckDB's own words
    assert busy_s < 30, busy_s  # a few short retries, far inside the 60 s sensor limit

    decision, _ = check_drift(state, watch, cfg, datetime.now(UTC))
    assert decision.reason == "no events yet", decision.reason

"""One DuckDB writer at a time, by orchestration: runs launched at once in separate processes,
on one Dagster instance with the project's dagster.yaml, take turns in the `duckdb_writer`
pool instead of meeting on DuckDB's file lock."""

import itertools
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from bat_pipeline.cli.dagster_home import prepare_dagster_home
from bat_pipeline.home import BatHome

pytestmark = pytest.mark.slow

DAYS = ("2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04")

#: one ingest run of one day, as a run worker would execute it
INGEST_ONE_DAY = r"""
import sys
from pathlib import Path
from bat_pipeline.cli.dagster_runs import run_job
from bat_pipeline.home import BatHome
result = run_job(BatHome(Path(sys.argv[1])), "ingest_job", partition_range=(sys.argv[2],) * 2)
print(result.run_id if result.success else "failed")
"""


def write_day(landing: Path, day: str) -> None:
    rows = [f"u{i},{day}T{8 + i % 10:02d}:00:00,view,s{i}," for i in range(200)]
    (landing / f"events_{day}.csv").write_text(
        "user_id,event_time,event_type,session_id,value\n" + "\n".join(rows) + "\n"
    )


def step_window(instance: dg.DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    """When `step` of a run started and when it ended (success or failure)."""
    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    times = {
        e.dagster_event.event_type: e.timestamp
        for e in instance.all_logs(run_id, of_type=kinds)
        if e.dagster_event.step_key == step
    }
    end = times.get(dg.DagsterEventType.STEP_SUCCESS, times.get(dg.DagsterEventType.STEP_FAILURE))
    return times[dg.DagsterEventType.STEP_START], end


def test_concurrent_runs_write_the_warehouse_one_at_a_time(tmp_path, monkeypatch):
    home = BatHome(tmp_path / "bat").ensure()
    for day in DAYS:
        write_day(home.landing, day)
    prepare_dagster_home(home)
    monkeypatch.setenv("BAT_HOME", str(home.root))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST_ONE_DAY, str(home.root), day],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in DAYS
    ]
    outputs = [child.communicate(timeout=600) for child in children]
    assert [c.returncode for c in children] == [0] * len(DAYS), [e[-3000:] for _, e in outputs]
    run_ids = [out.strip().splitlines()[-1] for out, _ in outputs]
    assert "failed" not in run_ids, [err[-2000:] for _, err in outputs]

    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        windows = sorted(step_window(instance, run_id, "raw_events") for run_id in run_ids)
        assert all(end is not None for _, end in windows), windows
        # each writer step starts only after the previous one ended: the pool queued them
        for (_, previous_end), (start, _) in itertools.pairwise(windows):
            assert start >= previous_end, windows
        pool = instance.event_log_storage.get_concurrency_info("duckdb_writer")
        assert pool.slot_count == 1
        assert pool.claimed_slots == [] and pool.pending_steps == []  # every slot given back

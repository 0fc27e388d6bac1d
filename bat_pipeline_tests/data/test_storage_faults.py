"""Storage faults met from outside: a write-ahead log DuckDB cannot replay, a torn log tail
(the writer is a real process killed before it closes), and a full disk (a real small tmpfs in
a private mount namespace, the commands run as console scripts there).

Each test checks what an operator sees (exit code, one clear line, no traceback), that nothing
committed is lost, and that the documented recovery brings the lost days back from the landing
files, which are the source of truth.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bat_pipeline.cli.main import main

DAYS = ("2026-02-01", "2026-02-02", "2026-02-03")

#: a child that loads one landing file through BAT's own loader and dies without closing, so
#: the load is committed to the write-ahead log only (no checkpoint into the file)
LOAD_INTO_WAL_ONLY = r"""
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from bat_pipeline.config import DataConfig
from bat_pipeline.data.loads import load_files
from bat_pipeline.data.warehouse import writer
with writer(Path(sys.argv[1])) as con:
    con.execute("set checkpoint_threshold = '1TB'")
    load_files(con, [Path(sys.argv[2])], DataConfig(), datetime.now(UTC))
    os._exit(0)
"""


@pytest.fixture
def cli(capsys):
    """Runs `bat-pipeline ARGS --home HOME`; (exit code, stdout + stderr)."""

    def run(home: Path, *argv: str) -> tuple[int, str]:
        code = main([*argv, "--home", str(home)])
        out, err = capsys.readouterr()
        return code, out + err

    return run


def assert_one_clear_line(done: tuple[int, str], *phrases: str) -> str:
    code, output = done
    assert code == 1, output
    assert "Traceback" not in output and 'File "' not in output, output
    for phrase in phrases:
        assert phrase in output, output
    return output


def landing_day(folder: Path, day: str, users: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events_{day}.csv"
    rows = [f"u{i},{day}T{10 + i % 8:02d}:00:00,view,s{i}," for i in range(users)]
    path.write_text("user_id,event_time,event_type,session_id,value\n" + "\n".join(rows) + "\n")
    return path


def rows_per_day(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select partition_key, count(*) from raw_events group by all").fetchall()
    return dict(rows)


@pytest.fixture
def home_with_wal(tmp_path: Path) -> tuple[Path, Path]:
    """BAT_HOME with two days checkpointed into the file and a third only in the log."""
    home, landing = tmp_path / "home", tmp_path / "home" / "landing"
    for day in DAYS[:2]:
        landing_day(landing, day)
    # in a process of its own, so that no DuckDB instance of this process caches the file
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bat_pipeline.cli.main",
            "ingest",
            str(landing),
            "--home",
            str(home),
        ],
        check=True,
        capture_output=True,
    )
    third = landing_day(landing, DAYS[2])
    db = home / "warehouse.duckdb"
    subprocess.run([sys.executable, "-c", LOAD_INTO_WAL_ONLY, str(db), str(third)], check=True)
    wal = db.with_name(db.name + ".wal")
    assert wal.stat().st_size > 0, "the child left no write-ahead log"
    return home, wal


def test_a_corrupt_wal_fails_clear_keeps_the_log_and_the_runbook_recovers(home_with_wal, cli):
    home, wal = home_with_wal
    with wal.open("r+b") as handle:  # flip bytes inside the log: its checksums no longer match
        handle.seek(64)  # inside the first entry after the header: no torn-tail doubt
        handle.write(b"\xff" * 64)
    damaged = wal.read_bytes()

    for command in (["status"], ["ingest", str(home / "landing")]):
        output = assert_one_clear_line(
            cli(home, *command), "cannot replay the write-ahead log", str(wal), "mv "
        )
        assert wal.read_bytes() == damaged, f"{command} changed the log: {output}"

    # the runbook: move the log aside (kept), re-ingest the landing files
    aside = wal.with_name(wal.name + ".corrupt")
    wal.rename(aside)
    assert cli(home, "ingest", str(home / "landing"))[0] == 0
    assert rows_per_day(home / "warehouse.duckdb") == {day: 30 for day in DAYS}
    assert aside.read_bytes() == damaged


def test_a_torn_wal_tail_loses_only_that_commit_and_re_ingest_brings_it_back(home_with_wal, cli):
    home, wal = home_with_wal
    with wal.open("r+b") as handle:  # a crash in the middle of writing the last commit
        handle.truncate(wal.stat().st_size // 2)
    db = home / "warehouse.duckdb"
    assert cli(home, "status")[0] == 0
    assert rows_per_day(db) == {day: 30 for day in DAYS[:2]}  # the torn commit is gone whole
    code, output = cli(home, "ingest", str(home / "landing"), "--json")
    assert code == 0, output
    report = json.loads(output.splitlines()[0])  # stdout; progress lines follow (stderr)
    assert (report["days_loaded"], report["days_unchanged"]) == (1, 2)
    assert rows_per_day(db) == {day: 30 for day in DAYS}


#: runs inside a private mount namespace with a small tmpfs at argv[1]; prints what it saw.
#: After a first ingest, a ballast file leaves room for the pre-flight estimate of the big
#: compressed day (twice its size) but not for what it becomes once loaded.
DISK_FULL_SCENARIO = r"""
import json, shutil, subprocess, sys
from pathlib import Path
import duckdb
root, no_margin, big = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
home = root / "home"
def cli(*argv):
    done = subprocess.run([sys.executable, "-m", "bat_pipeline.cli.main", *argv,
                           "--home", str(home)], capture_output=True, text=True)
    return {"code": done.returncode, "out": done.stdout + done.stderr}
steps = {"first": cli("ingest", str(root / "landing"), "--config", no_margin)}
room = 2 * big.stat().st_size + 2**20
with open(root / "ballast", "wb") as ballast:
    ballast.write(b"\0" * (shutil.disk_usage(root).free - room))
steps["full"] = cli("ingest", str(big), "--config", no_margin)
steps["preflight"] = cli("ingest", str(big))
with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
    steps["days"] = dict(con.execute(
        "select partition_key, count(*) from raw_events group by all").fetchall())
    steps["logged"] = sorted(r[0] for r in con.execute(
        "select partition_key from ingest_log").fetchall())
    steps["quarantined"] = con.execute("select count(*) from quarantine").fetchall()[0][0]
print(json.dumps(steps))
"""


def test_a_full_disk_fails_clear_and_leaves_the_warehouse_whole(tmp_path):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode:
        pytest.skip("this machine allows no private mount namespace for a small tmpfs")
    files = tmp_path / "files"
    for day in DAYS[:2]:
        landing_day(files / "landing", day)
    big = files / "events_2026-02-03.csv.gz"  # ~0.8 MB compressed, ~4 MB once loaded
    with gzip.open(big, "wt") as handle:
        handle.write("user_id,event_time,event_type,session_id,value\n")
        for i in range(200_000):
            handle.write(f"u{i:08d},2026-02-03T{i % 24:02d}:{i % 60:02d}:00,view,s{i // 3},\n")
    no_margin = files / "no_margin.yaml"
    no_margin.write_text("data:\n  min_free_disk_mb: 0\n")
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f"mount -t tmpfs -o size=16m tmpfs {small} && cp -r {files / 'landing'} {small}/ && "
        f'exec {sys.executable} -c "$0" {small} {no_margin} {big}'
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, DISK_FULL_SCENARIO],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    assert steps["first"]["code"] == 0, steps["first"]
    for step, phrase in (("full", "no space left"), ("preflight", "MiB free")):
        out = steps[step]["out"]
        assert steps[step]["code"] == 1, out
        assert phrase in out and "Traceback" not in out and 'File "' not in out, out
    # the two first days are whole; the day that did not fit left nothing behind
    assert steps["days"] == {day: 30 for day in DAYS[:2]}
    assert steps["logged"] == list(DAYS[:2])
    assert steps["quarantined"] == 0

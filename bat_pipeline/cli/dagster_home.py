"""The Dagster instance's home under BAT_HOME: `BAT_HOME/dagster` with the project's
dagster.yaml, so runs, schedules, sensors and asset outputs all live with BAT's other state."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bat_pipeline.defs.groups import DUCKDB_WRITER, PROMOTION
from bat_pipeline.home import PROJECT_ROOT, BatHome

if TYPE_CHECKING:
    from dagster import DagsterInstance

PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"


def temporary_roots() -> list[Path]:
    """The folders whose content the system may delete (at reboot, or by age): the temporary
    folder of this process ($TMPDIR, else /tmp), /tmp, /var/tmp and /dev/shm."""
    candidates = (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm")
    roots = {Path(c).resolve() for c in candidates}
    return sorted(root for root in roots if root != Path(root.anchor))


def temporary_root(path: Path) -> Path | None:
    """The temporary folder that `path` lies in (links resolved), or None."""
    resolved = Path(path).resolve()
    return next((root for root in temporary_roots() if resolved.is_relative_to(root)), None)


def prepare_dagster_home(home: BatHome) -> Path:
    """DAGSTER_HOME = BAT_HOME/dagster, holding the project's dagster.yaml."""
    home.ensure()
    target = home.dagster_home / "dagster.yaml"
    if PROJECT_DAGSTER_YAML.is_file() and (
        not target.is_file() or target.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(PROJECT_DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    os.environ["BAT_HOME"] = str(home.root)
    return home.dagster_home


def bat_instance(home: BatHome) -> DagsterInstance:
    """The Dagster instance of BAT_HOME (DAGSTER_HOME = BAT_HOME/dagster), opened and its
    pools given their slots under a file lock. On a fresh home, processes starting together
    would each create the SQLite tables, and Dagster creates a pool's slots when a step first
    claims one: each would create them, and the pool would hold more slots than its limit."""
    import dagster as dg

    prepare_dagster_home(home)
    home.locks.mkdir(parents=True, exist_ok=True)
    with (home.locks / "dagster-instance.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.get()
            storage = instance.event_log_storage
            if storage.supports_global_concurrency_limits:
                for pool in (DUCKDB_WRITER, PROMOTION):
                    if storage.get_concurrency_info(pool).slot_count == 0:
                        storage.initialize_concurrency_limit_to_default(pool)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return instance

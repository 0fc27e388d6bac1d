"""The Dagster instance's home under BAT_HOME: `BAT_HOME/dagster` with the project's
dagster.yaml, so runs, schedules, sensors and asset outputs all live with BAT's other state."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bat_pipeline.home import PROJECT_ROOT, BatHome

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

"""The Dagster instance's home under BAT_HOME: `BAT_HOME/dagster` with the project's
dagster.yaml, so runs, schedules, sensors and asset outputs all live with BAT's other state."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bat_pipeline.home import PROJECT_ROOT, BatHome

PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"


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

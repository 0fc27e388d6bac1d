"""Where BAT keeps its state: the folders and files under `BAT_HOME` (default `./.bat`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: the project folder next to the package: `sql/`, `dagster.yaml` and `workspace.yaml`
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BatHome:
    """The state folder: DuckDB file, MLflow store, Dagster home, quarantine and reports."""

    root: Path

    @classmethod
    def from_env(cls, override: str | Path | None = None) -> BatHome:
        raw = override or os.environ.get("BAT_HOME") or ".bat"
        return cls(Path(raw).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def logs(self) -> Path:
        """Logs of the UI servers and the full traces of failed commands."""
        return self.root / "logs"

    def ensure(self) -> BatHome:
        for folder in (
            self.root,
            self.landing,
            self.mlflow_dir,
            self.mlflow_artifacts,
            self.dagster_home,
            self.reports,
            self.checkpoints,
            self.locks,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        return self

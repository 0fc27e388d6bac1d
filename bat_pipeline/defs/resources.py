"""The external systems as Dagster resources: BAT_HOME + config, DuckDB, MLflow, GX docs.

Each is a thin `ConfigurableResource` over the plain modules (`warehouse`, `tracking`,
`quality`), so assets never open connections or clients themselves, and tests can point
every resource at `tmp_path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from bat_pipeline.config import BatConfig, load_config
from bat_pipeline.data.warehouse import (
    WarehouseDiskFullError,
    WarehouseLockedError,
    WarehouseWalError,
    reader,
    writer,
)
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.tracking import TrackingStore


class BatHomeResource(dg.ConfigurableResource):
    """Where state lives and which YAML config applies."""

    root: str | None = Field(
        default=None, description="State folder; null = $BAT_HOME, else ./.bat."
    )
    config_file: str | None = Field(
        default=None, description="YAML config; null = BAT_HOME/bat.yaml if present, else defaults."
    )

    def home(self) -> BatHome:
        return BatHome.from_env(self.root).ensure()

    def config(self) -> BatConfig:
        return load_config(self.config_file, self.home().root)


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file: one writer at a time (pool `duckdb_writer`), readers read-only."""

    database: str = Field(default="", description="DuckDB file; empty = BAT_HOME/warehouse.duckdb.")

    def path(self) -> Path:
        return Path(self.database) if self.database else BatHome.from_env().ensure().warehouse

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _as_failure(), writer(self.path()) as con:
            yield con

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _as_failure(), reader(self.path()) as con:
            yield con

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.writer() as con:
            yield con


@contextmanager
def _as_failure() -> Iterator[None]:
    """A warehouse fault (locked, log unreplayable, disk full) fails the step with its
    message, which says what to do, instead of a traceback."""
    try:
        yield
    except (WarehouseLockedError, WarehouseWalError, WarehouseDiskFullError) as exc:
        raise dg.Failure(description=str(exc)) from None


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking store and model registry (default: SQLite + files under BAT_HOME)."""

    tracking_uri: str | None = Field(
        default=None, description="Tracking URI; null = sqlite:///BAT_HOME/mlflow/mlflow.db."
    )
    artifact_root: str | None = Field(
        default=None,
        description="Artifact folder for new experiments; null = BAT_HOME/mlflow/artifacts.",
    )
    experiment: str = Field(default="bat_pipeline", description="MLflow experiment name.")
    registered_model: str = Field(
        default="bat_behaviour_lstm", description="Registered model that holds every version."
    )
    ui_url: str | None = Field(
        default=None, description="Base URL of the MLflow UI for links; null = $BAT_MLFLOW_UI_URL."
    )

    def store(self) -> TrackingStore:
        return TrackingStore.for_home(
            BatHome.from_env(),
            self.tracking_uri,
            self.artifact_root,
            experiment=self.experiment,
            registered_model=self.registered_model,
            ui_url=self.ui_url,
        )

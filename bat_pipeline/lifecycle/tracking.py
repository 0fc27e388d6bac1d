"""MLflow: where runs are tracked and model versions registered (no Dagster here).

`TrackingStore` names the store (tracking URI, artifact root, experiment, registered model);
every call that must not be lost goes through `retry`, which fails clearly after a few tries
instead of training untracked or half-registering a model.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bat_pipeline.errors import redacted
from bat_pipeline.home import BatHome

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_UI_URL = "http://127.0.0.1:5000"


class TrackingUnavailableError(RuntimeError):
    """The MLflow store did not answer after bounded retries."""


PERMANENT_ERRORS = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS")
"""MLflow error codes that another try cannot change: raised at once."""


def first_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as one line (MLflow and SQLAlchemy errors span several: SQL, parameters),
    with the password of any URL in it (the server's address often is) replaced by ***."""
    lines = str(exc).strip().splitlines()
    text = redacted(lines[0].strip()) if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry(
    fn: Callable[[], T],
    what: str,
    attempts: int = 4,
    wait_s: float = 0.5,
    where: str | None = None,
) -> T:
    """Call `fn`; on an MLflow/SQLite error that may pass (server down, database locked) try
    again after `wait_s`, doubled after every try, up to `attempts` tries in all, then raise
    `TrackingUnavailableError`: one line saying what was being done, where, and what to do.
    Each try that is followed by another is logged as a warning."""
    from mlflow.exceptions import MlflowException

    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (MlflowException, OSError) as exc:
            if isinstance(exc, MlflowException) and exc.error_code in PERMANENT_ERRORS:
                raise
            last = exc
            if attempt < attempts:
                delay = wait_s * 2 ** (attempt - 1)
                log.warning(
                    "MLflow call failed while trying to %s (try %d of %d, retrying in %.2f s): %s",
                    what,
                    attempt,
                    attempts,
                    delay,
                    first_line(exc),
                )
                time.sleep(delay)
    at = f" at {where}" if where else ""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    raise TrackingUnavailableError(
        f"MLflow{at} did not answer while trying to {what} ({tries}): "
        f"{first_line(last) if last else 'no error recorded'}. Start the tracking server, or "
        "stop the process that holds its SQLite database locked, then run again."
    )


@dataclass(frozen=True)
class TrackingStore:
    """An MLflow tracking store + model registry, and how to link to its UI."""

    tracking_uri: str
    artifact_root: str
    experiment: str = "bat_pipeline"
    registered_model: str = "bat_behaviour_lstm"
    ui_url: str | None = None
    locks_dir: Path | None = None
    #: tries of each MLflow call before `TrackingUnavailableError`, and the first wait between
    #: them in seconds (doubled after every try)
    retry_attempts: int = 4
    retry_wait_s: float = 0.5
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_home(
        cls,
        home: BatHome,
        tracking_uri: str | None = None,
        artifact_root: str | None = None,
        **names: str | None,
    ) -> TrackingStore:
        """The store of a BAT_HOME: SQLite and artifact folder under it unless given."""
        home.ensure()
        return cls(
            tracking_uri=tracking_uri or home.mlflow_uri,
            artifact_root=artifact_root or str(home.mlflow_artifacts),
            locks_dir=home.locks,
            **{k: v for k, v in names.items() if v is not None},
        )

    def retry(self, fn: Callable[[], T], what: str) -> T:
        """`retry` with this store's tries and waits, naming this store when it fails."""
        where = redacted(self.tracking_uri)
        return retry(fn, what, self.retry_attempts, self.retry_wait_s, where)

    def client(self):
        if "client" not in self._cache:
            from mlflow import MlflowClient

            _quiet_mlflow()
            # The registry URI is given too: left out, MLflow takes the process-wide one, which
            # another store may have set (tests, or two homes in one process).
            self._cache["client"] = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._cache["client"]

    def activate(self) -> str:
        """Point the fluent mlflow API at this store; returns the experiment id."""
        import mlflow

        _quiet_mlflow()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return self.experiment_id()

    def experiment_id(self) -> str:
        if "experiment_id" in self._cache:
            return self._cache["experiment_id"]
        client = self.client()

        def get_or_create() -> str:
            found = client.get_experiment_by_name(self.experiment)
            if found is not None:
                return found.experiment_id
            Path(self.artifact_root).mkdir(parents=True, exist_ok=True)
            return client.create_experiment(
                self.experiment,
                artifact_location=Path(self.artifact_root).resolve().as_uri(),
                tags={
                    "mlflow.note.content": "BAT customer-behaviour models: one run per training."
                },
            )

        self._cache["experiment_id"] = self.retry(get_or_create, "open the experiment")
        return self._cache["experiment_id"]

    @property
    def base_url(self) -> str:
        return (self.ui_url or os.environ.get("BAT_MLFLOW_UI_URL") or DEFAULT_UI_URL).rstrip("/")

    def run_url(self, run_id: str) -> str:
        return f"{self.base_url}/#/experiments/{self.experiment_id()}/runs/{run_id}"

    def model_url(self, version: str | int | None = None) -> str:
        base = f"{self.base_url}/#/models/{self.registered_model}"
        return f"{base}/versions/{version}" if version is not None else base


def _quiet_mlflow() -> None:
    # MLflow warns on every log_model about pip inference and on git; these are not news here.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # loading a model prints a tqdm bar per artifact download: noise in CLI output and run logs
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", module="mlflow")

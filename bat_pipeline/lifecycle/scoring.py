"""Scoring every user seen before as-of with the champion (loaded through its alias), into the
warehouse table `user_scores` and, for the CLI, a CSV or Parquet file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from bat_pipeline.data.events import summarize_events
from bat_pipeline.data.warehouse import replace_table, writer
from bat_pipeline.features.samples import scoring_inputs
from bat_pipeline.features.tables import check_tables_fit
from bat_pipeline.lifecycle.registry import CHAMPION
from bat_pipeline.lifecycle.serving import LoadedModel, load_serving_model
from bat_pipeline.lifecycle.tracking import TrackingStore


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring pass produced."""

    users: int
    dormant_users: int
    model_version: str
    as_of: str
    cutoff: str
    mean_score: float
    #: why a version other than the champion scored (its weights failed their check)
    fallback: str | None = None


def score_users(con: duckdb.DuckDBPyConnection, model: LoadedModel, as_of: date) -> pd.DataFrame:
    """user_id, score (P(target within the horizon)), model_version, as_of, dormant."""
    users, sequences, static, cutoff = scoring_inputs(con, model.spec, as_of)
    scores = model.predict(sequences, static) if len(users) else []
    return pd.DataFrame(
        {
            "user_id": users,
            "score": scores,
            "model_version": model.ref.version,
            "as_of": pd.Timestamp(cutoff),
            "dormant": sequences.reshape(len(users), -1).sum(axis=1) == 0 if len(users) else [],
        }
    )


def summarize(scores: pd.DataFrame, model: LoadedModel, as_of: date) -> ScoreSummary:
    return ScoreSummary(
        users=len(scores),
        dormant_users=int(scores["dormant"].sum()) if len(scores) else 0,
        model_version=model.ref.version,
        as_of=as_of.isoformat(),
        cutoff=str(scores["as_of"].iloc[0].date()) if len(scores) else as_of.isoformat(),
        mean_score=float(scores["score"].mean()) if len(scores) else float("nan"),
        fallback=model.fallback,
    )


def write_scores_file(scores: pd.DataFrame, out: Path) -> Path:
    """CSV or Parquet by extension, columns user_id, score, model_version (+ as_of, dormant)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    name = out.name.lower()
    if name.endswith(".parquet"):
        scores.to_parquet(out, index=False)
    elif name.endswith((".csv", ".csv.gz")):
        scores.to_csv(out, index=False)
    else:
        raise ValueError(f"--out {out}: use a .csv, .csv.gz or .parquet file name")
    return out


class NoChampionError(RuntimeError):
    """No model holds the champion alias yet: train and promote one first."""


def _score(con, store: TrackingStore, as_of: str | None) -> tuple[pd.DataFrame, ScoreSummary]:
    model = load_serving_model(store)
    if model is None:
        raise NoChampionError(
            f"no version of {store.registered_model} holds the alias '{CHAMPION}': "
            "run `bat-pipeline run` (or `demo`) until a model passes the gates"
        )
    check_tables_fit(
        con, model.spec.bucket_days, f"the serving model (version {model.ref.version})"
    )
    day = date.fromisoformat(as_of) if as_of else summarize_events(con).default_as_of
    scores = score_users(con, model, day)
    return scores, summarize(scores, model, day)


def _score_and_store(
    db_path: Path, store: TrackingStore, as_of: str | None
) -> tuple[pd.DataFrame, ScoreSummary]:
    with writer(db_path) as con:
        scores, summary = _score(con, store, as_of)
        con.register("scores_frame", scores)
        replace_table(con, "user_scores")
        con.unregister("scores_frame")
    return scores, summary


def score_to_table(db_path: Path, store: TrackingStore, as_of: str | None) -> ScoreSummary:
    """Score every user seen before as-of and replace the user_scores table."""
    return _score_and_store(db_path, store, as_of)[1]


def score_to_file(
    db_path: Path, store: TrackingStore, as_of: str | None, out: Path
) -> tuple[ScoreSummary, Path]:
    """Score every user seen before as-of into `out` (and the user_scores table)."""
    scores, summary = _score_and_store(db_path, store, as_of)
    path = write_scores_file(scores[["user_id", "score", "model_version", "as_of", "dormant"]], out)
    return summary, path

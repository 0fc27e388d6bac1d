"""Scoring with the champion into the warehouse (`user_scores`) and, for the CLI, a file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from bat_pipeline.scoring import ScoreSummary, score_users, summarize, write_scores_file
from bat_pipeline.tracking import TrackingStore


class NoChampionError(RuntimeError):
    """No model holds the champion alias yet: train and promote one first."""


def _score(con, store: TrackingStore, as_of: str | None) -> tuple[pd.DataFrame, ScoreSummary]:
    from bat_pipeline.features import summarize_events
    from bat_pipeline.registry import CHAMPION
    from bat_pipeline.serving import load_alias

    model = load_alias(store, CHAMPION)
    if model is None:
        raise NoChampionError(
            f"no version of {store.registered_model} holds the alias '{CHAMPION}': "
            "run `bat-pipeline run` (or `demo`) until a model passes the gates"
        )
    day = date.fromisoformat(as_of) if as_of else summarize_events(con).default_as_of
    scores = score_users(con, model, day)
    return scores, summarize(scores, model, day)


def _score_and_store(
    db_path: Path, store: TrackingStore, as_of: str | None
) -> tuple[pd.DataFrame, ScoreSummary]:
    from bat_pipeline.features import replace_table
    from bat_pipeline.warehouse import writer

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

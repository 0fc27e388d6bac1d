"""Scoring every user seen before as-of with the champion (loaded through its alias)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from bat_pipeline.samples import scoring_inputs
from bat_pipeline.serving import LoadedModel


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring pass produced."""

    users: int
    dormant_users: int
    model_version: str
    as_of: str
    cutoff: str
    mean_score: float


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

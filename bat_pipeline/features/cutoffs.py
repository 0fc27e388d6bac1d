"""When samples are cut: cutoff dates aligned to buckets, their time split, the lookback that
the data holds, and the sample budget (a seeded subset when there are more samples than it)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from bat_pipeline.config import AUTO_LOOKBACK_BUCKETS, TaskConfig
from bat_pipeline.ml.dataset import TEST, TRAIN, VAL

WEEK_ORIGIN = date(2000, 1, 3)  # a Monday: week buckets in sql/user_activity.sql start here


class SampleError(ValueError):
    """The data cannot yield a valid sample set for this task; says why and what to change."""


def floor_to_bucket(day: date, bucket_days: int) -> date:
    """The start of the bucket holding `day` (weeks start on Monday)."""
    if bucket_days == 1:
        return day
    offset = (day - WEEK_ORIGIN).days % bucket_days
    return day - timedelta(days=offset)


def choose_cutoffs(first_day: date, as_of: date, task: TaskConfig) -> list[date]:
    """Cutoffs t, every `cutoff_every_days` back from the last t with t + horizon <= as_of,
    aligned to bucket starts, from the first bucket after `first_day` on (a history shorter
    than the lookback is padded, so any history is enough)."""
    bucket = task.bucket_days
    if bucket > 1 and (task.horizon_days % bucket or task.cutoff_every_days % bucket):
        raise SampleError(
            f"with bucket=week, task.horizon_days ({task.horizon_days}) and "
            f"task.cutoff_every_days ({task.cutoff_every_days}) must be multiples of 7"
        )
    last = floor_to_bucket(as_of - timedelta(days=task.horizon_days), bucket)
    earliest = floor_to_bucket(first_day, bucket) + timedelta(days=bucket)
    cutoffs = []
    t = last
    while t >= earliest:
        cutoffs.append(t)
        t -= timedelta(days=task.cutoff_every_days)
    return sorted(cutoffs)


def split_of_cutoffs(cutoffs: list[date]) -> dict[date, int]:
    """Oldest 70 % of cutoffs -> TRAIN, next 15 % -> VAL, newest 15 % -> TEST (never random)."""
    n = len(cutoffs)
    if n < 3:
        raise SampleError(
            f"only {n} cutoff(s) fit between the first event and as-of - horizon; need at "
            "least 3 (train/val/test): ingest more days, or lower task.horizon_days or "
            "task.cutoff_every_days"
        )
    n_test = max(1, round(n * 0.15))
    n_val = max(1, round(n * 0.15))
    n_train = n - n_val - n_test
    ordered = sorted(cutoffs)
    return {
        t: TRAIN if i < n_train else VAL if i < n_train + n_val else TEST
        for i, t in enumerate(ordered)
    }


def resolve_lookback_days(task: TaskConfig, first_day: date, last_cutoff: date) -> int:
    """The sequence length in days: `task.lookback_days`, or for 'auto' the whole history from
    the first event's bucket to the last cutoff, up to AUTO_LOOKBACK_BUCKETS buckets."""
    if task.lookback_days != "auto":
        return int(task.lookback_days)
    bucket = task.bucket_days
    held = -(-(last_cutoff - floor_to_bucket(first_day, bucket)).days // bucket)
    return min(AUTO_LOOKBACK_BUCKETS, max(1, held)) * bucket


def keep_at_most(index: pd.DataFrame, budget: int, seed: int = 0) -> pd.DataFrame:
    """At most `budget` rows of the sample index (cutoff, user_id, ...): the same seeded share
    of every cutoff, so each split keeps its size relative to the others and its label mix;
    the index unchanged when it fits. Rows keep their order."""
    if len(index) <= budget:
        return index
    share = budget / len(index)
    kept = index.groupby("cutoff", group_keys=False).sample(frac=share, random_state=seed)
    return kept.sort_index().reset_index(drop=True)

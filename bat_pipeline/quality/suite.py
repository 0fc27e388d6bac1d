"""The data-quality suite for one partition of `raw_events`: what it expects, and how each
expectation's result reads as an outcome a person understands.

Ingestion already quarantines bad rows; the suite re-checks what got through. The data is one
partition as a pandas DataFrame, as DuckDB's `.df()` returns it: one row per event,
`user_id`/`event_type`/`session_id` strings, `event_time` naive UTC `datetime64`, `value`
float64.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bat_pipeline.contract import REQUIRED_COLUMNS

#: the natural key whose exact repeats count as duplicates.
DUPLICATE_KEY: tuple[str, ...] = ("user_id", "event_time", "event_type", "session_id")


#: dtypes accepted for ``event_time`` (naive; DuckDB TIMESTAMP gives datetime64[us]).
EVENT_TIME_TYPES: tuple[str, ...] = (
    "datetime64[ns]",
    "datetime64[us]",
    "datetime64[ms]",
    "datetime64[s]",
)


#: dtypes accepted for ``value`` (DuckDB DOUBLE gives float64, nullable or not).
VALUE_TYPES: tuple[str, ...] = ("float64", "float32", "Float64Dtype", "Float32Dtype")


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one partition."""

    name: str  # short stable name, e.g. "columns_match", "user_id_not_null"
    expectation: str  # GX expectation class name, e.g. "ExpectColumnValuesToNotBeNull"
    success: bool
    unexpected_count: int  # rows that broke it (0 for table-level ones)
    observed: object  # row count, dtype, columns, or share of rows checked that broke it
    detail: str  # one human sentence: what was expected, what was seen


@dataclass(frozen=True)
class QualityReport:
    """All outcomes of one validation run of the suite on one partition."""

    success: bool
    evaluated: int
    outcomes: list[ExpectationOutcome]
    rows: int
    docs_path: Path | None

    def failed(self) -> list[ExpectationOutcome]:
        """The outcomes that did not pass, in suite order."""
        return [o for o in self.outcomes if not o.success]


class QualitySuiteError(RuntimeError):
    """The suite itself is misconfigured (bad arguments, or GX did not evaluate all of it)."""


@dataclass(frozen=True)
class Spec:
    """One expectation of the suite: stable name, GX class and kwargs, what it expects."""

    name: str
    expectation: str
    kwargs: dict[str, Any]
    expected: str  # the "expected ..." half of the detail sentence
    row_level: bool  # a map expectation: reports unexpected rows
    observe: Callable[[dict[str, Any]], object] | None = None  # observed value from result


def share_of(result: dict[str, Any]) -> float:
    """Share of the rows checked (nulls skipped) that broke a map expectation, in [0, 1].

    This is the share GX compares with ``mostly``.
    """
    return round(float(result.get("unexpected_percent") or 0.0) / 100.0, 6)


def _naive_utc(now: datetime) -> datetime:
    """``now`` as naive UTC, like ``raw_events.event_time`` (naive input is taken as UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now


#: the spread of daily counts is measured over this many times the median's trailing days
NOISE_WINDOW_FACTOR = 4


def volume_bounds(
    history: Sequence[int], *, days: int, tolerance: float, sigmas: float
) -> tuple[int, int, float]:
    """(min, max, median) rows allowed for a partition, from `history`: the positive row
    counts of the partitions before it, newest first (up to `NOISE_WINDOW_FACTOR * days`).

    The band around the median of the newest `days` is the wider of `tolerance` × median and
    `sigmas` standard deviations of the history's counts, at least √median (Poisson): a large
    shop is held to the tolerance, a small shop's noisy days stay inside their own noise."""
    med = float(statistics.median(history[:days]))
    spread = math.sqrt(med)
    if len(history) >= 3:
        spread = max(spread, statistics.stdev(history))
    allowed = max(tolerance * med, sigmas * spread)
    return max(0, math.floor(med - allowed)), math.ceil(med + allowed), med


def build_specs(
    *,
    vocabulary: Sequence[str],
    now: datetime,
    trailing_counts: Sequence[int],
    max_duplicate_share: float,
    volume_tolerance: float,
    future_skew_minutes: int,
    volume_noise_sigmas: float = 4.0,
    volume_trailing_days: int = 7,
    max_unknown_event_share: float | None = None,
) -> list[Spec]:
    """The suite for one partition; the volume expectation only when there is a history, the
    unknown-event-type expectation only with its threshold (the data then carries column
    `unknown_event_share`: the share of the partition's rows read that were quarantined as
    `unknown_event_type`, the same on every row)."""
    vocab = sorted({str(v) for v in vocabulary})
    if not vocab:
        raise QualitySuiteError("the event-type vocabulary is empty: nothing could pass")
    if not 0.0 <= max_duplicate_share < 1.0:
        raise QualitySuiteError(f"max_duplicate_share must be in [0, 1), got {max_duplicate_share}")
    if not (volume_tolerance >= 0 and math.isfinite(volume_tolerance)):
        raise QualitySuiteError(f"volume_tolerance must be >= 0, got {volume_tolerance}")
    if future_skew_minutes < 0:
        raise QualitySuiteError(f"future_skew_minutes must be >= 0, got {future_skew_minutes}")
    if max_unknown_event_share is not None and not 0.0 <= max_unknown_event_share <= 1.0:
        raise QualitySuiteError(
            f"max_unknown_event_share must be in [0, 1], got {max_unknown_event_share}"
        )
    latest = _naive_utc(now) + timedelta(minutes=future_skew_minutes)
    required = list(REQUIRED_COLUMNS)
    specs = [
        Spec(
            "columns_match",
            "ExpectTableColumnsToMatchSet",
            {"column_set": required, "exact_match": False},
            f"columns {required} to be present",
            row_level=False,
        ),
        Spec(
            "event_time_type",
            "ExpectColumnValuesToBeInTypeList",
            {"column": "event_time", "type_list": list(EVENT_TIME_TYPES)},
            f"event_time to have a naive datetime dtype {list(EVENT_TIME_TYPES)}",
            row_level=False,
        ),
        Spec(
            "value_type",
            "ExpectColumnValuesToBeInTypeList",
            {"column": "value", "type_list": list(VALUE_TYPES)},
            f"value to have a float dtype {list(VALUE_TYPES)}",
            row_level=False,
        ),
    ]
    specs += [
        Spec(
            f"{col}_not_null",
            "ExpectColumnValuesToNotBeNull",
            {"column": col},
            f"no nulls in {col}",
            row_level=True,
            observe=share_of,
        )
        for col in REQUIRED_COLUMNS
    ]
    specs += [
        Spec(
            "event_type_in_vocabulary",
            "ExpectColumnValuesToBeInSet",
            {"column": "event_type", "value_set": vocab},
            f"event_type in the vocabulary of {len(vocab)} types",
            row_level=True,
            observe=share_of,
        ),
        # max_value = the largest finite double, so +inf fails as well as negatives and -inf;
        # NaN cannot be told from NULL after DuckDB's .df() and counts as a missing value.
        Spec(
            "value_non_negative",
            "ExpectColumnValuesToBeBetween",
            {"column": "value", "min_value": 0.0, "max_value": sys.float_info.max},
            "value to be finite and >= 0 where present",
            row_level=True,
            observe=share_of,
        ),
        Spec(
            "event_time_not_future",
            "ExpectColumnValuesToBeBetween",
            {"column": "event_time", "max_value": latest},
            f"event_time <= {latest.isoformat()} (now + {future_skew_minutes} min)",
            row_level=True,
            observe=share_of,
        ),
        Spec(
            "row_count_min",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
            "at least 1 row",
            row_level=False,
        ),
        # GX marks every copy of a repeated key as unexpected, so the share compared with
        # max_duplicate_share is "rows whose key occurs more than once".
        Spec(
            "duplicate_share",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": list(DUPLICATE_KEY), "mostly": 1.0 - max_duplicate_share},
            f"at most {max_duplicate_share:.1%} of rows to repeat a {DUPLICATE_KEY} key",
            row_level=True,
            observe=share_of,
        ),
    ]
    if max_unknown_event_share is not None:
        # the rows of types outside the vocabulary never reach raw_events: ingest quarantined
        # them, and a large share of them means the source's vocabulary changed
        specs.append(
            Spec(
                "unknown_event_share",
                "ExpectColumnMaxToBeBetween",
                {"column": "unknown_event_share", "max_value": max_unknown_event_share},
                f"at most {max_unknown_event_share:.1%} of the rows read to be quarantined as "
                "unknown_event_type",
                row_level=False,
            )
        )
    history = [int(c) for c in trailing_counts if int(c) > 0]  # a 0 is a missing day
    if history:
        low, high, med = volume_bounds(
            history,
            days=volume_trailing_days,
            tolerance=volume_tolerance,
            sigmas=volume_noise_sigmas,
        )
        specs.append(
            Spec(
                "volume_vs_trailing",
                "ExpectTableRowCountToBeBetween",
                {"min_value": low, "max_value": high},
                f"between {low} and {high} rows (median {med:g} of the trailing partitions "
                f"± the wider of {volume_tolerance:.0%} and {volume_noise_sigmas:g} standard "
                "deviations of their counts)",
                row_level=False,
            )
        )
    return specs


def _json_safe(value: object) -> object:
    """``value`` with numpy/pandas scalars and containers turned into JSON-safe Python."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        with contextlib.suppress(TypeError, ValueError):
            return _json_safe(item())
    return str(value)


def outcome_of(
    spec: Spec, success: bool, result: dict[str, Any], error: str | None, dtypes: dict[str, str]
) -> ExpectationOutcome:
    """Turn one GX expectation result into an :class:`ExpectationOutcome`.

    For dtype expectations the observed value is the full pandas dtype (GX reports only its
    scalar type, e.g. "Timestamp" for ``datetime64[us, UTC]``).
    """
    if error is not None:
        return ExpectationOutcome(
            spec.name, spec.expectation, False, 0, None,
            f"Expected {spec.expected}; could not be evaluated: {error}",
        )  # fmt: skip
    if spec.row_level:
        count = int(result.get("unexpected_count") or 0)
        checked = int(result.get("element_count") or 0) - int(result.get("missing_count") or 0)
        observed = spec.observe(result) if spec.observe else None
        seen = f"{count} of {checked} rows checked broke it"
        examples = result.get("partial_unexpected_list") or []
        if count and examples:
            seen += " (e.g. " + ", ".join(repr(_json_safe(e)) for e in examples[:3]) + ")"
    else:
        count = 0
        observed = _json_safe(result.get("observed_value"))
        if spec.expectation == "ExpectColumnValuesToBeInTypeList":
            observed = dtypes.get(spec.kwargs["column"], observed)
        seen = f"observed {observed}"
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
        if missing:
            seen += f", missing {sorted(missing)}"
    return ExpectationOutcome(
        spec.name, spec.expectation, bool(success), count, _json_safe(observed),
        f"Expected {spec.expected}; {seen}.",
    )  # fmt: skip

"""Data-quality suite for one partition of ``raw_events`` (the second line of defence).

Ingestion already quarantines bad rows; this module re-checks what got through with Great
Expectations (GX 1.x) and returns a plain :class:`QualityReport` that the Dagster asset check
turns into metadata and a pass/fail. It imports nothing from Dagster, and importing it does
nothing: GX (slow to import) is loaded inside :func:`validate_events`.

The data is one partition as a pandas DataFrame, as DuckDB's ``.df()`` returns it: one row per
event, ``user_id``/``event_type``/``session_id`` strings, ``event_time`` naive UTC
``datetime64``, ``value`` float64 (see DESIGN.md section 1). All expectations run in ONE GX
validation of a pandas batch; the number evaluated must equal the suite length
(RELIABILITY A17), otherwise :class:`QualitySuiteError`.

GX context: a File data context rooted at ``gx_dir`` when given (never silently ephemeral),
used under an exclusive ``fcntl`` lock on ``gx_dir/.bat_quality.lock`` so that concurrent
validations (threads or processes) cannot corrupt it (RELIABILITY A24); else an ephemeral one.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: columns a partition must have (DESIGN.md section 1).
REQUIRED_COLUMNS: tuple[str, ...] = ("user_id", "event_time", "event_type")
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
#: lock file taken (exclusively) inside ``gx_dir`` around every use of the File context.
LOCK_FILENAME = ".bat_quality.lock"
#: name of the data-docs site written to ``docs_dir`` (kept in memory, never saved to the
#: context's great_expectations.yml).
DOCS_SITE_NAME = "bat_quality"

# GX 1.x keeps the active context in a process-wide ``project_manager``; two contexts used at
# once in one process would cross wires, so all GX use in this process is serialised.
_PROCESS_LOCK = threading.Lock()


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
class _Spec:
    """One expectation of the suite: stable name, GX class and kwargs, what it expects."""

    name: str
    expectation: str
    kwargs: dict[str, Any]
    expected: str  # the "expected ..." half of the detail sentence
    row_level: bool  # a map expectation: reports unexpected rows
    observe: Callable[[dict[str, Any]], object] | None = None  # observed value from result


def _share(result: dict[str, Any]) -> float:
    """Share of the rows checked (nulls skipped) that broke a map expectation, in [0, 1].

    This is the share GX compares with ``mostly``.
    """
    return round(float(result.get("unexpected_percent") or 0.0) / 100.0, 6)


def _naive_utc(now: datetime) -> datetime:
    """``now`` as naive UTC, like ``raw_events.event_time`` (naive input is taken as UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now


def _volume_bounds(trailing_counts: Sequence[int], tolerance: float) -> tuple[int, int, float]:
    """(min, max, median) row count allowed from the positive trailing partition counts."""
    med = float(statistics.median(trailing_counts))
    return max(0, math.floor(med * (1 - tolerance))), math.ceil(med * (1 + tolerance)), med


def _build_specs(
    *,
    vocabulary: Sequence[str],
    now: datetime,
    trailing_counts: Sequence[int],
    max_duplicate_share: float,
    volume_tolerance: float,
    future_skew_minutes: int,
) -> list[_Spec]:
    """The suite for one partition; the volume expectation only when there is a history."""
    vocab = sorted({str(v) for v in vocabulary})
    if not vocab:
        raise QualitySuiteError("the event-type vocabulary is empty: nothing could pass")
    if not 0.0 <= max_duplicate_share < 1.0:
        raise QualitySuiteError(f"max_duplicate_share must be in [0, 1), got {max_duplicate_share}")
    if not (volume_tolerance >= 0 and math.isfinite(volume_tolerance)):
        raise QualitySuiteError(f"volume_tolerance must be >= 0, got {volume_tolerance}")
    if future_skew_minutes < 0:
        raise QualitySuiteError(f"future_skew_minutes must be >= 0, got {future_skew_minutes}")
    latest = _naive_utc(now) + timedelta(minutes=future_skew_minutes)
    required = list(REQUIRED_COLUMNS)
    specs = [
        _Spec(
            "columns_match",
            "ExpectTableColumnsToMatchSet",
            {"column_set": required, "exact_match": False},
            f"columns {required} to be present",
            row_level=False,
        ),
        _Spec(
            "event_time_type",
            "ExpectColumnValuesToBeInTypeList",
            {"column": "event_time", "type_list": list(EVENT_TIME_TYPES)},
            f"event_time to have a naive datetime dtype {list(EVENT_TIME_TYPES)}",
            row_level=False,
        ),
        _Spec(
            "value_type",
            "ExpectColumnValuesToBeInTypeList",
            {"column": "value", "type_list": list(VALUE_TYPES)},
            f"value to have a float dtype {list(VALUE_TYPES)}",
            row_level=False,
        ),
    ]
    specs += [
        _Spec(
            f"{col}_not_null",
            "ExpectColumnValuesToNotBeNull",
            {"column": col},
            f"no nulls in {col}",
            row_level=True,
            observe=_share,
        )
        for col in REQUIRED_COLUMNS
    ]
    specs += [
        _Spec(
            "event_type_in_vocabulary",
            "ExpectColumnValuesToBeInSet",
            {"column": "event_type", "value_set": vocab},
            f"event_type in the vocabulary of {len(vocab)} types",
            row_level=True,
            observe=_share,
        ),
        # max_value = the largest finite double, so +inf fails as well as negatives and -inf;
        # NaN cannot be told from NULL after DuckDB's .df() and counts as a missing value.
        _Spec(
            "value_non_negative",
            "ExpectColumnValuesToBeBetween",
            {"column": "value", "min_value": 0.0, "max_value": sys.float_info.max},
            "value to be finite and >= 0 where present",
            row_level=True,
            observe=_share,
        ),
        _Spec(
            "event_time_not_future",
            "ExpectColumnValuesToBeBetween",
            {"column": "event_time", "max_value": latest},
            f"event_time <= {latest.isoformat()} (now + {future_skew_minutes} min)",
            row_level=True,
            observe=_share,
        ),
        _Spec(
            "row_count_min",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
            "at least 1 row",
            row_level=False,
        ),
        # GX marks every copy of a repeated key as unexpected, so the share compared with
        # max_duplicate_share is "rows whose key occurs more than once".
        _Spec(
            "duplicate_share",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": list(DUPLICATE_KEY), "mostly": 1.0 - max_duplicate_share},
            f"at most {max_duplicate_share:.1%} of rows to repeat a {DUPLICATE_KEY} key",
            row_level=True,
            observe=_share,
        ),
    ]
    history = [int(c) for c in trailing_counts if int(c) > 0]  # a 0 is a missing day
    if history:
        low, high, med = _volume_bounds(history, volume_tolerance)
        specs.append(
            _Spec(
                "volume_vs_trailing",
                "ExpectTableRowCountToBeBetween",
                {"min_value": low, "max_value": high},
                f"between {low} and {high} rows (median {med:g} of {len(history)} trailing "
                f"partitions ± {volume_tolerance:.0%})",
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


def _exception_message(exception_info: object) -> str | None:
    """The first exception message in a GX ``exception_info`` (flat or keyed by metric)."""
    if not isinstance(exception_info, dict):
        return None
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in infos:
        if info.get("raised_exception"):
            return str(info.get("exception_message") or "unknown error").strip()
    return None


def _outcome(
    spec: _Spec, success: bool, result: dict[str, Any], error: str | None, dtypes: dict[str, str]
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


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _gx_lock(gx_dir: Path | None) -> Iterator[None]:
    """Exclusive use of GX in this process, and of ``gx_dir`` across processes (flock)."""
    with _PROCESS_LOCK:
        if gx_dir is None:
            yield
            return
        import fcntl

        gx_dir.mkdir(parents=True, exist_ok=True)
        with open(gx_dir / LOCK_FILENAME, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _run_suite(
    df: pd.DataFrame,
    specs: list[_Spec],
    *,
    suite_name: str,
    gx_dir: Path | None,
    docs_dir: Path | None,
) -> tuple[int, int, list[tuple[str | None, bool, dict[str, Any], str | None]], Path | None]:
    """Validate ``df`` against ``specs`` in one GX checkpoint run.

    Returns (evaluated, suite length, [(spec name, success, result, error)], docs index path).
    Must be called under :func:`_gx_lock`.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context import FileDataContext

    if gx_dir is not None:
        context = gx.get_context(mode="file", context_root_dir=str(gx_dir))
        if not isinstance(context, FileDataContext):
            raise QualitySuiteError(f"expected a File GX context at {gx_dir}, got {context!r}")
    else:
        context = gx.get_context(mode="ephemeral")

    # Objects that only need creating once (written to great_expectations.yml the first time).
    source_name = f"{suite_name}_pandas"
    try:
        source = context.data_sources.get(source_name)
    except KeyError:
        source = context.data_sources.add_pandas(source_name)
    try:
        asset = source.get_asset(suite_name)
    except LookupError:
        asset = source.add_dataframe_asset(suite_name)
    try:
        batch_definition = asset.get_batch_definition("whole_partition")
    except KeyError:
        batch_definition = asset.add_batch_definition_whole_dataframe("whole_partition")

    # Run-time settings kept in memory only: nothing below is saved to great_expectations.yml.
    context.config.analytics_enabled = False
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    actions = []
    if docs_dir is not None:
        context.variables.data_docs_sites = {
            DOCS_SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
        actions.append(UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE_NAME]))

    # add_expectation drops an expectation equal to one already there (meta aside), so a
    # duplicated spec shows up as evaluated != len(specs) below.
    suite = gx.ExpectationSuite(name=suite_name)
    for spec in specs:
        cls = getattr(gxe, spec.expectation, None)
        if cls is None:
            raise QualitySuiteError(f"unknown GX expectation {spec.expectation} ({spec.name})")
        suite.add_expectation(cls(**spec.kwargs, meta={"bat_name": spec.name}))
    suite = context.suites.add_or_update(suite)
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[validation],
            actions=actions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    run_name = None
    if "partition_key" in df.columns:
        keys = df["partition_key"].dropna().unique()
        run_name = str(keys[0]) if len(keys) == 1 else None
    result = checkpoint.run(
        batch_parameters={"dataframe": df},
        run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
    )
    if len(result.run_results) != 1:
        raise QualitySuiteError(f"expected 1 validation result, got {len(result.run_results)}")
    (suite_result,) = result.run_results.values()
    rows = [
        (
            (r.expectation_config.meta or {}).get("bat_name"),
            bool(r.success),
            dict(r.result or {}),
            _exception_message(r.exception_info),
        )
        for r in suite_result.results
    ]
    evaluated = int(suite_result.statistics["evaluated_expectations"])
    docs_path = None
    if docs_dir is not None:
        index = docs_dir / "index.html"
        if not index.is_file():
            raise QualitySuiteError(f"GX data docs were not written to {index}")
        docs_path = index
    return evaluated, len(suite.expectations), rows, docs_path


def validate_events(
    df: pd.DataFrame,
    *,
    vocabulary: Sequence[str],
    now: datetime,
    trailing_counts: Sequence[int],
    max_duplicate_share: float = 0.05,
    volume_tolerance: float = 0.5,
    future_skew_minutes: int = 5,
    gx_dir: Path | None = None,
    docs_dir: Path | None = None,
    suite_name: str = "raw_events",
) -> QualityReport:
    """Validate one ``raw_events`` partition with the GX suite (one validation run).

    ``df`` is the partition as DuckDB's ``.df()`` returns it; ``vocabulary`` the known event
    types; ``now`` the current time (naive = UTC) from which future timestamps are judged;
    ``trailing_counts`` the row counts of the previous partitions (zeros, i.e. missing days, are
    ignored; none at all = no volume expectation). ``gx_dir`` is the root of a File GX context
    (created if missing, used under a lock), ``docs_dir`` where GX data docs (HTML) are built.

    Raises :class:`QualitySuiteError` when the suite is misconfigured or GX did not evaluate
    every expectation exactly once; data problems are failed outcomes, never exceptions.
    """
    specs = _build_specs(
        vocabulary=vocabulary,
        now=now,
        trailing_counts=trailing_counts,
        max_duplicate_share=max_duplicate_share,
        volume_tolerance=volume_tolerance,
        future_skew_minutes=future_skew_minutes,
    )
    gx_dir = Path(gx_dir).resolve() if gx_dir is not None else None
    docs_dir = Path(docs_dir).resolve() if docs_dir is not None else None
    with _gx_lock(gx_dir), _env(GX_ANALYTICS_ENABLED="false"):
        evaluated, suite_len, rows, docs_path = _run_suite(
            df, specs, suite_name=suite_name, gx_dir=gx_dir, docs_dir=docs_dir
        )
    if not evaluated == suite_len == len(specs):
        raise QualitySuiteError(
            f"GX evaluated {evaluated} expectations but the suite has {suite_len} "
            f"and {len(specs)} were declared ({[s.name for s in specs]})"
        )
    by_name: dict[str, tuple[bool, dict[str, Any], str | None]] = {}
    for name, success, result, error in rows:
        if name is None or name in by_name:
            raise QualitySuiteError(f"GX returned an unnamed or repeated result ({name})")
        by_name[name] = (success, result, error)
    missing = [s.name for s in specs if s.name not in by_name]
    if missing:
        raise QualitySuiteError(f"GX returned no result for {missing}")
    dtypes = {str(c): str(t) for c, t in df.dtypes.items()}
    outcomes = [_outcome(s, *by_name[s.name], dtypes) for s in specs]
    return QualityReport(
        success=all(o.success for o in outcomes),
        evaluated=evaluated,
        outcomes=outcomes,
        rows=len(df),
        docs_path=docs_path,
    )


def validate_volumes(
    counts: pd.DataFrame,
    *,
    volume_tolerance: float = 0.5,
    gx_dir: Path | None = None,
    suite_name: str = "partition_volumes",
) -> QualityReport:
    """Volume check of many partitions in one GX run.

    ``counts`` has one row per partition: ``partition_key``, ``rows`` (loaded rows) and
    ``trailing_median`` (median rows of the partitions before it; NaN = no history, skipped).
    The expectation is on ``ratio = rows / trailing_median`` within 1 ± ``volume_tolerance``;
    ``unexpected_count`` is the number of partitions outside that band.
    """
    if not volume_tolerance >= 0:
        raise QualitySuiteError(f"volume_tolerance must be >= 0, got {volume_tolerance}")
    frame = counts.assign(ratio=counts["rows"] / counts["trailing_median"])
    specs = [
        _Spec(
            "volume_vs_trailing",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "ratio",
                "min_value": max(0.0, 1.0 - volume_tolerance),
                "max_value": 1.0 + volume_tolerance,
            },
            f"each partition's rows within {volume_tolerance:.0%} of its trailing median",
            row_level=True,
            observe=_share,
        )
    ]
    gx_dir = Path(gx_dir).resolve() if gx_dir is not None else None
    with _gx_lock(gx_dir), _env(GX_ANALYTICS_ENABLED="false"):
        evaluated, suite_len, rows, _ = _run_suite(
            frame[["partition_key", "rows", "trailing_median", "ratio"]],
            specs,
            suite_name=suite_name,
            gx_dir=gx_dir,
            docs_dir=None,
        )
    if not evaluated == suite_len == 1:
        raise QualitySuiteError(f"GX evaluated {evaluated} volume expectations, expected 1")
    _name, success, result, error = rows[0]
    outcome = _outcome(specs[0], success, result, error, {})
    return QualityReport(
        success=outcome.success, evaluated=1, outcomes=[outcome], rows=len(frame), docs_path=None
    )

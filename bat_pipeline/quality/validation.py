"""Running the quality suite with Great Expectations (GX 1.x): one validation per batch.

All expectations run in ONE GX validation of a pandas batch; the number evaluated must equal
the suite length, otherwise `QualitySuiteError`. Importing this module does nothing: GX (slow
to import) is loaded inside `validate_events`.

GX context: a File data context rooted at `gx_dir` when given (never silently ephemeral), used
under an exclusive `fcntl` lock on `gx_dir/.bat_quality.lock` so that concurrent validations
(threads or processes) cannot corrupt it; else an ephemeral one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bat_pipeline.quality.suite import (
    QualityReport,
    QualitySuiteError,
    Spec,
    build_specs,
    outcome_of,
    share_of,
)

if TYPE_CHECKING:
    import pandas as pd

#: lock file taken (exclusively) inside ``gx_dir`` around every use of the File context.
LOCK_FILENAME = ".bat_quality.lock"


#: name of the data-docs site written to ``docs_dir`` (kept in memory, never saved to the
#: context's great_expectations.yml).
DOCS_SITE_NAME = "bat_quality"


_PROCESS_LOCK = threading.Lock()


def _exception_message(exception_info: object) -> str | None:
    """The first exception message in a GX ``exception_info`` (flat or keyed by metric)."""
    if not isinstance(exception_info, dict):
        return None
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in infos:
        if info.get("raised_exception"):
            return str(info.get("exception_message") or "unknown error").strip()
    return None


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
    specs: list[Spec],
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
    volume_noise_sigmas: float = 4.0,
    volume_trailing_days: int = 7,
    future_skew_minutes: int = 5,
    max_unknown_event_share: float | None = None,
    gx_dir: Path | None = None,
    docs_dir: Path | None = None,
    suite_name: str = "raw_events",
) -> QualityReport:
    """Validate one ``raw_events`` partition with the GX suite (one validation run).

    ``df`` is the partition as DuckDB's ``.df()`` returns it; ``vocabulary`` the known event
    types; ``now`` the current time (naive = UTC) from which future timestamps are judged;
    ``trailing_counts`` the row counts of the previous partitions, newest first (zeros, i.e.
    missing days, are ignored; none at all = no volume expectation); the volume band is
    `suite.volume_bounds` of them. With ``max_unknown_event_share``, ``df`` carries column
    ``unknown_event_share`` (its partition's share of rows read quarantined as
    ``unknown_event_type``), whose largest value must not exceed it. ``gx_dir`` is the root
    of a File GX context (created if missing, used under a lock), ``docs_dir`` where GX data
    docs (HTML) are built.

    Raises :class:`QualitySuiteError` when the suite is misconfigured or GX did not evaluate
    every expectation exactly once; data problems are failed outcomes, never exceptions.
    """
    specs = build_specs(
        vocabulary=vocabulary,
        now=now,
        trailing_counts=trailing_counts,
        max_duplicate_share=max_duplicate_share,
        volume_tolerance=volume_tolerance,
        volume_noise_sigmas=volume_noise_sigmas,
        volume_trailing_days=volume_trailing_days,
        future_skew_minutes=future_skew_minutes,
        max_unknown_event_share=max_unknown_event_share,
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
    outcomes = [outcome_of(s, *by_name[s.name], dtypes) for s in specs]
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
    gx_dir: Path | None = None,
    suite_name: str = "partition_volumes",
) -> QualityReport:
    """Volume check of many partitions in one GX run.

    ``counts`` has one row per partition: ``partition_key``, ``rows`` (loaded rows) and the
    band ``low``..``high`` of `suite.volume_bounds` (NaN = no history, skipped). The
    expectation is on ``band_position = (rows - low) / (high - low)`` within [0, 1];
    ``unexpected_count`` is the number of partitions outside their band.
    """
    width = (counts["high"] - counts["low"]).clip(lower=1)
    frame = counts.assign(band_position=(counts["rows"] - counts["low"]) / width)
    specs = [
        Spec(
            "volume_vs_trailing",
            "ExpectColumnValuesToBeBetween",
            {"column": "band_position", "min_value": 0.0, "max_value": 1.0},
            "each partition's rows within the band of its trailing partitions",
            row_level=True,
            observe=share_of,
        )
    ]
    gx_dir = Path(gx_dir).resolve() if gx_dir is not None else None
    with _gx_lock(gx_dir), _env(GX_ANALYTICS_ENABLED="false"):
        evaluated, suite_len, rows, _ = _run_suite(
            frame[["partition_key", "rows", "low", "high", "band_position"]],
            specs,
            suite_name=suite_name,
            gx_dir=gx_dir,
            docs_dir=None,
        )
    if not evaluated == suite_len == 1:
        raise QualitySuiteError(f"GX evaluated {evaluated} volume expectations, expected 1")
    _name, success, result, error = rows[0]
    outcome = outcome_of(specs[0], success, result, error, {})
    return QualityReport(
        success=outcome.success, evaluated=1, outcomes=[outcome], rows=len(frame), docs_path=None
    )

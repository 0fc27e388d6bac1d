"""Reading a delivered event file: its kind, its CSV header (a fixed dialect, never sniffed),
its rows as text, and which of its columns are the canonical ones. Nothing is written here."""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from pathlib import Path

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.contract import CANONICAL_COLUMNS, REQUIRED_COLUMNS, STATIC_COLUMNS
from bat_pipeline.data.sqlfiles import query

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_TSV_SUFFIXES = (".tsv", ".tsv.gz")
#: the longest header line read; a longer first line is not a header
_MAX_HEADER_BYTES = 1 << 20
#: delimiters a one-column header is checked for: the file is split by one of them instead
_OTHER_DELIMITERS = (";", "\t", "|")


class IngestError(ValueError):
    """A whole file cannot be loaded; nothing was written. The message names file and problem."""


def partition_key_for(path: Path) -> str:
    """`events_2026-01-03.csv` -> `2026-01-03`; a name without a date -> its stem."""
    match = _DATE_IN_NAME.search(path.name)
    if match:
        return match.group(1)
    name = path.name
    for suffix in (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_readable(path: Path) -> str:
    """'csv' or 'parquet'; raises IngestError for a missing, empty or binary non-Parquet file."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(
            f"{path}: the file is empty (0 bytes); deliver a file with a header and rows"
        )
    name = path.name.lower()
    with path.open("rb") as handle:
        head = handle.read(4096)
    if name.endswith(_PARQUET_SUFFIXES) or head.startswith(b"PAR1"):
        return "parquet"
    if not name.endswith(".gz") and b"\x00" in head:
        raise IngestError(
            f"{path}: not a CSV text file (binary content); deliver CSV, CSV.gz or Parquet"
        )
    return "csv"


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, fixed by its name and never sniffed: a tab for `.tsv`
    (and `.tsv.gz`), else a comma."""
    return "\t" if path.name.lower().endswith(_TSV_SUFFIXES) else ","


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The column names on the first line of a CSV file: UTF-8 text (a leading byte-order
    mark dropped), split by `delimiter` with '"' quotes, each name stripped of blanks (an
    empty one named `column<i>`, a repeated one suffixed `_<n>`). IngestError names the file
    and the problem: not UTF-8, bad quoting, or one column that another delimiter splits."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline(_MAX_HEADER_BYTES)
    except (OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot be read as CSV: {exc}") from None
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path}: cannot be read as CSV: line 1 (the header) is not UTF-8 text ({exc}); "
            "deliver the file encoded as UTF-8 (convert one in Latin-1 or Windows-1252)"
        ) from None
    try:
        names = next(csv.reader([line], delimiter=delimiter, quotechar='"', strict=True))
    except (csv.Error, StopIteration) as exc:
        raise IngestError(f"{path}: line 1 (the header) is not a CSV header: {exc}") from None
    if len(names) == 1:
        other = next((d for d in _OTHER_DELIMITERS if d in names[0]), None)
        if other is not None:
            raise IngestError(
                f"{path}: the header {line[:200]!r} is one column: the file is separated by "
                f"{other!r}, not {delimiter!r}. Files are read with {delimiter!r} between "
                "columns (a tab for .tsv): deliver it so."
            )
    clean: list[str] = []
    for i, name in enumerate(names):
        name = name.strip() or f"column{i}"
        unique, n = name, 0
        while unique in clean:
            n += 1
            unique = f"{name}_{n}"
        clean.append(unique)
    return clean


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, kind: str) -> duckdb.DuckDBPyRelation:
    """The file as a relation. A CSV file is read with a fixed dialect and its own header's
    names (`csv_header`), every cell as text; nothing about it is guessed."""
    if kind == "csv":
        delimiter = csv_delimiter(path)
        names = csv_header(path, delimiter)
        text = query("raw_csv")
        params = {
            "path": str(path),
            "columns": dict.fromkeys(names, "VARCHAR"),
            "delimiter": delimiter,
        }
    else:
        text, params = query("raw_parquet"), {"path": str(path)}
    try:
        return con.sql(text, params=params)
    except duckdb.Error as exc:
        what = "CSV" if kind == "csv" else "Parquet"
        raise IngestError(f"{path}: cannot be read as {what}: {exc}") from None


def source_columns(path: Path, header: list[str], cfg: DataConfig) -> dict[str, str]:
    """canonical name -> column name in the file, for the canonical columns the file has."""
    clean = {h.strip().lstrip("\ufeff"): h for h in header}
    found: dict[str, str] = {}
    for canonical in (*CANONICAL_COLUMNS, *STATIC_COLUMNS):
        source = cfg.columns.get(canonical, canonical)
        if source in clean:
            found[canonical] = clean[source]
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        expected = [cfg.columns.get(c, c) for c in REQUIRED_COLUMNS]
        raise IngestError(
            f"{path}: missing required column(s) {[cfg.columns.get(c, c) for c in missing]}; "
            f"expected {expected}, found {list(clean)}. Fix the file, or map its column names "
            "with data.columns in the config (canonical name: name in the file)."
        )
    return found

"""SQL lives in `sql/`, one statement per file, loaded by name here.

- `sql/tables/<name>.sql`: the SELECT that builds warehouse table (or view) `<name>`;
- `sql/queries/<name>.sql`: SELECTs whose result is read back, not stored under that name;
- `sql/statements/<name>.sql`: the writes (DDL and DML).
Values are always bound as `$name` parameters, never formatted into the text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bat_pipeline.home import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


def _read(path: Path) -> str:
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.sql"))
        raise FileNotFoundError(f"no SQL file {path} (known here: {known})")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


@cache
def table(name: str) -> str:
    """The SELECT that builds table `name`, from `sql/tables/<name>.sql`."""
    return _read(SQL_DIR / "tables" / f"{name}.sql")


@cache
def query(name: str) -> str:
    """The SELECT of `sql/queries/<name>.sql`."""
    return _read(SQL_DIR / "queries" / f"{name}.sql")


@cache
def statement(name: str) -> str:
    """The write statement(s) of `sql/statements/<name>.sql`."""
    return _read(SQL_DIR / "statements" / f"{name}.sql")

"""SQL lives in `sql/`, loaded by name here.

- `sql/<name>.sql`: one SELECT per file, file stem = the table or result it produces;
- `sql/statements/<name>.sql`: the writes (DDL and DML) that move those results into tables.
Values are always bound as `$name` parameters, never formatted into the text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def _read(path: Path) -> str:
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.sql"))
        raise FileNotFoundError(f"no SQL file {path} (known here: {known})")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


@cache
def sql(name: str) -> str:
    """The SELECT of `sql/<name>.sql`."""
    return _read(SQL_DIR / f"{name}.sql")


@cache
def statement(name: str) -> str:
    """The write statement(s) of `sql/statements/<name>.sql`."""
    return _read(SQL_DIR / "statements" / f"{name}.sql")

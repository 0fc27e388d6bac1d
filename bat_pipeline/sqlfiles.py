"""SQL lives in `sql/`, one SELECT per file, file stem = table name; loaded by name here."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql` (a single SELECT with `$param` placeholders)."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path} (known: {sorted(p.stem for p in SQL_DIR.glob('*.sql'))})")
    return path.read_text(encoding="utf-8").strip().rstrip(";")

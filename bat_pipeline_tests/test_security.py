"""Security basics read from the sources themselves: SQL only with bound parameters, and
nothing bound to every interface. (The UI servers' sockets are checked live in the browser
test; loading models without unpickling in the lifecycle tests.)"""

import re
from pathlib import Path

from bat_pipeline.home import PROJECT_ROOT

SOURCES = sorted((PROJECT_ROOT / "bat_pipeline").rglob("*.py"))
#: SQL text built from values: f-strings, %-formatting or .format() inside a DuckDB call
BUILT_SQL = re.compile(
    r"\.(execute|sql|query)\(\s*(f[\"']|[\"'][^\"']*[\"']\s*%|[\"'][^\"']*[\"']\.format\()"
)


def offending_lines(pattern: re.Pattern[str], paths: list[Path]) -> list[str]:
    hits = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    return hits


def test_sql_is_never_built_from_values():
    assert offending_lines(BUILT_SQL, SOURCES) == []
    # the pattern itself catches what it must
    assert BUILT_SQL.search('con.execute(f"select * from {table}")')
    assert BUILT_SQL.search("con.sql('select %s' % value)")


def test_nothing_binds_every_interface():
    configs = [PROJECT_ROOT / name for name in ("Makefile", "workspace.yaml", "dagster.yaml")]
    paths = SOURCES + [p for p in configs if p.exists()]
    assert offending_lines(re.compile(r"0\.0\.0\.0|host\s*=\s*[\"']::[\"']"), paths) == []
